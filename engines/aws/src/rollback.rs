//! Deleting IAM users the engine created: on revoke, and for write-ahead entries
//! left behind by failed issues (vault-spec §4.7, §4.8).

use coffer_sdk::{Mount, Result, clock, log};

use crate::aws::{AwsError, Iam};
use crate::config::root;
use crate::wal;

/// How old a write-ahead entry, or a lease, must be before a missing user is taken
/// as deleted: younger, IAM's eventual consistency may be hiding a fresh user.
pub const MIN_AGE_SECS: u64 = 300;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Vault's `pathUserRollback`: lists the user's groups, inline policies, managed
/// policies and keys, then deletes the keys, detaches the managed policies, deletes
/// the inline policies, leaves the groups and deletes the user. The first failing
/// call aborts.
///
/// `NoSuchEntity` from the first call means the user is already gone, which is
/// success when there is no lease (`lease_issued` is `None`: a write-ahead entry,
/// which is only rolled back once old) or the lease is older than five minutes.
pub fn delete_user(
    iam: &dyn Iam,
    user: &str,
    lease_issued: Option<u64>,
    now_nanos: u64,
) -> Result<(), AwsError> {
    let groups = match iam.list_groups_for_user(user) {
        Ok(groups) => groups,
        Err(e) if e.is_no_such_entity() && missing_is_gone(lease_issued, now_nanos) => {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let inline = iam.list_user_policies(user)?;
    let managed = iam.list_attached_user_policies(user)?;
    let keys = iam.list_access_keys(user)?;

    for key in &keys {
        iam.delete_access_key(Some(user), key)?;
    }
    for arn in &managed {
        iam.detach_user_policy(user, arn)?;
    }
    for name in &inline {
        iam.delete_user_policy(user, name)?;
    }
    for group in &groups {
        iam.remove_user_from_group(group, user)?;
    }
    iam.delete_user(user)
}

fn missing_is_gone(lease_issued: Option<u64>, now_nanos: u64) -> bool {
    match lease_issued {
        None => true,
        Some(issued) => now_nanos.saturating_sub(issued) > MIN_AGE_SECS * NANOS_PER_SEC,
    }
}

/// Rolls back every write-ahead entry older than [`MIN_AGE_SECS`] and deletes the
/// entries that were rolled back. Failures are logged and retried on the next call;
/// one bad entry never stops the others.
pub fn periodic(_mount: &Mount) -> Result<()> {
    let ids = wal::list()?;
    if ids.is_empty() {
        return Ok(());
    }
    let now = clock::now();
    let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    // Built only once an entry is due, so idle mounts never touch AWS.
    let mut iam: Option<Box<dyn Iam>> = None;
    for id in ids {
        let entry = match wal::get(&id) {
            Ok(Some(entry)) => entry,
            Ok(None) => continue,
            Err(e) => {
                log::error(&format!("cannot read WAL entry {id}: {e}"));
                continue;
            }
        };
        if now_secs.saturating_sub(entry.created_at) < MIN_AGE_SECS as i64 {
            continue;
        }
        if entry.kind != wal::KIND_USER {
            log::error(&format!(
                "WAL entry {id}: unknown type to rollback: {:?}",
                entry.kind
            ));
            continue;
        }
        let Some(user) = entry.user_name() else {
            log::error(&format!("WAL entry {id} has no user name"));
            continue;
        };
        let client = match &iam {
            Some(client) => client,
            None => iam.insert(root::iam()?),
        };
        match delete_user(client.as_ref(), &user, None, now.as_nanos()) {
            Ok(()) => {
                if let Err(e) = wal::delete(&id) {
                    log::error(&format!("cannot delete WAL entry {id}: {e}"));
                } else {
                    log::info(&format!("rolled back IAM user {user} (WAL entry {id})"));
                }
            }
            Err(e) => log::warn(&format!(
                "rollback of IAM user {user} (WAL entry {id}) failed, will retry: {e}"
            )),
        }
    }
    Ok(())
}
