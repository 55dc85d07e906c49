//! `coffer server`: flags, start-up, the dev-mode banner, serving, shutdown.

pub mod config;
mod flags;
pub mod serve;
mod tls;

pub use flags::{ServerFlags, parse as parse_flags};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;

use crate::auth::generate_token;
use crate::lifecycle::{Core, CoreError, Settings};
use crate::plugins::EngineCatalog;
use crate::runtime::{Clock, Limits, OffsetClock, Runtime, RuntimeConfig, SystemClock};
use crate::seal::UnsealKey;
use crate::storage::{MemoryBackend, RedbBackend, SharedBackend};
use config::StorageConfig;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad command-line flags.
    #[error("{0}")]
    Usage(String),
    /// Storage could not be opened.
    #[error("cannot open storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// The sandbox could not be built.
    #[error("cannot start the engine runtime: {0}")]
    Runtime(String),
    /// Mounts could not be restored.
    #[error("cannot restore mounts: {0}")]
    Mounts(#[from] crate::mounts::RegistryError),
    /// Listening failed.
    #[error("cannot listen on {addr}: {cause}")]
    Listen {
        /// Address.
        addr: String,
        /// OS error.
        cause: std::io::Error,
    },
    /// Other I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The configuration file.
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    /// TLS files.
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    /// Initialising or unsealing (dev mode).
    #[error("{0}")]
    Core(#[from] CoreError),
}

/// Runs the server until Ctrl-C / SIGTERM.
pub async fn run(mut flags: ServerFlags) -> Result<(), StartError> {
    if let Some(path) = flags.config.clone() {
        if flags.dev {
            return Err(StartError::Usage(
                "-dev and -config cannot be combined: dev mode configures itself".into(),
            ));
        }
        flags.apply(config::load(&path)?);
    } else if !flags.dev {
        return Err(StartError::Usage(format!(
            "a configuration file is required: coffer server -config=FILE (or -dev for a development server)\n\n{}",
            flags::USAGE
        )));
    }
    if flags.dev {
        require_loopback(&flags.listen_address)?;
    }
    let backend: SharedBackend = match (&flags.storage, &flags.dev_storage) {
        (Some(StorageConfig::Redb { path }), _) | (None, Some(path)) => {
            Arc::new(RedbBackend::open(path)?)
        }
        (Some(StorageConfig::Memory), _) | (None, None) => Arc::new(MemoryBackend::new()),
    };
    let clock: Arc<dyn Clock> = if flags.dev_clock_offset.is_zero() {
        Arc::new(SystemClock)
    } else {
        tracing::warn!(offset = ?flags.dev_clock_offset, "engines and leases run on a shifted clock (-dev-clock-offset)");
        Arc::new(OffsetClock {
            offset_nanos: flags.dev_clock_offset.as_nanos() as u64,
        })
    };
    let runtime = Runtime::with_clock(
        RuntimeConfig {
            cache_dir: flags.cache_dir.clone().or_else(default_cache_dir),
            limits: Limits {
                memory_bytes: flags.engine_memory_limit,
                timeout: flags.engine_timeout,
                max_concurrent_calls: flags.engine_max_concurrent_calls,
                ..Limits::default()
            },
            memory_budget: flags.memory_budget(),
        },
        clock.clone(),
    )
    .map_err(|e| StartError::Runtime(format!("{e:#}")))?;
    match flags.memory_budget() {
        Some(bytes) => tracing::info!(bytes, "engine memory budget"),
        None => tracing::warn!(
            "the machine's memory is unknown and no -engine-memory-budget was given: engine memory is bounded per call only"
        ),
    }
    let catalog = Arc::new(EngineCatalog::new(
        runtime.clone(),
        flags.dev_plugin_dir.as_deref(),
        flags.dev,
    )?);
    let dev_root_token = flags.dev.then(|| {
        flags
            .dev_root_token_id
            .clone()
            .unwrap_or_else(generate_token)
    });
    let tls = flags.tls.as_ref().map(tls::server_config).transpose()?;
    let dev = flags.dev;
    let no_store_token = flags.dev_no_store_token;
    let dev_storage = flags.dev_storage.clone();
    let listen_address = flags.listen_address.clone();
    let limits = flags.conn_limits;
    let core = Core::new(
        backend.clone(),
        Settings {
            flags,
            runtime,
            catalog,
            clock,
            dev_root_token: dev_root_token.clone(),
        },
    );
    let dev_key = if dev {
        Some(dev_unseal(&core, dev_storage.as_deref()).await?)
    } else {
        None
    };

    let tcp = tokio::net::TcpListener::bind(&listen_address)
        .await
        .map_err(|cause| StartError::Listen {
            addr: listen_address.clone(),
            cause,
        })?;
    let addr = tcp.local_addr()?;
    match (&dev_root_token, &dev_key) {
        (Some(root_token), Some(key)) => {
            if !no_store_token {
                store_token(root_token);
            }
            print_dev_banner(addr, root_token, key, backend.kind());
        }
        _ => print_banner(addr, tls.is_some(), backend.kind()),
    }

    let app = crate::http::router(core);
    match tls {
        Some(config) => {
            serve::serve(tcp, tls::Tls::new(config), app, limits, shutdown_signal()).await
        }
        None => serve::serve(tcp, serve::Plain, app, limits, shutdown_signal()).await,
    }
    tracing::info!("server stopped");
    Ok(())
}

/// `-dev` serves plain HTTP, so it must not be reachable from other machines.
fn require_loopback(address: &str) -> Result<(), StartError> {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(StartError::Usage(format!(
            "-dev-listen-address={address}: dev mode serves plain HTTP and listens on loopback only (127.0.0.1, ::1, localhost); use -config with a TLS listener to serve other hosts"
        )))
    }
}

