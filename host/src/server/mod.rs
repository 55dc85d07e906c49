//! `coffer server`: flags, start-up, the dev-mode banner, serving, shutdown.

mod flags;

pub use flags::{ServerFlags, parse as parse_flags};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;

use crate::app::{App, ServerInfo};
use crate::auth::{TokenStore, generate_token};
use crate::leases::{ExpiryConfig, LeaseManager, spawn_expiry_worker};
use crate::mounts::{MountConfig, MountEntry, Mounts};
use crate::plugins::EngineCatalog;
use crate::router::{EngineBridge, spawn_periodic};
use crate::runtime::{Clock, Limits, OffsetClock, Runtime, RuntimeConfig, SystemClock};
use crate::storage::{MemoryBackend, RedbBackend, SharedBackend};

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
}

/// Runs the server until Ctrl-C / SIGTERM.
pub async fn run(flags: ServerFlags) -> Result<(), StartError> {
    if !flags.dev {
        return Err(StartError::Usage(
            "only dev mode is available in this version: run `coffer server -dev` (a production server with init/unseal and a config file is on the way)".into(),
        ));
    }
    let backend: SharedBackend = match &flags.dev_storage {
        Some(dir) => Arc::new(RedbBackend::open(dir)?),
        None => Arc::new(MemoryBackend::new()),
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
                ..Limits::default()
            },
        },
        clock.clone(),
    )
    .map_err(|e| StartError::Runtime(format!("{e:#}")))?;
    let catalog = Arc::new(EngineCatalog::new(
        runtime.clone(),
        flags.dev_plugin_dir.as_deref(),
    )?);
    let info = server_info(&backend)?;
    let mounts = Arc::new(Mounts::open(backend.clone(), catalog).await?);

    if mounts.get("secret/").is_none() {
        let version = if flags.dev_kv_v1 { "1" } else { "2" };
        mounts.enable(dev_secret_mount(version)).await?;
    }

    let tokens = TokenStore::open(backend.clone(), clock.clone())?;
    let root_token = flags
        .dev_root_token_id
        .clone()
        .unwrap_or_else(generate_token);
    tokens.add_root(&root_token);

    let lease_engines = Arc::new(EngineBridge {
        mounts: mounts.clone(),
        runtime: runtime.clone(),
    });
    let leases = Arc::new(LeaseManager::new(
        backend.clone(),
        lease_engines.clone(),
        clock,
        ExpiryConfig {
            retry_base: flags.lease_retry_base,
            ..ExpiryConfig::default()
        },
    ));
    let app = Arc::new(App {
        backend: backend.clone(),
        runtime,
        mounts,
        leases: leases.clone(),
        lease_engines,
        tokens,
        policies: crate::auth::policy::PolicyStore::new(backend.clone()),
        audit: crate::audit::AuditBroker::open(backend.clone())?,
        info,
        max_request_bytes: flags.max_request_size,
    });
    spawn_expiry_worker(leases);
    spawn_periodic(app.clone(), flags.periodic_interval);

    let listener = tokio::net::TcpListener::bind(&flags.listen_address)
        .await
        .map_err(|cause| StartError::Listen {
            addr: flags.listen_address.clone(),
            cause,
        })?;
    let addr = listener.local_addr()?;
    if !flags.dev_no_store_token {
        store_token(&root_token);
    }
    print_banner(addr, &root_token, backend.kind());

    axum::serve(listener, crate::http::router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("server stopped");
    Ok(())
}

fn dev_secret_mount(version: &str) -> MountEntry {
    let uuid = uuid::Uuid::new_v4().to_string();
    MountEntry {
        path: "secret/".into(),
        kind: "kv".into(),
        description: "key/value secret storage".into(),
        accessor: format!("kv_{}", &uuid.replace('-', "")[..8]),
        uuid,
        config: MountConfig::default(),
        options: Some([("version".to_string(), version.to_string())].into()),
        local: false,
        seal_wrap: false,
        external_entropy_access: false,
        running_sha256: String::new(),
        running_version: String::new(),
    }
}

/// Cluster identity, created once per storage and kept.
fn server_info(backend: &SharedBackend) -> Result<ServerInfo, StartError> {
    const KEY: &str = "core/cluster";
    let stored = backend
        .get(KEY)?
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let id = match stored.as_ref().and_then(|v| v["cluster_id"].as_str()) {
        Some(id) => id.to_string(),
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            backend.put(KEY, json!({ "cluster_id": id }).to_string().as_bytes())?;
            id
        }
    };
    let short = id.replace('-', "");
    Ok(ServerInfo {
        cluster_name: format!("coffer-cluster-{}", &short[..8]),
        system_accessor: format!("system_{}", &short[8..16]),
        cluster_id: id,
    })
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

fn print_banner(addr: SocketAddr, root_token: &str, storage: &str) {
    let url = format!("http://{addr}");
    let unseal_key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
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
