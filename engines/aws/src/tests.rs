//! Engine-level tests: requests go through the real router against the SDK's fake
//! host and the fake IAM/STS in [`crate::aws::fake`].

use coffer_sdk::{
    Caller, Engine, Error, Lease, Mount, Operation, Request, Response, Result, testing,
};
use serde_json::{Value, json};

use crate::Aws;
use crate::aws::fake;
use crate::aws::{AwsError, AwsErrorKind};

const MOUNT_MAX: u64 = 2_764_800;

fn mount() -> Mount {
    Mount {
        path: "aws/".into(),
        accessor: "aws_1".into(),
        default_lease_ttl: MOUNT_MAX,
        max_lease_ttl: MOUNT_MAX,
        ..Mount::default()
    }
}

fn call(op: Operation, path: &str, body: Value) -> Result<Response> {
    let req = Request::new(op, path)
        .with_mount(mount())
        .with_caller(Caller {
            display_name: "token".into(),
            ..Caller::default()
        })
        .with_data(testing::object(body));
    testing::call::<Aws>(req)
}

fn write(path: &str, body: Value) -> Result<Response> {
    call(Operation::Update, path, body)
}

fn read(path: &str) -> Result<Response> {
    call(Operation::Read, path, json!({}))
}

fn data(r: &Response) -> Value {
    r.data_value().cloned().unwrap_or(Value::Null)
}

fn invalid(r: Result<Response>) -> String {
    match r {
        Err(Error::InvalidRequest(m)) => m,
        other => panic!("expected a 400, got {other:?}"),
    }
}

fn setup() {
    testing::reset();
    fake::reset();
    fake::add_user_with_key("vault-root", "AKIAROOT");
    write(
        "config/root",
        json!({"access_key": "AKIAROOT", "secret_key": "s", "iam_endpoint": "http://moto"}),
    )
    .unwrap();
}

fn internal(r: &Response) -> serde_json::Map<String, Value> {
    r.lease_grant().expect("a lease").internal.clone()
}

fn lease_for(r: &Response, path: &str) -> Lease {
    let grant = r.lease_grant().expect("a lease");
    Lease {
        id: format!("aws/{path}/abc"),
        path: path.into(),
        issue_time: coffer_sdk::clock::now().as_nanos(),
        internal: grant.internal.clone(),
        data: r
            .data_value()
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        increment: 0,
        mount: mount(),
    }
}

// ---------------------------------------------------------------- config

#[test]
fn config_root_lifecycle() {
    testing::reset();
    assert_eq!(read("config/root"), Err(Error::not_found()));
    write(
        "config/root",
        json!({"access_key": "AK", "secret_key": "SK", "region": "eu-west-1", "max_retries": null}),
    )
    .unwrap();
    let r = data(&read("config/root").unwrap());
    assert_eq!(r["access_key"], "AK");
    assert_eq!(r["region"], "eu-west-1");
    assert_eq!(r["max_retries"], -1);
    assert_eq!(r["username_template"], crate::username::DEFAULT_TEMPLATE);
    assert_eq!(r["sts_fallback_endpoints"], Value::Null);
    assert!(r.get("secret_key").is_none());

    // Partial update: omitted fields stay, username_template falls back to default.
    write(
        "config/root",
        json!({"username_template": "{{ .DisplayName }}-x"}),
    )
    .unwrap();
    write(
        "config/root",
        json!({"sts_endpoint": "http://sts", "max_retries": 3}),
    )
    .unwrap();
    let r = data(&read("config/root").unwrap());
    assert_eq!(r["access_key"], "AK");
    assert_eq!(r["region"], "eu-west-1");
    assert_eq!(r["sts_endpoint"], "http://sts");
    assert_eq!(r["max_retries"], 3);
    assert_eq!(r["username_template"], crate::username::DEFAULT_TEMPLATE);
    let stored: Value =
        serde_json::from_slice(&testing::storage_value("config/root").unwrap()).unwrap();
    assert_eq!(stored["secret_key"], "SK");

    let m = invalid(write(
        "config/root",
        json!({"username_template": "{{ timestamp \"x\" }}"}),
    ));
    assert!(m.starts_with("invalid username_template: "), "{m}");
    let m = invalid(write(
        "config/root",
        json!({"sts_fallback_endpoints": ["a", "b"], "sts_fallback_regions": "r1"}),
    ));
    assert_eq!(
        m,
        "fallback endpoints and fallback regions must be the same length"
    );
}

