//! `sys/plugins/catalog[/secret[/NAME]]` and `sys/plugins/reload/backend`: the plugin
//! catalog and hot reload (Vault §2.4, §6).

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::api::{ApiError, LogicalRequest, LogicalResponse, Operation};
use crate::app::App;
use crate::mounts::{RegistryError, normalize_path};
use crate::plugins::{PluginError, PluginRecord, RegisterRequest};

/// The plugin types Vault knows; Coffer only has secrets engines.
const TYPES: &[&str] = &["auth", "database", "secret"];

/// Routes `sys/plugins/...`.
pub async fn handle(app: &App, req: &LogicalRequest) -> LogicalResponse {
    let rest = req
        .path
        .strip_prefix("sys/plugins")
        .unwrap_or("")
        .trim_matches('/');
    if rest == "reload/backend" {
        return match req.operation {
            Operation::Update | Operation::Create => reload_backend(app, req).await,
            _ => ApiError::unsupported_operation().into(),
        };
    }
    if let Some(name) = rest.strip_prefix("reload/secret/") {
        return match req.operation {
            Operation::Update | Operation::Create => {
                reload(app, req, Target::Plugin(name.into())).await
            }
            _ => ApiError::unsupported_operation().into(),
        };
    }
    let Some(catalog) = rest
        .strip_prefix("catalog")
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        return ApiError::unsupported_path().into();
    };
    let parts: Vec<&str> = catalog
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        [] => match req.operation {
            Operation::Read | Operation::List => list_all(app).await,
            _ => ApiError::unsupported_operation().into(),
        },
        [kind] if TYPES.contains(kind) => match req.operation {
            Operation::List | Operation::Read => list_type(app, kind),
            _ => ApiError::unsupported_operation().into(),
        },
        ["secret", name] => entry(app, req, name, false).await,
        [kind, _] if TYPES.contains(kind) => ApiError::bad_request(format!(
            "Coffer only has secrets engine plugins; {kind} plugins are not supported"
        ))
        .into(),
        // Legacy untyped `sys/plugins/catalog/:name`.
        [name] => entry(app, req, name, true).await,
        _ => ApiError::unsupported_path().into(),
    }
}

async fn entry(app: &App, req: &LogicalRequest, name: &str, legacy: bool) -> LogicalResponse {
    match req.operation {
        Operation::Read => read(app, req, name, legacy).await,
        Operation::Update | Operation::Create => register(app, req, name).await,
        Operation::Delete => deregister(app, req, name).await,
        _ => ApiError::unsupported_operation().into(),
    }
}

fn plugin_error(e: PluginError) -> ApiError {
    match e {
        PluginError::Storage(e) => ApiError::internal(format!("plugin catalog storage: {e}")),
        other => ApiError::bad_request(other.to_string()),
    }
}

/// Version of a built-in as the catalog shows it: the component's own, marked builtin.
async fn builtin_version(app: &App, name: &str) -> String {
    let version = match app.plugins.catalog().load(name).await {
        Ok(engine) => engine.info.version.clone(),
        Err(_) => concat!("v", env!("CARGO_PKG_VERSION")).to_string(),
    };
    let version = crate::plugins::canonical_version(&version).unwrap_or(version);
    format!("{}+builtin", version.split('+').next().unwrap_or(&version))
}

fn record_json(r: &PluginRecord) -> Value {
    json!({
        "name": r.name,
        "type": "secret",
        "version": r.version,
        "sha256": r.sha256,
        "command": r.command,
        "args": [],
        "env": [],
        "builtin": false,
        "oci_image": "",
        "runtime": "",
        "capabilities": r.capabilities,
        "memory_limit": r.memory_limit,
        "storage_quota": r.limits(crate::runtime::Limits::default()).storage_quota,
        "timeout": r.timeout_ms as f64 / 1000.0,
        "max_concurrent_calls": r.max_concurrent_calls,
        "uploaded": r.uploaded(),
        "engine_name": r.engine_name,
        "description": r.description,
    })
}

