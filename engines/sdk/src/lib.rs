//! # coffer-sdk: write Coffer secrets engines in Rust
//!
//! A Coffer secrets engine is a WebAssembly component implementing the WIT world
//! `coffer:engine/secrets-engine` (`wit/` in the Coffer repository). The host runs it
//! sandboxed: no filesystem, network, environment or clock except what the host
//! grants through its imports, under a memory limit and a deadline per call. This crate
//! generates the bindings for that world and wraps them so that an engine is a set of
//! plain handler functions:
//!
//! * [`Engine`] — the trait an engine implements: [`Engine::info`], [`Engine::router`]
//!   and optionally [`Engine::renew`], [`Engine::revoke`] and [`Engine::periodic`];
//! * [`export_engine!`] — exports an [`Engine`] as the component's `engine` interface;
//! * [`Router`] — maps path patterns (`roles/{name}`, `data/{path+}`) and operations to
//!   handlers, answering `unsupported path`/`unsupported operation` for the rest;
//! * [`Request`] — the operation, path, captured path parameters, mount and caller, and
//!   typed field access with Vault's lenient conversions ([`FromField`]);
//! * [`Response`] and [`LeaseGrant`] — data, warnings, refresh interval, lease;
//! * [`Error`] — one variant per HTTP status the host can answer with;
//! * [`storage`], [`clock`], [`random`], [`log`] — the host's imports. An engine's
//!   component imports only those it really calls (the host refuses components that
//!   import something not granted to them).
//! * [`Timestamp`], [`Seconds`] and [`duration`] — Vault's time and duration formats;
//! * [`testing`] — an in-memory fake host for native unit tests.
//!
//! `examples/rust-engine` in the Coffer repository is a complete, tested engine built
//! with this crate (API keys issued under leases); its `README.md` has the exact
//! commands used below.
//!
//! # From nothing to a mounted engine
//!
//! ## 1. The crate
//!
//! An engine is a library crate of type `cdylib` (the wasm module) and, for native
//! unit tests, `rlib`:
//!
//! ```toml
//! [package]
//! name = "greeter"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! coffer-sdk = { path = "../coffer/engines/sdk" }   # or a git dependency
//! serde = { version = "1", features = ["derive"] }
//!
//! # Small, and a panic traps (failing only that request) instead of unwinding.
//! [profile.release]
//! opt-level = "s"
//! lto = true
//! panic = "abort"
//! strip = true
//! ```
//!
//! ## 2. The engine
//!
//! A complete engine that stores a greeting per name:
//!
//! ```
//! use coffer_sdk::{Engine, Error, Info, Mount, Request, Response, Result, Router, storage};
//! use serde_json::json;
//!
//! pub struct Greeter;
//!
//! impl Engine for Greeter {
//!     fn info() -> Info {
//!         Info::new("greeter", "v0.1.0", "Stores a greeting per name")
//!             .path("greetings/{name}", "Read, write or delete a greeting.")
//!     }
//!
//!     fn router(_mount: &Mount) -> Result<Router> {
//!         let mut router = Router::new();
//!         router
//!             .path("greetings/{name}")
//!             .read(read)
//!             .write(write)
//!             .delete(|req| {
//!                 storage::delete(&key(req)?)?;
//!                 Ok(Response::empty())
//!             })
//!             .fields(&["greeting"]);
//!         router.path("greetings").list(|_| Ok(Response::keys(storage::list("greetings/")?)));
//!         Ok(router)
//!     }
//! }
//!
//! fn key(req: &Request) -> Result<String> {
//!     Ok(format!("greetings/{}", req.require::<String>("name")?))
//! }
//!
//! fn read(req: &Request) -> Result<Response> {
//!     let greeting: String = storage::get_json(&key(req)?)?.ok_or_else(Error::not_found)?;
//!     Ok(Response::data(json!({ "greeting": greeting })))
//! }
//!
//! fn write(req: &Request) -> Result<Response> {
//!     let greeting: String = req.require("greeting")?;
//!     if greeting.len() > 100 {
//!         return Err(Error::invalid("greeting is too long"));
//!     }
//!     storage::put_json(&key(req)?, &greeting)?;
//!     Ok(Response::empty())
//! }
//!
//! coffer_sdk::export_engine!(Greeter);
//! # fn main() {
//! #     use coffer_sdk::{Operation, testing};
//! #     testing::reset();
//! #     let write = Request::new(Operation::Update, "greetings/bob")
//! #         .with_data(testing::object(json!({"greeting": "hi"})));
//! #     testing::call::<Greeter>(write).unwrap();
//! #     let read = testing::call::<Greeter>(Request::new(Operation::Read, "greetings/bob")).unwrap();
//! #     assert_eq!(read.data_value(), Some(&json!({"greeting": "hi"})));
//! # }
//! ```
//!
//! ## 3. Test it natively
//!
//! `cargo test` builds the crate for your machine, where the host imports are an
//! in-memory fake (see [Testing engines natively](#testing-engines-natively)):
//!
//! ```
//! # use coffer_sdk::{Engine, Info, Mount, Response, Result, Router};
//! # struct Greeter;
//! # impl Engine for Greeter {
//! #     fn info() -> Info { Info::new("greeter", "v0.1.0", "") }
//! #     fn router(_: &Mount) -> Result<Router> {
//! #         let mut r = Router::new();
//! #         r.path("greetings/{name}").read(|_| Ok(Response::empty()));
//! #         Ok(r)
//! #     }
//! # }
//! use coffer_sdk::{Operation, Request, testing};
//!
//! testing::reset();
//! let resp = testing::call::<Greeter>(Request::new(Operation::Read, "greetings/bob"));
//! assert!(resp.is_ok());
//! // Patterns are parsed at run time: check them once in a test.
//! assert!(Greeter::router(&Mount::default()).is_ok_and(|r| r.check().is_ok()));
//! ```
//!
//! ## 4. Build the component
//!
//! Compile for `wasm32-unknown-unknown` and wrap the core module into a component with
//! [`wasm-tools`](https://github.com/bytecodealliance/wasm-tools) (`cargo install
//! wasm-tools`, or `.venv/bin/wasm-tools` after Coffer's `scripts/test`). The component
//! type is embedded by this crate, so nothing else is needed:
//!
//! ```sh
//! rustup target add wasm32-unknown-unknown
//! cargo build --target wasm32-unknown-unknown --release
//! wasm-tools component new target/wasm32-unknown-unknown/release/greeter.wasm \
//!     -o plugins/greeter.wasm
//! wasm-tools component wit plugins/greeter.wasm   # optional: what it imports and exports
//! ```
//!
//! Coffer's own test guests and example are built the same way by `scripts/test`
//! (`--profile engine --target-dir target/engines`, then `wasm-tools component new`).
//!
//! ## 5. Mount it
//!
//! A dev server makes every `NAME.wasm` in its plugin directory mountable as engine
//! type `NAME`:
//!
//! ```sh
//! coffer server -dev -dev-plugin-dir=plugins &
//! export COFFER_ADDR=http://127.0.0.1:8200
//! coffer secrets enable -path=greet greeter      # or POST sys/mounts/greet {"type":"greeter"}
//! coffer write greet/greetings/bob greeting=hello
//! coffer read greet/greetings/bob
//! ```
//!
//! Load failures are reported when mounting: a component that does not compile,
//! imports an interface it was not granted, or fails in `info()`.
//!
//! # The contract
//!
//! The WIT interface `engine` (in `wit/engine.wit`) is what the host calls; each
//! export maps to one place in this crate:
//!
//! | WIT export | SDK | when |
//! |---|---|---|
//! | `info` | [`Engine::info`] | at load; must not touch storage |
//! | `read`, `write`, `delete`, `list` | [`Engine::router`], then the matching [`Route`] handler | every request to the mount |
//! | `renew` | [`Engine::renew`] | a client renews a lease the engine granted renewable |
//! | `revoke` | [`Engine::revoke`] | a lease expires or is revoked; retried with backoff until `Ok` |
//! | `periodic` | [`Engine::periodic`] | about once a minute per mount |
//!
//! **Instances.** An instance may serve several calls of the same mount (the host
//! keeps warm instances of engines that are expensive to instantiate, such as
//! interpreted ones), or just one; it never serves two mounts and is discarded after a
//! trap. Do not rely on either fresh or persistent globals: keep all state in
//! [`storage`]. A `static` cache is acceptable only if it is derived from storage and
//! correct for any call of the same mount.
//!
//! **Limits.** Each call runs under the mount's memory limit (128 MiB by default) and
//! deadline (30 s); the response may be at most 16 MiB; one call may log 256 messages
//! of at most 4096 characters. Exceeding a limit, panicking or trapping fails that
//! request with a `500` naming the engine; the server and other mounts carry on.
//!
//! # Routing
//!
//! [`Engine::router`] runs for every request, so routes may depend on mount options
//! ([`Mount::option`]). [`Router::path`] takes a pattern of literal segments,
//! `{name}` (one segment), and a final `{name*}` / `{name+}` (the rest of the path,
//! possibly empty / non-empty); see [`Router`] for the exact rules. A [`Route`] takes a
//! handler per operation: [`Route::read`] (`GET`), [`Route::write`] (`POST`/`PUT`,
//! create and update), [`Route::patch`], [`Route::delete`] and [`Route::list`]
//! (`LIST`, `GET ?list=true`). [`Route::fields`] declares the fields a route
//! understands, so unknown ones draw Vault's "ignored these unrecognized parameters"
//! warning.
//!
//! # Typed fields
//!
//! Path parameters and body (or query) fields are read the same way, converted with
//! Vault's lenient rules ([`FromField`] has the table): a CLI string `"1h"`, a JSON
//! number `3600` and a form field all read as the same [`Seconds`].
//!
//! ```
//! # use coffer_sdk::{Request, Result, Seconds};
//! fn handler(req: &Request) -> Result<()> {
//!     let name: String = req.require("name")?;                    // 400 if missing
//!     let ttl: Option<Seconds> = req.get("ttl")?;                 // None if absent or null
//!     let scopes: Vec<String> = req.get_or("scopes", Vec::new())?; // "a,b" or ["a","b"]
//!     let exported = req.get_or("exported", true)?;                // "false", 0, false ...
//!     # let _ = (name, ttl, scopes, exported);
//!     Ok(())
//! }
//! ```
//!
//! # Errors and statuses
//!
//! A handler's `Err` becomes Vault's error body `{"errors":[message]}` with the status
//! of its [`Error`] variant:
//!
//! | [`Error`] | constructor | status |
//! |---|---|---|
//! | `InvalidRequest` | [`Error::invalid`] | `400` |
//! | `PermissionDenied` | [`Error::permission_denied`] | `403` |
//! | `NotFound(None)` | [`Error::not_found`] | `404`, `{"errors":[]}` |
//! | `NotFound(Some(data))` | [`Error::not_found_with`] | `404` with the normal envelope |
//! | `UnsupportedPath` | (no route matched) | `404 unsupported path` |
//! | `UnsupportedOperation` | (route without that handler) | `405 unsupported operation` |
//! | `Internal` | [`Error::internal`] | `500` |
//! | `UpstreamRateLimited` | [`Error::rate_limited`] | `502` |
//!
//! `?` converts storage failures (a bad key is `400`, a backend failure `500`) and
//! `serde_json` errors (`500`: the engine's bug or corrupt storage, never the client's).
//! A successful response with neither data nor warnings is `204 No Content`.
//!
//! # Leases: dynamic secrets
//!
//! A response may put its data under a lease ([`Response::lease`]). The host stores the
//! lease before the client sees the secret, answers with `lease_id`,
//! `lease_duration` and `renewable`, and later calls the engine back:
//! [`Engine::renew`] when a client renews (return new [`LeaseTerms`]; the host caps
//! them by the grant's and mount's maximum), [`Engine::revoke`] when the lease expires
//! or is revoked (undo what the secret gave access to; an error makes the host retry
//! with backoff, so revoke must be idempotent). [`LeaseGrant::internal`] is an
//! engine-private JSON object handed back to both, never shown to clients:
//!
//! ```
//! use coffer_sdk::{Engine, Error, Info, Lease, LeaseGrant, LeaseTerms, Mount, Request,
//!                  Response, Result, Router, random, storage};
//! use serde_json::json;
//!
//! pub struct Tokens;
//!
//! impl Engine for Tokens {
//!     fn info() -> Info {
//!         Info::new("tokens", "v0.1.0", "Short-lived random tokens")
//!     }
//!     fn router(_mount: &Mount) -> Result<Router> {
//!         let mut r = Router::new();
//!         r.path("creds").read(issue);
//!         Ok(r)
//!     }
//!     fn renew(lease: &Lease) -> Result<LeaseTerms> {
//!         // Refuse once the token is gone; otherwise another 5 minutes.
//!         let id = token_id(lease)?;
//!         storage::get(&format!("token/{id}"))?.ok_or_else(|| Error::invalid("token is gone"))?;
//!         Ok(LeaseTerms { ttl: 300, max_ttl: 0 })
//!     }
//!     fn revoke(lease: &Lease) -> Result<()> {
//!         storage::delete(&format!("token/{}", token_id(lease)?)) // deleting twice is fine
//!     }
//! }
//!
//! fn issue(_req: &Request) -> Result<Response> {
//!     let id: String = random::bytes(8)?.iter().map(|b| format!("{b:02x}")).collect();
//!     // Record first, then hand out: a crash in between leaves no unrevocable secret.
//!     storage::put(&format!("token/{id}"), b"live")?;
//!     let grant = LeaseGrant::new(300).max_ttl(3600).internal(&json!({ "id": id }))?;
//!     Ok(Response::data(json!({ "token": id })).lease(grant))
//! }
//!
//! fn token_id(lease: &Lease) -> Result<String> {
//!     lease.internal.get("id").and_then(|v| v.as_str()).map(String::from)
//!         .ok_or_else(|| Error::internal("lease has no token id"))
//! }
//! # fn main() {
//! #     use coffer_sdk::{Operation, testing};
//! #     testing::reset();
//! #     let resp = testing::call::<Tokens>(Request::new(Operation::Read, "creds")).unwrap();
//! #     let grant = resp.lease_grant().unwrap();
//! #     assert_eq!((grant.ttl, grant.max_ttl, grant.renewable), (300, 3600, true));
//! # }
//! ```
//!
//! Unleased data that clients may cache can carry [`Response::refresh_interval`]
//! instead. [`Engine::periodic`] is the place to roll back half-finished work (write a
//! record before calling out, delete it after).
//!
//! # Host imports
//!
//! * [`storage`] — the mount's private key/value store: [`storage::get`],
//!   [`storage::put`], [`storage::delete`], [`storage::list`] (one level) and the JSON
//!   helpers [`storage::get_json`] / [`storage::put_json`]. Keys are scoped to the mount,
//!   values encrypted by the host, every successful write durable. Calls are not
//!   transactional: order writes so a failure half-way leaves storage readable.
//! * [`clock`] — [`clock::now`], the host's wall clock, as a [`Timestamp`].
//! * [`random`] — [`random::bytes`] / [`random::fill`], the host's CSPRNG.
//! * [`log`] — [`log::info`], [`log::warn`] and friends, into the server's log tagged
//!   with engine and mount. Never log secret values.
//!
//! # Testing engines natively
//!
//! When compiled for a non-wasm target (`cargo test`), the host imports are replaced
//! by an in-memory fake: storage is a map, the clock is fixed until moved, randomness
//! is deterministic. [`testing`] holds the controls and [`testing::call`] runs a request
//! through an engine's router exactly as the exported functions do; call
//! [`Engine::renew`] / [`Engine::revoke`] directly with a [`Lease`] to test leases.
//!
//! # Conventions that keep engines Vault-compatible
//!
//! * A read of nothing is `Err(Error::not_found())` (`404 {"errors":[]}`).
//! * Validation failures are `Error::invalid(..)` (`400`); reserve
//!   `Error::internal(..)` for the engine's own failures.
//! * Writes that return nothing answer `Response::empty()` (`204`).
//! * List handlers answer [`Response::keys`]; the host turns an empty list into `404`.
//! * Never put secret values into errors or log messages.

