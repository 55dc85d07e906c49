//! The engine's view of AWS: IAM and STS clients behind traits.
//!
//! In a wasm build the traits are implemented by the host's `aws-iam` and `aws-sts`
//! imports (the `host` module); natively (unit tests) by an in-memory IAM/STS ([`fake`]) that
//! records every call, so the call sequences Vault guarantees can be asserted without
//! a network. Everything else in the crate talks to AWS only through [`Iam`] and
//! [`Sts`], built by [`iam_client`] and [`sts_client`].

use core::fmt;

#[cfg(not(target_arch = "wasm32"))]
pub mod fake;
#[cfg(target_arch = "wasm32")]
mod host;

/// How to reach and authenticate to one AWS service (mirrors the WIT `client-config`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientConfig {
    /// Access key id the host signs with (may be empty: the host decides what that means).
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Region the requests are signed for.
    pub region: String,
    /// Endpoint override; `None` means AWS's default endpoint.
    pub endpoint: Option<String>,
    /// Retry budget; `None` means the host's default.
    pub max_retries: Option<u32>,
}

/// The class of a failed AWS call (mirrors the WIT `aws-error` cases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// `NoSuchEntity`.
    NoSuchEntity,
    /// `EntityAlreadyExists`.
    EntityAlreadyExists,
    /// `DeleteConflict`.
    DeleteConflict,
    /// `LimitExceeded`.
    LimitExceeded,
    /// Throttled even after the host's retries.
    Throttled,
    /// Bad or insufficient credentials.
    AccessDenied,
    /// AWS rejected the input.
    InvalidInput,
    /// Anything else, with AWS's error code (possibly empty).
    Other(String),
}

/// A failed AWS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// What went wrong.
    pub kind: AwsErrorKind,
    /// AWS's message.
    pub message: String,
}

impl AwsError {
    /// An error of `kind` with `message`.
    pub fn new(kind: AwsErrorKind, message: impl Into<String>) -> Self {
        AwsError {
            kind,
            message: message.into(),
        }
    }

    /// Whether the entity the call named does not exist.
    pub fn is_no_such_entity(&self) -> bool {
        self.kind == AwsErrorKind::NoSuchEntity
    }

    /// Whether AWS throttled the call (Vault answers those with `502`).
    pub fn is_throttled(&self) -> bool {
        self.kind == AwsErrorKind::Throttled
    }

    /// The AWS error code the kind stands for, as the Go SDK prints it.
    pub fn code(&self) -> &str {
        match &self.kind {
            AwsErrorKind::NoSuchEntity => "NoSuchEntity",
            AwsErrorKind::EntityAlreadyExists => "EntityAlreadyExists",
            AwsErrorKind::DeleteConflict => "DeleteConflict",
            AwsErrorKind::LimitExceeded => "LimitExceeded",
            AwsErrorKind::Throttled => "Throttling",
            AwsErrorKind::AccessDenied => "AccessDenied",
            AwsErrorKind::InvalidInput => "InvalidInput",
            AwsErrorKind::Other(code) => code,
        }
    }
}

/// Rendered like the Go SDK's `awserr.Error` (`Code: message`), which is what Vault's
/// error responses embed; a message that already starts with its code is not prefixed
/// twice.
impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code();
        let already_prefixed = self
            .message
            .strip_prefix(code)
            .is_some_and(|rest| rest.starts_with(':'));
        if code.is_empty() || already_prefixed {
            f.write_str(&self.message)
        } else if self.message.is_empty() {
            f.write_str(code)
        } else {
            write!(f, "{code}: {}", self.message)
        }
    }
}

/// Shorthand for results of AWS calls.
pub type AwsResult<T> = Result<T, AwsError>;

/// A key/value tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// A newly created access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key (only ever returned by `CreateAccessKey`).
    pub secret_access_key: String,
}

/// Temporary STS credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
    /// Expiry, seconds since the Unix epoch.
    pub expiration: u64,
}

