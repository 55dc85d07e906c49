//! `coffer server` flags, Go style (`-flag=value`, `-flag value`, `-bool-flag`), as
//! Vault's server takes them.

use std::path::PathBuf;
use std::time::Duration;

/// Everything `coffer server` can be told.
#[derive(Debug, Clone)]
pub struct ServerFlags {
    /// `-dev`: in-memory, auto-unsealed, root token printed, kv at `secret/`.
    pub dev: bool,
    /// `-dev-listen-address`.
    pub listen_address: String,
    /// `-dev-root-token-id`.
    pub dev_root_token_id: Option<String>,
    /// `-dev-no-store-token`.
    pub dev_no_store_token: bool,
    /// `-dev-kv-v1`.
    pub dev_kv_v1: bool,
    /// `-dev-storage=DIR`: keep dev data on disk (redb) across restarts.
    pub dev_storage: Option<PathBuf>,
    /// `-dev-plugin-dir=DIR`: every `NAME.wasm` in it is a mountable engine `NAME`.
    pub dev_plugin_dir: Option<PathBuf>,
    /// `-plugin-dir-watch` (config `plugin_directory_watch`): register and reload new
    /// versions of `NAME.wasm` dropped into the plugin directory.
    pub plugin_dir_watch: bool,
    /// `-engine-timeout`: wall-clock deadline of one engine call.
    pub engine_timeout: Duration,
    /// `-engine-memory-limit`: bytes of linear memory one engine instance may use.
    pub engine_memory_limit: usize,
    /// `-engine-memory-budget`: bytes of linear memory all engine instances together
    /// may use; `None`: half of [`ServerFlags::physical_memory`].
    pub engine_memory_budget: Option<usize>,
    /// `-engine-max-concurrent-calls`: calls of one mount that may run at once, unless
    /// its plugin's catalog entry says otherwise.
    pub engine_max_concurrent_calls: usize,
    /// The machine's physical memory in bytes, as the binary found it (not a flag):
    /// what the default engine memory budget derives from. `None`: unknown, and the
    /// budget is unbounded unless given.
    pub physical_memory: Option<usize>,
    /// `-max-request-size`: bytes.
    pub max_request_size: usize,
    /// `-cache-dir`: where compiled engine code is cached.
    pub cache_dir: Option<PathBuf>,
    /// `-lease-retry-base`: first delay before retrying a failed revocation.
    pub lease_retry_base: Duration,
    /// `-periodic-interval`: how often engines' `periodic` runs.
    pub periodic_interval: Duration,
    /// `-dev-clock-offset`: shift the clock engines and leases see into the future.
    pub dev_clock_offset: Duration,
    /// `-config=FILE`: the production server's configuration file.
    pub config: Option<PathBuf>,
    /// `-max-request-duration`: deadline of one whole request.
    pub max_request_duration: Duration,
    /// `-http-read-header-timeout`, `-http-idle-timeout`, `-max-connections-per-ip`
    /// (the listener's keys of the same names, with `_`).
    pub conn_limits: super::serve::ConnLimits,
    /// From the config file: where data lives (`None`: dev defaults).
    pub storage: Option<super::config::StorageConfig>,
    /// From the config file: the listener's TLS files.
    pub tls: Option<super::config::TlsFiles>,
    /// `-bench-native-kv` (hidden, not in [`USAGE`]): lets a kv v2 `data/<path>` read
    /// carrying `X-Coffer-Bench-Native: 1` be answered by the host's native reader
    /// ([`crate::router`]'s `native_kv`) instead of the wasm engine. It exists only as
    /// the ceiling the wasm path is measured against (`benches/http_load.rs`); without
    /// it the header is ignored.
    pub bench_native_kv: bool,
}

impl Default for ServerFlags {
    fn default() -> Self {
        let limits = crate::runtime::Limits::default();
        Self {
            dev: false,
            listen_address: "127.0.0.1:8200".into(),
            dev_root_token_id: std::env::var("COFFER_DEV_ROOT_TOKEN_ID")
                .or_else(|_| std::env::var("VAULT_DEV_ROOT_TOKEN_ID"))
                .ok(),
            dev_no_store_token: false,
            dev_kv_v1: false,
            dev_storage: None,
            dev_plugin_dir: None,
            plugin_dir_watch: false,
            engine_timeout: limits.timeout,
            engine_memory_limit: limits.memory_bytes,
            engine_memory_budget: None,
            engine_max_concurrent_calls: limits.max_concurrent_calls,
            physical_memory: None,
            max_request_size: 32 * 1024 * 1024,
            cache_dir: None,
            lease_retry_base: Duration::from_secs(10),
            periodic_interval: Duration::from_secs(60),
            dev_clock_offset: Duration::ZERO,
            config: None,
            max_request_duration: Duration::from_secs(90),
            conn_limits: super::serve::ConnLimits::default(),
            storage: None,
            tls: None,
            bench_native_kv: false,
        }
    }
}

