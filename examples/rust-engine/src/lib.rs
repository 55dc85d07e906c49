//! # apikey: an example Coffer secrets engine in Rust
//!
//! Issues API keys for your own services under Coffer leases, and answers whether a
//! presented key is valid. A key dies with its lease: when the lease expires or is
//! revoked, the host calls [`Engine::revoke`] and the key stops verifying.
//!
//! | path | operations | what |
//! |---|---|---|
//! | `roles/{name}` | read, write, delete | a role: `ttl`, `max_ttl`, `scopes`, `prefix` |
//! | `roles` | list | the roles |
//! | `creds/{name}` | read | a new key for the role, under a renewable lease |
//! | `verify` | write | `key=...` → `{"valid": bool, "role", "scopes", "key_id"}` |
//! | `keys` | list | the ids of live keys |
//! | `keys/{id}` | read | a live key's record (never the key itself) |
//!
//! A key looks like `ak_3f2a9c0d1e4b5a67.<64 hex digits>`: the role's prefix, a public
//! 16-hex-digit id, and a 256-bit secret. Storage keeps only the secret's SHA-256, so
//! neither storage nor `keys/{id}` can give a key away.
//!
//! See `README.md` next to this file for building and mounting it; the Coffer SDK's
//! crate documentation (`cargo doc -p coffer-sdk --open`) explains every piece used
//! here.

use coffer_sdk::serde_json::{Value, json};
use coffer_sdk::{
    Engine, Error, Info, Lease, LeaseGrant, LeaseTerms, Mount, Request, Response, Result, Router,
    Seconds, clock, log, random, storage,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The engine. Everything it knows lives in the mount's storage.
pub struct ApiKeys;

/// Prefix of keys whose role does not set one.
const DEFAULT_PREFIX: &str = "ak_";
/// Hex digits of a key's public id.
const ID_HEX: usize = 16;
/// Bytes of a key's secret part.
const SECRET_BYTES: usize = 32;
/// Most scopes a role may carry.
const MAX_SCOPES: usize = 64;

/// A role: what keys issued for it look like and how long they live.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Role {
    /// Lease TTL in seconds; 0 is the mount's default.
    pub ttl: i64,
    /// Lease maximum TTL in seconds; 0 is the mount's maximum.
    pub max_ttl: i64,
    /// Free-form permissions reported by `verify`, e.g. `["orders:read"]`.
    pub scopes: Vec<String>,
    /// Text every key of the role starts with.
    pub prefix: String,
}

/// What storage keeps about an issued key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeyRecord {
    role: String,
    scopes: Vec<String>,
    /// SHA-256 of the secret part, hex.
    digest: String,
    issued_at: String,
}

impl Engine for ApiKeys {
    fn info() -> Info {
        Info::new(
            "apikey",
            "v0.1.0",
            "API keys for your own services, issued under leases",
        )
        .path(
            "roles/{name}",
            "Create, read or delete a role: ttl, max_ttl, scopes, prefix.",
        )
        .path("roles/?$", "List the roles.")
        .path(
            "creds/{name}",
            "Issue a new key for the role, under a renewable lease.",
        )
        .path("verify", "Check a key: write key=<the key>.")
        .path("keys/{id}", "List live key ids, or read one key's record.")
    }

    fn router(_mount: &Mount) -> Result<Router> {
        let mut r = Router::new();
        r.path("roles/{name}")
            .read(read_role)
            .write(write_role)
            .delete(delete_role)
            .fields(&["ttl", "max_ttl", "scopes", "prefix"]);
        r.path("roles")
            .list(|_| Ok(Response::keys(storage::list("role/")?)));
        r.path("creds/{name}").read(issue);
        r.path("verify").write(verify).fields(&["key"]);
        r.path("keys/{id}").read(read_key);
        r.path("keys")
            .list(|_| Ok(Response::keys(storage::list("key/")?)));
        Ok(r)
    }

    fn renew(lease: &Lease) -> Result<LeaseTerms> {
        let id = lease_key_id(lease)?;
        let record: KeyRecord = storage::get_json(&format!("key/{id}"))?
            .ok_or_else(|| Error::invalid("the key no longer exists"))?;
        // A deleted role stops renewals; its keys live out their current lease.
        let role = load_role(&record.role)?
            .ok_or_else(|| Error::invalid(format!("role {:?} no longer exists", record.role)))?;
        Ok(LeaseTerms {
            ttl: role.ttl.max(0) as u64,
            max_ttl: role.max_ttl.max(0) as u64,
        })
    }

