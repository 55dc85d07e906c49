//! STS credentials: `assumed_role`, `federation_token` and `session_token`
//! (vault-spec §4.5). Nothing is created in IAM, so there is no write-ahead entry.

use coffer_sdk::{Error, Response, Result};
use serde_json::{Value, json};

use super::aws_failure;
use crate::aws::{self, AssumeRoleInput, Credentials, Iam, Tag};
use crate::config::root::{self, RootConfig};
use crate::lease::{self, Internal};
use crate::policy;
use crate::roles::RoleEntry;
use crate::username::{self, NameKind};

/// The inline policy documents and managed policy ARNs of `groups` (Vault's
/// `getGroupPolicies`), fetched with the configured IAM credentials.
fn group_policies(config: &RootConfig, groups: &[String]) -> Result<(Vec<String>, Vec<String>)> {
    if groups.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let iam: Box<dyn Iam> = aws::iam_client(&config.iam_client_config());
    let mut documents = Vec::new();
    let mut arns = Vec::new();
    for group in groups {
        arns.extend(
            iam.list_attached_group_policies(group)
                .map_err(|e| aws_failure("", &e))?,
        );
        for name in iam
            .list_group_policies(group)
            .map_err(|e| aws_failure("", &e))?
        {
            documents.push(
                iam.get_group_policy(group, &name)
                    .map_err(|e| aws_failure("", &e))?,
            );
        }
    }
    Ok((documents, arns))
}

/// The role's session policy and policy ARNs, with its groups' policies merged in.
fn session_policies(config: &RootConfig, role: &RoleEntry) -> Result<(String, Vec<String>)> {
    let mut document = role.policy_document.clone();
    let mut arns = role.policy_arns.clone().unwrap_or_default();
    let (group_documents, group_arns) =
        group_policies(config, role.iam_groups.as_deref().unwrap_or_default())?;
    if !group_documents.is_empty() {
        let mut all = group_documents;
        all.push(document);
        document = policy::combine(&all).map_err(Error::invalid)?;
    }
    arns.extend(group_arns);
    Ok((document, arns))
}

/// The duration to ask AWS for.
fn duration(ttl: i64) -> Result<Option<u32>> {
    u32::try_from(ttl).map(Some).map_err(|_| {
        Error::invalid(format!(
            "invalid ttl {ttl}: must be between 0 and {} seconds",
            u32::MAX
        ))
    })
}

fn load_config() -> Result<RootConfig> {
    Ok(root::load()
        .map_err(|e| Error::internal(format!("unable to read configuration: {e}")))?
        .unwrap_or_default())
}

/// The response for STS credentials: both token keys (Vault ≥ 1.16), the seconds
/// until expiry, and a non-renewable lease ending with the credentials.
fn respond(creds: Credentials, arn: Option<String>, internal: &Internal) -> Result<Response> {
    let ttl = lease::sts_ttl(creds.expiration);
    let mut data = json!({
        "access_key": creds.access_key_id,
        "secret_key": creds.secret_access_key,
        "security_token": creds.session_token,
        "session_token": creds.session_token,
        "ttl": ttl,
    });
    if let (Some(arn), Value::Object(map)) = (arn, &mut data) {
        map.insert("arn".into(), Value::String(arn));
    }
    Ok(Response::data(data).lease(lease::sts_grant(creds.expiration, internal)?))
}

/// `assumed_role`: `sts:AssumeRole` on `role_arn`.
pub fn assume_role(
    display_name: &str,
    role_name: &str,
    role: &RoleEntry,
    role_arn: &str,
    session_name: &str,
    ttl: i64,
) -> Result<Response> {
    let config = load_config()?;
    let (policy_document, policy_arns) = session_policies(&config, role)?;
    let sts = aws::sts_client(&config.sts_client_config());

    let session_name = if session_name.is_empty() {
        // Vault names sessions like IAM users (64 characters).
        username::generate(
            display_name,
            role_name,
            NameKind::Iam,
            config.username_template(),
        )
        .map_err(Error::internal)?
    } else {
        username::normalize(session_name)
    };

    let input = AssumeRoleInput {
        role_arn: role_arn.to_string(),
        role_session_name: session_name.clone(),
        duration_seconds: duration(ttl)?,
        policy: Some(policy_document).filter(|p| !p.is_empty()),
        policy_arns,
        tags: role
            .session_tags
            .iter()
            .flatten()
            .map(|(key, value)| Tag {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        external_id: Some(role.external_id.clone()).filter(|e| !e.is_empty()),
    };
    let (creds, arn) = sts
        .assume_role(&input)
        .map_err(|e| aws_failure("Error assuming role", &e))?;
    respond(creds, Some(arn), &Internal::sts(session_name, role_arn))
}

/// `federation_token`: `sts:GetFederationToken` named with an STS-style name.
pub fn federation_token(
    display_name: &str,
    role_name: &str,
    role: &RoleEntry,
    ttl: i64,
) -> Result<Response> {
    let config = load_config()?;
    let (policy_document, policy_arns) = session_policies(&config, role)?;
    let sts = aws::sts_client(&config.sts_client_config());

    let name = username::generate(
        display_name,
        role_name,
        NameKind::Sts,
        config.username_template(),
    )
    .map_err(Error::internal)?;

    // Without a policy the token would carry the engine's own permissions.
    if policy_document.is_empty() && policy_arns.is_empty() {
        return Err(Error::invalid(
            "must specify at least one of policy_arns or policy_document with federation_token credential_type",
        ));
    }
    let creds = sts
        .get_federation_token(
            &name,
            duration(ttl)?,
            Some(policy_document.as_str()).filter(|p| !p.is_empty()),
            &policy_arns,
        )
        .map_err(|e| aws_failure("Error generating STS keys", &e))?;
    respond(creds, None, &Internal::sts(name, policy_document))
}

/// `session_token`: `sts:GetSessionToken`, with MFA when the role has a device.
pub fn session_token(role: &RoleEntry, mfa_code: &str, ttl: i64) -> Result<Response> {
    let sts = root::sts()?;
    let creds = sts
        .get_session_token(
            duration(ttl)?,
            Some(role.serial_number.as_str()).filter(|s| !s.is_empty()),
            Some(mfa_code).filter(|c| !c.is_empty()),
        )
        .map_err(|e| aws_failure("Error generating STS keys", &e))?;
    respond(creds, None, &Internal::sts("", ""))
}