/// Usage text for `coffer server -h`.
pub const USAGE: &str = "Usage: coffer server -config=FILE [options]
       coffer server -dev [options]

  -config=FILE                Configuration file (HCL or TOML): storage, listener (TLS),
                              plugin directory, limits. The server starts sealed.
  -max-request-duration=DUR   Deadline of one request (default 90s).
  -http-read-header-timeout=DUR  Time a client has to send a request's headers (default
                              10s; 0 disables).
  -http-idle-timeout=DUR      Close keep-alive connections idle this long (default 5m;
                              0 disables).
  -max-connections-per-ip=N   Open connections allowed from one address (default 512;
                              0: unlimited).

  -dev                        Run a development server: in-memory, unsealed, root token printed,
                              kv v2 mounted at secret/. Every -dev-* flag requires -dev.
  -dev-listen-address=ADDR    Address to listen on (default 127.0.0.1:8200).
  -dev-root-token-id=TOKEN    Use this root token instead of a random one.
  -dev-no-store-token         Do not write the root token to ~/.coffer-token.
  -dev-kv-v1                  Mount secret/ as kv version 1.
  -dev-storage=DIR            Keep dev data on disk in DIR (survives restarts).
  -dev-plugin-dir=DIR         Make every NAME.wasm in DIR mountable as engine type NAME.
  -plugin-dir-watch           Register a NAME.wasm that appears or changes in the plugin
                              directory as a new version and reload mounts of NAME.
  -engine-timeout=DURATION    Deadline of one engine call (default 30s).
  -engine-memory-limit=BYTES  Linear memory one engine instance may use (default 128 MiB).
  -engine-memory-budget=BYTES Linear memory all engine instances together may use
                              (default half of the machine's memory).
  -engine-max-concurrent-calls=N
                              Engine calls one mount may run at once (default 32; a
                              plugin's catalog entry may set its own).
  -max-request-size=BYTES     Largest request body accepted (default 32 MiB).
  -cache-dir=DIR              Compiled engine code cache (default ~/.cache/coffer/compiled).
  -dev-clock-offset=DURATION  Run engines and leases on a clock this far in the future (testing).
  -lease-retry-base=DURATION  First delay before retrying a failed lease revocation (default 10s).
  -periodic-interval=DURATION How often engines run their periodic housekeeping (default 60s).
";

/// Parses the arguments after `server`.
pub fn parse(args: &[String]) -> Result<ServerFlags, String> {
    let mut f = ServerFlags::default();
    // Development and testing flags given, checked against `-dev` once all are read.
    let mut dev_only: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(format!("unexpected argument {arg:?}\n\n{USAGE}"));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let is_bool = matches!(
            name,
            "dev"
                | "dev-no-store-token"
                | "dev-kv-v1"
                | "plugin-dir-watch"
                | "bench-native-kv"
                | "h"
                | "help"
        );
        let value = if is_bool {
            inline.clone()
        } else {
            match inline {
                Some(v) => Some(v),
                None => {
                    i += 1;
                    Some(
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| format!("flag needs an argument: -{name}"))?,
                    )
                }
            }
        };
        let flag_bool = || -> Result<bool, String> {
            match value.as_deref() {
                None | Some("true") | Some("1") => Ok(true),
                Some("false") | Some("0") => Ok(false),
                Some(v) => Err(format!("invalid boolean value {v:?} for -{name}")),
            }
        };
        let text = || value.clone().unwrap_or_default();
        if is_dev_only(name) {
            dev_only.push(format!("-{name}"));
        }
        match name {
            "h" | "help" => return Err(USAGE.to_string()),
            "dev" => f.dev = flag_bool()?,
            "dev-no-store-token" => f.dev_no_store_token = flag_bool()?,
            "dev-kv-v1" => f.dev_kv_v1 = flag_bool()?,
            "plugin-dir-watch" => f.plugin_dir_watch = flag_bool()?,
            // Hidden on purpose: a benchmarking switch, not an operator setting.
            "bench-native-kv" => f.bench_native_kv = flag_bool()?,
            "dev-listen-address" => f.listen_address = text(),
            "dev-root-token-id" => f.dev_root_token_id = Some(text()),
            "dev-storage" => f.dev_storage = Some(PathBuf::from(text())),
            "dev-plugin-dir" => f.dev_plugin_dir = Some(PathBuf::from(text())),
            "cache-dir" => f.cache_dir = Some(PathBuf::from(text())),
            "config" => f.config = Some(PathBuf::from(text())),
            "max-request-duration" => {
                f.max_request_duration =
                    parse_duration_flag(name, &text())?.max(Duration::from_millis(1))
            }
            "engine-timeout" => {
                f.engine_timeout = parse_duration_flag(name, &text())?.max(Duration::from_millis(1))
            }
            "dev-clock-offset" => f.dev_clock_offset = parse_duration_flag(name, &text())?,
            "lease-retry-base" => f.lease_retry_base = parse_duration_flag(name, &text())?,
            "periodic-interval" => {
                f.periodic_interval =
                    parse_duration_flag(name, &text())?.max(Duration::from_millis(100))
            }
            "http-read-header-timeout" => {
                f.conn_limits.header_read_timeout = parse_duration_flag(name, &text())?
            }
            "http-idle-timeout" => f.conn_limits.idle_timeout = parse_duration_flag(name, &text())?,
            "max-connections-per-ip" => {
                f.conn_limits.max_connections_per_ip = text()
                    .parse()
                    .map_err(|_| format!("-{name}: invalid number {:?}", text()))?
            }
            "engine-memory-limit" => f.engine_memory_limit = parse_size(&text())?,
            "engine-memory-budget" => f.engine_memory_budget = Some(parse_size(&text())?),
            "engine-max-concurrent-calls" => {
                f.engine_max_concurrent_calls = parse_count(name, &text())?
            }
            "max-request-size" => f.max_request_size = parse_size(&text())?,
            other => {
                return Err(format!(
                    "flag provided but not defined: -{other}\n\n{USAGE}"
                ));
            }
        }
        i += 1;
    }
    if !f.dev && !dev_only.is_empty() {
        return Err(format!(
            "{} only allowed with -dev: development and testing flags must not change a production server (it is configured by -config=FILE)",
            dev_only.join(", ")
        ));
    }
    Ok(f)
}

