//! The host's AWS layer (`coffer::runtime::imports::aws`) against real protocol
//! endpoints, without wasm: moto for IAM/STS behaviour, and a scripted fake server for
//! retries and throttling (moto cannot inject those).
//!
//! moto tests need `.venv/bin/moto_server` at the workspace root
//! (`.venv/bin/pip install 'moto[iam,sts]==5.2.5' flask flask-cors`); without it they
//! print a note and pass, unless `CI` is set, where a missing moto fails them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use coffer::runtime::imports::aws::{AwsError, Iam, Sts, Tag};
use support::moto::{Moto, config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

const ACCOUNT: &str = "123456789012";
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","s3:Get*"],"Resource":"*"}]}"#;
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn ok<T>(r: Result<T, AwsError>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e:?}"),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Vault's iam_user create sequence, every list call, the error classes moto can
/// produce, and Vault's revoke sequence.
#[tokio::test]
async fn iam_user_lifecycle() {
    let moto = Moto::start();
    let iam = ok(
        Iam::connect(moto.config("AKIAIOSFODNN7EXAMPLE", "engine-secret")),
        "connect",
    );
    // Fixtures engines cannot create themselves: a group and a managed policy.
    let admin = iam.sdk();
    admin
        .create_group()
        .group_name("devs")
        .send()
        .await
        .expect("create group");
    let managed = admin
        .create_policy()
        .policy_name("read")
        .policy_document(POLICY)
        .send()
        .await
        .expect("create policy")
        .policy
        .and_then(|p| p.arn)
        .expect("policy arn");

    let name = "vault-token-role-1700000000-abc";
    let user = ok(
        iam.create_user(name, Some("/vault/"), None).await,
        "create user",
    );
    assert_eq!(user.user_name, name);
    assert_eq!(user.path, "/vault/");
    assert_eq!(
        user.arn,
        format!("arn:aws:iam::{ACCOUNT}:user/vault/{name}")
    );
    assert!(!user.user_id.is_empty());
    let again = iam.create_user(name, None, None).await;
    assert!(
        matches!(again, Err(AwsError::EntityAlreadyExists(_))),
        "{again:?}"
    );

    ok(iam.attach_user_policy(name, &managed).await, "attach");
    ok(
        iam.put_user_policy(name, "role", POLICY).await,
        "put policy",
    );
    let bad = iam.put_user_policy(name, "bad", "{not json").await;
    assert!(matches!(bad, Err(AwsError::InvalidInput(_))), "{bad:?}");
    ok(iam.add_user_to_group("devs", name).await, "add to group");
    let tags = [Tag {
        key: "vault-role".into(),
        value: "role".into(),
    }];
    ok(iam.tag_user(name, &tags).await, "tag");
    ok(iam.tag_user(name, &[]).await, "no tags");
    let missing_group = iam.add_user_to_group("nope", name).await;
    assert!(
        matches!(missing_group, Err(AwsError::NoSuchEntity(_))),
        "{missing_group:?}"
    );

    let k1 = ok(iam.create_access_key(Some(name)).await, "key 1");
    assert!(k1.access_key_id.starts_with("AKIA"), "{}", k1.access_key_id);
    assert_eq!(k1.secret_access_key.len(), 40);
    assert_eq!(k1.user_name, name);
    let k2 = ok(iam.create_access_key(Some(name)).await, "key 2");
    let third = iam.create_access_key(Some(name)).await;
    assert!(
        matches!(third, Err(AwsError::LimitExceeded(_))),
        "{third:?}"
    );

    let got = ok(iam.get_user(Some(name)).await, "get user");
    assert_eq!(got.arn, user.arn);
    let mut keys = ok(iam.list_access_keys(Some(name)).await, "list keys");
    keys.sort();
    let mut want = vec![k1.access_key_id.clone(), k2.access_key_id.clone()];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(
        ok(iam.list_user_policies(name).await, "list policies"),
        ["role"]
    );
    assert_eq!(
        ok(iam.list_attached_user_policies(name).await, "list attached"),
        std::slice::from_ref(&managed)
    );
    assert_eq!(
        ok(iam.list_groups_for_user(name).await, "list groups"),
        ["devs"]
    );

    // Policies still in place: DeleteUser is refused.
    let early = iam.delete_user(name).await;
    assert!(
        matches!(early, Err(AwsError::DeleteConflict(_))),
        "{early:?}"
    );

    // Vault's revoke order.
    for k in &keys {
        ok(iam.delete_access_key(Some(name), k).await, "delete key");
    }
    ok(iam.detach_user_policy(name, &managed).await, "detach");
    ok(iam.delete_user_policy(name, "role").await, "delete policy");
    ok(iam.remove_user_from_group("devs", name).await, "remove");
    ok(iam.delete_user(name).await, "delete user");

    let gone = iam.get_user(Some(name)).await;
    assert!(matches!(gone, Err(AwsError::NoSuchEntity(_))), "{gone:?}");
    let gone = iam.list_groups_for_user(name).await;
    assert!(matches!(gone, Err(AwsError::NoSuchEntity(_))), "{gone:?}");
    let gone = iam.delete_access_key(Some(name), &k1.access_key_id).await;
    assert!(matches!(gone, Err(AwsError::NoSuchEntity(_))), "{gone:?}");
    let gone = iam.delete_user_policy(name, "role").await;
    assert!(matches!(gone, Err(AwsError::NoSuchEntity(_))), "{gone:?}");
}

/// Group policies, which the STS path merges: the inline document comes back
/// URL-decoded, byte for byte.
#[tokio::test]
async fn group_policies_are_listed_and_decoded() {
    let moto = Moto::start();
    let iam = ok(Iam::connect(moto.config("AKIAGROUPTEST", "s")), "connect");
    let admin = iam.sdk();
    admin
        .create_group()
        .group_name("ops")
        .send()
        .await
        .expect("create group");
    // Spaces, a plus, a percent sign, non-ASCII: everything URL-encoding touches.
    let doc = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::a+b/100%/caf\u00e9/é"}]}"#;
    admin
        .put_group_policy()
        .group_name("ops")
        .policy_name("inline")
        .policy_document(doc)
        .send()
        .await
        .expect("put group policy");
    let arn = admin
        .create_policy()
        .policy_name("managed")
        .policy_document(POLICY)
        .send()
        .await
        .expect("create policy")
        .policy
        .and_then(|p| p.arn)
        .expect("arn");
    admin
        .attach_group_policy()
        .group_name("ops")
        .policy_arn(&arn)
        .send()
        .await
        .expect("attach group policy");

    assert_eq!(ok(iam.list_group_policies("ops").await, "list"), ["inline"]);
    assert_eq!(
        ok(iam.list_attached_group_policies("ops").await, "attached"),
        [arn]
    );
    assert_eq!(ok(iam.get_group_policy("ops", "inline").await, "get"), doc);
    let missing = iam.get_group_policy("ops", "nope").await;
    assert!(
        matches!(missing, Err(AwsError::NoSuchEntity(_))),
        "{missing:?}"
    );
    let missing = iam.list_group_policies("nope").await;
    assert!(
        matches!(missing, Err(AwsError::NoSuchEntity(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn sts_calls() {
    let moto = Moto::start();
    let sts = ok(Sts::connect(moto.config("AKIASTSTEST", "s")), "connect");

    let me = ok(sts.get_caller_identity().await, "caller identity");
    assert_eq!(me.account, ACCOUNT);
    assert!(me.arn.starts_with("arn:aws:sts::"), "{}", me.arn);

    let role = format!("arn:aws:iam::{ACCOUNT}:role/deploy");
    let tags = [Tag {
        key: "team".into(),
        value: "a".into(),
    }];
    let assumed = ok(
        sts.assume_role(
            &role,
            "vault-session",
            Some(900),
            Some(POLICY),
            &[format!("arn:aws:iam::{ACCOUNT}:policy/read")],
            &tags,
            Some("ext-id"),
        )
        .await,
        "assume role",
    );
    assert_eq!(
        assumed.arn,
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/deploy/vault-session")
    );
    let c = &assumed.credentials;
    assert!(c.access_key_id.starts_with("ASIA"), "{}", c.access_key_id);
    assert!(!c.secret_access_key.is_empty() && !c.session_token.is_empty());
    let t = now();
    assert!(
        c.expiration > t && c.expiration <= t + 900 + 60,
        "expiration {} vs now {t}",
        c.expiration
    );

    let fed = ok(
        sts.get_federation_token("vault-fed", Some(900), Some(POLICY), &[])
            .await,
        "federation token",
    );
    assert!(!fed.session_token.is_empty());
    let session = ok(
        sts.get_session_token(Some(900), None, None).await,
        "session token",
    );
    assert!(!session.access_key_id.is_empty());
}

/// moto's auth layer answers in a shape the SDK cannot parse (code() is None): the
/// host must still say access-denied, and never echo the secret.
#[tokio::test]
async fn auth_failures_are_access_denied() {
    let moto = Moto::start();
    // Bootstrap an admin while moto still accepts anything.
    let boot = ok(Iam::connect(moto.config("AKIABOOTSTRAP", "x")), "connect");
    ok(boot.create_user("admin", None, None).await, "admin");
    ok(
        boot.put_user_policy("admin", "all", ALLOW_ALL).await,
        "admin policy",
    );
    let key = ok(boot.create_access_key(Some("admin")).await, "admin key");
    moto.enforce_auth(true);

    let admin = ok(
        Iam::connect(moto.config(&key.access_key_id, &key.secret_access_key)),
        "connect admin",
    );
    let me = ok(admin.get_user(None).await, "get own user");
    assert_eq!(me.user_name, "admin");

    let wrong_secret = "WRONGwrongWRONGwrongWRONGwrongWRONGwrong";
    let bad = ok(
        Iam::connect(moto.config(&key.access_key_id, wrong_secret)),
        "connect",
    );
    let denied = bad.get_user(None).await;
    assert!(
        matches!(&denied, Err(AwsError::AccessDenied(_))),
        "{denied:?}"
    );
    assert!(!format!("{denied:?}").contains(wrong_secret));

    let unknown = ok(
        Sts::connect(moto.config("AKIANOTAUSER00000000", "whatever")),
        "connect",
    );
    let denied = unknown.get_caller_identity().await;
    assert!(
        matches!(&denied, Err(AwsError::AccessDenied(m)) if m.contains("security token")),
        "{denied:?}"
    );

    // An explicit Deny in the engine's own policy, the way rollback tests inject faults.
    ok(
        admin
            .put_user_policy(
                "admin",
                "deny-delete",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"}]}"#,
            )
            .await,
        "deny policy",
    );
    let denied = admin.delete_user("nobody").await;
    assert!(
        matches!(&denied, Err(AwsError::AccessDenied(_))),
        "{denied:?}"
    );
    moto.enforce_auth(false);
}

#[tokio::test]
async fn unreachable_endpoint_fails_fast_with_cannot_reach() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut cfg = config(&endpoint, "AKIAUNREACHABLE", "unreachable-secret");
    cfg.max_retries = Some(1);
    let iam = ok(Iam::connect(cfg), "connect");
    let started = Instant::now();
    let err = iam.get_user(Some("x")).await;
    assert!(
        matches!(&err, Err(AwsError::Other((code, m))) if code.is_empty() && m.starts_with(&format!("cannot reach {endpoint}"))),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("unreachable-secret"));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn invalid_configs_are_refused_without_a_call() {
    let mut cfg = config("http://127.0.0.1:1", "AKIA", "s");
    cfg.region = String::new();
    assert!(matches!(Iam::connect(cfg), Err(AwsError::InvalidInput(_))));
    let cfg = config("not a url", "AKIA", "s");
    assert!(matches!(Sts::connect(cfg), Err(AwsError::InvalidInput(_))));
    let cfg = config("http://127.0.0.1:1", "", "");
    assert!(matches!(Iam::connect(cfg), Err(AwsError::InvalidInput(_))));
}

/// A one-trick HTTP server: answers the n-th request with `script[n]` (the last entry
/// repeats) and counts requests. Enough to drive the SDK's retry loop.
struct Scripted {
    endpoint: String,
    hits: Arc<AtomicUsize>,
}

impl Scripted {
    async fn start(script: Vec<(u16, &'static str)>) -> Scripted {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let (status, body) = script[n.min(script.len() - 1)];
                tokio::spawn(async move {
                    // Read the head and the body the content-length announces.
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Ok(read) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if read == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..read]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        if let Some(head_end) = text.find("\r\n\r\n") {
                            let len = text[..head_end]
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("content-length")
                                        .then(|| v.trim().parse::<usize>().ok())
                                        .flatten()
                                })
                                .unwrap_or(0);
                            if buf.len() >= head_end + 4 + len {
                                break;
                            }
                        }
                    }
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(response.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Scripted { endpoint, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

const THROTTLED: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>";
const GET_USER_OK: &str = r#"<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetUserResult><User><Path>/</Path><UserName>bob</UserName><UserId>AIDAEXAMPLE</UserId><Arn>arn:aws:iam::123456789012:user/bob</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate></User></GetUserResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetUserResponse>"#;

#[tokio::test]
async fn throttling_is_retried_then_surfaced_as_throttled() {
    // Throttled once, then fine: the caller never sees the throttle.
    let server = Scripted::start(vec![(400, THROTTLED), (200, GET_USER_OK)]).await;
    let iam = ok(
        Iam::connect(config(&server.endpoint, "AKIARETRY1", "s")),
        "connect",
    );
    let user = ok(iam.get_user(Some("bob")).await, "get user after retry");
    assert_eq!(user.user_name, "bob");
    assert_eq!(server.hits(), 2);

    // Throttled for good: max-retries + 1 attempts, then `throttled`.
    let server = Scripted::start(vec![(400, THROTTLED)]).await;
    let mut cfg = config(&server.endpoint, "AKIARETRY2", "s");
    cfg.max_retries = Some(2);
    let iam = ok(Iam::connect(cfg), "connect");
    let err = iam.get_user(Some("bob")).await;
    assert!(
        matches!(&err, Err(AwsError::Throttled(m)) if m == "Rate exceeded"),
        "{err:?}"
    );
    assert_eq!(server.hits(), 3);

    // A bare 503 (no parseable body) is retried too and reads as throttled.
    let server = Scripted::start(vec![(503, "")]).await;
    let mut cfg = config(&server.endpoint, "AKIARETRY3", "s");
    cfg.max_retries = Some(1);
    let iam = ok(Iam::connect(cfg), "connect");
    let err = iam.get_user(Some("bob")).await;
    assert!(matches!(&err, Err(AwsError::Throttled(_))), "{err:?}");
    assert_eq!(server.hits(), 2);

    // No retries for an ordinary client error.
    let server = Scripted::start(vec![(
        404,
        "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name bob cannot be found.</Message></Error></ErrorResponse>",
    )])
    .await;
    let iam = ok(
        Iam::connect(config(&server.endpoint, "AKIARETRY4", "s")),
        "connect",
    );
    let err = iam.get_user(Some("bob")).await;
    assert!(matches!(&err, Err(AwsError::NoSuchEntity(_))), "{err:?}");
    assert_eq!(server.hits(), 1);
}