#[test]
fn config_lease() {
    testing::reset();
    assert_eq!(read("config/lease"), Err(Error::not_found()));
    assert_eq!(
        invalid(write("config/lease", json!({"lease_max": "1h"}))),
        "'lease' is a required parameter"
    );
    assert_eq!(
        invalid(write("config/lease", json!({"lease": "1h"}))),
        "'lease_max' is a required parameter"
    );
    assert_eq!(
        invalid(write(
            "config/lease",
            json!({"lease": "1d", "lease_max": "1h"})
        )),
        r#"Invalid lease: time: unknown unit "d" in duration "1d""#
    );
    assert_eq!(
        invalid(write(
            "config/lease",
            json!({"lease": "1h", "lease_max": 3600})
        )),
        r#"Invalid lease_max: time: missing unit in duration "3600""#
    );
    write("config/lease", json!({"lease": "30m", "lease_max": "12h"})).unwrap();
    assert_eq!(
        data(&read("config/lease").unwrap()),
        json!({"lease": "30m0s", "lease_max": "12h0m0s"})
    );
    let stored: Value =
        serde_json::from_slice(&testing::storage_value("config/lease").unwrap()).unwrap();
    assert_eq!(
        stored,
        json!({"Lease": 1_800_000_000_000i64, "LeaseMax": 43_200_000_000_000i64})
    );
}

#[test]
fn rotate_root() {
    testing::reset();
    fake::reset();
    let m = invalid(write("config/rotate-root", json!({})));
    assert_eq!(
        m,
        "Cannot call config/rotate-root when either access_key or secret_key is empty"
    );
    setup();
    fake::take_calls();
    let r = write("config/rotate-root", json!({})).unwrap();
    let new_key = data(&r)["access_key"].as_str().unwrap().to_string();
    assert_ne!(new_key, "AKIAROOT");
    assert_eq!(
        fake::take_calls(),
        vec![
            "GetUser()".to_string(),
            "CreateAccessKey(vault-root)".into(),
            "DeleteAccessKey(vault-root, AKIAROOT)".into(),
        ]
    );
    assert_eq!(data(&read("config/root").unwrap())["access_key"], new_key);
    let keys: Vec<String> = fake::user("vault-root").unwrap().keys.into_iter().collect();
    assert_eq!(keys, vec![new_key.clone()]);
    let stored: Value =
        serde_json::from_slice(&testing::storage_value("config/root").unwrap()).unwrap();
    assert_eq!(stored["secret_key"], format!("secret-{new_key}"));
}

// ---------------------------------------------------------------- roles

