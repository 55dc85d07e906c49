//! `coffer server -config=FILE`: the production server's configuration file, in Vault's
//! HCL or in TOML (chosen by the file's extension; anything else is tried as HCL, then
//! TOML).
//!
//! ```hcl
//! storage "redb" { path = "/var/lib/coffer" }
//! listener "tcp" {
//!   address       = "0.0.0.0:8200"
//!   tls_cert_file = "/etc/coffer/tls.crt"
//!   tls_key_file  = "/etc/coffer/tls.key"
//!   max_request_size     = 33554432
//!   max_request_duration = "90s"
//!   http_read_header_timeout = "10s"   # request line + headers must arrive in time
//!   http_idle_timeout        = "5m"    # idle keep-alive connections are closed
//!   max_connections_per_ip   = 512     # 0: unlimited
//! }
//! plugin_directory    = "/etc/coffer/plugins"
//! plugin_directory_watch = false   # true: register and reload new NAME.wasm versions
//! engine_timeout      = "30s"
//! engine_memory_limit = "128MiB"
//! engine_memory_budget = "8GiB"        # all engine instances together; default: half the RAM
//! engine_max_concurrent_calls = 32     # per mount, unless its plugin says otherwise
//! ```
//!
//! The same in TOML is `[storage.redb]`, `[listener.tcp]` and top-level keys. Both
//! formats become one JSON tree first, so they accept exactly the same settings. Unknown
//! keys are errors (a typo in `tls_cert_file` must not silently serve plain HTTP); the
//! Vault keys Coffer has no use for (`ui`, `disable_mlock`, `api_addr`, ...) are accepted
//! and ignored so an existing Vault file needs only its storage stanza changed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// Why the configuration file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// Neither HCL nor TOML.
    #[error("{path} is not valid {format}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The format tried.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// Parsed, but a setting is wrong.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Where data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// The embedded redb store in a directory.
    Redb {
        /// The directory.
        path: PathBuf,
    },
    /// In memory: nothing survives a restart (tests, demos).
    Memory,
}

/// TLS certificate and key files of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// The `listener "tcp"` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// `host:port`.
    pub address: String,
    /// TLS files; `None` only with `tls_disable = true`.
    pub tls: Option<TlsFiles>,
    /// Largest request body, bytes.
    pub max_request_size: Option<usize>,
    /// Deadline of one request.
    pub max_request_duration: Option<Duration>,
    /// `http_read_header_timeout` (Vault's key): time allowed for a request's headers.
    pub http_read_header_timeout: Option<Duration>,
    /// `http_idle_timeout` (Vault's key): idle keep-alive connections are closed.
    pub http_idle_timeout: Option<Duration>,
    /// `max_connections_per_ip`: open connections allowed from one address.
    pub max_connections_per_ip: Option<usize>,
}

/// A parsed configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfig {
    /// Storage.
    pub storage: StorageConfig,
    /// The listener.
    pub listener: ListenerConfig,
    /// Directory of `NAME.wasm` engine plugins.
    pub plugin_directory: Option<PathBuf>,
    /// Watch the plugin directory for new versions.
    pub plugin_directory_watch: Option<bool>,
    /// Compiled-code cache directory.
    pub cache_dir: Option<PathBuf>,
    /// Deadline of one engine call.
    pub engine_timeout: Option<Duration>,
    /// Linear memory one engine instance may use, bytes.
    pub engine_memory_limit: Option<usize>,
    /// Linear memory all engine instances together may use, bytes.
    pub engine_memory_budget: Option<usize>,
    /// Engine calls one mount may run at once.
    pub engine_max_concurrent_calls: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    storage: Option<serde_json::Map<String, Value>>,
    listener: Option<serde_json::Map<String, Value>>,
    plugin_directory: Option<String>,
    plugin_directory_watch: Option<Value>,
    cache_dir: Option<String>,
    engine_timeout: Option<Value>,
    engine_memory_limit: Option<Value>,
    engine_memory_budget: Option<Value>,
    engine_max_concurrent_calls: Option<Value>,
    // Vault settings Coffer accepts and ignores.
    #[serde(default, rename = "ui")]
    _ui: Option<Value>,
    #[serde(default, rename = "disable_mlock")]
    _disable_mlock: Option<Value>,
    #[serde(default, rename = "api_addr")]
    _api_addr: Option<Value>,
    #[serde(default, rename = "cluster_addr")]
    _cluster_addr: Option<Value>,
    #[serde(default, rename = "log_level")]
    _log_level: Option<Value>,
    #[serde(default, rename = "cluster_name")]
    _cluster_name: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListener {
    address: Option<String>,
    #[serde(default)]
    tls_disable: Option<Value>,
    tls_cert_file: Option<String>,
    tls_key_file: Option<String>,
    max_request_size: Option<Value>,
    max_request_duration: Option<Value>,
    http_read_header_timeout: Option<Value>,
    http_idle_timeout: Option<Value>,
    max_connections_per_ip: Option<Value>,
    #[serde(default, rename = "cluster_address")]
    _cluster_address: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<String>,
    #[serde(default, rename = "node_id")]
    _node_id: Option<Value>,
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        path: path.to_path_buf(),
        cause,
    })?;
    let tree = parse_tree(path, &text)?;
    interpret(path, tree)
}

