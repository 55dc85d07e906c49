//! The endpoints that work without a token and while sealed: `sys/health`,
//! `sys/seal-status`, `sys/init`, `sys/unseal`, `sys/leader`. Bare JSON bodies.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api::{ApiError, LogicalRequest, LogicalResponse, Operation};
use crate::app::REPORTED_VERSION;
use crate::lifecycle::{Core, decode_share};
use crate::util::time::unix_now;

/// Paths answered here, before any token or seal check.
pub fn is_unauthenticated(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "sys/health" | "sys/seal-status" | "sys/init" | "sys/unseal" | "sys/leader"
    )
}

/// Serves the unauthenticated status endpoints.
pub async fn handle(core: &Core, req: &LogicalRequest) -> LogicalResponse {
    let path = req.path.trim_end_matches('/');
    let read = req.operation == Operation::Read;
    let write = matches!(req.operation, Operation::Update | Operation::Create);
    let result = match path {
        "sys/health" if read => health(core, req),
        "sys/seal-status" if read => seal_status(core).map(ok),
        "sys/init" if read => core
            .is_initialized()
            .map(|i| ok(json!({ "initialized": i })))
            .map_err(ApiError::from),
        "sys/init" if write => init(core, req).await,
        "sys/unseal" if write => unseal(core, req).await,
        "sys/leader" if read => Ok(ok(json!({
            "ha_enabled": false,
            "is_self": false,
            "active_time": "0001-01-01T00:00:00Z",
            "leader_address": "",
            "leader_cluster_address": "",
            "performance_standby": false,
            "performance_standby_last_remote_wal": 0,
        }))),
        _ => Err(ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            errors: Vec::new(),
        }),
    };
    result.unwrap_or_else(LogicalResponse::from)
}

fn ok(body: Value) -> LogicalResponse {
    LogicalResponse::Raw {
        status: StatusCode::OK,
        body,
    }
}

/// `GET sys/health`: the body always, the status chosen by state and the `*code`
/// query overrides (Vault's defaults: 200 active, 501 uninitialised, 503 sealed).
fn health(core: &Core, req: &LogicalRequest) -> Result<LogicalResponse, ApiError> {
    let initialized = core.is_initialized()?;
    let app = core.app();
    let sealed = app.is_none();
    let code = |name: &str, default: u16| -> Result<u16, ApiError> {
        match req.str_field(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u16>()
                .ok()
                .filter(|c| (100..600).contains(c))
                .ok_or_else(|| ApiError::bad_request(format!("invalid {name} {v:?}"))),
        }
    };
    let status = if !initialized {
        code("uninitcode", 501)?
    } else if sealed {
        code("sealedcode", 503)?
    } else {
        code("activecode", 200)?
    };
    let mut body = json!({
        "initialized": initialized,
        "sealed": sealed,
        "standby": false,
        "performance_standby": false,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": unix_now(),
        "version": REPORTED_VERSION,
        "enterprise": false,
        "echo_duration_ms": 0,
        "clock_skew_ms": 0,
    });
    if let Some(app) = &app {
        body["cluster_name"] = json!(app.info.cluster_name);
        body["cluster_id"] = json!(app.info.cluster_id);
    }
    Ok(LogicalResponse::Raw {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        body,
    })
}

/// `GET sys/seal-status` (also the answer of `sys/unseal`).
pub fn seal_status(core: &Core) -> Result<Value, ApiError> {
    let initialized = core.is_initialized()?;
    let config = core.seal_config()?;
    let (progress, nonce) = core.unseal_progress();
    let app = core.app();
    let mut body = json!({
        "type": "shamir",
        "initialized": initialized,
        "sealed": app.is_none(),
        "t": config.map_or(0, |c| c.threshold),
        "n": config.map_or(0, |c| c.shares),
        "progress": progress,
        "nonce": nonce,
        "version": REPORTED_VERSION,
        "build_date": "",
        "migration": false,
        "recovery_seal": false,
        "storage_type": core.storage_kind(),
    });
    if let Some(app) = &app {
        body["cluster_name"] = json!(app.info.cluster_name);
        body["cluster_id"] = json!(app.info.cluster_id);
    }
    Ok(body)
}

/// `PUT sys/init`.
async fn init(core: &Core, req: &LogicalRequest) -> Result<LogicalResponse, ApiError> {
    for unsupported in ["pgp_keys", "root_token_pgp_key", "recovery_pgp_keys"] {
        if req
            .field(unsupported)
            .is_some_and(|v| v != &json!([]) && v != &json!(""))
        {
            return Err(ApiError::bad_request(format!(
                "{unsupported} is not supported: Coffer hands out unseal keys and the root token in plain text once; encrypt them yourself"
            )));
        }
    }
    let number = |name: &str| -> Result<Option<usize>, ApiError> {
        match req.field(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(|n| Some(n as usize))
                .ok_or_else(|| ApiError::bad_request(format!("{name} must be a positive integer"))),
        }
    };
    let shares = number("secret_shares")?.unwrap_or(5);
    let threshold = number("secret_threshold")?.unwrap_or(3);
    let out = core.initialize(shares, threshold).await?;
    let keys: Vec<String> = out
        .shares
        .iter()
        .map(|s| hex::encode(s.as_bytes()))
        .collect();
    let keys_b64: Vec<String> = {
        use base64::Engine as _;
        out.shares
            .iter()
            .map(|s| base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
            .collect()
    };
    tracing::info!(shares, threshold, "initialized");
    Ok(ok(json!({
        "keys": keys,
        "keys_base64": keys_b64,
        "root_token": out.root_token,
    })))
}

/// `PUT sys/unseal`: `key` adds a share, `reset` abandons the attempt.
async fn unseal(core: &Core, req: &LogicalRequest) -> Result<LogicalResponse, ApiError> {
    let reset = match req.field("reset") {
        None => false,
        Some(v) => v
            .as_bool()
            .or_else(|| v.as_str().and_then(crate::util::parse_go_bool))
            .ok_or_else(|| ApiError::bad_request("reset must be a boolean"))?,
    };
    if reset {
        core.reset_progress()?;
        return Ok(ok(seal_status(core)?));
    }
    let Some(key) = req.str_field("key").filter(|k| !k.is_empty()) else {
        return Err(ApiError::bad_request(
            "'key' must be specified in request body as JSON, or 'reset' set to true",
        ));
    };
    if !core.is_sealed() {
        // Vault answers an unseal of an unsealed server with its status.
        return Ok(ok(seal_status(core)?));
    }
    let share = decode_share(&key)
        .ok_or_else(|| ApiError::bad_request("'key' must be a valid hex or base64 string"))?;
    core.submit_share(share).await?;
    Ok(ok(seal_status(core)?))
}
