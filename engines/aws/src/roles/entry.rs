//! The stored role record, its read shape and its validation (vault-spec §4.4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::arn;

/// `credential_type` values.
pub const IAM_USER: &str = "iam_user";
/// STS `AssumeRole`.
pub const ASSUMED_ROLE: &str = "assumed_role";
/// STS `GetFederationToken`.
pub const FEDERATION_TOKEN: &str = "federation_token";
/// STS `GetSessionToken`.
pub const SESSION_TOKEN: &str = "session_token";

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A role, stored at `role/<name>` with Vault's JSON keys (durations in nanoseconds),
/// so storage written by either is readable by the other. Lists and maps are
/// `Option`s because Vault distinguishes "never set" (`null` on read) from empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RoleEntry {
    /// Credential types; one entry, except for upgraded legacy policy roles.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub credential_types: Vec<String>,
    /// Managed policy ARNs.
    #[serde(default)]
    pub policy_arns: Option<Vec<String>>,
    /// Roles `assumed_role` may assume.
    #[serde(default)]
    pub role_arns: Option<Vec<String>>,
    /// Compacted policy JSON.
    #[serde(default)]
    pub policy_document: String,
    /// IAM groups.
    #[serde(default)]
    pub iam_groups: Option<Vec<String>>,
    /// Tags for created IAM users.
    #[serde(default)]
    pub iam_tags: Option<BTreeMap<String, String>>,
    /// Session tags for `AssumeRole`.
    #[serde(default)]
    pub session_tags: Option<BTreeMap<String, String>>,
    /// External id for `AssumeRole`.
    #[serde(default)]
    pub external_id: String,
    /// Legacy data that could not be upgraded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub invalid_data: String,
    /// Legacy roles are tied to one of `creds/` and `sts/`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub prohibit_flexible_cred_path: bool,
    /// Format version.
    #[serde(default)]
    pub version: i64,
    /// Default STS TTL, nanoseconds.
    #[serde(default)]
    pub default_sts_ttl: i64,
    /// Maximum STS TTL, nanoseconds.
    #[serde(default)]
    pub max_sts_ttl: i64,
    /// Path for created IAM users.
    #[serde(default)]
    pub user_path: String,
    /// Permissions boundary for created IAM users.
    #[serde(default)]
    pub permissions_boundary_arn: String,
    /// MFA device for `session_token`.
    #[serde(default, rename = "mfa_serial_number")]
    pub serial_number: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Go writes a nil slice as `null`; read it as empty.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

impl RoleEntry {
    /// Whether `credential_type` is among the role's types.
    pub fn has_type(&self, credential_type: &str) -> bool {
        self.credential_types.iter().any(|t| t == credential_type)
    }

    fn has_sts_type(&self) -> bool {
        [ASSUMED_ROLE, FEDERATION_TOKEN, SESSION_TOKEN]
            .iter()
            .any(|t| self.has_type(t))
    }

    /// Default STS TTL in whole seconds.
    pub fn default_sts_ttl_secs(&self) -> i64 {
        self.default_sts_ttl / NANOS_PER_SEC
    }

    /// Maximum STS TTL in whole seconds.
    pub fn max_sts_ttl_secs(&self) -> i64 {
        self.max_sts_ttl / NANOS_PER_SEC
    }

    /// Sets the STS TTLs from seconds.
    pub fn set_sts_ttls(&mut self, default_secs: Option<i64>, max_secs: Option<i64>) {
        if let Some(s) = default_secs {
            self.default_sts_ttl = s.saturating_mul(NANOS_PER_SEC);
        }
        if let Some(s) = max_secs {
            self.max_sts_ttl = s.saturating_mul(NANOS_PER_SEC);
        }
    }

    /// The `GET roles/:name` data: note `credential_type` is the types joined with
    /// commas (Vault's docs say `credential_types`; its code says otherwise).
    pub fn response_data(&self) -> Value {
        let mut data = json!({
            "credential_type": self.credential_types.join(","),
            "policy_arns": self.policy_arns,
            "role_arns": self.role_arns,
            "policy_document": self.policy_document,
            "iam_groups": self.iam_groups,
            "iam_tags": self.iam_tags,
            "session_tags": self.session_tags,
            "external_id": self.external_id,
            "default_sts_ttl": self.default_sts_ttl_secs(),
            "max_sts_ttl": self.max_sts_ttl_secs(),
            "user_path": self.user_path,
            "permissions_boundary_arn": self.permissions_boundary_arn,
            "mfa_serial_number": self.serial_number,
        });
        if !self.invalid_data.is_empty()
            && let Value::Object(map) = &mut data
        {
            map.insert("invalid_data".into(), json!(self.invalid_data));
        }
        data
    }

