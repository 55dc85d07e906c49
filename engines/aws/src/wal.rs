//! Write-ahead entries for IAM users being created (vault-spec §4.8).
//!
//! Before the engine creates an IAM user it records the user name under
//! `wal/<uuid>`, in the shape Vault's framework uses:
//! `{"type":"user","data":{"UserName":"…"},"created_at":<unix seconds>}`. The host
//! commits a call's pending writes before every AWS call, so the entry is durable
//! before `CreateUser`. A successful issue deletes the entry as its last write, which
//! the host commits in the same batch as the lease; if anything fails after
//! `CreateUser`, the entry stays and [`crate::rollback::periodic`] deletes the
//! half-made user once the entry is five minutes old.

use coffer_sdk::{Error, Result, clock, random, storage};
use serde::{Deserialize, Serialize};

use crate::template::format_uuid;

/// The storage prefix of write-ahead entries.
pub const PREFIX: &str = "wal/";

/// The only kind of entry this engine writes.
pub const KIND_USER: &str = "user";

/// The payload of a `user` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserData {
    /// The IAM user name.
    #[serde(rename = "UserName")]
    pub user_name: String,
}

/// One write-ahead entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// What kind of work the entry guards (`user`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Kind-specific data; for `user`, a [`UserData`] object.
    pub data: serde_json::Value,
    /// When the entry was written, Unix seconds.
    pub created_at: i64,
}

impl Entry {
    /// The user name of a `user` entry.
    pub fn user_name(&self) -> Option<String> {
        serde_json::from_value::<UserData>(self.data.clone())
            .ok()
            .map(|d| d.user_name)
    }
}

/// Records that user `user_name` is about to be created; returns the entry id.
pub fn put_user(user_name: &str) -> Result<String> {
    let id = format_uuid(&random::bytes(16)?);
    let entry = Entry {
        kind: KIND_USER.to_string(),
        data: serde_json::to_value(UserData {
            user_name: user_name.to_string(),
        })?,
        created_at: i64::try_from(clock::now().as_secs()).unwrap_or(i64::MAX),
    };
    storage::put_json(&key(&id), &entry)
        .map_err(|e| Error::internal(format!("error writing WAL entry: {e}")))?;
    Ok(id)
}

/// Removes entry `id`.
pub fn delete(id: &str) -> Result<()> {
    storage::delete(&key(id))
}

/// The ids of all entries.
pub fn list() -> Result<Vec<String>> {
    Ok(storage::list(PREFIX)?
        .into_iter()
        .filter(|k| !k.ends_with('/'))
        .collect())
}

/// Reads entry `id`; `None` when it is gone.
pub fn get(id: &str) -> Result<Option<Entry>> {
    storage::get_json(&key(id))
}

fn key(id: &str) -> String {
    format!("{PREFIX}{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_sdk::testing;
    use serde_json::json;

    #[test]
    fn entries_have_vaults_shape() {
        testing::reset();
        let id = put_user("vault-root-web-1").unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(list().unwrap(), vec![id.clone()]);
        let raw: serde_json::Value =
            serde_json::from_slice(&testing::storage_value(&format!("wal/{id}")).unwrap()).unwrap();
        assert_eq!(
            raw,
            json!({"type": "user", "data": {"UserName": "vault-root-web-1"}, "created_at": 1_700_000_000})
        );
        let entry = get(&id).unwrap().unwrap();
        assert_eq!(entry.user_name().as_deref(), Some("vault-root-web-1"));
        delete(&id).unwrap();
        assert!(list().unwrap().is_empty());
        assert!(get(&id).unwrap().is_none());
    }
}
