//! Who is calling: the token store (Vault's `auth/token/…`) and authorisation.
//!
//! Tokens are kept only as salted HMAC-SHA256 digests, so a memory or storage dump does
//! not reveal a usable token. Layout:
//! * [`token`] — the store: entries, indexes, TTL rules, the expiry worker;
//! * `token_api` — the HTTP-facing `auth/token/…` endpoints;
//! * `authorize` / [`policy`] — ACL checks (owned by the policy work).

mod authorize;
pub mod policy;
pub mod token;
mod token_api;

pub use authorize::authorize;
pub use token::{Created, NewToken, TokenEntry, TokenError, TokenStore};
pub use token_api::handle as handle_token_api;

use std::sync::Arc;

/// The environment variable that turns the token-entry cache ([`TokenStore`]) and the
/// parsed-policy and ACL caches ([`policy::PolicyStore`]) off: `COFFER_AUTH_CACHE=off`.
/// A benchmarking switch (`benches/http_load.rs --auth-cache=off`) to measure what the
/// caches save; nothing else should need it.
pub const AUTH_CACHE_ENV: &str = "COFFER_AUTH_CACHE";

/// Whether the auth caches are on: anything but `off`, `0` or `false` in
/// [`AUTH_CACHE_ENV`] (or its absence) means on. Read by each store when it is built,
/// i.e. once per unseal, never per request.
pub fn auth_caches_enabled() -> bool {
    std::env::var(AUTH_CACHE_ENV).map_or(true, |v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false"
        )
    })
}

/// An authenticated caller.
#[derive(Clone, Default)]
pub struct Caller {
    /// The token id as presented (needed by `lookup-self`); never logged (the `Debug`
    /// impl leaves it out). Not zeroized on drop: a `Drop` impl would forbid the
    /// `..Default::default()` construction tests rely on.
    pub token: zeroize::Zeroizing<String>,
    /// The token's accessor.
    pub accessor: String,
    /// Display name, e.g. `root` or `token-alice`.
    pub display_name: String,
    /// Attached policies.
    pub policies: Vec<String>,
    /// Unix time (seconds) the token was created.
    pub creation_time: u64,
    /// Salted hash of the token: its storage key, and what leases are tied to.
    pub token_hash: String,
    /// Identity entity (always empty: no identity store yet).
    pub entity_id: String,
    /// Uses left after this request (0 = unlimited or used up).
    pub num_uses: i64,
    /// Whether the token has no parent.
    pub orphan: bool,
    /// Set on a use-limited token's last use: keeps the token from being revoked until
    /// this request (and every clone of this caller) is done.
    #[allow(dead_code)] // held only for its `Drop`
    pub(crate) last_use: Option<Arc<token::LastUse>>,
}

impl Caller {
    /// Whether the caller holds the `root` policy (Vault's "root or sudo" checks).
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }
}

impl std::fmt::Debug for Caller {
    // Hand-written so the token id never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("accessor", &self.accessor)
            .field("display_name", &self.display_name)
            .field("policies", &self.policies)
            .field("creation_time", &self.creation_time)
            .field("num_uses", &self.num_uses)
            .field("orphan", &self.orphan)
            .finish_non_exhaustive()
    }
}

/// Generates a Vault-style service token id: `hvs.` + 24 base62 characters.
pub fn generate_token() -> String {
    format!("hvs.{}", random_base62(24))
}

/// Random base62 string from the OS CSPRNG.
pub fn random_base62(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Starts the task that revokes tokens when their TTL runs out or their uses are spent
/// (with their children and leases). The integrator starts it at unseal and aborts it
/// when the server seals.
pub fn spawn_token_expiry(app: Arc<crate::app::App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(token::expiry::run(app))
}