#[test]
fn role_write_read_list_delete() {
    testing::reset();
    let r = write(
        "roles/web",
        json!({
            "credential_type": "iam_user",
            "policy_document": "{ \"Version\": \"2012-10-17\", \"Statement\": [] }",
            "policy_arns": "arn:aws:iam::1:policy/a, arn:aws:iam::1:policy/b",
            "iam_tags": ["team=web", "env=dev"],
            "user_path": "/vault/",
        }),
    )
    .unwrap();
    assert_eq!(r, Response::empty());
    let r = data(&read("roles/web").unwrap());
    assert_eq!(
        r,
        json!({
            "credential_type": "iam_user",
            "policy_document": r#"{"Version":"2012-10-17","Statement":[]}"#,
            "policy_arns": ["arn:aws:iam::1:policy/a", "arn:aws:iam::1:policy/b"],
            "role_arns": null,
            "iam_groups": null,
            "iam_tags": {"env": "dev", "team": "web"},
            "session_tags": null,
            "external_id": "",
            "default_sts_ttl": 0,
            "max_sts_ttl": 0,
            "user_path": "/vault/",
            "permissions_boundary_arn": "",
            "mfa_serial_number": "",
        })
    );

    // Partial update keeps everything not sent.
    write("roles/web", json!({"iam_groups": "g1,g2"})).unwrap();
    let r = data(&read("roles/web").unwrap());
    assert_eq!(r["iam_groups"], json!(["g1", "g2"]));
    assert_eq!(r["user_path"], "/vault/");
    assert_eq!(r["credential_type"], "iam_user");

    write("roles/ops", json!({"credential_type": "federation_token", "policy_arns": ["arn:aws:iam::1:policy/a"], "default_sts_ttl": "15m"})).unwrap();
    assert_eq!(data(&read("roles/ops").unwrap())["default_sts_ttl"], 900);
    let listed = call(Operation::List, "roles/", json!({})).unwrap();
    assert_eq!(data(&listed), json!({"keys": ["ops", "web"]}));

    assert_eq!(
        call(Operation::Delete, "roles/web", json!({})).unwrap(),
        Response::empty()
    );
    assert_eq!(read("roles/web"), Err(Error::not_found()));
    assert_eq!(
        call(Operation::Delete, "roles/web", json!({})).unwrap(),
        Response::empty()
    );
    assert_eq!(read("roles/bad name"), Err(Error::UnsupportedPath));
    assert_eq!(read("roles"), Err(Error::UnsupportedOperation));
}

#[test]
fn role_validation_messages() {
    testing::reset();
    assert_eq!(
        invalid(write("roles/x", json!({"policy_document": "{}"}))),
        r#"error(s) validating supplied role data: "1 error occurred:\n\t* did not supply credential_type\n\n""#
    );
    assert_eq!(
        invalid(write(
            "roles/x",
            json!({"credential_type": "iam_user", "role_arns": ["arn:aws:iam::1:role/r"], "external_id": "e"})
        )),
        r#"error(s) validating supplied role data: "2 errors occurred:\n\t* cannot supply role_arns when credential_type isn't assumed_role\n\t* cannot supply external_id when credential_type isn't assumed_role\n\n""#
    );
    assert_eq!(
        invalid(write(
            "roles/x",
            json!({"credential_type": "session_token", "policy_arns": "arn:aws:iam::1:policy/p"})
        )),
        r#"error(s) validating supplied role data: "1 error occurred:\n\t* cannot supply a policy or role when using credential_type session_token\n\n""#
    );
    assert_eq!(
        invalid(write(
            "roles/x",
            json!({"credential_type": "iam_user", "policy_document": "{nope"})
        )),
        r#"cannot parse policy document: "{nope""#
    );
    assert_eq!(
        invalid(write(
            "roles/x",
            json!({"credential_type": "iam_user", "user_path": "nope"})
        )),
        r#"error(s) validating supplied role data: "1 error occurred:\n\t* the specified value for user_path is invalid. It must match \"^\\\\/([\\\\x21-\\\\x7F]{0,510}\\\\/)?$\" regexp\n\n""#
    );
    assert!(read("roles/x").is_err());
}