#![deny(unsafe_code)]
#![warn(missing_docs)]

// Lets the generated bindings and the export macros name this crate as `::coffer_sdk`
// both here and in the engine crates that expand them.
extern crate self as coffer_sdk;

/// Bindings generated by `wit-bindgen` for the world `coffer:engine/secrets-engine`.
///
/// Engines rarely need them directly; they are public so the export macro can reach
/// them from the engine's crate.
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "secrets-engine",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "::coffer_sdk::bindings",
        runtime_path: "::coffer_sdk::__private::wit_bindgen::rt",
    });
}

mod engine;
mod error;
mod fields;
mod host;
mod request;
mod response;
mod router;
mod time;

pub mod clock;
pub mod duration;
pub mod log;
pub mod random;
pub mod storage;

#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use duration::Seconds;
pub use engine::{Engine, Info, Lease, LeaseTerms, dispatch};
pub use error::{Error, Result};
pub use fields::{FromField, parse_bool};
pub use request::{Caller, Mount, Operation, Request};
pub use response::{LeaseGrant, Response};
pub use router::{Handler, Pattern, Route, Router};
pub use time::Timestamp;

/// Re-exported so engines use the same `serde_json` as the SDK's types.
pub use serde_json;

/// Items the macros expand to. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::coffer::engine::types as wit;
    pub use crate::bindings::exports::coffer::engine::engine::Guest;
    pub use crate::engine::glue;
    pub use wit_bindgen;
}

