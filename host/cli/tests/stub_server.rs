//! End-to-end tests of the CLI against an in-process stub HTTP server that
//! answers like Vault and records what the CLI sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use coffer_cli::{Io, run_with};

/// One request as the stub saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Route = fn(&Seen) -> (u16, String);

/// Starts a stub server; returns its address and the request log.
fn stub(route: Route) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = Arc::clone(&log);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let target = parts.next().unwrap_or("").to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let seen = Seen {
                method,
                target,
                headers,
                body: String::from_utf8_lossy(&body).to_string(),
            };
            let (status, resp) = route(&seen);
            log2.lock().unwrap().push(seen);
            let reason = if status < 300 { "OK" } else { "Error" };
            let msg = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{resp}",
                resp.len()
            );
            let _ = stream.write_all(msg.as_bytes());
        }
    });
    (addr, log)
}

/// Runs the CLI with the stub's address; returns (code, stdout, stderr).
fn cli(addr: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let addr = addr.to_string();
    let env = move |k: &str| match k {
        "COFFER_ADDR" => Some(addr.clone()),
        "COFFER_TOKEN" => Some("hvs.test".to_string()),
        _ => None,
    };
    let mut input = stdin.as_bytes();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = Io {
        stdin: &mut input,
        stdout: &mut out,
        stderr: &mut err,
        stdout_is_terminal: false,
    };
    let code = run_with(&args, &env, &mut io);
    (
        code,
        String::from_utf8_lossy(&out).to_string(),
        String::from_utf8_lossy(&err).to_string(),
    )
}

fn kv_route(req: &Seen) -> (u16, String) {
    match (req.method.as_str(), req.target.as_str()) {
        ("GET", t) if t.starts_with("/v1/sys/internal/ui/mounts/secret") => (
            200,
            r#"{"data":{"path":"secret/","type":"kv","options":{"version":"2"}}}"#.into(),
        ),
        ("GET", t) if t.starts_with("/v1/sys/internal/ui/mounts/kv1") => (
            200,
            r#"{"data":{"path":"kv1/","type":"kv","options":null}}"#.into(),
        ),
        ("GET", "/v1/secret/data/creds") | ("GET", "/v1/secret/data/creds?version=1") => (
            200,
            r#"{"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,
               "data":{"data":{"passcode":"my-long-passcode"},
                       "metadata":{"created_time":"2018-03-22T02:24:06.945319214Z","custom_metadata":null,
                                   "deletion_time":"","destroyed":false,"version":1}},
               "warnings":null,"auth":null,"wrap_info":null,"mount_type":"kv"}"#
                .into(),
        ),
        ("PUT", "/v1/secret/data/creds") => (
            200,
            r#"{"data":{"created_time":"2018-03-22T02:36:43.986212308Z","custom_metadata":null,
                        "deletion_time":"","destroyed":false,"version":2}}"#
                .into(),
        ),
        ("PATCH", "/v1/secret/data/creds") => (204, String::new()),
        ("PUT", "/v1/kv1/app") => (204, String::new()),
        ("GET", "/v1/kv1/app") => (
            200,
            r#"{"lease_id":"","lease_duration":2764800,"renewable":false,"data":{"a":"1"}}"#.into(),
        ),
        ("GET", "/v1/secret/metadata?list=true") => (200, r#"{"data":{"keys":["z","creds","app/"]}}"#.into()),
        ("PUT", "/v1/secret/destroy/creds") => (204, String::new()),
        ("GET", "/v1/secret/metadata/creds") => (
            200,
            r#"{"data":{"cas_required":false,"created_time":"t1","current_version":2,"custom_metadata":null,
               "delete_version_after":"0s","max_versions":0,"oldest_version":0,"updated_time":"t2",
               "versions":{"10":{"created_time":"t10","deletion_time":"","destroyed":false},
                           "2":{"created_time":"t2","deletion_time":"","destroyed":true}}}}"#
                .into(),
        ),
        _ => (404, r#"{"errors":[]}"#.into()),
    }
}

