//! Broker tests: enable/disable/persist, failure semantics, the paired entries.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::api::Operation;
use crate::storage::MemoryBackend;

fn backend() -> SharedBackend {
    Arc::new(MemoryBackend::new())
}

fn file_spec(path: &std::path::Path, extra: &[(&str, &str)]) -> EnableRequest {
    let mut options: BTreeMap<String, String> =
        [("file_path".to_string(), path.to_string_lossy().to_string())].into();
    for (k, v) in extra {
        options.insert(k.to_string(), v.to_string());
    }
    EnableRequest {
        kind: "file".into(),
        description: "test".into(),
        options,
        local: false,
    }
}

fn request(id: &str, data: Value) -> LogicalRequest {
    LogicalRequest {
        id: id.into(),
        operation: Operation::Update,
        path: "secret/data/app".into(),
        data: data.as_object().cloned().unwrap_or_default(),
        token: Some(String::from("hvs.sometoken").into()),
        help: false,
        remote_address: None,
        bench_native: false,
    }
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn no_devices_is_a_no_op() {
    let b = AuditBroker::open(backend()).unwrap();
    let req = request("r1", json!({"a": "b"}));
    b.log_request(&req, None, None).unwrap();
    b.log_response(&req, None, &LogicalResponse::NoContent)
        .unwrap();
    assert!(b.list().is_empty());
}

#[test]
fn writes_hashed_pairs_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let store = backend();
    let b = AuditBroker::open(store.clone()).unwrap();
    b.enable("file", file_spec(&log, &[]), Some("enabling"))
        .unwrap();
    // The enabling request's own response is not written to the new device.
    b.log_response(
        &request("enabling", json!({})),
        None,
        &LogicalResponse::NoContent,
    )
    .unwrap();
    // Only the test entry written when the device was enabled (Vault's test message).
    let probe = lines(&log);
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0]["type"], "request");
    assert_eq!(probe[0]["request"]["path"], "sys/audit/test");

    let req = request("r1", json!({"data": {"password": "s3cret"}}));
    b.log_request(&req, None, None).unwrap();
    let resp = LogicalResponse::data(json!({"password": "s3cret"}), "kv");
    b.log_response(&req, None, &resp).unwrap();
    let got = lines(&log)[1..].to_vec();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["type"], "request");
    assert_eq!(got[1]["type"], "response");
    assert_eq!(got[0]["request"]["id"], "r1");
    let hashed = b.hash("file/", "s3cret").unwrap();
    assert_eq!(got[0]["request"]["data"]["data"]["password"], json!(hashed));
    assert_eq!(got[1]["response"]["data"]["password"], json!(hashed));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("s3cret") && !text.contains("hvs.sometoken"));

    // Restored from storage with the same key.
    drop(b);
    let b2 = AuditBroker::open(store.clone()).unwrap();
    assert_eq!(b2.hash("file", "s3cret").unwrap(), hashed);
    assert_eq!(
        b2.list()[0].1["options"]["file_path"],
        json!(log.to_string_lossy())
    );
    b2.log_request(&req, None, None).unwrap();
    assert_eq!(lines(&log).len(), 4);

    assert!(b2.disable("file/").unwrap());
    assert!(!b2.disable("file/").unwrap());
    b2.log_request(&req, None, None).unwrap();
    assert_eq!(lines(&log).len(), 4);
    assert!(AuditBroker::open(store).unwrap().list().is_empty());
}

#[test]
fn enable_validation() {
    let dir = tempfile::tempdir().unwrap();
    let b = AuditBroker::open(backend()).unwrap();
    let log = dir.path().join("a.log");
    b.enable("a/b", file_spec(&log, &[]), None).unwrap();
    for path in ["a/b", "a", "a/b/c"] {
        assert!(matches!(
            b.enable(path, file_spec(&log, &[]), None),
            Err(AuditError::PathInUse)
        ));
    }
    let mut unknown = file_spec(&log, &[]);
    unknown.kind = "syslog".into();
    assert!(matches!(
        b.enable("x", unknown, None),
        Err(AuditError::UnknownType(_))
    ));
    let missing = EnableRequest {
        kind: "file".into(),
        ..EnableRequest::default()
    };
    assert!(matches!(
        b.enable("x", missing, None),
        Err(AuditError::MissingFilePath)
    ));
    let e = b
        .enable(
            "x",
            file_spec(&dir.path().join("no/such/dir.log"), &[]),
            None,
        )
        .unwrap_err();
    assert!(matches!(e, AuditError::Open { .. }));
    assert_eq!(ApiError::from(e).status, StatusCode::BAD_REQUEST);
    assert!(matches!(
        b.enable("", file_spec(&log, &[]), None),
        Err(AuditError::InvalidPath(_))
    ));
    assert!(matches!(
        b.hash("nope", "x"),
        Err(AuditError::UnknownDevice(_))
    ));
    assert_eq!(b.list().len(), 1);
}

