//! Pre-0.11 roles: the `policy` and `arn` write parameters, and `policy/<name>`
//! storage entries that are upgraded to `role/<name>` on first read (vault-spec §4.4).

use super::entry::{ASSUMED_ROLE, FEDERATION_TOKEN, IAM_USER, RoleEntry};
use crate::{arn, policy};

/// The warning every write with a legacy parameter gets.
pub const WARNING: &str =
    "Detected use of legacy role or policy parameter. Please upgrade to use the new parameters.";

/// Turns legacy role data (a policy document or an ARN) into a role. Data that cannot
/// be understood is kept in `invalid_data`.
pub fn upgrade(data: &str) -> RoleEntry {
    let invalid = || RoleEntry {
        invalid_data: data.to_string(),
        version: 1,
        ..RoleEntry::default()
    };
    if data.starts_with("arn:") {
        let Ok(parsed) = arn::parse(data) else {
            return invalid();
        };
        let (credential_type, role_arns, policy_arns) =
            match parsed.resource.split('/').next().unwrap_or("") {
                "role" => (ASSUMED_ROLE, Some(vec![data.to_string()]), None),
                "policy" => (IAM_USER, None, Some(vec![data.to_string()])),
                _ => return invalid(),
            };
        return RoleEntry {
            credential_types: vec![credential_type.to_string()],
            role_arns,
            policy_arns,
            prohibit_flexible_cred_path: true,
            version: 1,
            ..RoleEntry::default()
        };
    }
    match policy::compact(data) {
        // A bare policy served both creds/ (IAM user) and sts/ (federation token).
        Some(document) => RoleEntry {
            credential_types: vec![IAM_USER.to_string(), FEDERATION_TOKEN.to_string()],
            policy_document: document,
            prohibit_flexible_cred_path: true,
            version: 1,
            ..RoleEntry::default()
        },
        None => invalid(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_legacy_data() {
        let r = upgrade("arn:aws:iam::123456789012:role/deploy");
        assert_eq!(r.credential_types, vec![ASSUMED_ROLE]);
        assert_eq!(
            r.role_arns,
            Some(vec!["arn:aws:iam::123456789012:role/deploy".to_string()])
        );
        assert!(r.prohibit_flexible_cred_path);

        let r = upgrade("arn:aws:iam::aws:policy/ReadOnlyAccess");
        assert_eq!(r.credential_types, vec![IAM_USER]);
        assert_eq!(
            r.policy_arns,
            Some(vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".to_string()])
        );

        let r = upgrade("{ \"Version\": \"2012-10-17\" }");
        assert_eq!(r.credential_types, vec![IAM_USER, FEDERATION_TOKEN]);
        assert_eq!(r.policy_document, r#"{"Version":"2012-10-17"}"#);

        for bad in ["arn:aws:iam::1:user/x", "arn:bad", "not json"] {
            let r = upgrade(bad);
            assert_eq!(r.invalid_data, bad);
            assert!(r.credential_types.is_empty());
        }
    }
}
