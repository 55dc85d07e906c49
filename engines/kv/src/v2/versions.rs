//! `delete/`, `undelete/` and `destroy/`: acting on listed versions of a secret.

use coffer_sdk::{Error, Request, Response, Result, clock, storage};

use super::model::{Config, KeyMetadata, auto_deletion_time};
use super::secret_path;
use crate::layout;

/// The `versions` field: at least one version number. Numbers that cannot be versions
/// (0, negative) are kept out, as they match nothing anyway.
fn requested_versions(req: &Request, missing: &str) -> Result<Vec<u64>> {
    let given: Vec<i64> = req.get("versions")?.unwrap_or_default();
    if given.is_empty() {
        return Err(Error::invalid(missing));
    }
    Ok(given
        .into_iter()
        .filter_map(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0)
        .collect())
}

/// `POST delete/:path {"versions": [...]}`: soft-deletes the listed versions; `204`.
pub fn delete(req: &Request) -> Result<Response> {
    let versions = requested_versions(req, "No version number provided")?;
    let path = secret_path(req);
    let Some(mut meta) = KeyMetadata::load(path)? else {
        return Ok(Response::empty());
    };
    let now = clock::now();
    for version in versions {
        if let Some(vm) = meta.versions.get_mut(&version)
            && vm.is_live(now)
        {
            vm.deletion_time = Some(now.as_nanos());
        }
    }
    meta.save(path)?;
    Ok(Response::empty())
}

/// `POST undelete/:path {"versions": [...]}`: restores soft-deleted versions (not
/// destroyed ones). Like Vault, a restored version gets a fresh automatic deletion
/// time when `delete_version_after` applies.
pub fn undelete(req: &Request) -> Result<Response> {
    let versions = requested_versions(req, "No version number provided")?;
    let path = secret_path(req);
    let config = Config::load()?;
    let Some(mut meta) = KeyMetadata::load(path)? else {
        return Ok(Response::empty());
    };
    let deletion = auto_deletion_time(
        clock::now(),
        config.delete_version_after,
        meta.delete_version_after,
    );
    for version in versions {
        if let Some(vm) = meta.versions.get_mut(&version)
            && !vm.destroyed
        {
            vm.deletion_time = deletion.map(|t| t.as_nanos());
        }
    }
    meta.save(path)?;
    Ok(Response::empty())
}

/// `POST destroy/:path {"versions": [...]}`: permanently removes the listed
/// versions' data; they stay in the metadata as `destroyed`.
pub fn destroy(req: &Request) -> Result<Response> {
    let versions = requested_versions(req, "no version number provided")?;
    let path = secret_path(req);
    let Some(mut meta) = KeyMetadata::load(path)? else {
        return Ok(Response::empty());
    };
    let mut doomed = Vec::new();
    for version in versions {
        if let Some(vm) = meta.versions.get_mut(&version) {
            vm.destroyed = true;
            doomed.push(version);
        }
    }
    // Mark first: if deleting the data fails later, the versions already read as
    // destroyed, and a retry deletes what is left.
    meta.save(path)?;
    for version in doomed {
        storage::delete(&layout::v2_version(path, version))?;
    }
    Ok(Response::empty())
}