fn parse_tree(path: &Path, text: &str) -> Result<Value, ConfigError> {
    let syntax = |format, message: String| ConfigError::Syntax {
        path: path.to_path_buf(),
        format,
        message,
    };
    let from_toml = |t: &str| {
        toml::from_str::<toml::Value>(t)
            .map_err(|e| e.to_string())
            .and_then(|v| serde_json::to_value(v).map_err(|e| e.to_string()))
    };
    let from_hcl = |t: &str| hcl::from_str::<Value>(t).map_err(|e| e.to_string());
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => from_toml(text).map_err(|m| syntax("TOML", m)),
        Some("json") => serde_json::from_str(text).map_err(|e| syntax("JSON", e.to_string())),
        Some("hcl") => from_hcl(text).map_err(|m| syntax("HCL", m)),
        _ => from_hcl(text)
            .or_else(|hcl_err| from_toml(text).map_err(|_| syntax("HCL (or TOML)", hcl_err))),
    }
}

fn interpret(path: &Path, tree: Value) -> Result<FileConfig, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let raw: RawConfig = serde_json::from_value(tree).map_err(|e| invalid(e.to_string()))?;

    let storage = match single_block(raw.storage, "storage").map_err(invalid)? {
        None => return Err(invalid(
            "a storage stanza is required, e.g. storage \"redb\" { path = \"/var/lib/coffer\" }"
                .into(),
        )),
        Some((kind, body)) => {
            let body: RawStorage = serde_json::from_value(body)
                .map_err(|e| invalid(format!("storage \"{kind}\": {e}")))?;
            match kind.as_str() {
                // Vault users' `file` and `raft` stanzas name a directory too.
                "redb" | "file" | "raft" => StorageConfig::Redb {
                    path: body
                        .path
                        .filter(|p| !p.is_empty())
                        .map(PathBuf::from)
                        .ok_or_else(|| invalid(format!("storage \"{kind}\": path is required")))?,
                },
                "inmem" => StorageConfig::Memory,
                other => {
                    return Err(invalid(format!(
                        "unknown storage type {other:?} (supported: redb, inmem)"
                    )));
                }
            }
        }
    };

    let listener = match single_block(raw.listener, "listener").map_err(invalid)? {
        None => ListenerConfig {
            address: "127.0.0.1:8200".into(),
            tls: None,
            max_request_size: None,
            max_request_duration: None,
            http_read_header_timeout: None,
            http_idle_timeout: None,
            max_connections_per_ip: None,
        },
        Some((kind, body)) => {
            if kind != "tcp" {
                return Err(invalid(format!(
                    "unknown listener type {kind:?} (supported: tcp)"
                )));
            }
            let body: RawListener = serde_json::from_value(body)
                .map_err(|e| invalid(format!("listener \"tcp\": {e}")))?;
            let tls_disable = match &body.tls_disable {
                None => false,
                Some(v) => bool_value(v).ok_or_else(|| {
                    invalid("listener \"tcp\": tls_disable must be a boolean".into())
                })?,
            };
            let tls = match (tls_disable, body.tls_cert_file, body.tls_key_file) {
                (true, _, _) => None,
                (false, Some(cert), Some(key)) => Some(TlsFiles {
                    cert_file: PathBuf::from(cert),
                    key_file: PathBuf::from(key),
                }),
                (false, _, _) => {
                    return Err(invalid(
                        "listener \"tcp\": tls_cert_file and tls_key_file are required unless tls_disable = true".into(),
                    ));
                }
            };
            ListenerConfig {
                address: body.address.unwrap_or_else(|| "127.0.0.1:8200".into()),
                tls,
                max_request_size: body
                    .max_request_size
                    .as_ref()
                    .map(size_value)
                    .transpose()
                    .map_err(|m| invalid(format!("listener \"tcp\": max_request_size: {m}")))?,
                max_request_duration: body
                    .max_request_duration
                    .as_ref()
                    .map(duration_value)
                    .transpose()
                    .map_err(|m| invalid(format!("listener \"tcp\": max_request_duration: {m}")))?,
                http_read_header_timeout: body
                    .http_read_header_timeout
                    .as_ref()
                    .map(duration_value)
                    .transpose()
                    .map_err(|m| {
                        invalid(format!("listener \"tcp\": http_read_header_timeout: {m}"))
                    })?,
                http_idle_timeout: body
                    .http_idle_timeout
                    .as_ref()
                    .map(duration_value)
                    .transpose()
                    .map_err(|m| invalid(format!("listener \"tcp\": http_idle_timeout: {m}")))?,
                max_connections_per_ip: body
                    .max_connections_per_ip
                    .as_ref()
                    .map(count_value)
                    .transpose()
                    .map_err(|m| {
                        invalid(format!("listener \"tcp\": max_connections_per_ip: {m}"))
                    })?,
            }
        }
    };

    Ok(FileConfig {
        storage,
        listener,
        plugin_directory: raw.plugin_directory.map(PathBuf::from),
        plugin_directory_watch: raw
            .plugin_directory_watch
            .as_ref()
            .map(|v| {
                bool_value(v)
                    .ok_or_else(|| invalid("plugin_directory_watch must be a boolean".into()))
            })
            .transpose()?,
        cache_dir: raw.cache_dir.map(PathBuf::from),
        engine_timeout: raw
            .engine_timeout
            .as_ref()
            .map(duration_value)
            .transpose()
            .map_err(|m| invalid(format!("engine_timeout: {m}")))?,
        engine_memory_limit: raw
            .engine_memory_limit
            .as_ref()
            .map(size_value)
            .transpose()
            .map_err(|m| invalid(format!("engine_memory_limit: {m}")))?,
        engine_memory_budget: raw
            .engine_memory_budget
            .as_ref()
            .map(size_value)
            .transpose()
            .map_err(|m| invalid(format!("engine_memory_budget: {m}")))?,
        engine_max_concurrent_calls: raw
            .engine_max_concurrent_calls
            .as_ref()
            .map(|v| match v {
                Value::Number(n) => n
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| "must be a positive whole number".to_string()),
                Value::String(s) => super::flags::parse_count("engine_max_concurrent_calls", s),
                _ => Err("must be a positive whole number".to_string()),
            })
            .transpose()
            .map_err(|m| invalid(format!("engine_max_concurrent_calls: {m}")))?,
    })
}