async fn list_all(app: &App) -> LogicalResponse {
    let names = match app.plugins.names() {
        Ok(n) => n,
        Err(e) => return plugin_error(e).into(),
    };
    let mut detailed = Vec::new();
    let mut secret: Vec<String> = Vec::new();
    for builtin in app.plugins.catalog().builtin_names() {
        secret.push(builtin.to_string());
        detailed.push(json!({
            "name": builtin,
            "type": "secret",
            "version": builtin_version(app, builtin).await,
            "builtin": true,
            "deprecation_status": "supported",
        }));
    }
    for dev in app.plugins.catalog().dev_plugin_names() {
        if !names.contains(&dev) && !secret.contains(&dev) {
            secret.push(dev.clone());
            detailed.push(json!({
                "name": dev, "type": "secret", "version": "", "builtin": false,
                "command": format!("{dev}.wasm"),
            }));
        }
    }
    for name in &names {
        for r in app.plugins.versions(name).unwrap_or_default() {
            let mut v = record_json(&r);
            if let Value::Object(m) = &mut v {
                m.retain(|k, _| {
                    ["name", "type", "version", "sha256", "builtin"].contains(&k.as_str())
                });
            }
            detailed.push(v);
        }
        secret.push(name.clone());
    }
    secret.sort();
    secret.dedup();
    LogicalResponse::data(
        json!({ "auth": [], "database": [], "secret": secret, "detailed": detailed }),
        "system",
    )
}

fn list_type(app: &App, kind: &str) -> LogicalResponse {
    if kind != "secret" {
        return ApiError::not_found().into();
    }
    let mut keys = match app.plugins.names() {
        Ok(n) => n,
        Err(e) => return plugin_error(e).into(),
    };
    keys.extend(
        app.plugins
            .catalog()
            .builtin_names()
            .into_iter()
            .map(String::from),
    );
    keys.extend(app.plugins.catalog().dev_plugin_names());
    keys.sort();
    keys.dedup();
    LogicalResponse::data(json!({ "keys": keys }), "system")
}

async fn read(app: &App, req: &LogicalRequest, name: &str, legacy: bool) -> LogicalResponse {
    let version = req.str_field("version").unwrap_or_default();
    let found = match app.plugins.get(name, &version) {
        Ok(f) => f,
        Err(e) => return plugin_error(e).into(),
    };
    let mut warnings = Vec::new();
    if legacy {
        warnings.push(
            "Deprecated API: sys/plugins/catalog/:name; use sys/plugins/catalog/secret/:name"
                .to_string(),
        );
    }
    let data = match found {
        Some(r) => {
            let mut v = record_json(&r);
            let versions: Vec<String> = app
                .plugins
                .versions(name)
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.version)
                .collect();
            v["versions"] = json!(versions);
            v
        }
        None if app.plugins.catalog().is_builtin(name) => {
            let builtin = builtin_version(app, name).await;
            if !version.is_empty()
                && version.trim_start_matches('v') != builtin.trim_start_matches('v')
            {
                return ApiError::not_found().into();
            }
            json!({
                "name": name, "type": "secret", "version": builtin, "sha256": "",
                "command": "", "args": [], "builtin": true, "oci_image": "", "runtime": "",
                "deprecation_status": "supported",
            })
        }
        None => return ApiError::not_found().into(),
    };
    LogicalResponse::data(data, "system").with_warnings(warnings)
}

