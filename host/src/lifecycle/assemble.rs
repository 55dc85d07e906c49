//! Building the unsealed server over the barrier, and its first root token.

use std::sync::{Arc, Weak};

use serde_json::json;

use super::{Core, CoreError, Settings};
use crate::app::{App, ServerInfo};
use crate::audit::AuditBroker;
use crate::auth::TokenStore;
use crate::auth::policy::PolicyStore;
use crate::leases::{ExpiryConfig, LeaseManager, spawn_expiry_worker};
use crate::mounts::{MountConfig, MountEntry, Mounts};
use crate::plugins::PluginRegistry;
use crate::router::{EngineBridge, spawn_periodic};
use crate::seal::Barrier;
use crate::storage::SharedBackend;

/// Everything that lives only while unsealed, and its background tasks.
pub(super) async fn build(
    barrier: Arc<Barrier>,
    settings: &Settings,
    core: Weak<Core>,
) -> Result<(Arc<App>, Vec<tokio::task::JoinHandle<()>>), CoreError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| CoreError::Assemble(format!("{what}: {e}"));
    let backend: SharedBackend = barrier.clone();
    let flags = &settings.flags;
    let info = server_info(&backend)?;
    let plugins = Arc::new(PluginRegistry::new(
        backend.clone(),
        settings.catalog.clone(),
    ));
    // The mounts' engines load in the background: unsealing (and, in dev mode, the
    // listener) never waits for a plugin.
    let mounts = Mounts::open(backend.clone(), plugins.clone())
        .await
        .map_err(|e| fail("mounts", &e))?;
    if flags.dev && mounts.get("secret/").is_none() {
        let version = if flags.dev_kv_v1 { "1" } else { "2" };
        mounts
            .enable(dev_secret_mount(version))
            .await
            .map_err(|e| fail("mounting secret/", &e))?;
    }
    let tokens = TokenStore::open(backend.clone(), settings.clock.clone())
        .map_err(|e| fail("token store", &e))?;
    if let Some(root) = &settings.dev_root_token {
        tokens.add_root(root);
    }
    let lease_engines = Arc::new(EngineBridge {
        mounts: mounts.clone(),
        runtime: settings.runtime.clone(),
    });
    let leases = Arc::new(LeaseManager::new(
        backend.clone(),
        lease_engines.clone(),
        settings.clock.clone(),
        ExpiryConfig {
            retry_base: flags.lease_retry_base,
            ..ExpiryConfig::default()
        },
    ));
    let audit = AuditBroker::open(backend.clone()).map_err(|e| fail("audit devices", &e))?;
    let app = Arc::new(App {
        backend: backend.clone(),
        runtime: settings.runtime.clone(),
        mounts,
        plugins,
        leases: leases.clone(),
        lease_engines,
        tokens,
        policies: PolicyStore::new(backend.clone()),
        audit,
        info,
        max_request_bytes: flags.max_request_size,
        core,
    });
    // Expiry and engine housekeeping run only while unsealed: these handles are aborted
    // when the server seals.
    let mut workers = vec![
        spawn_expiry_worker(leases),
        spawn_periodic(app.clone(), flags.periodic_interval),
        crate::auth::spawn_token_expiry(app.clone()),
    ];
    if flags.plugin_dir_watch {
        match crate::plugins::spawn_watcher(
            app.plugins.clone(),
            app.mounts.clone(),
            std::time::Duration::from_secs(1),
        ) {
            Some(watcher) => workers.push(watcher),
            None => tracing::warn!(
                "plugin directory watching was asked for but no plugin directory is configured"
            ),
        }
    }
    Ok((app, workers))
}

/// Mints the initial root token at `sys/init` (the barrier is briefly unsealed for it).
pub(super) fn first_root_token(
    barrier: Arc<Barrier>,
    settings: &Settings,
) -> Result<String, CoreError> {
    let backend: SharedBackend = barrier;
    server_info(&backend)?;
    let tokens = TokenStore::open(backend, settings.clock.clone())
        .map_err(|e| CoreError::Assemble(format!("token store: {e}")))?;
    let token = tokens
        .create_root()
        .map_err(|e| CoreError::Assemble(format!("creating the root token: {e}")))?;
    Ok(token.to_string())
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

/// Cluster identity, created once per storage and kept (inside the barrier).
fn server_info(backend: &SharedBackend) -> Result<ServerInfo, CoreError> {
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