/// `storage "redb" { ... }` arrives as `{"redb": {...}}` (or a one-element list of
/// those from some HCL forms); exactly one block is allowed.
fn single_block(
    block: Option<serde_json::Map<String, Value>>,
    what: &str,
) -> Result<Option<(String, Value)>, String> {
    let Some(map) = block else { return Ok(None) };
    let mut entries = map.into_iter();
    let Some((kind, body)) = entries.next() else {
        return Ok(None);
    };
    if entries.next().is_some() {
        return Err(format!("only one {what} stanza is supported"));
    }
    let body = match body {
        Value::Array(mut items) if items.len() == 1 => items.remove(0),
        Value::Array(_) => return Err(format!("only one {what} \"{kind}\" stanza is supported")),
        other => other,
    };
    Ok(Some((kind, body)))
}

fn bool_value(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_u64().map(|n| n != 0),
        _ => None,
    }
}

fn duration_value(v: &Value) -> Result<Duration, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| "must be a whole number of seconds or a duration string".into()),
        Value::String(s) => {
            if let Some(ms) = s.strip_suffix("ms").and_then(|n| n.parse().ok()) {
                return Ok(Duration::from_millis(ms));
            }
            crate::util::duration::parse_str(s)
                .map(Duration::from_secs)
                .map_err(|e| e.to_string())
        }
        _ => Err("must be a duration such as \"90s\"".into()),
    }
}

