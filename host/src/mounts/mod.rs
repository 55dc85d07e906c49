//! The mount table: which engine serves which path prefix, persisted in storage.

mod entry;
mod registry;
mod table;
pub mod write_lock;

pub use entry::{MountConfig, MountEntry};
pub use registry::{MountHandle, Mounts, RegistryError, Routed};
pub use table::{MountError, MountTable, normalize_path};

/// Lease TTLs used when neither the mount nor the engine sets one: Vault's 768h.
pub const SYSTEM_DEFAULT_TTL: u64 = 768 * 3600;
/// The system maximum lease TTL: Vault's 768h.
pub const SYSTEM_MAX_TTL: u64 = 768 * 3600;
