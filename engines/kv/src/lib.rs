//! # coffer-engine-kv: Vault's kv secrets engine, versions 1 and 2
//!
//! The mount option `version` picks the flavour per mount: absent, `""` or `"1"` is
//! kv v1 (unversioned secrets at arbitrary paths), `"2"` is kv v2 (versioned secrets
//! with metadata, check-and-set, soft deletion and destruction). Behaviour, JSON
//! shapes and messages follow Vault's (docs/vault-spec.md §7).
//!
//! The engine only needs storage and the clock, so its component imports nothing
//! else. The storage layout is described in [`layout`].

pub mod layout;
mod merge_patch;
mod v1;
mod v2;

use coffer_sdk::{Engine, Error, Info, Mount, Result, Router};

/// The kv engine.
pub struct Kv;

impl Engine for Kv {
    fn info() -> Info {
        Info::new(
            "kv",
            concat!("v", env!("CARGO_PKG_VERSION")),
            "Key/value secret storage, unversioned (v1) or versioned (v2)",
        )
        // Patterns in the SDK router's syntax: v2's paths first, v1's catch-all last.
        .path(
            "config",
            "kv v2: mount-wide max_versions, cas_required and delete_version_after.",
        )
        .path(
            "data/{path+}",
            "kv v2: read (?version=n), write, patch or soft-delete the latest version.",
        )
        .path("delete/{path+}", "kv v2: soft-delete the listed versions.")
        .path("undelete/{path+}", "kv v2: restore soft-deleted versions.")
        .path(
            "destroy/{path+}",
            "kv v2: permanently remove the data of the listed versions.",
        )
        .path(
            "metadata/{path*}",
            "kv v2: read, write, patch or delete a secret's metadata and versions; list.",
        )
        .path(
            "subkeys/{path+}",
            "kv v2: a version's keys with the values removed (?version=n&depth=d).",
        )
        .path(
            "{path*}",
            "kv v1: read, write, delete or list the secret at any path.",
        )
    }

    fn router(mount: &Mount) -> Result<Router> {
        match mount.option("version") {
            None | Some("") | Some("1") => Ok(v1::router()),
            Some("2") => Ok(v2::router()),
            Some(other) => Err(Error::invalid(format!(
                "unsupported kv version {other:?}: use \"1\" or \"2\""
            ))),
        }
    }
}

coffer_sdk::export_engine!(Kv);

#[cfg(test)]
mod tests;
