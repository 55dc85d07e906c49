//! Engine-level tests: requests go through the real router against the SDK's
//! in-memory fake host.

use coffer_sdk::{Error, Mount, Operation, Request, Response, Result, testing};
use serde_json::{Value, json};

use crate::Kv;

/// Runs one request against a mount whose `version` option is `version` (`None` for
/// no option at all).
pub(crate) fn call(
    version: Option<&str>,
    op: Operation,
    path: &str,
    data: Value,
) -> Result<Response> {
    let mut mount = Mount {
        path: "secret/".into(),
        default_lease_ttl: 2_764_800,
        max_lease_ttl: 2_764_800,
        ..Mount::default()
    };
    if let Some(v) = version {
        mount.options.insert("version".into(), v.into());
    }
    let req = Request::new(op, path)
        .with_mount(mount)
        .with_data(testing::object(data));
    testing::call::<Kv>(req)
}

/// The response data, or `null` for a `204`.
pub(crate) fn data(r: &Response) -> Value {
    r.data_value().cloned().unwrap_or(Value::Null)
}

fn v1(op: Operation, path: &str, body: Value) -> Result<Response> {
    call(Some("1"), op, path, body)
}

#[test]
fn v1_write_read_replace_delete() {
    testing::reset();
    let r = v1(
        Operation::Update,
        "app/db",
        json!({"user": "u", "pass": "p", "n": null}),
    )
    .unwrap();
    assert_eq!(r.data_value(), None);

    let r = v1(Operation::Read, "app/db", json!({})).unwrap();
    assert_eq!(data(&r), json!({"user": "u", "pass": "p", "n": null}));
    assert_eq!(r.refresh_interval_secs(), Some(0));

    v1(
        Operation::Update,
        "app/db",
        json!({"only": "this", "ttl": "1h"}),
    )
    .unwrap();
    let r = v1(Operation::Read, "app/db", json!({})).unwrap();
    assert_eq!(data(&r), json!({"only": "this", "ttl": "1h"}));
    assert_eq!(r.refresh_interval_secs(), Some(3600));

    v1(Operation::Delete, "app/db", json!({})).unwrap();
    v1(Operation::Delete, "app/db", json!({})).unwrap();
    assert_eq!(
        v1(Operation::Read, "app/db", json!({})).unwrap_err(),
        Error::not_found()
    );
}

#[test]
fn v1_is_the_default_and_rejects_unknown_versions() {
    testing::reset();
    call(None, Operation::Update, "x", json!({"a": 1})).unwrap();
    let r = call(Some(""), Operation::Read, "x", json!({})).unwrap();
    assert_eq!(data(&r), json!({"a": 1}));
    let err = call(Some("3"), Operation::Read, "x", json!({})).unwrap_err();
    assert_eq!(err.status(), 400);
}

#[test]
fn v1_write_needs_fields_and_a_path() {
    testing::reset();
    assert_eq!(
        v1(Operation::Update, "x", json!({})).unwrap_err(),
        Error::invalid("missing data fields")
    );
    assert_eq!(
        v1(Operation::Update, "", json!({"a": 1})).unwrap_err(),
        Error::invalid("missing path")
    );
    assert_eq!(
        v1(Operation::Read, "", json!({})).unwrap_err(),
        Error::not_found()
    );
}

#[test]
fn v1_lists_one_level() {
    testing::reset();
    for p in ["a", "b/c", "b/d/e", "config"] {
        v1(Operation::Update, p, json!({"v": 1})).unwrap();
    }
    let r = v1(Operation::List, "", json!({})).unwrap();
    assert_eq!(data(&r), json!({"keys": ["a", "b/", "config"]}));
    let r = v1(Operation::List, "b/", json!({})).unwrap();
    assert_eq!(data(&r), json!({"keys": ["c", "d/"]}));
    // The host answers an empty list with 404; the engine just reports no keys.
    let r = v1(Operation::List, "nothing/", json!({})).unwrap();
    assert_eq!(data(&r), json!({"keys": []}));
}

#[test]
fn v1_and_v2_data_never_mix() {
    testing::reset();
    v1(Operation::Update, "config", json!({"max_versions": 1})).unwrap();
    let r = call(Some("2"), Operation::Read, "config", json!({})).unwrap();
    assert_eq!(data(&r)["max_versions"], json!(0));
}
