//! [`Iam`] and [`Sts`] over the host's `aws-iam` and `aws-sts` imports (wasm builds).

use coffer_sdk::bindings::coffer::engine::{aws_iam, aws_sts};

use super::{
    AccessKey, AssumeRoleInput, AwsError, AwsErrorKind, AwsResult, ClientConfig, Credentials, Iam,
    Sts, Tag,
};

fn wit_config(config: &ClientConfig) -> aws_iam::ClientConfig {
    aws_iam::ClientConfig {
        access_key: config.access_key.clone(),
        secret_key: config.secret_key.clone(),
        session_token: None,
        region: config.region.clone(),
        endpoint: config.endpoint.clone(),
        max_retries: config.max_retries,
    }
}

fn error(e: aws_iam::AwsError) -> AwsError {
    use aws_iam::AwsError as W;
    let (kind, message) = match e {
        W::NoSuchEntity(m) => (AwsErrorKind::NoSuchEntity, m),
        W::EntityAlreadyExists(m) => (AwsErrorKind::EntityAlreadyExists, m),
        W::DeleteConflict(m) => (AwsErrorKind::DeleteConflict, m),
        W::LimitExceeded(m) => (AwsErrorKind::LimitExceeded, m),
        W::Throttled(m) => (AwsErrorKind::Throttled, m),
        W::AccessDenied(m) => (AwsErrorKind::AccessDenied, m),
        W::InvalidInput(m) => (AwsErrorKind::InvalidInput, m),
        W::Other((code, m)) => (AwsErrorKind::Other(code), m),
    };
    AwsError { kind, message }
}

fn wit_tags(tags: &[Tag]) -> Vec<aws_iam::Tag> {
    tags.iter()
        .map(|t| aws_iam::Tag {
            key: t.key.clone(),
            value: t.value.clone(),
        })
        .collect()
}

fn credentials(c: aws_sts::Credentials) -> Credentials {
    Credentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
        expiration: c.expiration,
    }
}

/// An IAM client resource owned by the host.
pub struct HostIam(aws_iam::Client);

impl HostIam {
    pub fn new(config: &ClientConfig) -> Self {
        HostIam(aws_iam::Client::new(&wit_config(config)))
    }
}

impl Iam for HostIam {
    fn get_user(&self, user_name: Option<&str>) -> AwsResult<String> {
        self.0
            .get_user(user_name)
            .map(|u| u.user_name)
            .map_err(error)
    }
    fn create_user(
        &self,
        user_name: &str,
        path: Option<&str>,
        permissions_boundary: Option<&str>,
    ) -> AwsResult<()> {
        self.0
            .create_user(user_name, path, permissions_boundary)
            .map(|_| ())
            .map_err(error)
    }
    fn delete_user(&self, user_name: &str) -> AwsResult<()> {
        self.0.delete_user(user_name).map_err(error)
    }
    fn attach_user_policy(&self, user_name: &str, policy_arn: &str) -> AwsResult<()> {
        self.0
            .attach_user_policy(user_name, policy_arn)
            .map_err(error)
    }
    fn detach_user_policy(&self, user_name: &str, policy_arn: &str) -> AwsResult<()> {
        self.0
            .detach_user_policy(user_name, policy_arn)
            .map_err(error)
    }
    fn put_user_policy(&self, user_name: &str, policy_name: &str, document: &str) -> AwsResult<()> {
        self.0
            .put_user_policy(user_name, policy_name, document)
            .map_err(error)
    }
    fn delete_user_policy(&self, user_name: &str, policy_name: &str) -> AwsResult<()> {
        self.0
            .delete_user_policy(user_name, policy_name)
            .map_err(error)
    }
    fn add_user_to_group(&self, group_name: &str, user_name: &str) -> AwsResult<()> {
        self.0
            .add_user_to_group(group_name, user_name)
            .map_err(error)
    }
    fn remove_user_from_group(&self, group_name: &str, user_name: &str) -> AwsResult<()> {
        self.0
            .remove_user_from_group(group_name, user_name)
            .map_err(error)
    }
    fn tag_user(&self, user_name: &str, tags: &[Tag]) -> AwsResult<()> {
        self.0.tag_user(user_name, &wit_tags(tags)).map_err(error)
    }
    fn create_access_key(&self, user_name: Option<&str>) -> AwsResult<AccessKey> {
        self.0
            .create_access_key(user_name)
            .map(|k| AccessKey {
                access_key_id: k.access_key_id,
                secret_access_key: k.secret_access_key,
            })
            .map_err(error)
    }
    fn delete_access_key(&self, user_name: Option<&str>, access_key_id: &str) -> AwsResult<()> {
        self.0
            .delete_access_key(user_name, access_key_id)
            .map_err(error)
    }
    fn list_access_keys(&self, user_name: &str) -> AwsResult<Vec<String>> {
        self.0.list_access_keys(Some(user_name)).map_err(error)
    }
    fn list_user_policies(&self, user_name: &str) -> AwsResult<Vec<String>> {
        self.0.list_user_policies(user_name).map_err(error)
    }
    fn list_attached_user_policies(&self, user_name: &str) -> AwsResult<Vec<String>> {
        self.0.list_attached_user_policies(user_name).map_err(error)
    }
    fn list_groups_for_user(&self, user_name: &str) -> AwsResult<Vec<String>> {
        self.0.list_groups_for_user(user_name).map_err(error)
    }
    fn list_attached_group_policies(&self, group_name: &str) -> AwsResult<Vec<String>> {
        self.0
            .list_attached_group_policies(group_name)
            .map_err(error)
    }
    fn list_group_policies(&self, group_name: &str) -> AwsResult<Vec<String>> {
        self.0.list_group_policies(group_name).map_err(error)
    }
    fn get_group_policy(&self, group_name: &str, policy_name: &str) -> AwsResult<String> {
        self.0
            .get_group_policy(group_name, policy_name)
            .map_err(error)
    }
}

/// An STS client resource owned by the host.
pub struct HostSts(aws_sts::Client);

impl HostSts {
    pub fn new(config: &ClientConfig) -> Self {
        HostSts(aws_sts::Client::new(&wit_config(config)))
    }
}

impl Sts for HostSts {
    fn assume_role(&self, input: &AssumeRoleInput) -> AwsResult<(Credentials, String)> {
        self.0
            .assume_role(
                &input.role_arn,
                &input.role_session_name,
                input.duration_seconds,
                input.policy.as_deref(),
                &input.policy_arns,
                &wit_tags(&input.tags),
                input.external_id.as_deref(),
            )
            .map(|r| (credentials(r.credentials), r.arn))
            .map_err(error)
    }
    fn get_federation_token(
        &self,
        name: &str,
        duration_seconds: Option<u32>,
        policy: Option<&str>,
        policy_arns: &[String],
    ) -> AwsResult<Credentials> {
        self.0
            .get_federation_token(name, duration_seconds, policy, policy_arns)
            .map(credentials)
            .map_err(error)
    }
    fn get_session_token(
        &self,
        duration_seconds: Option<u32>,
        serial_number: Option<&str>,
        token_code: Option<&str>,
    ) -> AwsResult<Credentials> {
        self.0
            .get_session_token(duration_seconds, serial_number, token_code)
            .map(credentials)
            .map_err(error)
    }
}