/// A list parameter given as a JSON list or a comma-separated string.
fn list_field(req: &LogicalRequest, key: &str) -> Vec<String> {
    match req.field(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .flat_map(|s| {
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// Bytes as a number or `64MiB`-style string.
fn size_field(req: &LogicalRequest, key: &str) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "invalid {key}: give bytes, or a size such as 64MiB"
        ))
    };
    match req.field(key) {
        None => Ok(0),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(bad),
        Some(Value::String(s)) => {
            let s = s.trim();
            let units: &[(&str, u64)] = &[
                ("GiB", 1 << 30),
                ("MiB", 1 << 20),
                ("KiB", 1 << 10),
                ("GB", 1_000_000_000),
                ("MB", 1_000_000),
                ("KB", 1_000),
                ("B", 1),
            ];
            let (num, mult) = units
                .iter()
                .find_map(|(u, m)| s.strip_suffix(u).map(|n| (n, *m)))
                .unwrap_or((s, 1));
            if num.trim().is_empty() {
                return Ok(0);
            }
            num.trim()
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(mult))
                .ok_or_else(bad)
        }
        Some(_) => Err(bad()),
    }
}

fn register_request(req: &LogicalRequest, name: &str) -> Result<RegisterRequest, ApiError> {
    let component = match req.field("component") {
        None => None,
        Some(Value::String(b64)) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| {
                    ApiError::bad_request(format!("component must be base64-encoded: {e}"))
                })?,
        ),
        Some(_) => return Err(ApiError::bad_request("component must be a base64 string")),
    };
    let timeout = match req.field("timeout") {
        None => Duration::ZERO,
        Some(Value::String(s)) if s.trim().ends_with("ms") => s
            .trim()
            .trim_end_matches("ms")
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| ApiError::bad_request(format!("invalid timeout {s:?}")))?,
        Some(v) => crate::util::duration::parse_value(v)
            .map(Duration::from_secs)
            .map_err(|e| ApiError::bad_request(format!("invalid timeout: {e}")))?,
    };
    let command = req.str_field("command").unwrap_or_default();
    Ok(RegisterRequest {
        name: name.to_string(),
        sha256: req
            .str_field("sha256")
            .or_else(|| req.str_field("sha_256"))
            .unwrap_or_default(),
        version: req.str_field("version").unwrap_or_default(),
        command: if command.is_empty() && component.is_none() {
            String::new()
        } else {
            command
        },
        component,
        capabilities: list_field(req, "capabilities"),
        memory_limit: size_field(req, "memory_limit")?,
        storage_quota: size_field(req, "storage_quota")?,
        timeout,
        max_concurrent_calls: match req.field("max_concurrent_calls") {
            None => 0,
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid max_concurrent_calls: give a whole number of calls",
                    )
                })?,
        },
    })
}

async fn register(app: &App, req: &LogicalRequest, name: &str) -> LogicalResponse {
    let request = match register_request(req, name) {
        Ok(r) => r,
        Err(e) => return e.into(),
    };
    match app.plugins.register(request).await {
        Ok((_, _, warnings)) if warnings.is_empty() => LogicalResponse::NoContent,
        Ok((_, _, warnings)) => LogicalResponse::warnings_only(warnings, "system"),
        Err(e) => plugin_error(e).into(),
    }
}

async fn deregister(app: &App, req: &LogicalRequest, name: &str) -> LogicalResponse {
    let version = req.str_field("version").unwrap_or_default();
    if app.plugins.catalog().is_builtin(name) && version.contains("+builtin") {
        return ApiError::bad_request(format!("cannot delete builtin plugin {name}")).into();
    }
    let mounts = app.mounts.list();
    let in_use = |r: &PluginRecord| -> Vec<String> {
        mounts
            .iter()
            .filter(|m| m.kind == r.name && m.running_sha256 == r.sha256)
            .map(|m| m.path.clone())
            .collect()
    };
    match app.plugins.delete(name, &version, in_use).await {
        Ok(_) => LogicalResponse::NoContent,
        Err(e) => plugin_error(e).into(),
    }
}

/// What to reload.
enum Target {
    /// Every mount of a plugin.
    Plugin(String),
    /// These mounts.
    Mounts(Vec<String>),
}

