//! `coffer-cli`: the Vault-compatible command-line client of Coffer.
//!
//! The `coffer` binary hands every command except `server` to [`run`]. The
//! commands, flags, messages, table layout and exit codes follow HashiCorp
//! Vault's CLI so that existing scripts and habits work unchanged:
//!
//! * exit 0 on success, 1 on usage errors, 2 on request failures (and
//!   `status` exits 2 when the server is sealed);
//! * output on stdout, errors and warnings on stderr.
//!
//! Configuration comes from `-address` / `COFFER_ADDR` / `VAULT_ADDR`,
//! `COFFER_TOKEN` / `VAULT_TOKEN` / `~/.coffer-token`, and
//! `-format` / `COFFER_FORMAT` / `VAULT_FORMAT`.

mod client;
mod commands;
mod duration;
mod flags;
mod kvdata;
mod kvpath;
mod output;
mod secret;

use std::io::{IsTerminal, Read, Write};

use commands::{audit, generic, kv, lease, operator, plugin, policy, secrets, sys, token};

/// The standard streams a command talks to. [`run`] uses the process's own;
/// tests and embedders can pass buffers to [`run_with`].
pub struct Io<'a> {
    /// Where `-` and `k=-` arguments read from.
    pub stdin: &'a mut dyn Read,
    /// Normal output.
    pub stdout: &'a mut dyn Write,
    /// Errors and warnings.
    pub stderr: &'a mut dyn Write,
    /// Whether stdout is a terminal; `-field` omits the trailing newline when
    /// it is not, so `$(coffer read -field=x …)` and pipes get the raw value.
    pub stdout_is_terminal: bool,
}

impl Io<'_> {
    // Write errors (closed pipe, full disk) are deliberately ignored: there is
    // nowhere left to report them, and the exit code still tells the story.

    /// A line on stdout.
    pub(crate) fn out(&mut self, text: &str) {
        let _ = writeln!(self.stdout, "{text}");
    }

    /// A line on stderr.
    pub(crate) fn err(&mut self, text: &str) {
        let _ = writeln!(self.stderr, "{text}");
    }

    /// Text on stderr exactly as given.
    pub(crate) fn err_raw(&mut self, text: &str) {
        let _ = write!(self.stderr, "{text}");
    }

    /// A raw value on stdout, newline only for terminals (Vault's `PrintRaw`).
    pub(crate) fn raw(&mut self, text: &str) {
        if self.stdout_is_terminal {
            self.out(text);
        } else {
            let _ = write!(self.stdout, "{text}");
        }
    }
}

/// Runs one CLI invocation and returns the process exit code.
///
/// `args` are the arguments *after* the program name, e.g.
/// `["kv", "get", "secret/foo"]`. (A leading program path such as
/// `/usr/bin/coffer` is tolerated and skipped.)
pub fn run(args: Vec<String>) -> i32 {
    let mut stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stdout_is_terminal = stdout.is_terminal();
    let mut stdout = stdout.lock();
    let mut stderr = std::io::stderr();
    let mut io = Io {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        stdout_is_terminal,
    };
    let env = |k: &str| std::env::var(k).ok();
    let code = run_with(&args, &env, &mut io);
    let _ = io.stdout.flush();
    code
}

/// [`run`] with explicit streams and environment lookup.
pub fn run_with(args: &[String], env: &dyn Fn(&str) -> Option<String>, io: &mut Io<'_>) -> i32 {
    let args = skip_program_name(args);
    let Some((command, rest)) = args.split_first() else {
        io.err(USAGE);
        return 127;
    };
    match command.as_str() {
        "-h" | "-help" | "--help" | "help" => {
            io.out(USAGE);
            0
        }
        "-v" | "-version" | "--version" | "version" => sys::version(io),
        "read" => generic::read(io, env, rest),
        "write" => generic::write(io, env, rest),
        "delete" => generic::delete(io, env, rest),
        "list" => generic::list(io, env, rest),
        "path-help" => generic::path_help(io, env, rest),
        "status" => sys::status(io, env, rest),
        "token" => token::run(io, env, rest),
        "policy" => policy::run(io, env, rest),
        "audit" => audit::run(io, env, rest),
        "operator" => operator::run(io, env, rest),
        "secrets" => secrets::run(io, env, rest),
        "kv" => kv::run(io, env, rest),
        "lease" => lease::run(io, env, rest),
        "plugin" => plugin::run(io, env, rest),
        "server" => {
            // The binary handles `server` itself; reaching here means it did not.
            io.err(
                "The server command is handled by the coffer binary; run \"coffer server -dev\".",
            );
            1
        }
        other => {
            io.err(&format!("Unknown command: {other:?}\n\n{USAGE}"));
            127
        }
    }
}

