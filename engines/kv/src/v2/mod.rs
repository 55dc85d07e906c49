//! kv v2: versioned secrets with metadata, check-and-set and soft deletion
//! (vault-spec §7.2).

mod config;
mod custom_metadata;
mod data;
mod metadata;
mod model;
mod subkeys;
mod versions;

use coffer_sdk::{Error, Request, Result, Router};

/// The v2 routes.
pub fn router() -> Router {
    let mut router = Router::new();
    router
        .path("config")
        .read(config::read)
        .write(config::write)
        .fields(&["max_versions", "cas_required", "delete_version_after"]);
    router
        .path("data/{path+}")
        .read(data::read)
        .write(data::write)
        .patch(data::patch)
        .delete(data::delete)
        .fields(&["version", "options", "data"]);
    router
        .path("delete/{path+}")
        .write(versions::delete)
        .fields(&["versions"]);
    router
        .path("undelete/{path+}")
        .write(versions::undelete)
        .fields(&["versions"]);
    router
        .path("destroy/{path+}")
        .write(versions::destroy)
        .fields(&["versions"]);
    router
        .path("metadata/{path*}")
        .read(metadata::read)
        .write(metadata::write)
        .patch(metadata::patch)
        .delete(metadata::delete)
        .list(metadata::list)
        .fields(&[
            "max_versions",
            "cas_required",
            "delete_version_after",
            "custom_metadata",
        ]);
    router
        .path("subkeys/{path+}")
        .read(subkeys::read)
        .fields(&["version", "depth"]);
    router
}

/// The secret path captured by the route (may be empty for `metadata/`).
fn secret_path(req: &Request) -> &str {
    req.param("path").unwrap_or_default()
}

/// The version a read asks for: `version` when positive, else the current one.
fn requested_version(req: &Request, current: u64) -> Result<u64> {
    let asked: i64 = req.get_or("version", 0)?;
    Ok(u64::try_from(asked)
        .ok()
        .filter(|v| *v > 0)
        .unwrap_or(current))
}

/// The secret path of `data/:path`, which Vault matches only without a trailing
/// slash (`data/a/` is an unsupported path, not the secret `a/`).
fn data_path(req: &Request) -> Result<&str> {
    let path = secret_path(req);
    if path.ends_with('/') {
        return Err(Error::UnsupportedPath);
    }
    Ok(path)
}

#[cfg(test)]
mod tests;
