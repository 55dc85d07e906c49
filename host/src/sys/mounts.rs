//! `sys/mounts`, `sys/mounts/:path`, `sys/mounts/:path/tune`, `sys/internal/ui/mounts`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::api::{ApiError, LogicalRequest, LogicalResponse, Operation};
use crate::app::App;
use crate::auth::Caller;
use crate::mounts::{MountConfig, MountEntry, RegistryError, normalize_path};
use crate::plugins::PluginError;
use crate::util::duration;

/// Routes `sys/mounts[/...]`.
pub async fn handle(app: &App, req: &LogicalRequest) -> LogicalResponse {
    let rest = req
        .path
        .strip_prefix("sys/mounts")
        .unwrap_or("")
        .trim_start_matches('/');
    if rest.is_empty() {
        return match req.operation {
            Operation::Read => list(app),
            _ => ApiError::unsupported_operation().into(),
        };
    }
    if let Some(path) = rest
        .strip_suffix("/tune")
        .or_else(|| rest.strip_suffix("/tune/"))
    {
        return match req.operation {
            Operation::Read => read_tune(app, path),
            Operation::Update | Operation::Create => tune(app, path, req).await,
            _ => ApiError::unsupported_operation().into(),
        };
    }
    match req.operation {
        Operation::Read => read(app, rest),
        Operation::Update | Operation::Create => enable(app, rest, req).await,
        Operation::Delete => disable(app, rest).await,
        _ => ApiError::unsupported_operation().into(),
    }
}

fn system_mount_json(app: &App) -> Value {
    json!({
        "accessor": app.info.system_accessor,
        "config": {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false, "passthrough_request_headers": ["Accept"]},
        "description": "system endpoints used for control, policy and debugging",
        "external_entropy_access": false,
        "local": false,
        "options": null,
        "plugin_version": "",
        "running_plugin_version": concat!("v", env!("CARGO_PKG_VERSION"), "+builtin.coffer"),
        "running_sha256": "",
        "seal_wrap": true,
        "type": "system",
        "uuid": app.info.cluster_id,
        "deprecation_status": "supported",
    })
}

fn list(app: &App) -> LogicalResponse {
    let mut data = Map::new();
    let quotas: BTreeMap<String, u64> = app
        .mounts
        .handles()
        .iter()
        .map(|h| (h.entry.path.clone(), h.engine.limits.storage_quota))
        .collect();
    for entry in app.mounts.list() {
        let mut info = entry.info_json();
        add_storage_usage(app, &entry, quotas.get(&entry.path).copied(), &mut info);
        data.insert(entry.path.clone(), info);
    }
    data.insert("sys/".into(), system_mount_json(app));
    LogicalResponse::injected(Value::Object(data))
}

fn mount_path(raw: &str) -> Result<String, ApiError> {
    normalize_path(raw).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn read(app: &App, raw: &str) -> LogicalResponse {
    let path = match mount_path(raw) {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    if path == "sys/" {
        return LogicalResponse::injected(system_mount_json(app));
    }
    match app.mounts.get(&path) {
        Some(entry) => {
            let quota = app
                .mounts
                .handles()
                .iter()
                .find(|h| h.entry.path == path)
                .map(|h| h.engine.limits.storage_quota);
            let mut info = entry.info_json();
            add_storage_usage(app, &entry, quota, &mut info);
            LogicalResponse::injected(info)
        }
        None => ApiError::bad_request(format!("No secret engine mount at {path}")).into(),
    }
}

/// Adds Coffer's storage fields to a mount's row: `storage_bytes`, what the mount
/// stores now (keys and values as stored, encryption included; `null` when the backend
/// does not meter), and `storage_quota`, the most it may store (`null` = unlimited, as
/// for built-in engines; unknown while its engine is not loaded).
fn add_storage_usage(app: &App, entry: &MountEntry, quota: Option<u64>, info: &mut Value) {
    let Value::Object(fields) = info else {
        return;
    };
    let view = crate::storage::View::new(app.backend.clone(), entry.storage_prefix());
    let used = match view.stored_bytes() {
        Ok(used) => used,
        Err(e) => {
            tracing::warn!(mount = %entry.path, error = %e, "cannot read the mount's storage usage");
            None
        }
    };
    fields.insert("storage_bytes".into(), json!(used));
    fields.insert(
        "storage_quota".into(),
        json!(quota.filter(|q| *q != u64::MAX)),
    );
}

fn read_tune(app: &App, raw: &str) -> LogicalResponse {
    let path = match mount_path(raw) {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    match app.mounts.get(&path) {
        Some(entry) => LogicalResponse::injected(entry.tune_json()),
        None => ApiError::bad_request(format!("cannot fetch sysview for path {path:?}")).into(),
    }
}

/// Reads a TTL field: seconds or duration string; `"system"` means 0 (the default).
fn ttl_field(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "system" || s.is_empty() => Ok(Some(0)),
        Some(v) => duration::parse_value(v)
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("unable to parse {key}: {e}"))),
    }
}

