//! iam_user credentials: a new IAM user with the role's policies, groups and tags,
//! and an access key (vault-spec §4.5, steps 1–9).

use coffer_sdk::{Error, LeaseGrant, Response, Result};
use serde_json::json;

use super::aws_failure;
use crate::aws::{self, Tag};
use crate::config::{lease as lease_config, root};
use crate::lease::{Internal, SECRET_TYPE};
use crate::roles::RoleEntry;
use crate::username::{self, NameKind};
use crate::wal;

/// Creates the user and its key. The write-ahead entry is written before
/// `CreateUser` (the host commits it before the call) and deleted only once everything
/// succeeded, so any half-made user is deleted by the periodic rollback. The deletion
/// is the call's last write: the host commits it in one batch with the lease it
/// returns, so at no instant is the user covered by neither.
pub fn create(display_name: &str, role_name: &str, role: &RoleEntry) -> Result<Response> {
    let config = root::load()
        .map_err(|e| Error::internal(format!("unable to read configuration: {e}")))?
        .unwrap_or_default();
    let iam = aws::iam_client(&config.iam_client_config());

    let user = username::generate(
        display_name,
        role_name,
        NameKind::Iam,
        config.username_template(),
    )
    .map_err(Error::internal)?;

    let wal_id = wal::put_user(&user)?;

    let path = if role.user_path.is_empty() {
        "/"
    } else {
        &role.user_path
    };
    let boundary = Some(role.permissions_boundary_arn.as_str()).filter(|b| !b.is_empty());
    if let Err(e) = iam.create_user(&user, Some(path), boundary) {
        // Nothing was created, so there is nothing to roll back.
        if let Err(wal_err) = wal::delete(&wal_id) {
            return Err(Error::internal(format!(
                "failed to delete WAL entry: {wal_err}"
            )));
        }
        return Err(aws_failure("Error creating IAM user", &e));
    }

    // From here on a failure leaves the WAL entry for the rollback.
    for arn in role.policy_arns.as_deref().unwrap_or_default() {
        iam.attach_user_policy(&user, arn)
            .map_err(|e| aws_failure("Error attaching user policy", &e))?;
    }
    if !role.policy_document.is_empty() {
        // The inline policy is named after the Vault role.
        iam.put_user_policy(&user, role_name, &role.policy_document)
            .map_err(|e| aws_failure("Error putting user policy", &e))?;
    }
    for group in role.iam_groups.as_deref().unwrap_or_default() {
        iam.add_user_to_group(group, &user)
            .map_err(|e| aws_failure("Error adding user to group", &e))?;
    }
    let tags: Vec<Tag> = role
        .iam_tags
        .iter()
        .flatten()
        .map(|(key, value)| Tag {
            key: key.clone(),
            value: value.clone(),
        })
        .collect();
    if !tags.is_empty() {
        iam.tag_user(&user, &tags)
            .map_err(|e| aws_failure("Error adding tags to user", &e))?;
    }
    let key = iam
        .create_access_key(Some(&user))
        .map_err(|e| aws_failure("Error creating access keys", &e))?;

    // Without this the user would be rolled back under the client's feet, so the
    // secret is not returned if it fails.
    wal::delete(&wal_id)
        .map_err(|e| Error::internal(format!("failed to commit WAL entry: {e}")))?;

    // Vault ignores an unreadable lease config here and uses the mount defaults.
    let (ttl, max_ttl) = lease_config::load()
        .ok()
        .flatten()
        .unwrap_or_default()
        .terms();
    let internal = Internal {
        secret_type: SECRET_TYPE,
        username: user,
        policy: serde_json::to_value(role)?,
        is_sts: false,
    };
    let grant = LeaseGrant::new(ttl)
        .max_ttl(max_ttl)
        .renewable(true)
        .internal(&internal)?;
    Ok(Response::data(json!({
        "access_key": key.access_key_id,
        "secret_key": key.secret_access_key,
        "security_token": null,
        "session_token": null,
    }))
    .lease(grant))
}
