//! Coffer: a Vault-compatible secrets server whose secrets engines are sandboxed
//! WebAssembly components.
//!
//! A request reads top to bottom through these modules:
//! [`http`] (decode, envelope) → [`lifecycle`] (sealed? 503) → [`auth`] (token, ACL) and
//! [`audit`] → [`router`] (sys or mount) →
//! [`mounts`] (mount table) → [`runtime`] (fresh engine instance, host imports) →
//! [`storage`].

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod http;
pub mod leases;
pub mod lifecycle;
pub mod mounts;
pub mod plugins;
pub mod router;
pub mod runtime;
pub mod seal;
pub mod server;
pub mod storage;
pub mod sys;
pub mod util;