/// Flags that exist for development and testing only: every `-dev-*` flag (a shifted
/// clock, in-memory or unsealed-at-start storage, a plugin directory without a catalog,
/// ...) and the benchmark switch `-bench-native-kv`. A production server refuses them
/// rather than run with a test setting.
fn is_dev_only(name: &str) -> bool {
    name.starts_with("dev-") || name == "bench-native-kv"
}

impl ServerFlags {
    /// Applies a configuration file: what it sets replaces the defaults.
    pub fn apply(&mut self, file: super::config::FileConfig) {
        self.storage = Some(file.storage);
        self.listen_address = file.listener.address;
        self.tls = file.listener.tls;
        if let Some(size) = file.listener.max_request_size {
            self.max_request_size = size;
        }
        if let Some(d) = file.listener.max_request_duration {
            self.max_request_duration = d;
        }
        if let Some(d) = file.listener.http_read_header_timeout {
            self.conn_limits.header_read_timeout = d;
        }
        if let Some(d) = file.listener.http_idle_timeout {
            self.conn_limits.idle_timeout = d;
        }
        if let Some(n) = file.listener.max_connections_per_ip {
            self.conn_limits.max_connections_per_ip = n;
        }
        if file.plugin_directory.is_some() {
            self.dev_plugin_dir = file.plugin_directory;
        }
        if let Some(watch) = file.plugin_directory_watch {
            self.plugin_dir_watch = watch;
        }
        if file.cache_dir.is_some() {
            self.cache_dir = file.cache_dir;
        }
        if let Some(t) = file.engine_timeout {
            self.engine_timeout = t;
        }
        if let Some(m) = file.engine_memory_limit {
            self.engine_memory_limit = m;
        }
        if file.engine_memory_budget.is_some() {
            self.engine_memory_budget = file.engine_memory_budget;
        }
        if let Some(n) = file.engine_max_concurrent_calls {
            self.engine_max_concurrent_calls = n;
        }
    }
}

/// A duration flag: whole-second forms, plus `500ms`, which the second parser rounds away.
fn parse_duration_flag(name: &str, s: &str) -> Result<Duration, String> {
    if let Some(ms) = s.strip_suffix("ms").and_then(|n| n.parse().ok()) {
        return Ok(Duration::from_millis(ms));
    }
    crate::util::duration::parse_str(s)
        .map(Duration::from_secs)
        .map_err(|e| format!("-{name}: {e}"))
}