/// The IAM calls the engine makes (one method per AWS action).
pub trait Iam {
    /// `GetUser`: the user name of the named user, or of the caller when `None`.
    fn get_user(&self, user_name: Option<&str>) -> AwsResult<String>;
    /// `CreateUser`.
    fn create_user(
        &self,
        user_name: &str,
        path: Option<&str>,
        permissions_boundary: Option<&str>,
    ) -> AwsResult<()>;
    /// `DeleteUser`.
    fn delete_user(&self, user_name: &str) -> AwsResult<()>;
    /// `AttachUserPolicy`.
    fn attach_user_policy(&self, user_name: &str, policy_arn: &str) -> AwsResult<()>;
    /// `DetachUserPolicy`.
    fn detach_user_policy(&self, user_name: &str, policy_arn: &str) -> AwsResult<()>;
    /// `PutUserPolicy`.
    fn put_user_policy(&self, user_name: &str, policy_name: &str, document: &str) -> AwsResult<()>;
    /// `DeleteUserPolicy`.
    fn delete_user_policy(&self, user_name: &str, policy_name: &str) -> AwsResult<()>;
    /// `AddUserToGroup`.
    fn add_user_to_group(&self, group_name: &str, user_name: &str) -> AwsResult<()>;
    /// `RemoveUserFromGroup`.
    fn remove_user_from_group(&self, group_name: &str, user_name: &str) -> AwsResult<()>;
    /// `TagUser`.
    fn tag_user(&self, user_name: &str, tags: &[Tag]) -> AwsResult<()>;
    /// `CreateAccessKey` for the named user (the caller when `None`).
    fn create_access_key(&self, user_name: Option<&str>) -> AwsResult<AccessKey>;
    /// `DeleteAccessKey`.
    fn delete_access_key(&self, user_name: Option<&str>, access_key_id: &str) -> AwsResult<()>;
    /// `ListAccessKeys`: key ids.
    fn list_access_keys(&self, user_name: &str) -> AwsResult<Vec<String>>;
    /// `ListUserPolicies`: inline policy names.
    fn list_user_policies(&self, user_name: &str) -> AwsResult<Vec<String>>;
    /// `ListAttachedUserPolicies`: managed policy ARNs.
    fn list_attached_user_policies(&self, user_name: &str) -> AwsResult<Vec<String>>;
    /// `ListGroupsForUser`: group names.
    fn list_groups_for_user(&self, user_name: &str) -> AwsResult<Vec<String>>;
    /// `ListAttachedGroupPolicies`: managed policy ARNs of a group.
    fn list_attached_group_policies(&self, group_name: &str) -> AwsResult<Vec<String>>;
    /// `ListGroupPolicies`: inline policy names of a group.
    fn list_group_policies(&self, group_name: &str) -> AwsResult<Vec<String>>;
    /// `GetGroupPolicy`: the (URL-decoded) document of a group's inline policy.
    fn get_group_policy(&self, group_name: &str, policy_name: &str) -> AwsResult<String>;
}

/// Parameters of `AssumeRole`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssumeRoleInput {
    /// The role to assume.
    pub role_arn: String,
    /// The session name.
    pub role_session_name: String,
    /// Requested lifetime.
    pub duration_seconds: Option<u32>,
    /// Session policy document.
    pub policy: Option<String>,
    /// Session policy ARNs.
    pub policy_arns: Vec<String>,
    /// Session tags.
    pub tags: Vec<Tag>,
    /// External id.
    pub external_id: Option<String>,
}

/// The STS calls the engine makes.
pub trait Sts {
    /// `AssumeRole`: the credentials and the assumed-role ARN.
    fn assume_role(&self, input: &AssumeRoleInput) -> AwsResult<(Credentials, String)>;
    /// `GetFederationToken`.
    fn get_federation_token(
        &self,
        name: &str,
        duration_seconds: Option<u32>,
        policy: Option<&str>,
        policy_arns: &[String],
    ) -> AwsResult<Credentials>;
    /// `GetSessionToken`.
    fn get_session_token(
        &self,
        duration_seconds: Option<u32>,
        serial_number: Option<&str>,
        token_code: Option<&str>,
    ) -> AwsResult<Credentials>;
}

/// An IAM client for `config`.
pub fn iam_client(config: &ClientConfig) -> Box<dyn Iam> {
    #[cfg(target_arch = "wasm32")]
    {
        Box::new(host::HostIam::new(config))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Box::new(fake::FakeIam::new(config))
    }
}

/// An STS client for `config`.
pub fn sts_client(config: &ClientConfig) -> Box<dyn Sts> {
    #[cfg(target_arch = "wasm32")]
    {
        Box::new(host::HostSts::new(config))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Box::new(fake::FakeSts::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_like_the_go_sdk() {
        let e = AwsError::new(
            AwsErrorKind::NoSuchEntity,
            "The user with name x cannot be found.",
        );
        assert_eq!(
            e.to_string(),
            "NoSuchEntity: The user with name x cannot be found."
        );
        let e = AwsError::new(AwsErrorKind::Throttled, "Throttling: Rate exceeded");
        assert_eq!(e.to_string(), "Throttling: Rate exceeded");
        let e = AwsError::new(AwsErrorKind::Other(String::new()), "connection refused");
        assert_eq!(e.to_string(), "connection refused");
        let e = AwsError::new(AwsErrorKind::Other("Weird".into()), "");
        assert_eq!(e.to_string(), "Weird");
        assert!(AwsError::new(AwsErrorKind::Throttled, "").is_throttled());
    }
}