fn count_value(v: &Value) -> Result<usize, String> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    n.and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| "must be a whole number".into())
}

fn size_value(v: &Value) -> Result<usize, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| "must be a positive number of bytes".into()),
        Value::String(s) => super::flags::parse_size(s),
        _ => Err("must be a number of bytes or a size such as \"64MiB\"".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(name: &str, text: &str) -> Result<FileConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn hcl_and_toml_mean_the_same() {
        let hcl = r#"
            storage "redb" { path = "/data" }
            listener "tcp" {
              address = "0.0.0.0:8300"
              tls_cert_file = "/c.pem"
              tls_key_file = "/k.pem"
              max_request_size = 1024
              max_request_duration = "5s"
              http_read_header_timeout = "2s"
              http_idle_timeout = 30
              max_connections_per_ip = 8
            }
            plugin_directory = "/plugins"
            engine_timeout = "250ms"
            engine_memory_limit = "64MiB"
            engine_memory_budget = "2GiB"
            engine_max_concurrent_calls = 8
            ui = true
            disable_mlock = true
        "#;
        let toml = r#"
            plugin_directory = "/plugins"
            engine_timeout = "250ms"
            engine_memory_limit = "64MiB"
            engine_memory_budget = "2GiB"
            engine_max_concurrent_calls = 8
            [storage.redb]
            path = "/data"
            [listener.tcp]
            address = "0.0.0.0:8300"
            tls_cert_file = "/c.pem"
            tls_key_file = "/k.pem"
            max_request_size = 1024
            max_request_duration = "5s"
            http_read_header_timeout = "2s"
            http_idle_timeout = 30
            max_connections_per_ip = 8
        "#;
        let a = load_text("c.hcl", hcl).unwrap();
        let b = load_text("c.toml", toml).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.storage,
            StorageConfig::Redb {
                path: "/data".into()
            }
        );
        assert_eq!(a.listener.address, "0.0.0.0:8300");
        assert_eq!(
            a.listener.max_request_duration,
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            (
                a.listener.http_read_header_timeout,
                a.listener.http_idle_timeout,
                a.listener.max_connections_per_ip
            ),
            (
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(30)),
                Some(8)
            )
        );
        assert_eq!(a.engine_timeout, Some(Duration::from_millis(250)));
        assert_eq!(a.engine_memory_limit, Some(64 * 1024 * 1024));
        assert_eq!(a.engine_memory_budget, Some(2 << 30));
        assert_eq!(a.engine_max_concurrent_calls, Some(8));
        assert!(a.listener.tls.is_some());
        // Unknown extension: HCL, then TOML.
        assert_eq!(load_text("c.conf", toml).unwrap(), a);
    }

    #[test]
    fn tls_is_required_unless_disabled() {
        let e = load_text(
            "c.hcl",
            "storage \"redb\" { path = \"/d\" }\nlistener \"tcp\" { address = \"127.0.0.1:1\" }",
        )
        .unwrap_err();
        assert!(e.to_string().contains("tls_cert_file"), "{e}");
        let ok = load_text(
            "c.hcl",
            "storage \"redb\" { path = \"/d\" }\nlistener \"tcp\" {\n address = \"127.0.0.1:1\"\n tls_disable = true\n}",
        )
        .unwrap();
        assert_eq!(ok.listener.tls, None);
    }

    #[test]
    fn mistakes_are_named() {
        let e = load_text(
            "c.hcl",
            "storage \"redb\" { path = \"/d\" }\ntls_cert_fiel = \"x\"",
        )
        .unwrap_err();
        assert!(e.to_string().contains("tls_cert_fiel"), "{e}");
        let e = load_text("c.hcl", "listener \"tcp\" { tls_disable = true }").unwrap_err();
        assert!(e.to_string().contains("storage stanza is required"), "{e}");
        let e = load_text("c.hcl", "storage \"consul\" { path = \"/d\" }").unwrap_err();
        assert!(e.to_string().contains("unknown storage type"), "{e}");
        let e = load_text("c.toml", "storage = [").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    }
}
