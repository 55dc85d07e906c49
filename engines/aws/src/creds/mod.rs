//! `creds/:name` and `sts/:name`: issuing credentials for a role (vault-spec §4.5).
//!
//! Both paths serve every credential type; only legacy roles are tied to one of
//! them. The `iam_user` module creates IAM users; the `sts` module calls STS.

mod iam_user;
mod sts;
pub mod ttl;

use coffer_sdk::{Error, Request, Response, Result, Seconds};

use crate::aws::AwsError;
use crate::gofmt::{quote, string_slice_gosyntax};
use crate::roles::{self, RoleEntry, entry};

/// Fields `creds/:name` and `sts/:name` accept.
pub const FIELDS: &[&str] = &["role_arn", "ttl", "role_session_name", "mfa_code"];

/// An AWS failure while issuing credentials: `400` with Vault's context prefix, or
/// `502` when AWS throttled us.
pub(crate) fn aws_failure(context: &str, e: &AwsError) -> Error {
    let message = if context.is_empty() {
        e.to_string()
    } else {
        format!("{context}: {e}")
    };
    if e.is_throttled() {
        Error::rate_limited(message)
    } else {
        Error::invalid(message)
    }
}

/// Picks the credential type to issue: a role's only type, or for upgraded legacy
/// policy roles (iam_user + federation_token) the one matching the path.
fn credential_type(role: &RoleEntry, via_sts: bool) -> Result<String> {
    match role.credential_types.as_slice() {
        [] => Ok(String::new()),
        [only] => Ok(only.clone()),
        types => {
            let wanted = if via_sts {
                entry::FEDERATION_TOKEN
            } else {
                entry::IAM_USER
            };
            if !role.has_type(wanted) {
                return Err(Error::invalid(format!(
                    "requested credential type {} not in allowed credential types {}",
                    quote(wanted),
                    string_slice_gosyntax(types)
                )));
            }
            Ok(wanted.to_string())
        }
    }
}

/// `GET`/`POST creds/:name` and `sts/:name`.
pub fn issue(req: &Request) -> Result<Response> {
    let name = roles::name_param(req)?;
    let role = roles::load(name)
        .map_err(|e| Error::internal(format!("error retrieving role: {e}")))?
        .ok_or_else(|| Error::invalid(format!("Role {} not found", quote(name))))?;

    let ttl = ttl::sts_ttl(
        req.get::<Seconds>("ttl")?.map(Seconds::as_secs),
        role.default_sts_ttl_secs(),
        role.max_sts_ttl_secs(),
        req.mount().max_lease_ttl,
    );
    let role_arn = req.get::<String>("role_arn")?.unwrap_or_default();
    let session_name = req.get::<String>("role_session_name")?.unwrap_or_default();
    let mfa_code = req.get::<String>("mfa_code")?.unwrap_or_default();

    let via_sts = req.path().starts_with("sts");
    let credential_type = credential_type(&role, via_sts)?;

    // Legacy roles may hold more privileges in one form than the other (vault#4229),
    // so they stay tied to the path they were written for.
    if role.prohibit_flexible_cred_path {
        if credential_type == entry::IAM_USER && via_sts {
            return Err(Error::invalid(format!(
                "attempted to retrieve {} credentials through the sts path; this is not allowed for legacy roles",
                entry::IAM_USER
            )));
        }
        if credential_type != entry::IAM_USER && !via_sts {
            return Err(Error::invalid(format!(
                "attempted to retrieve {credential_type} credentials through the creds path; this is not allowed for legacy roles"
            )));
        }
    }

    let display_name = &req.caller().display_name;
    match credential_type.as_str() {
        entry::IAM_USER => iam_user::create(display_name, name, &role),
        entry::ASSUMED_ROLE => {
            let allowed = role.role_arns.as_deref().unwrap_or_default();
            let role_arn = if role_arn.is_empty() {
                match allowed {
                    [only] => only.clone(),
                    _ => {
                        return Err(Error::invalid(
                            "did not supply a role_arn parameter and unable to determine one",
                        ));
                    }
                }
            } else if allowed.contains(&role_arn) {
                role_arn
            } else {
                return Err(Error::invalid(format!(
                    "role_arn {} not in allowed role arns for Vault role {}",
                    quote(&role_arn),
                    quote(name)
                )));
            };
            sts::assume_role(display_name, name, &role, &role_arn, &session_name, ttl)
        }
        entry::FEDERATION_TOKEN => sts::federation_token(display_name, name, &role, ttl),
        entry::SESSION_TOKEN => sts::session_token(&role, &mfa_code, ttl),
        other => Err(Error::invalid(format!(
            "unknown credential_type: {}",
            quote(other)
        ))),
    }
}