#[test]
fn a_sink_that_cannot_write_is_refused_at_enable_with_the_os_error() {
    assert!(
        std::path::Path::new("/dev/full").exists(),
        "this test needs /dev/full"
    );
    let b = AuditBroker::open(backend()).unwrap();
    let err = b
        .enable(
            "full",
            file_spec(std::path::Path::new("/dev/full"), &[]),
            None,
        )
        .unwrap_err();
    assert!(matches!(err, AuditError::TestFailed { .. }), "{err}");
    let api = ApiError::from(err);
    assert_eq!(api.status, StatusCode::BAD_REQUEST);
    assert!(api.errors[0].contains("No space left on device"), "{api:?}");
    assert!(b.list().is_empty(), "nothing enabled, nothing persisted");
}

#[test]
fn failing_device_blocks_only_when_alone() {
    assert!(
        std::path::Path::new("/dev/full").exists(),
        "this test needs /dev/full"
    );
    let dir = tempfile::tempdir().unwrap();
    let store = backend();
    // Enabled while it could write; the disk fills up before the next start.
    let path = dir.path().join("full.log");
    AuditBroker::open(store.clone())
        .unwrap()
        .enable("full", file_spec(&path, &[]), None)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/dev/full", &path).unwrap();
    let b = AuditBroker::open(store).unwrap();
    let req = request("r1", json!({}));
    let err = b.log_request(&req, None, None).unwrap_err();
    assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(err.errors[0].contains("audit logging failed"));
    assert!(
        b.log_response(&req, None, &LogicalResponse::NoContent)
            .is_err()
    );

    let good = dir.path().join("good.log");
    b.enable("good", file_spec(&good, &[]), None).unwrap();
    b.log_request(&req, None, None).unwrap();
    b.log_response(&req, None, &LogicalResponse::NoContent)
        .unwrap();
    assert_eq!(lines(&good).len(), 3, "test entry, request, response");
}

#[test]
fn only_disabling_a_device_may_bypass_a_failing_audit() {
    let mut req = request("r1", json!({}));
    req.operation = Operation::Delete;
    req.path = "sys/audit/full".into();
    assert!(may_bypass_audit_failure(&req));
    req.path = "sys/audit/team/full/".into();
    assert!(may_bypass_audit_failure(&req));
    for path in [
        "sys/audit",
        "sys/audit/",
        "sys/audit-hash/full",
        "secret/data/x",
    ] {
        req.path = path.into();
        assert!(!may_bypass_audit_failure(&req), "{path}");
    }
    req.path = "sys/audit/full".into();
    for op in [Operation::Update, Operation::Read, Operation::List] {
        req.operation = op;
        assert!(!may_bypass_audit_failure(&req), "{op:?}");
    }
}

#[test]
fn log_raw_prefix_and_accessor_options() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw.log");
    let b = AuditBroker::open(backend()).unwrap();
    b.enable(
        "raw",
        file_spec(&raw, &[("log_raw", "true"), ("prefix", "@cee: ")]),
        None,
    )
    .unwrap();
    let req = request("r1", json!({"k": "visible"}));
    b.log_request(&req, None, Some(&ApiError::permission_denied()))
        .unwrap();
    let text = std::fs::read_to_string(&raw).unwrap();
    // The last line: the first is the test entry written when the device was enabled.
    let last = text.lines().last().unwrap();
    assert!(text.lines().all(|l| l.starts_with("@cee: {")), "{text}");
    let json_part = last.strip_prefix("@cee: ").unwrap();
    let e: Value = serde_json::from_str(json_part.trim_end()).unwrap();
    assert_eq!(e["request"]["data"]["k"], "visible");
    assert_eq!(e["request"]["client_token"], "hvs.sometoken");
    assert_eq!(e["error"], "permission denied");
}