/// Exports an [`Engine`] as the component's `coffer:engine/engine` interface.
///
/// Use it once, at the top level of the engine's `cdylib` crate:
///
/// ```ignore
/// pub struct Kv;
/// impl coffer_sdk::Engine for Kv { /* ... */ }
/// coffer_sdk::export_engine!(Kv);
/// ```
#[macro_export]
macro_rules! export_engine {
    ($engine:ty) => {
        const _: () = {
            use $crate::__private::{glue, wit};

            // Natively the struct is only type-checked (see below), never used.
            #[allow(dead_code)]
            struct CofferEngineExport;

            impl $crate::__private::Guest for CofferEngineExport {
                fn info() -> wit::EngineInfo {
                    glue::info::<$engine>()
                }
                fn read(req: wit::Request) -> ::core::result::Result<wit::Response, wit::Error> {
                    glue::request::<$engine>(req)
                }
                fn write(req: wit::Request) -> ::core::result::Result<wit::Response, wit::Error> {
                    glue::request::<$engine>(req)
                }
                fn delete(req: wit::Request) -> ::core::result::Result<wit::Response, wit::Error> {
                    glue::request::<$engine>(req)
                }
                fn list(req: wit::Request) -> ::core::result::Result<wit::Response, wit::Error> {
                    glue::request::<$engine>(req)
                }
                fn renew(lease: wit::Lease) -> ::core::result::Result<wit::LeaseTerms, wit::Error> {
                    glue::renew::<$engine>(lease)
                }
                fn revoke(lease: wit::Lease) -> ::core::result::Result<(), wit::Error> {
                    glue::revoke::<$engine>(lease)
                }
                fn periodic(mount: wit::Mount) -> ::core::result::Result<(), wit::Error> {
                    glue::periodic::<$engine>(mount)
                }
            }

            // The component's export symbols are named like `coffer:engine/engine@0.1.0#read`,
            // which native linkers reject in a cdylib's symbol list; they mean nothing
            // outside wasm anyway, so native builds (unit tests) leave them out.
            #[cfg(target_arch = "wasm32")]
    $crate::bindings::export!(CofferEngineExport with_types_in $crate::bindings);
        };
    };
}
