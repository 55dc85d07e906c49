//! `metadata/:path`: per-secret settings, custom metadata, listing and full deletion.

use std::collections::BTreeMap;
use std::time::Duration;

use coffer_sdk::{Error, FromField, Request, Response, Result, clock, storage};
use serde_json::Value;

use super::custom_metadata;
use super::model::{Config, KeyMetadata};
use super::secret_path;
use crate::layout;

const CAS_IGNORED: &str =
    "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored.";

/// `GET metadata/:path`.
pub fn read(req: &Request) -> Result<Response> {
    let path = secret_path(req);
    if path.is_empty() {
        return Err(Error::not_found());
    }
    let meta = KeyMetadata::load(path)?.ok_or_else(Error::not_found)?;
    Ok(Response::data(meta.to_json()))
}

/// `LIST metadata/:folder`: the secrets and folders that have metadata.
pub fn list(req: &Request) -> Result<Response> {
    let keys = storage::list(&layout::v2_metadata_folder(secret_path(req)))?;
    Ok(Response::keys(keys))
}

/// `POST metadata/:path`: sets the given settings, creating the record if needed.
pub fn write(req: &Request) -> Result<Response> {
    let path = secret_path(req);
    if path.is_empty() {
        return Err(Error::invalid("missing path"));
    }
    let max_versions: Option<u32> = req.get("max_versions")?;
    let cas_required: Option<bool> = req.get("cas_required")?;
    let delete_version_after: Option<Duration> = req.get("delete_version_after")?;
    let custom: Option<BTreeMap<String, String>> = req
        .get("custom_metadata")
        .map_err(|e| custom_metadata_error(&e))?;
    if max_versions.is_none()
        && cas_required.is_none()
        && delete_version_after.is_none()
        && custom.is_none()
    {
        return Ok(Response::empty());
    }
    if let Some(custom) = &custom {
        custom_metadata::validate(custom)?;
    }
    let response = cas_warning(cas_required)?;

    let mut meta = KeyMetadata::load(path)?.unwrap_or_else(|| KeyMetadata::new(clock::now()));
    if let Some(n) = max_versions {
        meta.max_versions = n;
    }
    if let Some(b) = cas_required {
        meta.cas_required = b;
    }
    if let Some(d) = delete_version_after {
        meta.delete_version_after = seconds(d);
    }
    if let Some(custom) = custom {
        meta.custom_metadata = custom;
    }
    meta.save(path)?;
    Ok(response)
}

/// `PATCH metadata/:path`: a JSON merge patch of the settings. `null` resets a
/// setting; inside `custom_metadata` it removes that key. The record must exist.
pub fn patch(req: &Request) -> Result<Response> {
    let path = secret_path(req);
    if path.is_empty() {
        return Err(Error::invalid("missing path"));
    }
    let custom_patch = custom_metadata_patch(req)?;
    let mut meta = KeyMetadata::load(path)?.ok_or_else(Error::not_found)?;

    let data = req.data();
    if let Some(v) = data.get("max_versions") {
        meta.max_versions = if v.is_null() {
            0
        } else {
            req.require("max_versions")?
        };
    }
    let mut cas_given = None;
    if let Some(v) = data.get("cas_required") {
        let b = if v.is_null() {
            false
        } else {
            req.require("cas_required")?
        };
        meta.cas_required = b;
        cas_given = Some(b);
    }
    if let Some(v) = data.get("delete_version_after") {
        meta.delete_version_after = if v.is_null() {
            0
        } else {
            seconds(req.require("delete_version_after")?)
        };
    }
    match custom_patch {
        CustomPatch::Absent => {}
        CustomPatch::Clear => meta.custom_metadata.clear(),
        CustomPatch::Merge(changes) => {
            for (key, value) in changes {
                match value {
                    Some(v) => meta.custom_metadata.insert(key, v),
                    None => meta.custom_metadata.remove(&key),
                };
            }
            // The patch alone passed; the merged result must respect the limits too.
            custom_metadata::validate(&meta.custom_metadata)?;
        }
    }
    let response = cas_warning(cas_given)?;
    meta.save(path)?;
    Ok(response)
}

/// `DELETE metadata/:path`: removes the secret with all its versions; `204`.
pub fn delete(req: &Request) -> Result<Response> {
    let path = secret_path(req);
    if path.is_empty() {
        return Ok(Response::empty());
    }
    let Some(meta) = KeyMetadata::load(path)? else {
        return Ok(Response::empty());
    };
    // The record goes first: should a data delete then fail, no reader can reach the
    // leftovers, and a new secret at this path starts again at version 1 and
    // overwrites them.
    storage::delete(&layout::v2_metadata(path))?;
    for version in meta.versions.keys() {
        storage::delete(&layout::v2_version(path, *version))?;
    }
    Ok(Response::empty())
}

/// Vault warns (and keeps the mount's rule) when a secret tries to opt out of a
/// mount-wide `cas_required`.
fn cas_warning(cas_required: Option<bool>) -> Result<Response> {
    if cas_required == Some(false) && Config::load()?.cas_required {
        return Ok(Response::empty().warning(CAS_IGNORED));
    }
    Ok(Response::empty())
}

/// What a metadata patch does to `custom_metadata`.
enum CustomPatch {
    Absent,
    Clear,
    /// Key to new value, or `None` to remove the key.
    Merge(Vec<(String, Option<String>)>),
}

fn custom_metadata_patch(req: &Request) -> Result<CustomPatch> {
    let changes = match req.data().get("custom_metadata") {
        None => return Ok(CustomPatch::Absent),
        Some(Value::Null) => return Ok(CustomPatch::Clear),
        Some(Value::Object(changes)) => changes,
        Some(_) => {
            return Err(Error::invalid(
                "custom_metadata validation failed: expected an object of strings",
            ));
        }
    };
    let mut merge = Vec::with_capacity(changes.len());
    let mut to_check = BTreeMap::new();
    for (key, value) in changes {
        if value.is_null() {
            merge.push((key.clone(), None));
            continue;
        }
        let value = String::from_field(value).map_err(|e| {
            Error::invalid(format!(
                "custom_metadata validation failed: key {key:?}: {e}"
            ))
        })?;
        to_check.insert(key.clone(), value.clone());
        merge.push((key.clone(), Some(value)));
    }
    custom_metadata::validate(&to_check)?;
    Ok(CustomPatch::Merge(merge))
}

/// Vault prefixes every custom metadata problem alike, parse errors included.
fn custom_metadata_error(e: &Error) -> Error {
    Error::invalid(format!("custom_metadata validation failed: {e}"))
}

fn seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
