//! `sys/health`, `sys/seal-status`, `sys/init`, `sys/leader`: bare JSON bodies.

use axum::http::StatusCode;
use serde_json::json;

use crate::api::{ApiError, LogicalRequest, LogicalResponse, Operation};
use crate::app::{App, REPORTED_VERSION};
use crate::util::time::unix_now;

/// Serves the unauthenticated status endpoints.
pub fn handle(app: &App, req: &LogicalRequest) -> LogicalResponse {
    let path = req.path.trim_end_matches('/');
    let read = req.operation == Operation::Read;
    match path {
        "sys/health" if read => health(app),
        "sys/seal-status" if read => raw(seal_status(app)),
        "sys/init" if read => raw(json!({ "initialized": true })),
        "sys/init" => ApiError::bad_request("Vault is already initialized").into(),
        "sys/leader" if read => raw(json!({
            "ha_enabled": false,
            "is_self": false,
            "active_time": "0001-01-01T00:00:00Z",
            "leader_address": "",
            "leader_cluster_address": "",
            "performance_standby": false,
            "performance_standby_last_remote_wal": 0,
        })),
        _ => ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            errors: Vec::new(),
        }
        .into(),
    }
}

fn raw(body: serde_json::Value) -> LogicalResponse {
    LogicalResponse::Raw {
        status: StatusCode::OK,
        body,
    }
}

fn health(app: &App) -> LogicalResponse {
    raw(json!({
        "initialized": true,
        "sealed": false,
        "standby": false,
        "performance_standby": false,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": unix_now(),
        "version": REPORTED_VERSION,
        "enterprise": false,
        "cluster_name": app.info.cluster_name,
        "cluster_id": app.info.cluster_id,
        "echo_duration_ms": 0,
        "clock_skew_ms": 0,
    }))
}

fn seal_status(app: &App) -> serde_json::Value {
    json!({
        "type": "shamir",
        "initialized": true,
        "sealed": false,
        "t": 1,
        "n": 1,
        "progress": 0,
        "nonce": "",
        "version": REPORTED_VERSION,
        "build_date": "",
        "migration": false,
        "recovery_seal": false,
        "storage_type": app.backend.kind(),
        "cluster_name": app.info.cluster_name,
        "cluster_id": app.info.cluster_id,
    })
}