    /// Vault's `awsRoleEntry.validate`: every problem, in Vault's order and words.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors: Vec<String> = Vec::new();
        let sts_types = format!("{ASSUMED_ROLE}, {FEDERATION_TOKEN}, and {SESSION_TOKEN}");

        if self.credential_types.is_empty() {
            errors.push("did not supply credential_type".into());
        }
        for t in &self.credential_types {
            if ![IAM_USER, ASSUMED_ROLE, FEDERATION_TOKEN, SESSION_TOKEN].contains(&t.as_str()) {
                errors.push(format!("unrecognized credential type: {t}"));
            }
        }
        if self.default_sts_ttl != 0 && !self.has_sts_type() {
            errors.push(format!(
                "default_sts_ttl parameter only valid for {sts_types} credential types"
            ));
        }
        if self.max_sts_ttl != 0 && !self.has_sts_type() {
            errors.push(format!(
                "max_sts_ttl parameter only valid for {sts_types} credential types"
            ));
        }
        if self.max_sts_ttl > 0
            && self.default_sts_ttl > 0
            && self.default_sts_ttl > self.max_sts_ttl
        {
            errors.push(
                r#""default_sts_ttl" value must be less than or equal to "max_sts_ttl" value"#
                    .into(),
            );
        }
        if !self.user_path.is_empty() {
            if !self.has_type(IAM_USER) {
                errors.push(format!(
                    "user_path parameter only valid for {IAM_USER} credential type"
                ));
            }
            if !valid_user_path(&self.user_path) {
                errors.push(format!(
                    "the specified value for user_path is invalid. It must match {} regexp",
                    crate::gofmt::quote(USER_PATH_REGEX)
                ));
            }
        }
        if !self.permissions_boundary_arn.is_empty() {
            if !self.has_type(IAM_USER) {
                errors.push(format!(
                    "cannot supply permissions_boundary_arn when credential_type isn't {IAM_USER}"
                ));
            }
            if let Err(e) = arn::validate_managed_policy(&self.permissions_boundary_arn) {
                // Vault appends this one to a fresh error list (a slip in its code),
                // dropping everything found so far; reproduced for identical messages.
                errors.clear();
                errors.push(format!("invalid permissions_boundary_arn parameter: {e}"));
            }
        }
        let has_policy = !self.policy_document.is_empty()
            || self.policy_arns.as_ref().is_some_and(|p| !p.is_empty());
        if has_policy && self.has_type(SESSION_TOKEN) {
            errors.push(format!(
                "cannot supply a policy or role when using credential_type {SESSION_TOKEN}"
            ));
        }
        if self.role_arns.as_ref().is_some_and(|r| !r.is_empty()) && !self.has_type(ASSUMED_ROLE) {
            errors.push(format!(
                "cannot supply role_arns when credential_type isn't {ASSUMED_ROLE}"
            ));
        }
        if self.session_tags.as_ref().is_some_and(|t| !t.is_empty()) && !self.has_type(ASSUMED_ROLE)
        {
            errors.push(format!(
                "cannot supply session_tags when credential_type isn't {ASSUMED_ROLE}"
            ));
        }
        if !self.external_id.is_empty() && !self.has_type(ASSUMED_ROLE) {
            errors.push(format!(
                "cannot supply external_id when credential_type isn't {ASSUMED_ROLE}"
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Vault's `userPathRegex`, as printed in its error message.
pub const USER_PATH_REGEX: &str = r"^\/([\x21-\x7F]{0,510}\/)?$";

/// Matches [`USER_PATH_REGEX`]: `/`, or `/` + up to 510 characters from `!`..DEL +
/// `/`.
fn valid_user_path(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    let Some(inner) = path.strip_prefix('/').and_then(|p| p.strip_suffix('/')) else {
        return false;
    };
    inner.len() <= 510 && inner.bytes().all(|b| (0x21..=0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(types: &[&str]) -> RoleEntry {
        RoleEntry {
            credential_types: types.iter().map(|t| (*t).to_string()).collect(),
            ..RoleEntry::default()
        }
    }

    #[test]
    fn user_paths() {
        for ok in ["/", "/a/", "/a/b/", "/!~/"] {
            assert!(valid_user_path(ok), "{ok}");
        }
        for bad in ["", "a", "/a", "a/", "/a b/", "//x", "/é/"] {
            assert!(!valid_user_path(bad), "{bad}");
        }
        assert!(valid_user_path("//"));
        assert!(valid_user_path(&format!("/{}/", "a".repeat(510))));
        assert!(!valid_user_path(&format!("/{}/", "a".repeat(511))));
    }

    #[test]
    fn validation_messages() {
        assert_eq!(
            role(&[]).validate().unwrap_err(),
            vec!["did not supply credential_type"]
        );
        assert_eq!(
            role(&["nope"]).validate().unwrap_err(),
            vec!["unrecognized credential type: nope"]
        );
        let mut r = role(&[IAM_USER]);
        r.set_sts_ttls(Some(10), Some(5));
        assert_eq!(
            r.validate().unwrap_err(),
            vec![
                "default_sts_ttl parameter only valid for assumed_role, federation_token, and session_token credential types",
                "max_sts_ttl parameter only valid for assumed_role, federation_token, and session_token credential types",
                "\"default_sts_ttl\" value must be less than or equal to \"max_sts_ttl\" value",
            ]
        );
        let mut r = role(&[ASSUMED_ROLE]);
        r.user_path = "bad".into();
        r.external_id = "x".into();
        assert_eq!(
            r.validate().unwrap_err(),
            vec![
                "user_path parameter only valid for iam_user credential type".to_string(),
                format!(
                    "the specified value for user_path is invalid. It must match {} regexp",
                    r#""^\\/([\\x21-\\x7F]{0,510}\\/)?$""#
                ),
            ]
        );
        let mut r = role(&[SESSION_TOKEN]);
        r.policy_document = "{}".into();
        r.role_arns = Some(vec!["arn:aws:iam::1:role/x".into()]);
        r.session_tags = Some([("a".to_string(), "b".to_string())].into());
        r.external_id = "e".into();
        assert_eq!(
            r.validate().unwrap_err(),
            vec![
                "cannot supply a policy or role when using credential_type session_token",
                "cannot supply role_arns when credential_type isn't assumed_role",
                "cannot supply session_tags when credential_type isn't assumed_role",
                "cannot supply external_id when credential_type isn't assumed_role",
            ]
        );
    }

    #[test]
    fn bad_boundary_replaces_earlier_errors() {
        let mut r = role(&[FEDERATION_TOKEN]);
        r.permissions_boundary_arn = "nope".into();
        r.user_path = "/x/".into();
        assert_eq!(
            r.validate().unwrap_err(),
            vec!["invalid permissions_boundary_arn parameter: arn: invalid prefix"]
        );
        r.permissions_boundary_arn = "arn:aws:iam::1:policy/pb".into();
        assert_eq!(
            r.validate().unwrap_err(),
            vec![
                "user_path parameter only valid for iam_user credential type",
                "cannot supply permissions_boundary_arn when credential_type isn't iam_user",
            ]
        );
    }

    #[test]
    fn read_shape() {
        let mut r = role(&[IAM_USER, FEDERATION_TOKEN]);
        r.policy_document = "{}".into();
        assert_eq!(
            r.response_data(),
            json!({
                "credential_type": "iam_user,federation_token",
                "policy_arns": null, "role_arns": null, "policy_document": "{}",
                "iam_groups": null, "iam_tags": null, "session_tags": null,
                "external_id": "", "default_sts_ttl": 0, "max_sts_ttl": 0,
                "user_path": "", "permissions_boundary_arn": "", "mfa_serial_number": "",
            })
        );
        r.invalid_data = "junk".into();
        assert_eq!(r.response_data()["invalid_data"], json!("junk"));
    }

    #[test]
    fn storage_json_is_vaults() {
        let mut r = role(&[ASSUMED_ROLE]);
        r.set_sts_ttls(Some(900), None);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["credential_types"], json!(["assumed_role"]));
        assert_eq!(v["default_sts_ttl"], json!(900_000_000_000i64));
        assert!(v.get("invalid_data").is_none());
        assert!(v.get("prohibit_flexible_cred_path").is_none());
        let back: RoleEntry =
            serde_json::from_str(r#"{"credential_types":null,"policy_arns":null}"#).unwrap();
        assert!(back.credential_types.is_empty());
    }
}
