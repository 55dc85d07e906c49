//! Command plumbing shared by every command: global flags, client setup,
//! argument-count checks and the common output paths.

pub mod audit;
pub mod generic;
pub mod kv;
pub mod lease;
pub mod operator;
pub mod plugin;
pub mod policy;
pub mod secrets;
pub mod sys;
pub mod token;

use serde_json::Value;

use crate::Io;
use crate::client::{Client, Config, DEFAULT_ADDRESS, RequestError};
use crate::flags::{self, FlagError, Kind, Parsed, Spec};
use crate::output::{self, Format};
use crate::secret::Secret;

/// Flags every command accepts (Vault's HTTP and output flag sets).
const COMMON: &[Spec] = &[
    Spec::new("address", Kind::Str),
    Spec::new("namespace", Kind::Str),
    Spec::new("header", Kind::Multi),
    Spec::new("format", Kind::Str),
    Spec::new("field", Kind::Str),
    Spec::new("ca-cert", Kind::Str),
];

/// Text shown under every command's help.
const COMMON_HELP: &str = "\
HTTP Options:

  -address=<string>
      Address of the server. The default is http://127.0.0.1:8200. This can
      also be specified via the COFFER_ADDR (or VAULT_ADDR) environment variable.

  -ca-cert=<string>
      PEM file of the CA that signed the server's TLS certificate. This can
      also be specified via COFFER_CACERT (or VAULT_CACERT).

  -header=<key=value>
      Additional HTTP header to send with every request. May be repeated.

  -namespace=<string>
      The namespace to use for the command (X-Vault-Namespace).

Output Options:

  -field=<string>
      Print only the field with the given name, without a trailing newline
      when the output is not a terminal.

  -format=<string>
      Print the output in the given format: \"table\" (default) or \"json\".
      This can also be specified via COFFER_FORMAT (or VAULT_FORMAT).";

/// Environment lookup (a seam so tests need not touch the real environment).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Everything a command needs once its flags are parsed.
pub struct Ctx<'a, 'io> {
    /// Standard streams.
    pub io: &'a mut Io<'io>,
    /// Parsed command flags and positional arguments.
    pub flags: Parsed,
    /// Output format.
    pub format: Format,
    /// `-field`, when given.
    pub field: Option<String>,
    /// The API client.
    pub client: Client,
}

/// A command's static description.
pub struct Command {
    /// Command-specific flags.
    pub flags: &'static [Spec],
    /// Help text (first line is the usage line).
    pub help: &'static str,
}

/// A command body: `Ok(code)` normally, `Err(code)` to stop early (usage
/// errors found while checking arguments).
pub type Body = fn(&mut Ctx<'_, '_>) -> Result<i32, i32>;

impl Command {
    /// Parses flags, then runs `body`; returns the exit code.
    pub fn run(&self, io: &mut Io<'_>, env: Env<'_>, args: &[String], body: Body) -> i32 {
        match self.setup(io, env, args) {
            Ok(mut ctx) => body(&mut ctx).unwrap_or_else(|code| code),
            Err(code) => code,
        }
    }

    /// Parses flags and builds the context; `Err(exit code)` when the command
    /// must stop (help shown, usage error).
    pub fn setup<'a, 'io>(
        &self,
        io: &'a mut Io<'io>,
        env: Env<'_>,
        args: &[String],
    ) -> Result<Ctx<'a, 'io>, i32> {
        let specs: Vec<Spec> = COMMON.iter().chain(self.flags.iter()).copied().collect();
        // Like Vault (mitchellh/cli), a help flag anywhere before `--` wins,
        // even after positional arguments.
        let wants_help = args
            .iter()
            .take_while(|a| a.as_str() != "--")
            .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"));
        let parsed = if wants_help {
            Err(FlagError::Help)
        } else {
            flags::parse(&specs, args)
        };
        let parsed = match parsed {
            Ok(p) => p,
            Err(FlagError::Help) => {
                io.out(&format!("{}\n\n{COMMON_HELP}", self.help.trim()));
                return Err(0);
            }
            Err(e) => {
                io.err(&format!("{e}\n\n{}", usage_line(self.help)));
                return Err(1);
            }
        };
        let late = parsed.late_flags();
        if !late.is_empty() {
            io.err(&format!(
                "Command flags must be provided before positional arguments. The following arguments will not be parsed as flags: [{}]",
                late.join(" ")
            ));
        }
        let format_name = parsed
            .get("format")
            .map(str::to_string)
            .or_else(|| env("COFFER_FORMAT"))
            .or_else(|| env("VAULT_FORMAT"))
            .unwrap_or_default();
        let Some(format) = Format::parse(&format_name.to_ascii_lowercase()) else {
            io.err(&format!("Invalid output format: {format_name}"));
            return Err(1);
        };
        let headers = match flags::parse_map(parsed.all("header")) {
            Ok(h) => h.into_iter().collect(),
            Err(e) => {
                io.err(&format!("invalid value for -header: {e}"));
                return Err(1);
            }
        };
        let address = parsed
            .get("address")
            .map(str::to_string)
            .or_else(|| env("COFFER_ADDR"))
            .or_else(|| env("VAULT_ADDR"))
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ADDRESS.to_string());
        let namespace = parsed
            .get("namespace")
            .map(str::to_string)
            .or_else(|| env("COFFER_NAMESPACE"))
            .or_else(|| env("VAULT_NAMESPACE"));
        let ca_cert = parsed
            .get("ca-cert")
            .map(str::to_string)
            .or_else(|| env("COFFER_CACERT"))
            .or_else(|| env("VAULT_CACERT"))
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from);
        let config = Config {
            address: address.trim().trim_end_matches('/').to_string(),
            token: resolve_token(env),
            namespace,
            headers,
            ca_cert,
        };
        let field = parsed
            .get("field")
            .filter(|f| !f.is_empty())
            .map(str::to_string);
        Ok(Ctx {
            io,
            flags: parsed,
            format,
            field,
            client: Client::new(config),
        })
    }
}