/// A positive whole number.
pub(super) fn parse_count(name: &str, s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("-{name}: {s:?} is not a positive whole number")),
    }
}

/// The engine memory budget: as given, else half the machine's memory, else unbounded.
impl ServerFlags {
    pub(super) fn memory_budget(&self) -> Option<usize> {
        self.engine_memory_budget
            .or_else(|| self.physical_memory.map(|m| m / 2))
    }
}

pub(super) fn parse_size(s: &str) -> Result<usize, String> {
    let (num, mult) = match s {
        _ if s.ends_with("MiB") => (&s[..s.len() - 3], 1024 * 1024),
        _ if s.ends_with("KiB") => (&s[..s.len() - 3], 1024),
        _ if s.ends_with("GiB") => (&s[..s.len() - 3], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.trim()
        .parse::<usize>()
        .map(|n| n * mult)
        .map_err(|_| format!("invalid size {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_go_style_flags() {
        let f = parse(&args(&[
            "-dev",
            "-dev-listen-address=127.0.0.1:9",
            "-engine-timeout",
            "2s",
            "--dev-kv-v1",
            "-engine-memory-limit=64MiB",
        ]))
        .unwrap();
        assert!(f.dev && f.dev_kv_v1);
        assert_eq!(f.listen_address, "127.0.0.1:9");
        assert_eq!(f.engine_timeout, Duration::from_secs(2));
        assert_eq!(f.engine_memory_limit, 64 * 1024 * 1024);
        assert_eq!(
            parse(&args(&["-engine-timeout=250ms"]))
                .unwrap()
                .engine_timeout,
            Duration::from_millis(250)
        );
        assert!(!f.bench_native_kv);
        let f = parse(&args(&[
            "-engine-memory-budget=1GiB",
            "-engine-max-concurrent-calls",
            "4",
        ]))
        .unwrap();
        assert_eq!(f.memory_budget(), Some(1 << 30));
        assert_eq!(f.engine_max_concurrent_calls, 4);
        assert!(parse(&args(&["-engine-max-concurrent-calls=0"])).is_err());
        let derived = ServerFlags {
            physical_memory: Some(8 << 30),
            ..ServerFlags::default()
        };
        assert_eq!(derived.memory_budget(), Some(4 << 30));
        assert!(
            parse(&args(&["-dev", "-bench-native-kv"]))
                .unwrap()
                .bench_native_kv
        );
        assert!(parse(&args(&["-bogus"])).is_err());
        let d = parse(&args(&[])).unwrap().conn_limits;
        assert_eq!(
            (
                d.header_read_timeout,
                d.idle_timeout,
                d.max_connections_per_ip
            ),
            (Duration::from_secs(10), Duration::from_secs(300), 512)
        );
        let c = parse(&args(&[
            "-http-read-header-timeout=1s",
            "-http-idle-timeout",
            "500ms",
            "-max-connections-per-ip=3",
        ]))
        .unwrap()
        .conn_limits;
        assert_eq!(
            (
                c.header_read_timeout,
                c.idle_timeout,
                c.max_connections_per_ip
            ),
            (Duration::from_secs(1), Duration::from_millis(500), 3)
        );
        assert!(parse(&args(&["-max-connections-per-ip=lots"])).is_err());
        assert!(parse(&args(&["-dev-root-token-id"])).is_err());
    }

    #[test]
    fn dev_flags_need_dev() {
        for flag in [
            "-dev-clock-offset=1h",
            "-dev-storage=/tmp/x",
            "-dev-plugin-dir=/tmp/p",
            "-dev-root-token-id=t",
            "-dev-listen-address=127.0.0.1:1",
            "-dev-no-store-token",
            "-dev-kv-v1",
            "-bench-native-kv",
        ] {
            let err = parse(&args(&["-config=/etc/coffer.hcl", flag])).unwrap_err();
            let name = flag.split('=').next().unwrap_or(flag);
            assert!(
                err.starts_with(&format!("{name} only allowed with -dev")),
                "{flag}: {err}"
            );
            // `-dev=false` is no `-dev`.
            assert!(parse(&args(&["-dev=false", flag])).is_err(), "{flag}");
            assert!(parse(&args(&["-dev", flag])).is_ok(), "{flag}");
        }
        let err = parse(&args(&["-dev-kv-v1", "-dev-clock-offset", "1h"])).unwrap_err();
        assert!(err.starts_with("-dev-kv-v1, -dev-clock-offset only allowed with -dev"));
        // Not dev-only: production settings.
        assert!(parse(&args(&["-config=x", "-engine-timeout=2s", "-cache-dir=/c"])).is_ok());
    }
}
