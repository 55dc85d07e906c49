//! Roles: `roles/` (list) and `roles/:name` (read, write, delete), stored at
//! `role/<name>`, with legacy `policy/<name>` entries upgraded on first read.

pub mod entry;
pub mod legacy;
mod write;

use coffer_sdk::{Error, Request, Response, Result, storage};

pub use entry::RoleEntry;
pub use write::{FIELDS, write};

/// Where roles are stored.
const ROLE_PREFIX: &str = "role/";
/// Where pre-0.11 Vault stored roles (raw policy text or an ARN).
const LEGACY_PREFIX: &str = "policy/";

/// Whether `name` is a valid role name (Vault's `GenericNameWithAtRegex`: word
/// characters, with `-`, `.` and `@` allowed inside). Other names match no route.
pub fn valid_name(name: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            word(first)
                && word(last)
                && bytes
                    .iter()
                    .all(|&b| word(b) || matches!(b, b'-' | b'.' | b'@'))
        }
        _ => false,
    }
}

/// The role name captured from the path; names Vault's routes would not match are
/// `unsupported path`.
pub fn name_param(req: &Request) -> Result<&str> {
    match req.param("name") {
        Some(name) if valid_name(name) => Ok(name),
        _ => Err(Error::UnsupportedPath),
    }
}

/// Loads role `name`, upgrading a legacy `policy/<name>` entry to `role/<name>`.
pub fn load(name: &str) -> Result<Option<RoleEntry>> {
    if let Some(role) = storage::get_json(&format!("{ROLE_PREFIX}{name}"))? {
        return Ok(Some(role));
    }
    let Some(raw) = storage::get(&format!("{LEGACY_PREFIX}{name}"))? else {
        return Ok(None);
    };
    let role = legacy::upgrade(&String::from_utf8_lossy(&raw));
    // Written before the legacy entry is deleted, so a failure in between leaves a
    // readable role either way.
    save(name, &role)?;
    storage::delete(&format!("{LEGACY_PREFIX}{name}"))?;
    Ok(Some(role))
}

/// Stores role `name`.
pub fn save(name: &str, role: &RoleEntry) -> Result<()> {
    storage::put_json(&format!("{ROLE_PREFIX}{name}"), role)
}

/// `LIST roles/`: current roles, then any not-yet-upgraded legacy ones.
pub fn list(_req: &Request) -> Result<Response> {
    let mut keys = storage::list(ROLE_PREFIX)?;
    keys.extend(storage::list(LEGACY_PREFIX)?);
    Ok(Response::keys(keys))
}

/// `GET roles/:name`.
pub fn read(req: &Request) -> Result<Response> {
    let role = load(name_param(req)?)?.ok_or_else(Error::not_found)?;
    Ok(Response::data(role.response_data()))
}

/// `DELETE roles/:name`: removes both the current and the legacy entry; `204` even
/// when there was nothing (Vault's code, not its docs). Issued credentials stay
/// valid until their leases end.
pub fn delete(req: &Request) -> Result<Response> {
    let name = name_param(req)?;
    for prefix in [LEGACY_PREFIX, ROLE_PREFIX] {
        storage::delete(&format!("{prefix}{name}"))?;
    }
    Ok(Response::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names() {
        for ok in ["a", "web", "my-role", "a.b@c", "A_1", "x-y-z"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", ".a", "a/b", "a b", "é", "a@"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