#[test]
fn kv_get_v2_rewrites_path_and_prints_vault_layout() {
    let (addr, log) = stub(kv_route);
    let (code, out, err) = cli(&addr, &["kv", "get", "secret/creds"], "");
    assert_eq!(code, 0, "{err}");
    let expected = "\
== Secret Path ==
secret/data/creds

======= Metadata =======
Key                Value
---                -----
created_time       2018-03-22T02:24:06.945319214Z
custom_metadata    <nil>
deletion_time      n/a
destroyed          false
version            1

====== Data ======
Key         Value
---         -----
passcode    my-long-passcode
";
    assert_eq!(out, expected);
    let log = log.lock().unwrap();
    assert_eq!(log[0].target, "/v1/sys/internal/ui/mounts/secret/creds");
    assert_eq!(log[1].target, "/v1/secret/data/creds");
    assert_eq!(log[1].header("X-Vault-Token"), Some("hvs.test"));
}

#[test]
fn kv_get_field_and_version() {
    let (addr, log) = stub(kv_route);
    let (code, out, _) = cli(
        &addr,
        &["kv", "get", "-version=1", "-field=passcode", "secret/creds"],
        "",
    );
    assert_eq!(code, 0);
    assert_eq!(out, "my-long-passcode");
    assert_eq!(
        log.lock().unwrap()[1].target,
        "/v1/secret/data/creds?version=1"
    );
    let (code, _, err) = cli(&addr, &["kv", "get", "-field=nope", "secret/creds"], "");
    assert_eq!(code, 1);
    assert_eq!(err, "Field \"nope\" not present in secret\n");
}

#[test]
fn kv_put_v2_and_v1() {
    let (addr, log) = stub(kv_route);
    let (code, out, _) = cli(
        &addr,
        &["kv", "put", "-cas=1", "secret/creds", "passcode=x"],
        "",
    );
    assert_eq!(code, 0);
    assert!(
        out.starts_with("== Secret Path ==\nsecret/data/creds\n\n======= Metadata =======\nKey"),
        "{out}"
    );
    assert!(out.contains("version            2"), "{out}");
    {
        let log = log.lock().unwrap();
        let body: serde_json::Value = serde_json::from_str(&log[1].body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"data": {"passcode": "x"}, "options": {"cas": 1}})
        );
        assert_eq!(log[1].method, "PUT");
    }
    let (code, out, _) = cli(&addr, &["kv", "put", "kv1/app", "a=1"], "");
    assert_eq!(code, 0);
    assert_eq!(out, "Success! Data written to: kv1/app\n");
    let (code, out, _) = cli(&addr, &["kv", "get", "kv1/app"], "");
    assert_eq!(code, 0);
    assert_eq!(out, "== Data ==\nKey    Value\n---    -----\na      1\n");
    let (code, _, err) = cli(&addr, &["kv", "put", "secret/creds"], "");
    assert_eq!((code, err.as_str()), (1, "Must supply data\n"));
}

#[test]
fn kv_patch_uses_merge_patch() {
    let (addr, log) = stub(kv_route);
    let (code, out, _) = cli(&addr, &["kv", "patch", "secret/creds", "k=v"], "");
    assert_eq!(code, 0);
    assert_eq!(out, "Success! Data written to: secret/data/creds\n");
    let log = log.lock().unwrap();
    assert_eq!(log[1].method, "PATCH");
    assert_eq!(
        log[1].header("Content-Type"),
        Some("application/merge-patch+json")
    );
    let body: serde_json::Value = serde_json::from_str(&log[1].body).unwrap();
    assert_eq!(body, serde_json::json!({"data": {"k": "v"}, "options": {}}));
}

