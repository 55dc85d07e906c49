//! `cargo bench -p coffer --bench aws_creds`: what Coffer adds on top of the IAM calls
//! when it issues and revokes dynamic IAM credentials, against moto.
//!
//! Bare: the same SDK layer the host uses (`coffer::runtime::imports::aws::Iam`) making
//! the calls an `iam_user` role with an inline policy needs (CreateUser, PutUserPolicy,
//! CreateAccessKey; revoke: the four lists, DeleteAccessKey, DeleteUserPolicy,
//! DeleteUser). Coffer: `GET aws/creds/<role>` and a sync `sys/leases/revoke` through a
//! real dev server over loopback (wasm engine, WAL, lease persisted).

use std::time::{Duration, Instant};

use coffer::runtime::imports::aws::Iam;

#[path = "../tests/support/dev_server.rs"]
mod dev_server;
#[path = "../tests/support/mod.rs"]
mod support;

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn bare(iam: &Iam, n: usize) -> (Duration, Duration) {
    let (mut issue, mut revoke) = (Vec::new(), Vec::new());
    for i in 0..n {
        let user = format!("bare-{i}-{}", coffer::auth::random_base62(8));
        let t = Instant::now();
        iam.create_user(&user, Some("/"), None)
            .await
            .expect("create");
        iam.put_user_policy(&user, "role", POLICY)
            .await
            .expect("policy");
        let key = iam.create_access_key(Some(&user)).await.expect("key");
        issue.push(t.elapsed());
        let t = Instant::now();
        iam.list_groups_for_user(&user).await.expect("groups");
        let inline = iam.list_user_policies(&user).await.expect("inline");
        iam.list_attached_user_policies(&user)
            .await
            .expect("attached");
        iam.list_access_keys(Some(&user)).await.expect("keys");
        iam.delete_access_key(Some(&user), &key.access_key_id)
            .await
            .expect("delete key");
        for p in inline {
            iam.delete_user_policy(&user, &p)
                .await
                .expect("delete policy");
        }
        iam.delete_user(&user).await.expect("delete user");
        revoke.push(t.elapsed());
    }
    (p50(issue), p50(revoke))
}

fn coffer_path(rt: &tokio::runtime::Runtime, endpoint: &str, n: usize) -> (Duration, Duration) {
    let base = dev_server::start(rt, "bench", &[]);
    let agent = ureq::AgentBuilder::new().build();
    let post = |path: &str, body: String| {
        agent
            .post(&format!("{base}/{path}"))
            .set("X-Vault-Token", "bench")
            .send_string(&body)
            .expect(path)
    };
    post("sys/mounts/aws", r#"{"type":"aws"}"#.into());
    post(
        "aws/config/root",
        serde_json::json!({"access_key":"AKIAIOSFODNN7EXAMPLE","secret_key":"x","region":"us-east-1","iam_endpoint":endpoint,"sts_endpoint":endpoint})
            .to_string(),
    );
    post(
        "aws/roles/bench",
        serde_json::json!({"credential_type":"iam_user","policy_document":POLICY}).to_string(),
    );
    let (mut issue, mut revoke) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        let resp = agent
            .get(&format!("{base}/aws/creds/bench"))
            .set("X-Vault-Token", "bench")
            .call()
            .expect("creds");
        issue.push(t.elapsed());
        let body: serde_json::Value =
            serde_json::from_str(&resp.into_string().expect("body")).expect("json");
        let lease = body["lease_id"].as_str().expect("lease id").to_string();
        let t = Instant::now();
        post(
            "sys/leases/revoke",
            serde_json::json!({ "lease_id": lease }).to_string(),
        );
        revoke.push(t.elapsed());
    }
    (p50(issue), p50(revoke))
}

fn main() {
    let n = if std::env::args().any(|a| a == "--quick") {
        10
    } else {
        100
    };
    let moto = support::moto::Moto::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let iam = Iam::connect(moto.config("AKIAIOSFODNN7EXAMPLE", "x")).expect("iam client");
    // Warm moto's lazily loaded IAM backend and both paths before measuring.
    rt.block_on(bare(&iam, 3));
    let (bare_issue, bare_revoke) = rt.block_on(bare(&iam, n));
    let (c_issue, c_revoke) = coffer_path(&rt, &moto.endpoint, n);
    println!("Dynamic IAM credentials against moto, p50 of {n}");
    println!(
        "  issue : bare IAM calls {:>7.2} ms | coffer read aws/creds {:>7.2} ms | overhead {:>6.2} ms ({:.2}x)",
        ms(bare_issue),
        ms(c_issue),
        ms(c_issue) - ms(bare_issue),
        ms(c_issue) / ms(bare_issue)
    );
    println!(
        "  revoke: bare IAM calls {:>7.2} ms | coffer sync revoke    {:>7.2} ms | overhead {:>6.2} ms ({:.2}x)",
        ms(bare_revoke),
        ms(c_revoke),
        ms(c_revoke) - ms(bare_revoke),
        ms(c_revoke) / ms(bare_revoke)
    );
}