    fn revoke(lease: &Lease) -> Result<()> {
        // Deleting what is already gone succeeds, so a retried revoke is harmless.
        let id = lease_key_id(lease)?;
        storage::delete(&format!("key/{id}"))?;
        log::info(&format!("revoked key {id}"));
        Ok(())
    }
}

coffer_sdk::export_engine!(ApiKeys);

fn role_key(req: &Request) -> Result<String> {
    Ok(format!("role/{}", req.require::<String>("name")?))
}

fn load_role(name: &str) -> Result<Option<Role>> {
    storage::get_json(&format!("role/{name}"))
}

fn read_role(req: &Request) -> Result<Response> {
    let role: Role = storage::get_json(&role_key(req)?)?.ok_or_else(Error::not_found)?;
    Response::serialize(&role)
}

/// Creates a role or updates the fields given, keeping the others.
fn write_role(req: &Request) -> Result<Response> {
    let key = role_key(req)?;
    let mut role: Role = storage::get_json(&key)?.unwrap_or_else(|| Role {
        prefix: DEFAULT_PREFIX.to_string(),
        ..Role::default()
    });
    if let Some(Seconds(ttl)) = req.get("ttl")? {
        role.ttl = ttl;
    }
    if let Some(Seconds(max_ttl)) = req.get("max_ttl")? {
        role.max_ttl = max_ttl;
    }
    if let Some(scopes) = req.get::<Vec<String>>("scopes")? {
        role.scopes = scopes;
    }
    if let Some(prefix) = req.get::<String>("prefix")? {
        role.prefix = prefix;
    }
    if role.ttl < 0 || role.max_ttl < 0 {
        return Err(Error::invalid("ttl and max_ttl cannot be negative"));
    }
    if role.max_ttl > 0 && role.ttl > role.max_ttl {
        return Err(Error::invalid("ttl cannot be greater than max_ttl"));
    }
    if role.scopes.len() > MAX_SCOPES {
        return Err(Error::invalid(format!("at most {MAX_SCOPES} scopes")));
    }
    let prefix_ok = role.prefix.len() <= 16
        && role
            .prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !prefix_ok {
        return Err(Error::invalid(
            "prefix must be at most 16 letters, digits, '_' or '-'",
        ));
    }
    storage::put_json(&key, &role)?;
    Ok(Response::empty())
}

fn delete_role(req: &Request) -> Result<Response> {
    storage::delete(&role_key(req)?)?;
    Ok(Response::empty())
}

/// Issues a key: stores its record first, then hands it out under a lease whose
/// internal data names the record, so `revoke` can delete it.
fn issue(req: &Request) -> Result<Response> {
    let name: String = req.require("name")?;
    let role = load_role(&name)?.ok_or_else(|| Error::invalid(format!("unknown role: {name}")))?;
    let id = hex(&random::bytes(ID_HEX / 2)?);
    let secret = hex(&random::bytes(SECRET_BYTES)?);
    let record = KeyRecord {
        role: name.clone(),
        scopes: role.scopes.clone(),
        digest: digest(&secret),
        issued_at: clock::now().to_rfc3339(),
    };
    storage::put_json(&format!("key/{id}"), &record)?;
    log::info(&format!("issued key {id} for role {name}"));
    let grant = LeaseGrant::new(role.ttl.max(0) as u64)
        .max_ttl(role.max_ttl.max(0) as u64)
        .internal(&json!({ "id": id }))?;
    Ok(Response::data(json!({
        "key": format!("{}{id}.{secret}", role.prefix),
        "key_id": id,
        "role": name,
        "scopes": role.scopes,
    }))
    .lease(grant))
}

/// Checks a presented key. An unknown, revoked or malformed key is `valid: false`,
/// not an error: the caller asked a yes/no question.
fn verify(req: &Request) -> Result<Response> {
    let key: String = req.require("key")?;
    let invalid = || Ok(Response::data(json!({ "valid": false })));
    let Some((head, secret)) = key.rsplit_once('.') else {
        return invalid();
    };
    let Some(id) = head.get(head.len().saturating_sub(ID_HEX)..) else {
        return invalid();
    };
    if id.len() != ID_HEX || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return invalid();
    }
    let Some(record) = storage::get_json::<KeyRecord>(&format!("key/{id}"))? else {
        return invalid();
    };
    let prefix = &head[..head.len() - ID_HEX];
    let role_prefix_matches = load_role(&record.role)?.is_none_or(|r| r.prefix == prefix);
    if !role_prefix_matches || !same(&digest(secret), &record.digest) {
        return invalid();
    }
    Ok(Response::data(json!({
        "valid": true,
        "key_id": id,
        "role": record.role,
        "scopes": record.scopes,
    })))
}