/// The `Usage: …` line of a help text.
pub fn usage_line(help: &str) -> &str {
    help.trim().lines().next().unwrap_or("")
}

/// `COFFER_TOKEN`, then `VAULT_TOKEN`, then `~/.coffer-token` (written by
/// `coffer server -dev`).
pub fn resolve_token(env: Env<'_>) -> Option<String> {
    let from_env = env("COFFER_TOKEN")
        .or_else(|| env("VAULT_TOKEN"))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if from_env.is_some() {
        return from_env;
    }
    let home = env("HOME").or_else(|| env("USERPROFILE"))?;
    let path = std::path::Path::new(&home).join(".coffer-token");
    let token = std::fs::read_to_string(path).ok()?;
    Some(token.trim().to_string()).filter(|t| !t.is_empty())
}

impl Ctx<'_, '_> {
    /// Positional arguments.
    pub fn args(&self) -> &[String] {
        &self.flags.args
    }

    /// Vault's "Not enough / Too many arguments" checks. `max == None` means
    /// unbounded. Returns the exit code on failure.
    pub fn expect_args(&mut self, min: usize, max: Option<usize>) -> Result<(), i32> {
        let got = self.flags.args.len();
        // Vault words an open-ended minimum the same as an exact count.
        let expected = match max {
            Some(m) if m != min => format!("{min}-{m}"),
            _ => min.to_string(),
        };
        if got < min {
            self.io.err(&format!(
                "Not enough arguments (expected {expected}, got {got})"
            ));
            return Err(1);
        }
        if max.is_some_and(|m| got > m) {
            self.io.err(&format!(
                "Too many arguments (expected {expected}, got {got})"
            ));
            return Err(1);
        }
        Ok(())
    }

    /// Prints `PREFIX: <error>` to stderr and returns exit code 2.
    pub fn fail(&mut self, prefix: &str, err: &RequestError) -> i32 {
        self.io.err(&format!("{prefix}: {err}"));
        2
    }

    /// Vault's `OutputSecret`.
    pub fn output_secret(&mut self, secret: &Secret) -> i32 {
        match self.format {
            Format::Json => self.io.out(&secret.to_json()),
            Format::Table => {
                self.print_warnings(secret);
                if let Some(t) = output::key_value_table(output::secret_rows(secret)) {
                    self.io.out(&t);
                }
            }
        }
        0
    }

    /// Warnings to stderr (table format only; JSON carries them inline).
    pub fn print_warnings(&mut self, secret: &Secret) {
        if let Some(block) = output::warnings_block(&secret.warnings()) {
            self.io.err_raw(&block);
        }
    }

    /// Vault's `PrintRawField` for a value already looked up.
    pub fn print_field(&mut self, name: &str, value: Option<Value>) -> i32 {
        let Some(value) = value else {
            self.io
                .err(&format!("Field {name:?} not present in secret"));
            return 1;
        };
        let text = match self.format {
            Format::Table => output::go_value(&value),
            Format::Json => output::json_pretty(&value),
        };
        self.io.raw(&text);
        0
    }

    /// `-field` for a whole secret.
    pub fn print_secret_field(&mut self, secret: &Secret) -> i32 {
        let name = self.field.clone().unwrap_or_default();
        let value = secret.field(&name);
        self.print_field(&name, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_resolution_order() {
        let env = |k: &str| match k {
            "VAULT_TOKEN" => Some("vault".to_string()),
            "COFFER_TOKEN" => Some(" coffer \n".to_string()),
            _ => None,
        };
        assert_eq!(resolve_token(&env).as_deref(), Some("coffer"));

        let dir = std::env::temp_dir().join(format!("coffer-cli-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".coffer-token"), "hvs.file\n").unwrap();
        let home = dir.to_string_lossy().to_string();
        let env = move |k: &str| (k == "HOME").then(|| home.clone());
        assert_eq!(resolve_token(&env).as_deref(), Some("hvs.file"));
        std::fs::remove_dir_all(&dir).unwrap();

        let none = |_: &str| None;
        assert_eq!(resolve_token(&none), None);
    }

    #[test]
    fn usage_line_is_first_line() {
        assert_eq!(
            usage_line("\nUsage: coffer read PATH\n\n  text"),
            "Usage: coffer read PATH"
        );
    }
}