async fn reload_backend(app: &App, req: &LogicalRequest) -> LogicalResponse {
    if req.str_field("scope").is_some_and(|s| !s.is_empty()) {
        return ApiError::bad_request(
            "reload scope \"global\" is a Vault Enterprise feature; omit scope",
        )
        .into();
    }
    let plugin = req.str_field("plugin").filter(|p| !p.is_empty());
    let mounts = list_field(req, "mounts");
    let target = match (plugin, mounts.is_empty()) {
        (Some(_), false) => {
            return ApiError::bad_request("plugin and mounts cannot be set at the same time")
                .into();
        }
        (None, true) => return ApiError::bad_request("plugin or mounts must be provided").into(),
        (Some(p), true) => Target::Plugin(p),
        (None, false) => Target::Mounts(mounts),
    };
    reload(app, req, target).await
}

async fn reload(app: &App, req: &LogicalRequest, target: Target) -> LogicalResponse {
    let paths = match &target {
        Target::Plugin(name) => app.mounts.paths_of(name),
        Target::Mounts(raw) => {
            let mut out = Vec::new();
            for m in raw {
                match normalize_path(m) {
                    Ok(p) => out.push(p),
                    Err(e) => return ApiError::bad_request(e.to_string()).into(),
                }
            }
            out
        }
    };
    let mut reloaded = Vec::new();
    let mut errors = Vec::new();
    for path in &paths {
        match app.mounts.reload(path).await {
            Ok(report) => reloaded.push(json!({
                "mount": report.mount,
                "from_version": report.from_version,
                "version": report.to_version,
                "sha256": report.to_sha256,
                "from_cache": report.from_cache,
                "elapsed_ms": report.elapsed.as_secs_f64() * 1000.0,
            })),
            Err(RegistryError::NotMounted(p)) => {
                errors.push(format!("no secrets engine mounted at {p}"))
            }
            Err(e) => errors.push(format!("reloading {path} failed: {e}")),
        }
    }
    if !errors.is_empty() {
        let mut err = ApiError::bad_request(errors.join("; "));
        if !reloaded.is_empty() {
            let done: Vec<String> = reloaded
                .iter()
                .filter_map(|r| r["mount"].as_str().map(str::to_string))
                .collect();
            err.errors.push(format!("reloaded: {}", done.join(", ")));
        }
        return err.into();
    }
    let mut warnings = Vec::new();
    if reloaded.is_empty() {
        warnings.push(match &target {
            Target::Plugin(name) => format!("no mounts of plugin {name} to reload"),
            Target::Mounts(_) => "no mounts to reload".to_string(),
        });
    }
    let mut data = Map::new();
    data.insert("reload_id".into(), json!(req.id));
    data.insert("reloaded".into(), Value::Array(reloaded));
    LogicalResponse::data(Value::Object(data), "system").with_warnings(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(data: Value) -> LogicalRequest {
        LogicalRequest {
            id: "id".into(),
            operation: Operation::Update,
            path: "sys/plugins/catalog/secret/x".into(),
            data: data.as_object().cloned().unwrap_or_default(),
            token: None,
            help: false,
            remote_address: None,
            bench_native: false,
        }
    }

    #[test]
    fn parses_registration_fields() {
        let r = register_request(
            &request(json!({
                "sha_256": "ab", "version": "1.0.0", "capabilities": "aws, ",
                "memory_limit": "64MiB", "timeout": "1500ms", "component": "AAEC",
            })),
            "x",
        )
        .ok()
        .unwrap_or_default();
        assert_eq!(r.sha256, "ab");
        assert_eq!(r.capabilities, vec!["aws".to_string()]);
        assert_eq!(r.memory_limit, 64 << 20);
        assert_eq!(r.timeout, Duration::from_millis(1500));
        assert_eq!(r.component.as_deref(), Some(&[0u8, 1, 2][..]));
        assert!(register_request(&request(json!({"component": "%%%"})), "x").is_err());
        assert!(register_request(&request(json!({"memory_limit": "lots"})), "x").is_err());
    }
}
