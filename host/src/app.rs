//! The server's shared state, handed to every request.

use std::sync::Arc;

use crate::audit::AuditBroker;
use crate::auth::TokenStore;
use crate::auth::policy::PolicyStore;
use crate::leases::LeaseManager;
use crate::mounts::Mounts;
use crate::runtime::Runtime;
use crate::storage::SharedBackend;

/// Identity of this server, reported by `sys/health` and `sys/seal-status`.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// Cluster name, `coffer-cluster-<8 hex>`.
    pub cluster_name: String,
    /// Cluster id (UUID), stable across restarts of the same storage.
    pub cluster_id: String,
    /// `sys/mounts`' accessor for `sys/`.
    pub system_accessor: String,
}

/// Version string reported where Vault reports its own: a Vault API level clients
/// understand, with Coffer's version as build metadata.
pub const REPORTED_VERSION: &str = concat!("1.18.0+coffer.", env!("CARGO_PKG_VERSION"));

/// Everything a request handler needs.
pub struct App {
    /// Storage below everything.
    pub backend: SharedBackend,
    /// The sandbox.
    pub runtime: Arc<Runtime>,
    /// Mounted engines.
    pub mounts: Arc<Mounts>,
    /// The plugin catalog (`sys/plugins/catalog`).
    pub plugins: Arc<crate::plugins::PluginRegistry>,
    /// Leases of issued secrets.
    pub leases: Arc<LeaseManager>,
    /// How leases reach engines (also used to revoke a secret whose lease failed to record).
    pub lease_engines: Arc<crate::router::EngineBridge>,
    /// Tokens.
    pub tokens: TokenStore,
    /// ACL policies.
    pub policies: PolicyStore,
    /// Audit devices.
    pub audit: AuditBroker,
    /// Identity.
    pub info: ServerInfo,
    /// Largest accepted request body, bytes.
    pub max_request_bytes: usize,
    /// The core this server was unsealed by (for `sys/seal`, `sys/rotate`).
    pub core: std::sync::Weak<crate::lifecycle::Core>,
}

impl App {
    /// The lease manager's clock, in ns.
    pub fn leases_now(&self) -> u64 {
        self.leases.now()
    }
}
