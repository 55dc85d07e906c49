//! kv v2 behaviour, request by request, against the SDK's fake host.

use coffer_sdk::{Error, Operation, Response, Result, Timestamp, testing};
use serde_json::{Value, json};

use crate::tests::{call, data};

fn v2(op: Operation, path: &str, body: Value) -> Result<Response> {
    call(Some("2"), op, path, body)
}

fn put(path: &str, secret: Value) -> Value {
    let r = v2(
        Operation::Update,
        &format!("data/{path}"),
        json!({ "data": secret }),
    )
    .unwrap();
    data(&r)
}

fn get(path: &str) -> Result<Value> {
    v2(Operation::Read, &format!("data/{path}"), json!({})).map(|r| data(&r))
}

fn now() -> String {
    coffer_sdk::clock::now().to_rfc3339()
}

/// The payload of a 404 that carries one.
fn not_found_payload(e: Error) -> Value {
    match e {
        Error::NotFound(Some(v)) => v,
        other => panic!("expected a 404 with payload, got {other:?}"),
    }
}

#[test]
fn config_defaults_and_updates() {
    testing::reset();
    let r = v2(Operation::Read, "config", json!({})).unwrap();
    assert_eq!(
        data(&r),
        json!({"cas_required": false, "delete_version_after": "0s", "max_versions": 0})
    );
    let r = v2(
        Operation::Update,
        "config",
        json!({"max_versions": "5", "cas_required": "true", "delete_version_after": "1h30m"}),
    )
    .unwrap();
    assert_eq!(r.data_value(), None);
    let r = v2(Operation::Read, "config", json!({})).unwrap();
    assert_eq!(
        data(&r),
        json!({"cas_required": true, "delete_version_after": "1h30m0s", "max_versions": 5})
    );
    v2(
        Operation::Update,
        "config",
        json!({"delete_version_after": -10}),
    )
    .unwrap();
    let r = v2(Operation::Read, "config", json!({})).unwrap();
    assert_eq!(data(&r)["delete_version_after"], json!("-1s"));
    assert_eq!(data(&r)["max_versions"], json!(5), "untouched fields stay");
    assert_eq!(
        v2(Operation::Update, "config", json!({"max_versions": -1}))
            .unwrap_err()
            .status(),
        400
    );
}

#[test]
fn write_and_read_versions() {
    testing::reset();
    let created = now();
    let r = put("app/db", json!({"password": "one"}));
    assert_eq!(
        r,
        json!({
            "created_time": created,
            "custom_metadata": null,
            "deletion_time": "",
            "destroyed": false,
            "version": 1,
        })
    );
    testing::advance_secs(1);
    assert_eq!(
        put("app/db", json!({"password": "two"}))["version"],
        json!(2)
    );

    let r = get("app/db").unwrap();
    assert_eq!(r["data"], json!({"password": "two"}));
    assert_eq!(r["metadata"]["version"], json!(2));

    let r = v2(Operation::Read, "data/app/db", json!({"version": "1"})).unwrap();
    assert_eq!(data(&r)["data"], json!({"password": "one"}));
    assert_eq!(data(&r)["metadata"]["created_time"], json!(created));

    assert_eq!(
        v2(Operation::Read, "data/app/db", json!({"version": 9})).unwrap_err(),
        Error::not_found()
    );
    assert_eq!(get("app/none").unwrap_err(), Error::not_found());
}

