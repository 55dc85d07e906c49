//! The token store (Vault's `auth/token/`).
//!
//! Entries live at `sys/token/id/<hash>` (the token id is never stored); indexes:
//! `sys/token/accessor/<accessor>` → hash, `sys/token/parent/<parent>/<child>` for tree
//! revocation, and `sys/token/expire/<unix secs>/<hash>` ordered by due time, so start-up
//! reads nothing and the expiry worker walks only the due end. Leases a token creates
//! are indexed by the lease manager at `sys/expire/token/<hash>/<lease id>`.

mod entry;
pub(crate) mod expiry;
pub mod keys;
mod store;
pub mod ttl;

#[cfg(test)]
mod tests;

pub use entry::TokenEntry;
pub use store::{Created, LastUse, NewToken, TokenError, TokenStore};
