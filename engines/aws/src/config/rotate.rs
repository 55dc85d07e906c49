//! `config/rotate-root`: replaces the configured access key with a fresh one
//! (vault-spec §4.3): `GetUser` → `CreateAccessKey` → store → `DeleteAccessKey(old)`.

use coffer_sdk::{Error, Request, Response, Result, storage};
use serde_json::json;

use super::root;
use crate::aws::{self, AwsError};

/// A failed AWS call during rotation: Vault reports these as plain errors (`500`);
/// throttling still maps to `502`.
fn failure(context: &str, e: &AwsError) -> Error {
    let message = format!("{context}: {e}");
    if e.is_throttled() {
        Error::rate_limited(message)
    } else {
        Error::internal(message)
    }
}

/// `POST config/rotate-root`.
pub fn write(_req: &Request) -> Result<Response> {
    let mut config = match root::load()? {
        Some(c) if !c.access_key.is_empty() && !c.secret_key.is_empty() => c,
        // Vault distinguishes "no config" (500) from "empty keys" (400); both mean
        // there is nothing to rotate, so both are the client's mistake here.
        _ => {
            return Err(Error::invalid(
                "Cannot call config/rotate-root when either access_key or secret_key is empty",
            ));
        }
    };
    let iam = aws::iam_client(&config.iam_client_config());

    let user = iam
        .get_user(None)
        .map_err(|e| failure("error calling GetUser", &e))?;
    let new_key = iam
        .create_access_key(Some(&user))
        .map_err(|e| failure("error calling CreateAccessKey", &e))?;

    let old_key = std::mem::replace(&mut config.access_key, new_key.access_key_id);
    config.secret_key = new_key.secret_access_key;
    storage::put_json(root::KEY, &config)
        .map_err(|e| Error::internal(format!("error saving new config/root: {e}")))?;

    // The old client still holds the old key, which is allowed to delete itself;
    // Vault does the same.
    iam.delete_access_key(Some(&user), &old_key)
        .map_err(|e| failure("error deleting old access key", &e))?;

    Ok(Response::data(json!({ "access_key": config.access_key })))
}
