//! A small engine built twice with different versions (`COFFER_TEST_ENGINE_VERSION` at
//! build time, default `v1.0.0`), for the plugin catalog and hot-reload tests. Every
//! answer says which version produced it, so a test can tell which engine served a
//! request, and `revoke`/`renew` record which version handled a lease.
//!
//! * `version` (read): `{"version": V}`;
//! * `data/{key}` (read, write, delete, list `data`): stored values, with the version
//!   that wrote and the version that served them;
//! * `creds` (read): a leased secret whose lease remembers the issuing version;
//! * `leases/{token}` (read): who issued, renewed and revoked that lease.

// Only the wasm build exports the engine; a native build (clippy, `cargo test`) sees
// the code as unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use coffer_sdk::{
    Engine, Error, Info, Lease, LeaseGrant, LeaseTerms, Mount, Request, Response, Result, Router,
    storage,
};
use serde_json::{Value, json};

/// The version this build reports.
const VERSION: &str = match option_env!("COFFER_TEST_ENGINE_VERSION") {
    Some(v) => v,
    None => "v1.0.0",
};

struct Versioned;

impl Engine for Versioned {
    fn info() -> Info {
        Info::new(
            "versioned",
            VERSION,
            "Test engine that reports its version in every answer",
        )
        .path("version", "The version of the engine serving this mount.")
        .path(
            "data/{key}",
            "Read, write or delete a value; answers say which version served them.",
        )
        .path("data", "List stored keys.")
        .path(
            "creds",
            "Issue a leased secret that records the issuing version.",
        )
        .path(
            "leases/{token}",
            "Which versions issued, renewed and revoked a lease.",
        )
    }

    fn router(_mount: &Mount) -> Result<Router> {
        let mut router = Router::new();
        router
            .path("version")
            .read(|_| Ok(Response::data(json!({ "version": VERSION }))));
        router
            .path("data/{key}")
            .read(|req| {
                let mut stored: Value =
                    storage::get_json(&key(req)?)?.ok_or_else(Error::not_found)?;
                stored["served_by"] = json!(VERSION);
                Ok(Response::data(stored))
            })
            .write(|req| {
                let value: String = req.require("value")?;
                storage::put_json(
                    &key(req)?,
                    &json!({ "value": value, "written_by": VERSION }),
                )?;
                Ok(Response::data(json!({ "written_by": VERSION })))
            })
            .delete(|req| {
                storage::delete(&key(req)?)?;
                Ok(Response::empty())
            })
            .fields(&["value"]);
        router
            .path("data")
            .list(|_| Ok(Response::keys(storage::list("data/")?)));
        router.path("creds").read(|req| {
            let token = req.request_id().to_string();
            storage::put_json(
                &format!("leases/{token}"),
                &json!({ "issued_by": VERSION, "renewed_by": [], "revoked_by": null }),
            )?;
            let grant = LeaseGrant::new(3600)
                .renewable(true)
                .internal(&json!({ "token": token, "issued_by": VERSION }))?;
            Ok(Response::data(json!({ "token": token, "issued_by": VERSION })).lease(grant))
        });
        router.path("leases/{token}").read(|req| {
            let token: String = req.require("token")?;
            let record: Value =
                storage::get_json(&format!("leases/{token}"))?.ok_or_else(Error::not_found)?;
            Ok(Response::data(record))
        });
        Ok(router)
    }

    fn renew(lease: &Lease) -> Result<LeaseTerms> {
        update(lease, |r| {
            if let Some(list) = r["renewed_by"].as_array_mut() {
                list.push(json!(VERSION));
            }
        })?;
        Ok(LeaseTerms {
            ttl: if lease.increment > 0 {
                lease.increment
            } else {
                3600
            },
            max_ttl: 0,
        })
    }

    fn revoke(lease: &Lease) -> Result<()> {
        update(lease, |r| r["revoked_by"] = json!(VERSION))
    }
}

fn key(req: &Request) -> Result<String> {
    Ok(format!("data/{}", req.require::<String>("key")?))
}

fn update(lease: &Lease, change: impl FnOnce(&mut Value)) -> Result<()> {
    let token = lease
        .internal
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::internal("lease without a token"))?;
    let key = format!("leases/{token}");
    let mut record: Value = storage::get_json(&key)?.unwrap_or_else(|| json!({"renewed_by": []}));
    change(&mut record);
    storage::put_json(&key, &record)
}

coffer_sdk::export_engine!(Versioned);
