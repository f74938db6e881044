//! `std::process::Command` (and `tokio::process::Command` through
//! `as_std()`): the program and its arguments, judged as an argv.

use super::SinkError;

/// Guards a command about to be spawned: its program and arguments are
/// judged as [`exec`](super::exec) judges an argv (an input that chose the
/// program, or wrote the script of `sh -c`, `python -c`, `cmd /c`…).
/// Non-UTF-8 arguments are read lossily.
///
/// ```no_run
/// # fn run(host: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let mut cmd = std::process::Command::new("ping");
/// cmd.args(["-c", "1", host]);
/// rasp_stepup::sink::command(&cmd)?;
/// let out = cmd.output()?;
/// # Ok(()) }
/// ```
///
/// For `tokio::process::Command`, pass `cmd.as_std()`.
///
/// # Errors
///
/// In enforce mode, an input of the current request that chose what runs.
pub fn command(cmd: &std::process::Command) -> Result<(), SinkError> {
    let program = cmd.get_program().to_string_lossy();
    let args: Vec<std::borrow::Cow<'_, str>> =
        cmd.get_args().map(|a| a.to_string_lossy()).collect();
    let mut argv: Vec<&str> = Vec::with_capacity(args.len() + 1);
    argv.push(&program);
    argv.extend(args.iter().map(|a| a.as_ref()));
    super::exec(&argv)
}