#[test]
fn records_written_as_json_still_read_and_are_rewritten_binary() {
    testing::reset();
    // A secret as versions before the binary record stored it.
    let record = json!({
        "versions": {
            "1": {"created_time": 1_000_000_000u64, "deletion_time": null, "destroyed": false},
            "2": {"created_time": 2_000_000_000u64, "deletion_time": null, "destroyed": false},
        },
        "current_version": 2,
        "custom_metadata": {"owner": "ops"},
    });
    let json_record = serde_json::to_vec(&record).unwrap();
    coffer_sdk::storage::put("v2/metadata/old", &json_record).unwrap();
    coffer_sdk::storage::put("v2/versions/old/1", br#"{"pw":"one"}"#).unwrap();
    coffer_sdk::storage::put("v2/versions/old/2", br#"{"pw":"two"}"#).unwrap();

    let r = get("old").unwrap();
    assert_eq!(r["data"], json!({"pw": "two"}));
    assert_eq!(r["metadata"]["version"], json!(2));
    assert_eq!(r["metadata"]["custom_metadata"], json!({"owner": "ops"}));
    assert_eq!(r["metadata"]["created_time"], json!("1970-01-01T00:00:02Z"));
    let r = v2(Operation::Read, "data/old", json!({"version": 1})).unwrap();
    assert_eq!(data(&r)["data"], json!({"pw": "one"}));
    assert_eq!(
        testing::storage_value("v2/metadata/old").as_deref(),
        Some(&json_record[..])
    );

    put("old", json!({"pw": "three"}));
    let stored = testing::storage_value("v2/metadata/old").unwrap();
    assert_eq!(stored[0], crate::layout::METADATA_RECORD_V1);
    assert_eq!(get("old").unwrap()["metadata"]["version"], json!(3));
    let r = v2(Operation::Read, "data/old", json!({"version": 1})).unwrap();
    assert_eq!(data(&r)["data"], json!({"pw": "one"}));
}

#[test]
fn write_needs_data() {
    testing::reset();
    for body in [json!({}), json!({"data": null})] {
        assert_eq!(
            v2(Operation::Update, "data/x", body).unwrap_err(),
            Error::invalid("no data provided")
        );
    }
    assert_eq!(
        v2(Operation::Update, "data/x", json!({"data": "str"}))
            .unwrap_err()
            .status(),
        400
    );
    // An empty object is a valid (empty) version.
    assert_eq!(put("x", json!({}))["version"], json!(1));
}

#[test]
fn check_and_set() {
    testing::reset();
    let w = |cas: Value| {
        v2(
            Operation::Update,
            "data/k",
            json!({"data": {"a": 1}, "options": {"cas": cas}}),
        )
    };
    assert_eq!(data(&w(json!(0)).unwrap())["version"], json!(1));
    let mismatch = Error::invalid("check-and-set parameter did not match the current version");
    assert_eq!(w(json!(0)).unwrap_err(), mismatch);
    assert_eq!(w(json!(5)).unwrap_err(), mismatch);
    assert_eq!(w(json!(-1)).unwrap_err(), mismatch);
    assert_eq!(data(&w(json!("1")).unwrap())["version"], json!(2));
    assert_eq!(
        w(json!("x")).unwrap_err(),
        Error::invalid("error parsing check-and-set parameter")
    );

    let required = Error::invalid("check-and-set parameter required for this call");
    v2(
        Operation::Update,
        "metadata/k",
        json!({"cas_required": true}),
    )
    .unwrap();
    assert_eq!(
        v2(Operation::Update, "data/k", json!({"data": {}})).unwrap_err(),
        required
    );
    assert_eq!(
        v2(
            Operation::Update,
            "data/k",
            json!({"data": {}, "options": {}})
        )
        .unwrap_err(),
        required
    );
    v2(Operation::Update, "config", json!({"cas_required": true})).unwrap();
    assert_eq!(
        v2(Operation::Update, "data/other", json!({"data": {}})).unwrap_err(),
        required
    );
    assert_eq!(data(&w(json!(2)).unwrap())["version"], json!(3));
}

#[test]
fn soft_delete_undelete_destroy() {
    testing::reset();
    put("s", json!({"v": 1}));
    put("s", json!({"v": 2}));

    let deleted_at = now();
    assert_eq!(
        v2(Operation::Delete, "data/s", json!({}))
            .unwrap()
            .data_value(),
        None
    );
    let payload = not_found_payload(get("s").unwrap_err());
    assert_eq!(payload["data"], Value::Null);
    assert_eq!(payload["metadata"]["deletion_time"], json!(deleted_at));
    assert_eq!(payload["metadata"]["destroyed"], json!(false));
    assert_eq!(payload["metadata"]["version"], json!(2));
    // Deleting again changes nothing.
    testing::advance_secs(5);
    v2(Operation::Delete, "data/s", json!({})).unwrap();
    let payload = not_found_payload(get("s").unwrap_err());
    assert_eq!(payload["metadata"]["deletion_time"], json!(deleted_at));

    v2(Operation::Update, "undelete/s", json!({"versions": [2]})).unwrap();
    assert_eq!(get("s").unwrap()["data"], json!({"v": 2}));
    assert_eq!(get("s").unwrap()["metadata"]["deletion_time"], json!(""));

    v2(Operation::Update, "delete/s", json!({"versions": "1,2"})).unwrap();
    assert!(get("s").is_err());
    assert!(v2(Operation::Read, "data/s", json!({"version": 1})).is_err());

    v2(Operation::Update, "destroy/s", json!({"versions": [1]})).unwrap();
    let r = v2(Operation::Read, "data/s", json!({"version": 1})).unwrap_err();
    assert_eq!(not_found_payload(r)["metadata"]["destroyed"], json!(true));
    assert!(testing::storage_value("v2/versions/s/1").is_none());
    assert!(testing::storage_value("v2/versions/s/2").is_some());

    // Destroyed versions cannot be undeleted; deleted ones can.
    v2(Operation::Update, "undelete/s", json!({"versions": [1, 2]})).unwrap();
    assert!(v2(Operation::Read, "data/s", json!({"version": 1})).is_err());
    assert_eq!(get("s").unwrap()["data"], json!({"v": 2}));

    for p in ["delete/s", "undelete/s"] {
        assert_eq!(
            v2(Operation::Update, p, json!({})).unwrap_err(),
            Error::invalid("No version number provided")
        );
    }
    assert_eq!(
        v2(Operation::Update, "destroy/s", json!({"versions": []})).unwrap_err(),
        Error::invalid("no version number provided")
    );
    // Unknown secrets are not an error.
    v2(Operation::Update, "destroy/none", json!({"versions": [1]})).unwrap();
    v2(Operation::Delete, "data/none", json!({})).unwrap();
}

#[test]
fn old_versions_are_pruned() {
    testing::reset();
    v2(Operation::Update, "config", json!({"max_versions": 2})).unwrap();
    for i in 1..=4 {
        put("p", json!({ "i": i }));
    }
    let meta = data(&v2(Operation::Read, "metadata/p", json!({})).unwrap());
    assert_eq!(meta["current_version"], json!(4));
    assert_eq!(meta["oldest_version"], json!(3));
    let versions: Vec<&String> = meta["versions"].as_object().unwrap().keys().collect();
    assert_eq!(versions, ["3", "4"]);
    let stored: Vec<String> = testing::storage_keys()
        .into_iter()
        .filter(|k| k.starts_with("v2/versions/"))
        .collect();
    assert_eq!(stored, ["v2/versions/p/3", "v2/versions/p/4"]);
    assert_eq!(
        v2(Operation::Read, "data/p", json!({"version": 1})).unwrap_err(),
        Error::not_found()
    );
}

#[test]
fn default_keeps_ten_versions() {
    testing::reset();
    for i in 1..=12 {
        put("p", json!({ "i": i }));
    }
    let meta = data(&v2(Operation::Read, "metadata/p", json!({})).unwrap());
    assert_eq!(meta["oldest_version"], json!(3));
    assert_eq!(meta["versions"].as_object().unwrap().len(), 10);
}

#[test]
fn patch_merges_into_a_new_version() {
    testing::reset();
    put("p", json!({"a": 1, "b": {"c": 2, "keep": true}}));
    let r = v2(
        Operation::Patch,
        "data/p",
        json!({"data": {"b": {"c": null, "d": 3}, "e": 4}, "options": {"cas": 1}}),
    )
    .unwrap();
    assert_eq!(data(&r)["version"], json!(2));
    assert_eq!(
        get("p").unwrap()["data"],
        json!({"a": 1, "b": {"keep": true, "d": 3}, "e": 4})
    );

    assert_eq!(
        v2(Operation::Patch, "data/none", json!({"data": {"a": 1}})).unwrap_err(),
        Error::not_found()
    );
    assert_eq!(
        v2(Operation::Patch, "data/p", json!({})).unwrap_err(),
        Error::invalid("no data provided")
    );
    assert_eq!(
        v2(
            Operation::Patch,
            "data/p",
            json!({"data": {}, "options": {"cas": 1}})
        )
        .unwrap_err(),
        Error::invalid("check-and-set parameter did not match the current version")
    );

    v2(Operation::Delete, "data/p", json!({})).unwrap();
    let payload =
        not_found_payload(v2(Operation::Patch, "data/p", json!({"data": {"a": 2}})).unwrap_err());
    assert_eq!(payload["version"], json!(2));
    assert_ne!(payload["deletion_time"], json!(""));
}

#[test]
fn metadata_read_write_patch() {
    testing::reset();
    let t0 = now();
    put("m", json!({"x": 1}));
    testing::advance_secs(10);
    let t1 = now();
    put("m", json!({"x": 2}));

    let r = v2(
        Operation::Update,
        "metadata/m",
        json!({"max_versions": 5, "delete_version_after": "1h", "custom_metadata": {"owner": "ops", "tier": 1}}),
    )
    .unwrap();
    assert_eq!(r.data_value(), None);
    assert!(r.warnings().is_empty());

    let meta = data(&v2(Operation::Read, "metadata/m", json!({})).unwrap());
    assert_eq!(
        meta,
        json!({
            "cas_required": false,
            "created_time": t0,
            "current_version": 2,
            "custom_metadata": {"owner": "ops", "tier": "1"},
            "delete_version_after": "1h0m0s",
            "max_versions": 5,
            "oldest_version": 0,
            "updated_time": t1,
            "versions": {
                "1": {"created_time": t0, "deletion_time": "", "destroyed": false},
                "2": {"created_time": t1, "deletion_time": "", "destroyed": false},
            },
        })
    );
    // Data reads carry the custom metadata too.
    assert_eq!(
        get("m").unwrap()["metadata"]["custom_metadata"],
        json!({"owner": "ops", "tier": "1"})
    );

    v2(
        Operation::Patch,
        "metadata/m",
        json!({"custom_metadata": {"owner": null, "team": "blue"}, "max_versions": null}),
    )
    .unwrap();
    let meta = data(&v2(Operation::Read, "metadata/m", json!({})).unwrap());
    assert_eq!(
        meta["custom_metadata"],
        json!({"team": "blue", "tier": "1"})
    );
    assert_eq!(meta["max_versions"], json!(0));
    assert_eq!(meta["delete_version_after"], json!("1h0m0s"));

    v2(
        Operation::Patch,
        "metadata/m",
        json!({"custom_metadata": null}),
    )
    .unwrap();
    let meta = data(&v2(Operation::Read, "metadata/m", json!({})).unwrap());
    assert_eq!(meta["custom_metadata"], Value::Null);

    assert_eq!(
        v2(
            Operation::Patch,
            "metadata/none",
            json!({"max_versions": 1})
        )
        .unwrap_err(),
        Error::not_found()
    );
    assert_eq!(
        v2(Operation::Read, "metadata/none", json!({})).unwrap_err(),
        Error::not_found()
    );
}

#[test]
fn metadata_write_creates_a_record_without_versions() {
    testing::reset();
    let t = now();
    v2(
        Operation::Update,
        "metadata/new",
        json!({"cas_required": true}),
    )
    .unwrap();
    let meta = data(&v2(Operation::Read, "metadata/new", json!({})).unwrap());
    assert_eq!(meta["created_time"], json!(t));
    assert_eq!(meta["current_version"], json!(0));
    assert_eq!(meta["versions"], json!({}));
    assert_eq!(get("new").unwrap_err(), Error::not_found());
    // A write with no known fields changes nothing and creates nothing.
    v2(Operation::Update, "metadata/empty", json!({})).unwrap();
    assert!(v2(Operation::Read, "metadata/empty", json!({})).is_err());
    assert_eq!(
        v2(Operation::Update, "metadata/", json!({"max_versions": 1})).unwrap_err(),
        Error::invalid("missing path")
    );
}

#[test]
fn metadata_validation_and_warnings() {
    testing::reset();
    let too_many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    let err = v2(
        Operation::Update,
        "metadata/v",
        json!({"custom_metadata": too_many}),
    )
    .unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(
        err.to_string().contains("at most 64 keys, provided 65"),
        "{err}"
    );

    let err = v2(
        Operation::Update,
        "metadata/v",
        json!({"custom_metadata": "x"}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("custom_metadata validation failed"),
        "{err}"
    );

    v2(Operation::Update, "config", json!({"cas_required": true})).unwrap();
    let r = v2(
        Operation::Update,
        "metadata/v",
        json!({"cas_required": false}),
    )
    .unwrap();
    assert_eq!(r.data_value(), None);
    assert_eq!(
        r.warnings(),
        [
            "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored."
        ]
    );
    let r = v2(
        Operation::Patch,
        "metadata/v",
        json!({"cas_required": false}),
    )
    .unwrap();
    assert_eq!(r.warnings().len(), 1);
}

#[test]
fn metadata_list_and_delete() {
    testing::reset();
    for p in ["a", "b/c", "b/d/e"] {
        put(p, json!({"v": 1}));
    }
    v2(
        Operation::Update,
        "metadata/only-meta",
        json!({"max_versions": 3}),
    )
    .unwrap();
    let r = v2(Operation::List, "metadata/", json!({})).unwrap();
    assert_eq!(data(&r), json!({"keys": ["a", "b/", "only-meta"]}));
    let r = v2(Operation::List, "metadata/b/", json!({})).unwrap();
    assert_eq!(data(&r), json!({"keys": ["c", "d/"]}));

    put("b/c", json!({"v": 2}));
    v2(Operation::Delete, "metadata/b/c", json!({})).unwrap();
    assert_eq!(get("b/c").unwrap_err(), Error::not_found());
    assert!(
        testing::storage_keys()
            .iter()
            .all(|k| !k.starts_with("v2/versions/b/c/") && k != "v2/metadata/b/c"),
        "{:?}",
        testing::storage_keys()
    );
    let r = v2(Operation::List, "metadata/b/", json!({})).unwrap();
    assert_eq!(data(&r), json!({"keys": ["d/"]}));
    // A new secret at the same path starts over.
    assert_eq!(put("b/c", json!({"v": 3}))["version"], json!(1));
    v2(Operation::Delete, "metadata/none", json!({})).unwrap();
}

#[test]
fn subkeys() {
    testing::reset();
    put(
        "s",
        json!({"foo": "abc", "bar": {"baz": "def", "deep": {"x": 1}}}),
    );
    let r = data(&v2(Operation::Read, "subkeys/s", json!({})).unwrap());
    assert_eq!(
        r["subkeys"],
        json!({"foo": null, "bar": {"baz": null, "deep": {"x": null}}})
    );
    assert_eq!(r["metadata"]["version"], json!(1));
    let r = data(&v2(Operation::Read, "subkeys/s", json!({"depth": "1"})).unwrap());
    assert_eq!(r["subkeys"], json!({"foo": null, "bar": null}));

    v2(Operation::Delete, "data/s", json!({})).unwrap();
    let payload = not_found_payload(v2(Operation::Read, "subkeys/s", json!({})).unwrap_err());
    assert_eq!(payload["subkeys"], Value::Null);
    assert_ne!(payload["metadata"]["deletion_time"], json!(""));
    assert_eq!(
        v2(Operation::Read, "subkeys/none", json!({})).unwrap_err(),
        Error::not_found()
    );
}

#[test]
fn delete_version_after_expires_versions() {
    testing::reset();
    v2(
        Operation::Update,
        "config",
        json!({"delete_version_after": "60s"}),
    )
    .unwrap();
    let created = coffer_sdk::clock::now();
    let r = put("e", json!({"v": 1}));
    assert_eq!(r["deletion_time"], json!(created.add_secs(60).to_rfc3339()));
    testing::advance_secs(59);
    assert_eq!(get("e").unwrap()["data"], json!({"v": 1}));
    testing::advance_secs(2);
    let payload = not_found_payload(get("e").unwrap_err());
    assert_eq!(
        payload["metadata"]["deletion_time"],
        json!(created.add_secs(60).to_rfc3339())
    );

    // The secret's own, shorter setting wins over the mount's.
    v2(
        Operation::Update,
        "metadata/e",
        json!({"delete_version_after": "10s"}),
    )
    .unwrap();
    let t = coffer_sdk::clock::now();
    assert_eq!(
        put("e", json!({"v": 2}))["deletion_time"],
        json!(t.add_secs(10).to_rfc3339())
    );

    // Undelete restarts the clock.
    testing::advance_secs(11);
    assert!(get("e").is_err());
    v2(Operation::Update, "undelete/e", json!({"versions": [2]})).unwrap();
    assert_eq!(get("e").unwrap()["data"], json!({"v": 2}));

    // A negative mount setting disables it everywhere.
    v2(
        Operation::Update,
        "config",
        json!({"delete_version_after": "-1s"}),
    )
    .unwrap();
    assert_eq!(put("e", json!({"v": 3}))["deletion_time"], json!(""));
    assert_eq!(
        v2(
            Operation::Update,
            "metadata/e",
            json!({"delete_version_after": "-1s"})
        )
        .unwrap_err()
        .status(),
        400
    );
}

#[test]
fn routing_edges() {
    testing::reset();
    put("a", json!({"v": 1}));
    assert_eq!(get("a/").unwrap_err(), Error::UnsupportedPath);
    assert_eq!(
        v2(Operation::Read, "data/", json!({})).unwrap_err(),
        Error::UnsupportedPath
    );
    assert_eq!(
        v2(Operation::Read, "nope", json!({})).unwrap_err(),
        Error::UnsupportedPath
    );
    assert_eq!(
        v2(Operation::Read, "", json!({})).unwrap_err(),
        Error::UnsupportedPath
    );
    assert_eq!(
        v2(Operation::List, "data/a", json!({})).unwrap_err(),
        Error::UnsupportedOperation
    );
    assert_eq!(
        v2(Operation::Delete, "config", json!({})).unwrap_err(),
        Error::UnsupportedOperation
    );
    assert_eq!(
        v2(Operation::Read, "metadata/", json!({})).unwrap_err(),
        Error::not_found()
    );
}

#[test]
fn unknown_fields_are_reported() {
    testing::reset();
    let r = v2(
        Operation::Update,
        "data/w",
        json!({"data": {"a": 1}, "zz": 1, "mount_point": "x"}),
    )
    .unwrap();
    assert_eq!(
        r.warnings(),
        ["Endpoint ignored these unrecognized parameters: [mount_point zz]"]
    );
}

#[test]
fn times_use_the_host_clock() {
    testing::reset();
    testing::set_now(Timestamp::from_nanos(1_521_685_446_945_319_214));
    assert_eq!(
        put("t", json!({}))["created_time"],
        json!("2018-03-22T02:24:06.945319214Z")
    );
}
