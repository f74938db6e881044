//! The shell and exec guards: an input that adds shell syntax or becomes
//! the command itself.

use crate::{Injection, Sink, first_injection};

/// What a byte of a command line is to `sh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Plain word text (quoted or not).
    Text,
    /// Syntax: a separator, pipe, redirection, substitution, quote that
    /// opens or closes, an escaping backslash, a newline.
    Syntax,
    /// Whitespace between words (unquoted).
    Blank,
}

/// Whether `$` followed by `next` expands (outside single quotes): a
/// substitution `$(`, `${`, a variable `$HOME`, a positional or special
/// parameter `$1`, `$@`, `$?`. `$` before anything else is a literal.
fn expands(next: Option<&u8>) -> bool {
    matches!(next, Some(b) if b.is_ascii_alphanumeric()
        || matches!(b, b'_' | b'(' | b'{' | b'@' | b'*' | b'#' | b'?' | b'-' | b'$' | b'!'))
}

/// Each byte's role, and for each byte whether it belongs to a word in
/// command position (the first word of a simple command). Linear; one
/// pass of POSIX sh quoting: single quotes, double quotes (where `$`,
/// `` ` `` and `\` stay active), backslash.
fn roles(s: &[u8]) -> (Vec<Role>, Vec<bool>) {
    let n = s.len();
    let mut role = vec![Role::Text; n];
    let mut command = vec![false; n];
    #[derive(PartialEq)]
    enum Q {
        None,
        Single,
        Double,
    }
    let mut q = Q::None;
    // whether the next word is in command position, and whether we are in it
    let (mut expect_command, mut in_command) = (true, false);
    let mut i = 0;
    while i < n {
        let c = s[i];
        match q {
            Q::Single => {
                if c == b'\'' {
                    role[i] = Role::Syntax;
                    q = Q::None;
                }
            }
            Q::Double => match c {
                b'"' => {
                    role[i] = Role::Syntax;
                    q = Q::None;
                }
                b'\\' => {
                    role[i] = Role::Syntax;
                    i += 1;
                }
                b'`' => role[i] = Role::Syntax,
                b'$' if expands(s.get(i + 1)) => role[i] = Role::Syntax,
                _ => {}
            },
            Q::None => match c {
                b'\'' => {
                    role[i] = Role::Syntax;
                    q = Q::Single;
                }
                b'"' => {
                    role[i] = Role::Syntax;
                    q = Q::Double;
                }
                b'\\' => {
                    role[i] = Role::Syntax;
                    i += 1;
                }
                b' ' | b'\t' => {
                    role[i] = Role::Blank;
                    if in_command {
                        in_command = false;
                        expect_command = false;
                    }
                }
                b';' | b'|' | b'&' | b'\n' | b'(' | b')' | b'`' => {
                    role[i] = Role::Syntax;
                    in_command = false;
                    expect_command = true;
                }
                b'<' | b'>' => role[i] = Role::Syntax,
                b'$' if expands(s.get(i + 1)) => role[i] = Role::Syntax,
                b'*' | b'?' | b'[' | b'~' => role[i] = Role::Syntax,
                _ => {
                    if expect_command {
                        in_command = true;
                        expect_command = false;
                    }
                }
            },
        }
        if in_command && i < n {
            command[i] = true;
        }
        i += 1;
    }
    (role, command)
}

fn judge_shell(role: &[Role], command: &[bool], s: usize, e: usize) -> Option<&'static str> {
    if role[s..e].contains(&Role::Syntax) {
        return Some("adds shell syntax");
    }
    if command[s..e].contains(&true) {
        return Some("becomes the command");
    }
    None
}

/// Checks a command line about to run through `sh -c` against the
/// request's inputs: `Err` names the first input that adds shell syntax
/// (a separator, pipe, redirection, substitution, glob, or a quote or
/// backslash that `sh` reads as one) or becomes the command itself. An
/// input inside a quoted argument, as an argument of its own or inside
/// one, passes.
///
/// # Errors
///
/// The injection found.
pub fn shell(command: &str, inputs: &[&str]) -> Result<(), Injection> {
    let b = command.as_bytes();
    let (role, cmd) = roles(b);
    first_injection(Sink::Shell, b, inputs, |s, e| {
        judge_shell(&role, &cmd, s, e)
    })
}

/// Interpreters whose script is given on the command line, and the
/// options that take it.
fn script_option(program: &str) -> Option<&'static [&'static str]> {
    let name = program
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(program)
        .to_ascii_lowercase();
    let name = name.strip_suffix(".exe").unwrap_or(&name);
    Some(match name {
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "ash" | "busybox" | "fish" => &["-c"],
        "python" | "python2" | "python3" | "perl" | "ruby" | "node" | "nodejs" => {
            &["-c", "-e", "-E", "-p"]
        }
        "php" => &["-r"],
        "powershell" | "pwsh" => &["-command", "-c", "-encodedcommand", "-e"],
        "cmd" => &["/c", "/k", "/r"],
        _ => return None,
    })
}

/// Checks an argv array about to be executed against the request's
/// inputs: `Err` names the first input found in the program (the input
/// chose what runs) or in the script of an interpreter's `-c`/`-e` (`sh
/// -c`, `python -c`, `cmd /c`…); for a shell's script, the input counts
/// only where it adds shell syntax or becomes a command, as [`shell`]
/// decides. An input that is one argument, or part of one, passes: no
/// shell reads it.
///
/// # Errors
///
/// The injection found.
pub fn exec(argv: &[&str], inputs: &[&str]) -> Result<(), Injection> {
    let Some(program) = argv.first() else {
        return Ok(());
    };
    first_injection(Sink::Exec, program.as_bytes(), inputs, |_, _| {
        Some("chooses the program")
    })?;
    let Some(options) = script_option(program) else {
        return Ok(());
    };
    let is_shell = options == ["-c"];
    let mut args = argv[1..].iter();
    while let Some(arg) = args.next() {
        let lower = arg.to_ascii_lowercase();
        if !options.contains(&lower.as_str()) {
            continue;
        }
        let Some(script) = args.next() else {
            break;
        };
        if is_shell {
            return shell(script, inputs).map_err(|e| Injection {
                sink: Sink::Exec,
                ..e
            });
        }
        return first_injection(Sink::Exec, script.as_bytes(), inputs, |_, _| {
            Some("writes the interpreter's script")
        });
    }
    Ok(())
}