/// Drops `argv[0]` if the caller passed the full `std::env::args()`.
fn skip_program_name(args: &[String]) -> &[String] {
    let looks_like_program = args.first().is_some_and(|first| {
        let name = std::path::Path::new(first)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("");
        name == "coffer" || name.starts_with("coffer-")
    });
    if looks_like_program { &args[1..] } else { args }
}

/// The top-level usage summary.
const USAGE: &str = "\
Usage: coffer <command> [args]

Common commands:
    read          Read data and retrieve secrets
    write         Write data, configuration, and secrets
    delete        Delete secrets and configuration
    list          List data or secrets
    status        Print seal and HA status
    server        Start a Coffer server (\"coffer server -dev\" for a dev server)

Other commands:
    kv            Interact with Coffer's key/value secrets engine
    lease         Interact with leases
    path-help     Retrieve API help for paths
    plugin        Interact with the plugin catalog and reload plugins
    secrets       Interact with secrets engines
    token         Interact with tokens
    version       Print the Coffer version

Every command accepts -h for help. The server address comes from -address,
COFFER_ADDR or VAULT_ADDR (default http://127.0.0.1:8200); the token from
COFFER_TOKEN, VAULT_TOKEN or ~/.coffer-token (written by \"coffer server -dev\").";

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// Runs the CLI against buffers; returns (exit code, stdout, stderr).
    pub(crate) fn run_capture(
        args: &[&str],
        env: &dyn Fn(&str) -> Option<String>,
        stdin: &str,
    ) -> (i32, String, String) {
        let mut input = stdin.as_bytes();
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut io = Io {
            stdin: &mut input,
            stdout: &mut out,
            stderr: &mut err,
            stdout_is_terminal: false,
        };
        let code = run_with(&strings(args), env, &mut io);
        (
            code,
            String::from_utf8_lossy(&out).to_string(),
            String::from_utf8_lossy(&err).to_string(),
        )
    }

    #[test]
    fn program_name_is_optional() {
        assert_eq!(
            skip_program_name(&strings(&["/usr/bin/coffer", "status"])),
            ["status"]
        );
        assert_eq!(skip_program_name(&strings(&["coffer"])).len(), 0);
        assert_eq!(skip_program_name(&strings(&["status"])), ["status"]);
    }

    #[test]
    fn usage_and_unknown_commands() {
        let env = |_: &str| None;
        let (code, out, _) = run_capture(&["-h"], &env, "");
        assert_eq!(code, 0);
        assert!(out.contains("server -dev"));
        assert!(out.contains("kv "));
        let (code, _, err) = run_capture(&[], &env, "");
        assert_eq!(code, 127);
        assert!(err.starts_with("Usage: coffer"));
        let (code, _, err) = run_capture(&["frobnicate"], &env, "");
        assert_eq!(code, 127);
        assert!(err.contains("Unknown command"));
    }

    #[test]
    fn usage_errors_exit_1() {
        let env = |_: &str| None;
        let (code, _, err) = run_capture(&["read"], &env, "");
        assert_eq!(code, 1);
        assert_eq!(err, "Not enough arguments (expected 1, got 0)\n");
        let (code, _, err) = run_capture(&["read", "-bogus", "x"], &env, "");
        assert_eq!(code, 1);
        assert!(
            err.starts_with("flag provided but not defined: -bogus\n\nUsage: coffer read"),
            "{err}"
        );
        let (code, _, err) = run_capture(&["read", "-format=yaml", "x"], &env, "");
        assert_eq!(code, 1);
        assert_eq!(err, "Invalid output format: yaml\n");
        let (code, out, _) = run_capture(&["kv", "get", "-h"], &env, "");
        assert_eq!(code, 0);
        assert!(out.starts_with("Usage: coffer kv get"));
        let (code, out, _) = run_capture(&["read", "secret/foo", "-help"], &env, "");
        assert_eq!(code, 0);
        assert!(out.starts_with("Usage: coffer read"));
        assert!(out.contains("-address="));
    }
}