#[test]
fn legacy_role_parameters() {
    testing::reset();
    let r = write(
        "roles/old",
        json!({"policy": "{\"Version\": \"2012-10-17\"}"}),
    )
    .unwrap();
    assert_eq!(r.warnings(), &[crate::roles::legacy::WARNING.to_string()]);
    let d = data(&read("roles/old").unwrap());
    assert_eq!(d["credential_type"], "iam_user,federation_token");
    assert_eq!(d["policy_document"], r#"{"Version":"2012-10-17"}"#);

    write(
        "roles/arn",
        json!({"arn": "arn:aws:iam::123456789012:role/deploy"}),
    )
    .unwrap();
    let d = data(&read("roles/arn").unwrap());
    assert_eq!(d["credential_type"], "assumed_role");
    assert_eq!(
        d["role_arns"],
        json!(["arn:aws:iam::123456789012:role/deploy"])
    );

    assert_eq!(
        invalid(write(
            "roles/x",
            json!({"policy": "{}", "credential_type": "iam_user"})
        )),
        "cannot supply deprecated role or policy parameters with an explicit credential_type"
    );
    assert_eq!(
        invalid(write(
            "roles/x",
            json!({"arn": "arn:aws:iam::1:role/r", "user_path": "/"})
        )),
        "cannot supply deprecated role or policy parameters with user_path"
    );
    assert_eq!(
        invalid(write("roles/x", json!({"arn": "arn:aws:iam::1:user/u"}))),
        r#"unable to parse supplied data: "arn:aws:iam::1:user/u""#
    );
    assert_eq!(
        write("roles/x", json!({"arn": "a", "policy": "{}"})),
        Err(Error::internal(
            "only one of policy or arn should be provided"
        ))
    );
}

#[test]
fn legacy_storage_is_upgraded_on_read() {
    testing::reset();
    coffer_sdk::storage::put("policy/old", b"arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap();
    let listed = call(Operation::List, "roles/", json!({})).unwrap();
    assert_eq!(data(&listed), json!({"keys": ["old"]}));
    let d = data(&read("roles/old").unwrap());
    assert_eq!(d["credential_type"], "iam_user");
    assert_eq!(
        d["policy_arns"],
        json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    );
    assert_eq!(testing::storage_keys(), vec!["role/old".to_string()]);
}

// ---------------------------------------------------------------- iam_user

#[test]
fn iam_user_issue_sequence_and_lease() {
    setup();
    fake::add_group("devs", &[], &[]);
    write("config/lease", json!({"lease": "30m", "lease_max": "12h"})).unwrap();
    write(
        "roles/web",
        json!({
            "credential_type": "iam_user",
            "policy_document": r#"{"Version":"2012-10-17","Statement":[]}"#,
            "policy_arns": ["arn:aws:iam::1:policy/a"],
            "iam_groups": ["devs"],
            "iam_tags": {"team": "web"},
            "user_path": "/vault/",
            "permissions_boundary_arn": "arn:aws:iam::1:policy/pb",
        }),
    )
    .unwrap();
    fake::take_calls();
    let r = read("creds/web").unwrap();
    let d = data(&r);
    let user = internal(&r)["username"].as_str().unwrap().to_string();
    assert!(user.starts_with("vault-token-web-1700000000-"), "{user}");
    assert_eq!(
        fake::take_calls(),
        vec![
            format!("CreateUser({user}, /vault/, arn:aws:iam::1:policy/pb)"),
            format!("AttachUserPolicy({user}, arn:aws:iam::1:policy/a)"),
            format!(r#"PutUserPolicy({user}, web, {{"Version":"2012-10-17","Statement":[]}})"#),
            format!("AddUserToGroup(devs, {user})"),
            format!("TagUser({user}, [team=web])"),
            format!("CreateAccessKey({user})"),
        ]
    );
    assert!(d["access_key"].as_str().unwrap().starts_with("AKIAFAKE"));
    assert_eq!(d["security_token"], Value::Null);
    assert_eq!(d["session_token"], Value::Null);
    assert!(d.get("secret_key").is_some());
    let grant = r.lease_grant().unwrap();
    assert_eq!(
        (grant.ttl, grant.max_ttl, grant.renewable),
        (1800, 43_200, true)
    );
    let i = internal(&r);
    assert_eq!(i["secret_type"], "access_keys");
    assert_eq!(i["is_sts"], false);
    assert_eq!(i["policy"]["credential_types"], json!(["iam_user"]));
    // The WAL entry is gone once the user is complete.
    assert!(crate::wal::list().unwrap().is_empty());
    // The configured endpoint and region reach the client.
    let config = fake::with(|s| s.configs.last().cloned()).unwrap();
    assert_eq!(config.endpoint.as_deref(), Some("http://moto"));
    assert_eq!(config.region, "us-east-1");
}

#[test]
fn iam_user_without_lease_config_uses_mount_defaults() {
    setup();
    write("roles/web", json!({"credential_type": "iam_user"})).unwrap();
    let r = write("sts/web", json!({})).unwrap();
    let grant = r.lease_grant().unwrap();
    assert_eq!((grant.ttl, grant.max_ttl, grant.renewable), (0, 0, true));
}

#[test]
fn iam_user_failures() {
    setup();
    assert_eq!(invalid(read("creds/nope")), r#"Role "nope" not found"#);

    write(
        "roles/web",
        json!({"credential_type": "iam_user", "policy_arns": "arn:aws:iam::1:policy/a"}),
    )
    .unwrap();
    fake::fail_next(
        "CreateUser",
        AwsError::new(
            AwsErrorKind::EntityAlreadyExists,
            "User with name x already exists.",
        ),
    );
    assert_eq!(
        invalid(read("creds/web")),
        "Error creating IAM user: EntityAlreadyExists: User with name x already exists."
    );
    // Nothing was created: no WAL entry left.
    assert!(crate::wal::list().unwrap().is_empty());

    fake::fail_next(
        "AttachUserPolicy",
        AwsError::new(
            AwsErrorKind::NoSuchEntity,
            "Policy arn:aws:iam::1:policy/a does not exist or is not attachable.",
        ),
    );
    let m = invalid(read("creds/web"));
    assert!(
        m.starts_with("Error attaching user policy: NoSuchEntity: "),
        "{m}"
    );
    // The half-made user is left to the rollback.
    assert_eq!(crate::wal::list().unwrap().len(), 1);

    fake::fail_next(
        "CreateAccessKey",
        AwsError::new(AwsErrorKind::Throttled, "Rate exceeded"),
    );
    assert_eq!(
        read("creds/web"),
        Err(Error::rate_limited(
            "Error creating access keys: Throttling: Rate exceeded"
        ))
    );
    assert_eq!(crate::wal::list().unwrap().len(), 2);
}

#[test]
fn custom_template_too_long_is_internal_error() {
    setup();
    write(
        "config/root",
        json!({"username_template": "{{ printf \"%s-%s\" .DisplayName (random 60) }}"}),
    )
    .unwrap();
    write("roles/web", json!({"credential_type": "iam_user"})).unwrap();
    assert_eq!(
        read("creds/web"),
        Err(Error::internal(
            "the username generated by the template exceeds the IAM username length limits of 64 chars"
        ))
    );
    assert!(crate::wal::list().unwrap().is_empty());
}

// ---------------------------------------------------------------- rollback, revoke, renew

#[test]
fn periodic_rolls_back_old_wal_entries() {
    setup();
    write("roles/web", json!({"credential_type": "iam_user", "policy_document": "{}", "policy_arns": "arn:aws:iam::1:policy/a"})).unwrap();
    fake::add_group("g", &[], &[]);
    fake::fail_next(
        "CreateAccessKey",
        AwsError::new(AwsErrorKind::AccessDenied, "denied"),
    );
    assert!(read("creds/web").is_err());
    let users = fake::user_names();
    let user = users
        .iter()
        .find(|u| u.starts_with("vault-token"))
        .unwrap()
        .clone();

    // Young entries are left alone.
    Aws::periodic(&mount()).unwrap();
    assert!(fake::user(&user).is_some());
    assert_eq!(crate::wal::list().unwrap().len(), 1);

    testing::advance_secs(301);
    fake::take_calls();
    Aws::periodic(&mount()).unwrap();
    assert!(fake::user(&user).is_none());
    assert!(crate::wal::list().unwrap().is_empty());
    assert_eq!(
        fake::take_calls(),
        vec![
            format!("ListGroupsForUser({user})"),
            format!("ListUserPolicies({user})"),
            format!("ListAttachedUserPolicies({user})"),
            format!("ListAccessKeys({user})"),
            format!("DetachUserPolicy({user}, arn:aws:iam::1:policy/a)"),
            format!("DeleteUserPolicy({user}, web)"),
            format!("DeleteUser({user})"),
        ]
    );
}

#[test]
fn periodic_keeps_failing_entries_and_goes_on() {
    setup();
    crate::wal::put_user("ghost-1").unwrap();
    crate::wal::put_user("ghost-2").unwrap();
    testing::advance_secs(600);
    fake::fail_next(
        "ListGroupsForUser",
        AwsError::new(AwsErrorKind::AccessDenied, "denied"),
    );
    Aws::periodic(&mount()).unwrap();
    // One failed (kept, logged), the other's user never existed (entry dropped).
    assert_eq!(crate::wal::list().unwrap().len(), 1);
    assert!(
        testing::logs()
            .iter()
            .any(|(_, m)| m.contains("will retry"))
    );
    Aws::periodic(&mount()).unwrap();
    assert!(crate::wal::list().unwrap().is_empty());
}

#[test]
fn revoke_and_renew_iam_user() {
    setup();
    fake::add_group("g", &[], &[]);
    write("config/lease", json!({"lease": "1h", "lease_max": "2h"})).unwrap();
    write("roles/web", json!({"credential_type": "iam_user", "policy_document": "{}", "iam_groups": "g", "policy_arns": "arn:aws:iam::1:policy/a"})).unwrap();
    let r = read("creds/web").unwrap();
    let lease = lease_for(&r, "creds/web");
    let user = lease.internal["username"].as_str().unwrap().to_string();

    // Renew re-reads config/lease.
    write("config/lease", json!({"lease": "10m", "lease_max": "20m"})).unwrap();
    assert_eq!(
        Aws::renew(&lease).unwrap(),
        coffer_sdk::LeaseTerms {
            ttl: 600,
            max_ttl: 1200
        }
    );

    fake::take_calls();
    Aws::revoke(&lease).unwrap();
    let calls = fake::take_calls();
    let key = calls
        .iter()
        .find_map(|c| c.strip_prefix(&format!("DeleteAccessKey({user}, ")))
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    assert_eq!(
        calls,
        vec![
            format!("ListGroupsForUser({user})"),
            format!("ListUserPolicies({user})"),
            format!("ListAttachedUserPolicies({user})"),
            format!("ListAccessKeys({user})"),
            format!("DeleteAccessKey({user}, {key})"),
            format!("DetachUserPolicy({user}, arn:aws:iam::1:policy/a)"),
            format!("DeleteUserPolicy({user}, web)"),
            format!("RemoveUserFromGroup(g, {user})"),
            format!("DeleteUser({user})"),
        ]
    );
    assert!(fake::user(&user).is_none());

    // Revoking again right away: the user is missing, but the lease is too young
    // to trust that, so the host must retry.
    match Aws::revoke(&lease) {
        Err(Error::Internal(m)) => assert!(m.starts_with("NoSuchEntity: "), "{m}"),
        other => panic!("unexpected {other:?}"),
    }
    testing::advance_secs(301);
    Aws::revoke(&lease).unwrap();
}

#[test]
fn revoke_failures_are_retryable() {
    setup();
    write("roles/web", json!({"credential_type": "iam_user"})).unwrap();
    let r = read("creds/web").unwrap();
    let lease = lease_for(&r, "creds/web");
    fake::fail_next(
        "DeleteUser",
        AwsError::new(AwsErrorKind::DeleteConflict, "must delete login profile"),
    );
    assert!(matches!(Aws::revoke(&lease), Err(Error::Internal(_))));
    fake::fail_next(
        "ListAccessKeys",
        AwsError::new(AwsErrorKind::Throttled, "slow down"),
    );
    assert!(matches!(
        Aws::revoke(&lease),
        Err(Error::UpstreamRateLimited(_))
    ));
    Aws::revoke(&lease).unwrap();

    let mut bad = lease.clone();
    bad.internal.remove("username");
    assert_eq!(
        Aws::revoke(&bad),
        Err(Error::internal("secret is missing username internal data"))
    );
    bad.internal.insert("is_sts".into(), json!("yes"));
    assert_eq!(
        Aws::revoke(&bad),
        Err(Error::internal(
            "secret has is_sts but value could not be understood"
        ))
    );
}

// ---------------------------------------------------------------- STS

#[test]
fn federation_token() {
    setup();
    write(
        "roles/fed",
        json!({"credential_type": "federation_token", "policy_document": "{\"Statement\":[]}", "max_sts_ttl": "2h"}),
    )
    .unwrap();
    fake::take_calls();
    let r = write("sts/fed", json!({"ttl": "3h"})).unwrap();
    let calls = fake::take_calls();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].starts_with("GetFederationToken(vault-1700000000-"),
        "{}",
        calls[0]
    );
    assert!(
        calls[0].ends_with(r#", 7200, {"Statement":[]}, [])"#),
        "{}",
        calls[0]
    );
    let d = data(&r);
    assert_eq!(d["security_token"], "sts-token");
    assert_eq!(d["session_token"], "sts-token");
    assert_eq!(d["ttl"], 7200);
    assert!(d.get("arn").is_none());
    let grant = r.lease_grant().unwrap();
    assert_eq!((grant.ttl, grant.renewable), (7200, false));
    let i = internal(&r);
    assert_eq!(i["is_sts"], true);
    assert_eq!(i["policy"], r#"{"Statement":[]}"#);
    assert_eq!(i["username"].as_str().unwrap().len(), 32);

    // STS leases: renew refused, revoke a no-op.
    let lease = lease_for(&r, "sts/fed");
    assert_eq!(
        Aws::renew(&lease),
        Err(Error::invalid("lease is not renewable"))
    );
    Aws::revoke(&lease).unwrap();
    assert!(fake::take_calls().is_empty());

    write(
        "roles/nopol",
        json!({"credential_type": "federation_token"}),
    )
    .unwrap();
    assert_eq!(
        invalid(read("creds/nopol")),
        "must specify at least one of policy_arns or policy_document with federation_token credential_type"
    );
}

#[test]
fn assumed_role() {
    setup();
    write(
        "roles/ar",
        json!({
            "credential_type": "assumed_role",
            "role_arns": ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"],
            "session_tags": {"k": "v"},
            "external_id": "ext",
            "default_sts_ttl": 900,
        }),
    )
    .unwrap();
    assert_eq!(
        invalid(read("creds/ar")),
        "did not supply a role_arn parameter and unable to determine one"
    );
    assert_eq!(
        invalid(write(
            "sts/ar",
            json!({"role_arn": "arn:aws:iam::1:role/c"})
        )),
        r#"role_arn "arn:aws:iam::1:role/c" not in allowed role arns for Vault role "ar""#
    );
    fake::take_calls();
    let r = write(
        "sts/ar",
        json!({"role_arn": "arn:aws:iam::1:role/b", "role_session_name": "my session"}),
    )
    .unwrap();
    assert_eq!(
        fake::take_calls(),
        vec!["AssumeRole(arn:aws:iam::1:role/b, my_session, 900, -, [], [k=v], ext)".to_string()]
    );
    let d = data(&r);
    assert_eq!(
        d["arn"],
        "arn:aws:sts::123456789012:assumed-role/b/my_session"
    );
    assert_eq!(d["ttl"], 900);
    let i = internal(&r);
    assert_eq!(i["username"], "my_session");
    assert_eq!(i["policy"], "arn:aws:iam::1:role/b");

    // One ARN: no role_arn needed; the session name is generated like an IAM user.
    write(
        "roles/one",
        json!({"credential_type": "assumed_role", "role_arns": "arn:aws:iam::1:role/a"}),
    )
    .unwrap();
    let r = read("creds/one").unwrap();
    assert!(
        internal(&r)["username"]
            .as_str()
            .unwrap()
            .starts_with("vault-token-one-1700000000-")
    );
    assert_eq!(data(&r)["ttl"], 3600);
}

#[test]
fn session_token() {
    setup();
    write(
        "roles/st",
        json!({"credential_type": "session_token", "mfa_serial_number": "arn:aws:iam::1:mfa/dev"}),
    )
    .unwrap();
    fake::take_calls();
    let r = write("sts/st", json!({"mfa_code": "123456", "ttl": 1000})).unwrap();
    assert_eq!(
        fake::take_calls(),
        vec!["GetSessionToken(1000, arn:aws:iam::1:mfa/dev, 123456)".to_string()]
    );
    assert_eq!(data(&r)["session_token"], "sts-token");
    assert_eq!(r.lease_grant().unwrap().ttl, 1000);
}

#[test]
fn sts_groups_are_merged_into_the_session_policy() {
    setup();
    fake::add_group(
        "readers",
        &[(
            "inline",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}"#,
        )],
        &["arn:aws:iam::1:policy/managed"],
    );
    write(
        "roles/fed",
        json!({
            "credential_type": "federation_token",
            "iam_groups": "readers",
            "policy_document": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:Put*","Resource":"*"}]}"#,
        }),
    )
    .unwrap();
    fake::take_calls();
    let r = read("sts/fed").unwrap();
    let calls = fake::take_calls();
    assert_eq!(
        &calls[..3],
        &[
            "ListAttachedGroupPolicies(readers)".to_string(),
            "ListGroupPolicies(readers)".into(),
            "GetGroupPolicy(readers, inline)".into(),
        ]
    );
    let merged = r#"{"Version":"2012-10-17","Statement":[{"Action":"s3:Get*","Effect":"Allow","Resource":"*"},{"Action":"s3:Put*","Effect":"Deny","Resource":"*"}]}"#;
    assert!(
        calls[3].ends_with(&format!(
            ", 3600, {merged}, [arn:aws:iam::1:policy/managed])"
        )),
        "{}",
        calls[3]
    );
    assert_eq!(internal(&r)["policy"], merged);
}

#[test]
fn legacy_roles_are_tied_to_their_path() {
    setup();
    write(
        "roles/old",
        json!({"policy": "{\"Version\":\"2012-10-17\"}"}),
    )
    .unwrap();
    // creds/ gives an IAM user, sts/ a federation token.
    let r = read("creds/old").unwrap();
    assert_eq!(internal(&r)["is_sts"], false);
    let r = read("sts/old").unwrap();
    assert_eq!(internal(&r)["is_sts"], true);

    write("roles/arnrole", json!({"arn": "arn:aws:iam::1:policy/p"})).unwrap();
    assert_eq!(
        invalid(read("sts/arnrole")),
        "attempted to retrieve iam_user credentials through the sts path; this is not allowed for legacy roles"
    );
    write("roles/assumed", json!({"arn": "arn:aws:iam::1:role/r"})).unwrap();
    assert_eq!(
        invalid(read("creds/assumed")),
        "attempted to retrieve assumed_role credentials through the creds path; this is not allowed for legacy roles"
    );
    // New-style roles work on both paths.
    write("roles/new", json!({"credential_type": "iam_user"})).unwrap();
    assert_eq!(internal(&read("sts/new").unwrap())["is_sts"], false);
}

#[test]
fn unknown_fields_are_reported() {
    setup();
    write(
        "roles/fed",
        json!({"credential_type": "federation_token", "policy_arns": "arn:aws:iam::1:policy/p"}),
    )
    .unwrap();
    let r = write("sts/fed", json!({"bogus": 1})).unwrap();
    assert_eq!(
        r.warnings(),
        &["Endpoint ignored these unrecognized parameters: [bogus]".to_string()]
    );
}

#[test]
fn info_and_routes() {
    let info = Aws::info();
    assert_eq!(info.name, "aws");
    assert_eq!(info.version, "v0.1.0");
    assert_eq!(info.paths.len(), 7);
    assert!(Aws::router(&mount()).unwrap().check().is_ok());
}
