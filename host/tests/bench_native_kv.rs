//! The native kv v2 reader (`-bench-native-kv` + `X-Coffer-Bench-Native: 1`), which
//! exists only as the benchmark ceiling for the wasm path, answers exactly what the kv
//! engine answers, and nothing changes without the flag.

use std::time::Duration;

#[path = "support/dev_server.rs"]
mod dev_server;

const ROOT: &str = "native-root";
const HEADER: &str = "X-Coffer-Bench-Native";

struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(base: String) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        Client { base, agent }
    }

    /// A call as root that must succeed; returns the body.
    fn root(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let resp = self
            .agent
            .request(method, &format!("{}/{path}", self.base))
            .set("X-Vault-Token", ROOT)
            .send_string(&body.to_string())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        serde_json::from_str(&resp.into_string().unwrap_or_default()).unwrap_or_default()
    }

    /// `GET path` as `token`, optionally with the benchmark header: status and body with
    /// its `request_id` blanked (the only part that differs between two answers).
    fn get(&self, token: &str, path: &str, native: bool) -> (u16, String) {
        let mut req = self
            .agent
            .get(&format!("{}/{path}", self.base))
            .set("X-Vault-Token", token);
        if native {
            req = req.set(HEADER, "1");
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let status = resp.status();
        let body = resp.into_string().expect("body");
        let id = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["request_id"].as_str().map(str::to_string))
            .unwrap_or_default();
        let body = if id.is_empty() {
            body
        } else {
            body.replacen(&format!(r#""request_id":"{id}""#), r#""request_id":"""#, 1)
        };
        (status, body)
    }

    /// A token whose only policy reads `secret/data/t/*`.
    fn limited_token(&self) -> String {
        self.root(
            "POST",
            "sys/policy/native",
            serde_json::json!({"policy": "path \"secret/data/t/*\" { capabilities = [\"read\"] }"}),
        );
        let created = self.root(
            "POST",
            "auth/token/create",
            serde_json::json!({"policies": ["native"], "ttl": "1h"}),
        );
        created["auth"]["client_token"]
            .as_str()
            .expect("token")
            .to_string()
    }
}

fn start(rt: &tokio::runtime::Runtime, native_flag: bool) -> Client {
    let extra: Vec<String> = if native_flag {
        vec!["-bench-native-kv".into()]
    } else {
        Vec::new()
    };
    Client::new(dev_server::start(rt, ROOT, &extra))
}

/// Every case goes through both handlers; the counter proves which one answered.
#[test]
fn native_reader_matches_the_engine_and_needs_the_flag() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let c = start(&rt, true);
    let token = c.limited_token();
    // Two versions with custom metadata; a second secret with version 1 destroyed and
    // version 2 soft-deleted.
    for n in 1..=2 {
        c.root(
            "POST",
            "secret/data/t/app",
            serde_json::json!({"data": {"user": "app", "n": n, "nested": {"b": [1, 2], "a": null}}}),
        );
        c.root(
            "POST",
            "secret/data/t/gone",
            serde_json::json!({"data": {"n": n}}),
        );
    }
    c.root(
        "POST",
        "secret/metadata/t/app",
        serde_json::json!({"custom_metadata": {"owner": "ops", "tier": "1"}}),
    );
    c.root(
        "POST",
        "secret/destroy/t/gone",
        serde_json::json!({"versions": [1]}),
    );
    c.root("DELETE", "secret/data/t/gone", serde_json::json!({}));

    // (path, expected status): live, an older version, soft-deleted, destroyed, a
    // version that does not exist, a missing secret.
    let cases = [
        ("secret/data/t/app", 200),
        ("secret/data/t/app?version=1", 200),
        ("secret/data/t/gone", 404),
        ("secret/data/t/gone?version=1", 404),
        ("secret/data/t/app?version=7", 404),
        ("secret/data/t/missing", 404),
    ];
    for (path, want) in cases {
        let before = coffer::router::native_kv_served();
        let native = c.get(&token, path, true);
        assert_eq!(
            coffer::router::native_kv_served(),
            before + 1,
            "{path}: the native reader did not answer"
        );
        let wasm = c.get(&token, path, false);
        assert_eq!(
            coffer::router::native_kv_served(),
            before + 1,
            "{path}: without the header the engine answers"
        );
        assert_eq!(native.0, want, "{path}: {}", native.1);
        assert_eq!(native, wasm, "{path}: native and wasm answers differ");
    }
    // The deleted and destroyed versions carry their metadata, as the engine's do.
    let (_, gone) = c.get(&token, "secret/data/t/gone?version=1", true);
    assert!(gone.contains(r#""destroyed":true"#), "{gone}");

    // The ACL still runs first: a path the token cannot read is denied, natively too.
    let before = coffer::router::native_kv_served();
    let denied = c.get(&token, "secret/data/other", true);
    assert_eq!(denied.0, 403);
    assert_eq!(denied, c.get(&token, "secret/data/other", false));
    // Paths the native reader leaves to the engine: help, a parameter it does not
    // know, a folder path.
    for path in [
        "secret/data/t/app?help=1",
        "secret/data/t/app?version=x",
        "secret/data/t/",
    ] {
        let _ = c.get(ROOT, path, true);
    }
    assert_eq!(coffer::router::native_kv_served(), before);

    // Without -bench-native-kv the header does nothing.
    let plain = start(&rt, false);
    plain.root(
        "POST",
        "secret/data/t/app",
        serde_json::json!({"data": {"user": "app"}}),
    );
    let before = coffer::router::native_kv_served();
    let (status, body) = plain.get(ROOT, "secret/data/t/app", true);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""user":"app""#), "{body}");
    assert_eq!(coffer::router::native_kv_served(), before);
}
