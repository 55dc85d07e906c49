//! `data/:path`: reading, writing, patching and soft-deleting versions.

use coffer_sdk::{Error, FromField, Request, Response, Result, clock, storage};
use serde_json::{Map, Value, json};

use super::model::{Config, KeyMetadata, ReadRecord, ShownVersion, auto_deletion_time};
use super::{data_path, requested_version};
use crate::{layout, merge_patch};

/// `GET data/:path[?version=n]`: the version's data and metadata. A deleted or
/// destroyed version is a `404` that still carries the metadata, as Vault answers.
///
/// The hottest path of the engine: the record is binary (see
/// [`layout::METADATA_RECORD_V1`]) and decoded without building a map of its versions
/// ([`ReadRecord`]), and the version's data is not decoded at all (the stored JSON is
/// passed on as it is).
pub fn read(req: &Request) -> Result<Response> {
    let path = data_path(req)?;
    let meta = ReadRecord::load(path)?.ok_or_else(Error::not_found)?;
    let version = requested_version(req, meta.current_version)?;
    let vm = meta.version(version).ok_or_else(Error::not_found)?;

    let metadata = ShownVersion::new(&meta.custom_metadata, version, vm);
    if !vm.is_live_now() {
        return Err(Error::not_found_with(
            json!({ "data": null, "metadata": metadata.to_value() }),
        ));
    }
    let data_key = layout::v2_version(path, version);
    let stored_data =
        storage::get(&data_key)?.ok_or_else(|| Error::internal("could not find version data"))?;
    // `{"data":<as stored>,"metadata":{...}}`, fields in Vault's (sorted) order. The
    // stored JSON is this engine's own, written by `store_version`, and the host checks
    // the whole answer, so it is not parsed here.
    let stored = String::from_utf8(stored_data)
        .map_err(|_| Error::internal(format!("stored entry {data_key:?} is corrupt")))?;
    let metadata = serde_json::to_string(&metadata)?;
    let mut text = String::with_capacity(stored.len() + metadata.len() + 22);
    for part in [r#"{"data":"#, &stored, r#","metadata":"#, &metadata, "}"] {
        text.push_str(part);
    }
    Ok(Response::json_text(text))
}

/// `POST data/:path` with `{"data": {...}, "options": {"cas": n}}`: a new version.
pub fn write(req: &Request) -> Result<Response> {
    let path = data_path(req)?;
    let data: Map<String, Value> = req
        .get("data")?
        .ok_or_else(|| Error::invalid("no data provided"))?;
    let config = Config::load()?;
    let mut meta = KeyMetadata::load(path)?.unwrap_or_default();
    check_cas(req, &config, &meta)?;
    store_version(path, &mut meta, &config, &data)
}

/// `PATCH data/:path`: a new version made by merge-patching the current one. The
/// current version must exist and be neither deleted nor destroyed.
pub fn patch(req: &Request) -> Result<Response> {
    let path = data_path(req)?;
    let patch: Map<String, Value> = req
        .get("data")?
        .ok_or_else(|| Error::invalid("no data provided"))?;
    let mut meta = KeyMetadata::load(path)?.ok_or_else(Error::not_found)?;
    let config = Config::load()?;
    check_cas(req, &config, &meta)?;

    let current = meta.current_version;
    let vm = meta.versions.get(&current).ok_or_else(Error::not_found)?;
    if !vm.is_live_now() {
        // Vault answers a patch of a deleted version with the bare version metadata.
        return Err(Error::not_found_with(meta.version_json(current, vm)));
    }
    let mut patched = Value::Object(load_version(path, current)?);
    merge_patch::apply(&mut patched, &Value::Object(patch));
    let Value::Object(patched) = patched else {
        // An object patched with an object stays an object.
        return Err(Error::internal("merge patch did not produce an object"));
    };
    store_version(path, &mut meta, &config, &patched)
}

/// `DELETE data/:path`: soft-deletes the current version; `204` even when there is
/// nothing to delete.
pub fn delete(req: &Request) -> Result<Response> {
    let path = data_path(req)?;
    let Some(mut meta) = KeyMetadata::load(path)? else {
        return Ok(Response::empty());
    };
    let now = clock::now();
    let current = meta.current_version;
    if let Some(vm) = meta.versions.get_mut(&current)
        && vm.is_live(now)
    {
        vm.deletion_time = Some(now.as_nanos());
        meta.save(path)?;
    }
    Ok(Response::empty())
}

/// Enforces check-and-set: `options.cas` must equal the current version (0 = the
/// secret must not exist yet), and is mandatory when the mount or secret says so.
fn check_cas(req: &Request, config: &Config, meta: &KeyMetadata) -> Result<()> {
    let options: Map<String, Value> = req.get("options")?.unwrap_or_default();
    match options.get("cas").filter(|v| !v.is_null()) {
        Some(raw) => {
            let cas = i64::from_field(raw)
                .map_err(|_| Error::invalid("error parsing check-and-set parameter"))?;
            if u64::try_from(cas).ok() != Some(meta.current_version) {
                return Err(Error::invalid(
                    "check-and-set parameter did not match the current version",
                ));
            }
            Ok(())
        }
        None if config.cas_required || meta.cas_required => Err(Error::invalid(
            "check-and-set parameter required for this call",
        )),
        None => Ok(()),
    }
}

/// Writes `data` as the next version of `path` and answers with its metadata.
fn store_version(
    path: &str,
    meta: &mut KeyMetadata,
    config: &Config,
    data: &Map<String, Value>,
) -> Result<Response> {
    let now = clock::now();
    let deletion = auto_deletion_time(now, config.delete_version_after, meta.delete_version_after);
    let version = meta
        .current_version
        .checked_add(1)
        .ok_or_else(|| Error::internal("version counter exhausted"))?;
    // The data goes first: if storing the metadata then fails, the new version is
    // merely invisible, and the next write reuses its number and overwrites it.
    storage::put_json(&layout::v2_version(path, version), data)?;
    let pruned = meta.add_version(now, deletion, config.max_versions);
    meta.save(path)?;

    let shown = match meta.versions.get(&version) {
        Some(vm) => meta.version_json(version, vm),
        None => return Err(Error::internal("new version missing from metadata")),
    };
    let mut response = Response::data(shown);
    // The write itself has succeeded; failing to delete pruned data only leaves
    // unreachable entries behind (retried on the next prune), so it is a warning.
    if let Err(e) = delete_pruned(path, &pruned) {
        response.add_warning(format!(
            "error occurred when cleaning up old versions, these will be cleaned up on next write: {e}"
        ));
    }
    Ok(response)
}

/// Deletes the data of versions that fell out of the window, plus any leftovers of an
/// earlier cleanup that failed (they sit directly below, so walk down to the first gap).
fn delete_pruned(path: &str, pruned: &[u64]) -> Result<()> {
    let Some(&lowest) = pruned.first() else {
        return Ok(());
    };
    let mut leftovers = Vec::new();
    let mut below = lowest.saturating_sub(1);
    while below > 0 && storage::get(&layout::v2_version(path, below))?.is_some() {
        leftovers.push(below);
        below -= 1;
    }
    // Oldest first, so a failure part-way leaves a contiguous run for the next walk.
    for version in leftovers.iter().rev().chain(pruned) {
        storage::delete(&layout::v2_version(path, *version))?;
    }
    Ok(())
}

/// The stored data of a version the metadata says exists.
pub(super) fn load_version(path: &str, version: u64) -> Result<Map<String, Value>> {
    storage::get_json(&layout::v2_version(path, version))?
        .ok_or_else(|| Error::internal("could not find version data"))
}