fn string_map(v: Option<&Value>, key: &str) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect(),
        )),
        Some(_) => Err(ApiError::bad_request(format!(
            "{key} must be a map of strings"
        ))),
    }
}

fn bool_field(req: &LogicalRequest, key: &str) -> bool {
    match req.field(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.as_str(), "true" | "1" | "t" | "T" | "TRUE" | "True"),
        _ => false,
    }
}

/// Maps a requested type to (engine name, default kv version).
fn resolve_type(kind: &str) -> (String, Option<&'static str>) {
    match kind {
        "kv" => ("kv".into(), Some("1")),
        "kv-v1" | "generic" => ("kv".into(), Some("1")),
        "kv-v2" => ("kv".into(), Some("2")),
        other => (other.to_string(), None),
    }
}

async fn enable(app: &App, raw: &str, req: &LogicalRequest) -> LogicalResponse {
    match build_entry(raw, req) {
        Ok(entry) => {
            let path = entry.path.clone();
            match app.mounts.enable(entry).await {
                Ok(()) => {
                    tracing::info!(path = %path, "enabled secrets engine");
                    LogicalResponse::NoContent
                }
                Err(e) => registry_error(e).into(),
            }
        }
        Err(e) => e.into(),
    }
}

fn build_entry(raw: &str, req: &LogicalRequest) -> Result<MountEntry, ApiError> {
    let path = mount_path(raw)?;
    let mut kind = req.str_field("type").unwrap_or_default();
    if kind == "plugin" {
        kind = req.str_field("plugin_name").unwrap_or_default();
    }
    if kind.is_empty() {
        return Err(ApiError::bad_request(
            "backend type must be specified as a string",
        ));
    }
    let (engine, kv_version) = resolve_type(&kind);
    let config_obj = match req.field("config") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(ApiError::bad_request("config must be an object")),
    };
    let mut options = string_map(req.field("options"), "options")?;
    match (
        kv_version,
        options.as_ref().and_then(|o| o.get("version")).cloned(),
    ) {
        (Some(default), None) => {
            options
                .get_or_insert_with(BTreeMap::new)
                .insert("version".into(), default.into());
        }
        (Some(_), Some(v)) if kind == "kv" && (v == "1" || v == "2") => {}
        (Some(default), Some(v)) if v == default => {}
        (Some(_), Some(v)) => {
            return Err(ApiError::bad_request(format!(
                "invalid kv version {v:?} for type {kind}"
            )));
        }
        (None, Some(_)) if !["kv"].contains(&engine.as_str()) && is_builtin_non_kv(&engine) => {
            return Err(ApiError::bad_request(
                "options.version is only valid for kv",
            ));
        }
        _ => {}
    }
    let config = MountConfig {
        default_lease_ttl: ttl_field(&config_obj, "default_lease_ttl")?.unwrap_or(0),
        max_lease_ttl: ttl_field(&config_obj, "max_lease_ttl")?.unwrap_or(0),
        force_no_cache: matches!(config_obj.get("force_no_cache"), Some(Value::Bool(true))),
        listing_visibility: config_obj
            .get("listing_visibility")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        plugin_version: config_obj
            .get("plugin_version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    check_ttls(&config)?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let accessor = format!("{engine}_{}", &uuid.replace('-', "")[..8]);
    Ok(MountEntry {
        path,
        kind: engine,
        description: req.str_field("description").unwrap_or_default(),
        accessor,
        uuid,
        config,
        options,
        local: bool_field(req, "local"),
        seal_wrap: bool_field(req, "seal_wrap"),
        external_entropy_access: bool_field(req, "external_entropy_access"),
        running_sha256: String::new(),
        running_version: String::new(),
    })
}

fn is_builtin_non_kv(engine: &str) -> bool {
    engine == "aws"
}

fn check_ttls(config: &MountConfig) -> Result<(), ApiError> {
    let max = if config.max_lease_ttl == 0 {
        crate::mounts::SYSTEM_MAX_TTL
    } else {
        config.max_lease_ttl
    };
    if config.default_lease_ttl > max {
        return Err(ApiError::bad_request(
            "default lease TTL cannot be larger than max lease TTL",
        ));
    }
    Ok(())
}

fn registry_error(e: RegistryError) -> ApiError {
    use crate::mounts::MountError;
    match e {
        RegistryError::Table(MountError::InUse(p)) => ApiError::new(
            StatusCode::CONFLICT,
            format!("path is already in use at {p}"),
        ),
        RegistryError::Table(MountError::InvalidPath(m)) => ApiError::bad_request(m),
        RegistryError::Table(e @ MountError::Reserved(_)) => {
            ApiError::new(StatusCode::FORBIDDEN, e.to_string())
        }
        RegistryError::Plugin(PluginError::Unknown(name)) => {
            ApiError::bad_request(format!("plugin not found in the catalog: {name}"))
        }
        RegistryError::Plugin(e) => ApiError::bad_request(e.to_string()),
        RegistryError::NotMounted(p) => {
            ApiError::bad_request(format!("No secret engine mount at {p}"))
        }
        other => {
            tracing::error!(error = %other, "mount table operation failed");
            ApiError::internal(other.to_string())
        }
    }
}

async fn disable(app: &App, raw: &str) -> LogicalResponse {
    let path = match mount_path(raw) {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    // As Vault does: revoke every lease of the mount first; if the engine cannot revoke
    // them the mount stays (use sys/leases/revoke-force/<mount> to give up on them).
    if let Err(e) = app.leases.revoke_prefix(&path, false).await {
        return ApiError::bad_request(format!(
            "failed to revoke the leases of {path} before disabling it: {e}"
        ))
        .into();
    }
    match app.mounts.disable(&path).await {
        Ok(removed) => {
            if removed {
                tracing::info!(path = %path, "disabled secrets engine");
            }
            LogicalResponse::NoContent
        }
        Err(e) => registry_error(e).into(),
    }
}

async fn tune(app: &App, raw: &str, req: &LogicalRequest) -> LogicalResponse {
    let path = match mount_path(raw) {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    let parsed = (|| -> Result<_, ApiError> {
        Ok((
            ttl_field(&req.data, "default_lease_ttl")?,
            ttl_field(&req.data, "max_lease_ttl")?,
            string_map(req.field("options"), "options")?,
        ))
    })();
    let (default_ttl, max_ttl, options) = match parsed {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    let description = req.str_field("description");
    let listing = req.str_field("listing_visibility");
    let plugin_version = req.str_field("plugin_version");
    let force_no_cache = req
        .field("force_no_cache")
        .map(|_| bool_field(req, "force_no_cache"));
    let result = app
        .mounts
        .update(&path, |entry| {
            let mut config = entry.config.clone();
            if let Some(t) = default_ttl {
                config.default_lease_ttl = t;
            }
            if let Some(t) = max_ttl {
                config.max_lease_ttl = t;
            }
            check_ttls(&config).map_err(|e| e.errors.join(", "))?;
            if let Some(v) = listing {
                config.listing_visibility = v;
            }
            if let Some(v) = plugin_version {
                config.plugin_version = v;
            }
            if let Some(v) = force_no_cache {
                config.force_no_cache = v;
            }
            if let Some(new) = options {
                let mut merged = entry.options.clone().unwrap_or_default();
                for (k, v) in new {
                    if k == "version" && entry.kind == "kv" {
                        let current = merged.get("version").cloned().unwrap_or_else(|| "1".into());
                        if v != current {
                            return Err(format!(
                                "changing the kv version of a mount ({current} to {v}) is not supported yet; enable a new mount with version {v}"
                            ));
                        }
                    }
                    merged.insert(k, v);
                }
                entry.options = Some(merged);
            }
            if let Some(d) = description {
                entry.description = d;
            }
            entry.config = config;
            Ok(())
        })
        .await;
    match result {
        Ok(Ok(())) => LogicalResponse::NoContent,
        Ok(Err(msg)) => ApiError::bad_request(msg).into(),
        Err(e) => registry_error(e).into(),
    }
}

/// `sys/internal/ui/mounts[/:path]`: what the kv CLI asks first to learn the mount and
/// its version.
pub fn ui_mount(app: &App, req: &LogicalRequest, rest: &str, caller: &Caller) -> LogicalResponse {
    if req.operation != Operation::Read {
        return ApiError::unsupported_operation().into();
    }
    if rest.is_empty() {
        // Every token may ask, so the listing shows only the mounts the token can use
        // (as Vault does): mount names alone say a lot about a deployment.
        let acl = match app.policies.acl_for(&caller.policies) {
            Ok(acl) => acl,
            Err(e) => return e.into(),
        };
        let mut secret = Map::new();
        for entry in app.mounts.list() {
            if acl.is_root() || acl.has_mount_access(&entry.path) {
                secret.insert(entry.path.clone(), entry.info_json());
            }
        }
        return LogicalResponse::data(json!({ "secret": secret, "auth": {} }), "system");
    }
    let target = rest.trim_end_matches('/').to_string() + "/";
    let found = app
        .mounts
        .list()
        .into_iter()
        .find(|e| target.starts_with(&e.path));
    match found {
        Some(entry) => {
            let mut info = entry.info_json();
            info["path"] = json!(entry.path);
            LogicalResponse::data(info, "system")
        }
        // Vault answers 403 for a path with no mount, so the kv CLI falls back cleanly.
        None => ApiError::permission_denied().into(),
    }
}