fn read_key(req: &Request) -> Result<Response> {
    let id: String = req.require("id")?;
    let record: KeyRecord =
        storage::get_json(&format!("key/{id}"))?.ok_or_else(Error::not_found)?;
    Ok(Response::data(json!({
        "key_id": id,
        "role": record.role,
        "scopes": record.scopes,
        "issued_at": record.issued_at,
    })))
}

/// The key id a lease's internal data names.
fn lease_key_id(lease: &Lease) -> Result<String> {
    match lease.internal.get("id") {
        Some(Value::String(id)) if id.len() == ID_HEX => Ok(id.clone()),
        _ => Err(Error::internal("lease internal data holds no key id")),
    }
}

fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Compares two digests without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_sdk::{Operation, testing};

    fn call(op: Operation, path: &str, data: Value) -> Result<Response> {
        testing::call::<ApiKeys>(Request::new(op, path).with_data(testing::object(data)))
    }

    fn field(resp: &Response, name: &str) -> Value {
        resp.data_value()
            .and_then(|d| d.get(name))
            .cloned()
            .unwrap_or(Value::Null)
    }

    #[test]
    fn routes_are_valid() {
        let router = ApiKeys::router(&Mount::default());
        assert!(router.map(|r| r.check().is_ok()).unwrap_or(false));
    }

    #[test]
    fn issue_verify_revoke() {
        testing::reset();
        let role = json!({"ttl": "1h", "scopes": "orders:read,orders:write", "prefix": "shop_"});
        assert!(call(Operation::Update, "roles/shop", role).is_ok());

        let issued = call(Operation::Read, "creds/shop", json!({})).unwrap();
        let key = field(&issued, "key")
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(key.starts_with("shop_"), "{key}");
        let grant = issued.lease_grant().cloned().unwrap();
        assert_eq!(grant.ttl, 3600);

        let ok = call(Operation::Update, "verify", json!({ "key": key })).unwrap();
        assert_eq!(field(&ok, "valid"), json!(true));
        assert_eq!(field(&ok, "scopes"), json!(["orders:read", "orders:write"]));

        let forged = format!("{}0.{}", &key[..key.len() - 2], "0".repeat(64));
        let bad = call(Operation::Update, "verify", json!({ "key": forged })).unwrap();
        assert_eq!(field(&bad, "valid"), json!(false));
        let junk = call(Operation::Update, "verify", json!({ "key": "nonsense" })).unwrap();
        assert_eq!(field(&junk, "valid"), json!(false));

        let id = field(&issued, "key_id")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let lease = Lease {
            id: format!("apikey/creds/shop/{id}"),
            path: "creds/shop".into(),
            issue_time: 0,
            internal: testing::object(json!({ "id": id })),
            data: Default::default(),
            increment: 0,
            mount: Mount::default(),
        };
        assert_eq!(ApiKeys::renew(&lease).map(|t| t.ttl).ok(), Some(3600));
        assert!(ApiKeys::revoke(&lease).is_ok());
        assert!(ApiKeys::revoke(&lease).is_ok(), "revoke is idempotent");
        let gone = call(Operation::Update, "verify", json!({ "key": key })).unwrap();
        assert_eq!(field(&gone, "valid"), json!(false));
        // Only the digest was ever stored.
        for k in testing::storage_keys() {
            let v = testing::storage_value(&k).unwrap_or_default();
            assert!(!String::from_utf8_lossy(&v).contains(&key[key.len() - 64..]));
        }
    }

    #[test]
    fn bad_roles_are_refused() {
        testing::reset();
        let bad = call(
            Operation::Update,
            "roles/x",
            json!({"ttl": 10, "max_ttl": 5}),
        );
        assert_eq!(bad.err().map(|e| e.status()), Some(400));
        let bad = call(Operation::Update, "roles/x", json!({"prefix": "no spaces"}));
        assert_eq!(bad.err().map(|e| e.status()), Some(400));
        let missing = call(Operation::Read, "creds/nobody", json!({}));
        assert_eq!(missing.err().map(|e| e.status()), Some(400));
    }
}