#[test]
fn kv_list_destroy_and_metadata() {
    let (addr, log) = stub(kv_route);
    let (code, out, _) = cli(&addr, &["kv", "list", "secret"], "");
    assert_eq!(code, 0);
    assert_eq!(out, "Keys\n----\napp/\ncreds\nz\n");
    let (code, out, _) = cli(
        &addr,
        &["kv", "destroy", "-versions=1,2", "secret/creds"],
        "",
    );
    assert_eq!(code, 0);
    assert_eq!(out, "Success! Data written to: secret/destroy/creds\n");
    let body = log.lock().unwrap().last().unwrap().body.clone();
    assert_eq!(body, r#"{"versions":[1,2]}"#);
    let (code, _, err) = cli(&addr, &["kv", "destroy", "secret/creds"], "");
    assert_eq!(code, 1);
    assert!(err.contains("No versions provided"));
    let (code, out, _) = cli(&addr, &["kv", "metadata", "get", "secret/creds"], "");
    assert_eq!(code, 0);
    assert!(
        out.starts_with("=== Metadata Path ===\nsecret/metadata/creds\n\n"),
        "{out}"
    );
    let v2 = out.find("Version 2 ").unwrap();
    let v10 = out.find("Version 10 ").unwrap();
    assert!(v2 < v10, "versions sorted numerically: {out}");
    assert!(out.contains("delete_version_after    0s"), "{out}");
    let (code, _, err) = cli(&addr, &["kv", "get", "secret/missing"], "");
    assert_eq!(code, 2);
    assert_eq!(err, "No value found at secret/data/missing\n");
}

fn generic_route(req: &Seen) -> (u16, String) {
    match (req.method.as_str(), req.target.as_str()) {
        ("PUT", "/v1/aws/roles/bad") => (400, r#"{"errors":["missing credential_type"]}"#.into()),
        ("PUT", "/v1/aws/config/root") => (204, String::new()),
        ("GET", "/v1/aws/creds/r?ttl=1h") => (
            200,
            r#"{"request_id":"x","lease_id":"aws/creds/r/abc","lease_duration":3600,"renewable":true,
               "data":{"access_key":"AKIA","secret_key":"s","security_token":null},"warnings":["careful"]}"#
                .into(),
        ),
        ("PUT", t) if t.starts_with("/v1/sys/leases/revoke") => (202, String::new()),
        ("POST", "/v1/sys/mounts/aws") => (204, String::new()),
        ("POST", "/v1/sys/mounts/aws/tune") => (204, String::new()),
        ("GET", "/v1/sys/seal-status") => (
            200,
            r#"{"type":"shamir","initialized":true,"sealed":true,"t":1,"n":1,"progress":0,"nonce":"","version":"0.1.0"}"#
                .into(),
        ),
        ("GET", "/v1/aws/roles/?list=true") => (405, r#"{"errors":["unsupported operation"]}"#.into()),
        ("LIST", "/v1/aws/roles/") => (200, r#"{"data":{"keys":["b","a"]}}"#.into()),
        _ => (404, r#"{"errors":[]}"#.into()),
    }
}

#[test]
fn write_errors_and_success() {
    let (addr, log) = stub(generic_route);
    let (code, _, err) = cli(&addr, &["write", "aws/roles/bad", "x=1"], "");
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!(
            "Error writing data to aws/roles/bad: Error making API request.\n\nURL: PUT {addr}/v1/aws/roles/bad\nCode: 400. Errors:\n\n* missing credential_type\n"
        )
    );
    let (code, out, _) = cli(
        &addr,
        &["write", "aws/config/root", "-"],
        r#"{"access_key":"a","max_retries":3}"#,
    );
    assert_eq!(code, 0);
    assert_eq!(out, "Success! Data written to: aws/config/root\n");
    let body: serde_json::Value = serde_json::from_str(&log.lock().unwrap()[1].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"access_key": "a", "max_retries": 3})
    );
    let (code, _, err) = cli(&addr, &["write", "aws/config/root"], "");
    assert_eq!(
        (code, err.as_str()),
        (1, "Must supply data or use -force\n")
    );
}

#[test]
fn read_with_lease_warnings_and_json() {
    let (addr, _) = stub(generic_route);
    let (code, out, err) = cli(&addr, &["read", "aws/creds/r", "ttl=1h"], "");
    assert_eq!(code, 0);
    assert_eq!(
        err,
        "WARNING! The following warnings were returned from Vault:\n\n  * careful\n\n"
    );
    let expected = "\
Key                Value
---                -----
lease_id           aws/creds/r/abc
lease_duration     1h
lease_renewable    true
access_key         AKIA
secret_key         s
security_token     <nil>
";
    assert_eq!(out, expected);
    let (code, out, _) = cli(
        &addr,
        &["read", "-format=json", "aws/creds/r", "ttl=1h"],
        "",
    );
    assert_eq!(code, 0);
    assert!(
        out.starts_with("{\n  \"request_id\": \"x\",\n  \"lease_id\": \"aws/creds/r/abc\","),
        "{out}"
    );
    assert!(
        out.contains("\"warnings\": [\n    \"careful\"\n  ]"),
        "{out}"
    );
    let (code, _, err) = cli(&addr, &["read", "nothing/here"], "");
    assert_eq!(
        (code, err.as_str()),
        (2, "No value found at nothing/here\n")
    );
}

#[test]
fn lease_revoke_secrets_and_status() {
    let (addr, log) = stub(generic_route);
    let (code, out, _) = cli(&addr, &["lease", "revoke", "aws/creds/r/abc"], "");
    assert_eq!(code, 0);
    assert_eq!(out, "All revocation operations queued successfully!\n");
    {
        let log = log.lock().unwrap();
        assert_eq!(log[0].target, "/v1/sys/leases/revoke/aws/creds/r/abc");
        assert_eq!(log[0].body, r#"{"sync":false}"#);
    }
    let (code, out, _) = cli(&addr, &["lease", "revoke", "-prefix", "-sync", "aws/"], "");
    assert_eq!(code, 0);
    assert_eq!(out, "Success! Revoked any leases with prefix: aws/\n");

    let (code, out, _) = cli(
        &addr,
        &[
            "secrets",
            "enable",
            "-path=aws",
            "-default-lease-ttl=1h",
            "aws",
        ],
        "",
    );
    assert_eq!(code, 0);
    assert_eq!(out, "Success! Enabled the aws secrets engine at: aws/\n");
    let body: serde_json::Value =
        serde_json::from_str(&log.lock().unwrap().last().unwrap().body).unwrap();
    assert_eq!(body["type"], "aws");
    assert_eq!(body["config"]["default_lease_ttl"], "1h");
    assert_eq!(body["options"], serde_json::Value::Null);
    let (code, out, _) = cli(&addr, &["secrets", "tune", "-max-lease-ttl=2h", "aws"], "");
    assert_eq!(
        (code, out.as_str()),
        (0, "Success! Tuned the secrets engine at: aws/\n")
    );

    let (code, out, _) = cli(&addr, &["status"], "");
    assert_eq!(code, 2, "sealed exits 2");
    assert!(out.contains("Unseal Progress    0/1"), "{out}");

    let (code, out, _) = cli(&addr, &["list", "aws/roles"], "");
    assert_eq!((code, out.as_str()), (0, "Keys\n----\na\nb\n"));
}

#[test]
fn connection_errors_are_clear() {
    // Bind then drop to get a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("http://127.0.0.1:{port}");
    let (code, _, err) = cli(&addr, &["read", "secret/x"], "");
    assert_eq!(code, 2);
    assert!(
        err.starts_with(&format!(
            "Error reading secret/x: Get \"{addr}/v1/secret/x\": "
        )),
        "{err}"
    );
    let (code, _, err) = cli(&addr, &["status"], "");
    assert_eq!(code, 1);
    assert!(err.starts_with("Error checking seal status: "), "{err}");
}
