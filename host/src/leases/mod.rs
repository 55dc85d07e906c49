//! The lease manager: every leased secret an engine hands out is recorded here before
//! the client sees it, and revoked through its engine when it expires or is revoked.
//!
//! Nothing is kept in memory per lease. Entries live at `sys/expire/id/<lease id>`;
//! an expiry index `sys/expire/index/<unix secs>/<lease id>` orders them by due time, so
//! start-up reads nothing and the expiry worker walks only the due end of the index.
//! `sys/expire/token/<token hash>/<lease id>` ties each lease to the token that created
//! it (written in the same batch as the entry), so revoking a token revokes its leases.

mod entry;
mod expiry;
pub mod keys;
mod manager;
mod ttl;

pub use entry::LeaseEntry;
pub use expiry::{ExpiryConfig, spawn_expiry_worker};
pub use manager::{LeaseError, LeaseManager, LeaseTiming, NewLease};
pub use ttl::{TtlInputs, TtlOutcome, compute_ttl};

use std::future::Future;
use std::pin::Pin;

/// How the lease manager reaches the engine that issued a lease.
pub trait LeaseEngines: Send + Sync + 'static {
    /// Asks the engine to revoke the secret behind `entry`.
    fn revoke<'a>(
        &'a self,
        entry: &'a LeaseEntry,
    ) -> Pin<Box<dyn Future<Output = Result<(), EngineCallError>> + Send + 'a>>;
    /// Asks the engine for new terms for `entry`, with the client's `increment` (seconds).
    fn renew<'a>(
        &'a self,
        entry: &'a LeaseEntry,
        increment: u64,
    ) -> Pin<Box<dyn Future<Output = Result<RenewTerms, EngineCallError>> + Send + 'a>>;
}

/// Terms an engine gives a renewed lease, and the caps of its mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewTerms {
    /// Engine TTL, seconds (0 = mount default).
    pub ttl: u64,
    /// Engine max TTL, seconds (0 = mount max).
    pub max_ttl: u64,
    /// The mount's effective default TTL.
    pub mount_default_ttl: u64,
    /// The mount's effective max TTL.
    pub mount_max_ttl: u64,
}

/// Why an engine call for a lease failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineCallError {
    /// The engine cannot ever handle this lease (unknown path or operation, mount gone):
    /// retrying is pointless.
    #[error("{0}")]
    Permanent(String),
    /// The engine refused the request (a 400-class answer), e.g. "lease is not renewable".
    #[error("{0}")]
    Refused(String),
    /// Anything else; worth retrying.
    #[error("{0}")]
    Transient(String),
}