/// Dev mode initialises with one share and unseals at once. With `-dev-storage`, the key
/// is kept next to the data (dev only!) so a restart unseals the same store.
async fn dev_unseal(core: &Core, dir: Option<&Path>) -> Result<UnsealKey, StartError> {
    let key_file = dir.map(|d| d.join("dev-unseal-key"));
    let stored = match &key_file {
        Some(f) if f.exists() => {
            let text = std::fs::read_to_string(f)?;
            let bad = |e: String| {
                StartError::Usage(format!("{} is not a dev unseal key: {e}", f.display()))
            };
            let bytes = hex::decode(text.trim()).map_err(|e| bad(e.to_string()))?;
            Some(UnsealKey::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?)
        }
        _ => None,
    };
    let key = match stored {
        Some(k) => k,
        None => {
            if core.is_initialized()? {
                return Err(StartError::Usage(
                    "this -dev-storage directory is initialised but has no dev-unseal-key file; it cannot be unsealed in dev mode".into(),
                ));
            }
            let key = UnsealKey::generate();
            core.initialize_dev(&key).await?;
            if let Some(f) = &key_file {
                write_private(f, &hex::encode(key.as_bytes()))?;
            }
            key
        }
    };
    core.unseal_with_key(&key).await?;
    Ok(key)
}

fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("coffer").join("compiled"))
}

/// The file the CLI reads the token from when none is in the environment.
pub fn token_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".coffer-token"))
}

fn store_token(token: &str) {
    let Some(path) = token_file() else { return };
    let written = write_private(&path, token);
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "could not save the root token for the CLI");
    }
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    opts.open(path)?.write_all(contents.as_bytes())
}

fn print_banner(addr: SocketAddr, tls: bool, storage: &str) {
    let scheme = if tls { "https" } else { "http" };
    println!(
        "==> Coffer server configuration:\n\n\
         \x20            Api Address: {scheme}://{addr}\n\
         \x20                    TLS: {tls}\n\
         \x20                Storage: {storage}\n\
         \x20                Version: Coffer v{version}\n\n\
         ==> Coffer server started! Log data will stream in below:\n\n\
         The server is sealed. Initialise it once with `coffer operator init`, then\n\
         unseal it after every start with `coffer operator unseal` (threshold shares).\n",
        tls = if tls { "enabled" } else { "disabled" },
        version = env!("CARGO_PKG_VERSION"),
    );
}

fn print_dev_banner(addr: SocketAddr, root_token: &str, key: &UnsealKey, storage: &str) {
    let url = format!("http://{addr}");
    let unseal_key = base64::engine::general_purpose::STANDARD.encode(key.as_bytes());

    println!(
        "==> Coffer server configuration:\n\n\
         \x20            Api Address: {url}\n\
         \x20                Storage: {storage}\n\
         \x20                Version: Coffer v{version}\n\n\
         ==> Coffer server started! Log data will stream in below:\n\n\
         WARNING! dev mode is enabled! In this mode, Coffer runs entirely in-memory\n\
         (unless -dev-storage is given) and starts unsealed with a single unseal key.\n\
         The root token is already authenticated to the CLI, so you can immediately\n\
         begin using Coffer.\n\n\
         You may need to set the following environment variables:\n\n\
         \x20   $ export COFFER_ADDR='{url}'\n\
         \x20   $ export VAULT_ADDR='{url}'\n\n\
         The unseal key and root token are displayed below in case you want to\n\
         seal/unseal the server or re-authenticate.\n\n\
         Unseal Key: {unseal_key}\n\
         Root Token: {root_token}\n\n\
         Development mode should NOT be used in production installations!\n",
        version = env!("CARGO_PKG_VERSION"),
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
