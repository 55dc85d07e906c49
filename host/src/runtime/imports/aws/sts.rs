//! `coffer:engine/aws-sts`: [`Sts`], one method per STS operation an engine may call,
//! and the thin WIT trait impls over it.

use std::sync::{Arc, LazyLock, Mutex};

use aws_sdk_sts::types::PolicyDescriptorType;
use wasmtime::component::Resource;

use super::clients::{AwsConfig, CACHE_CAPACITY, ClientCache, Conn, Service, cached};
use super::{
    AssumedRole, AwsError, CallerIdentity, ClientConfig, Credentials, StsClient, Tag, built,
    missing, push, run, stale_handle,
};
use crate::runtime::CallState;
use crate::runtime::bindings::coffer::engine::aws_sts::{Host, HostClient};

static CLIENTS: LazyLock<Mutex<ClientCache<Sts>>> =
    LazyLock::new(|| Mutex::new(ClientCache::new(CACHE_CAPACITY)));

/// An STS client for one config. Cloning is cheap (reference-counted).
#[derive(Clone)]
pub struct Sts {
    client: aws_sdk_sts::Client,
    conn: Arc<Conn>,
}

impl std::fmt::Debug for Sts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sts")
            .field("endpoint", &self.conn.endpoint)
            .finish_non_exhaustive()
    }
}

/// `DurationSeconds` is an `i32` in the SDK; larger values are invalid anyway.
fn duration(seconds: Option<u32>) -> Result<Option<i32>, AwsError> {
    seconds
        .map(|s| {
            i32::try_from(s)
                .map_err(|_| AwsError::InvalidInput(format!("duration {s}s is out of range")))
        })
        .transpose()
}

fn policy_arns(arns: &[String]) -> Option<Vec<PolicyDescriptorType>> {
    // None rather than an empty list: the SDK would send `PolicyArns=` otherwise.
    (!arns.is_empty()).then(|| {
        arns.iter()
            .map(|a| PolicyDescriptorType::builder().arn(a).build())
            .collect()
    })
}

fn nonempty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

/// Moves the SDK's credentials into the WIT record; expiry as Unix seconds.
fn credentials(
    op: &str,
    c: Option<aws_sdk_sts::types::Credentials>,
) -> Result<Credentials, AwsError> {
    let c = c.ok_or_else(|| missing(op, "credentials"))?;
    Ok(Credentials {
        expiration: u64::try_from(c.expiration.secs()).unwrap_or(0),
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
    })
}

impl Sts {
    /// A client for `config` (its `endpoint` is the STS endpoint), reused from the
    /// process-wide cache when an equal config was seen before.
    pub fn connect(config: ClientConfig) -> Result<Self, AwsError> {
        let config = AwsConfig::new(config)?;
        Ok(cached(&CLIENTS, config.cache_key(Service::Sts), || Sts {
            client: config.sts_client(),
            conn: Conn::new(&config, Service::Sts),
        }))
    }

    /// The underlying SDK client, for calls engines are not offered (test setup).
    pub fn sdk(&self) -> &aws_sdk_sts::Client {
        &self.client
    }

    /// `AssumeRole`.
    #[allow(clippy::too_many_arguments)] // mirrors the WIT function one to one
    pub async fn assume_role(
        &self,
        role_arn: &str,
        role_session_name: &str,
        duration_seconds: Option<u32>,
        policy: Option<&str>,
        policy_arns_: &[String],
        tags: &[Tag],
        external_id: Option<&str>,
    ) -> Result<AssumedRole, AwsError> {
        let mut req = self
            .client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(role_session_name)
            .set_duration_seconds(duration(duration_seconds)?)
            .set_policy(nonempty(policy))
            .set_policy_arns(policy_arns(policy_arns_))
            .set_external_id(nonempty(external_id));
        for t in tags {
            req = req.tags(built(
                aws_sdk_sts::types::Tag::builder()
                    .key(&t.key)
                    .value(&t.value)
                    .build(),
                "session tag",
            )?);
        }
        let out = run(&self.conn, "AssumeRole", role_arn, req.send()).await?;
        let arn = out
            .assumed_role_user
            .map(|u| u.arn)
            .ok_or_else(|| missing("AssumeRole", "assumed role user"))?;
        Ok(AssumedRole {
            credentials: credentials("AssumeRole", out.credentials)?,
            arn,
        })
    }

    /// `GetFederationToken`.
    pub async fn get_federation_token(
        &self,
        name: &str,
        duration_seconds: Option<u32>,
        policy: Option<&str>,
        policy_arns_: &[String],
    ) -> Result<Credentials, AwsError> {
        let req = self
            .client
            .get_federation_token()
            .name(name)
            .set_duration_seconds(duration(duration_seconds)?)
            .set_policy(nonempty(policy))
            .set_policy_arns(policy_arns(policy_arns_));
        let out = run(&self.conn, "GetFederationToken", name, req.send()).await?;
        credentials("GetFederationToken", out.credentials)
    }

    /// `GetSessionToken`, with MFA when both `serial_number` and `token_code` are given.
    pub async fn get_session_token(
        &self,
        duration_seconds: Option<u32>,
        serial_number: Option<&str>,
        token_code: Option<&str>,
    ) -> Result<Credentials, AwsError> {
        let req = self
            .client
            .get_session_token()
            .set_duration_seconds(duration(duration_seconds)?)
            .set_serial_number(nonempty(serial_number))
            .set_token_code(nonempty(token_code));
        let out = run(&self.conn, "GetSessionToken", "(caller)", req.send()).await?;
        credentials("GetSessionToken", out.credentials)
    }

    /// `GetCallerIdentity`.
    pub async fn get_caller_identity(&self) -> Result<CallerIdentity, AwsError> {
        let req = self.client.get_caller_identity();
        let out = run(&self.conn, "GetCallerIdentity", "(caller)", req.send()).await?;
        Ok(CallerIdentity {
            account: out
                .account
                .ok_or_else(|| missing("GetCallerIdentity", "account"))?,
            arn: out.arn.ok_or_else(|| missing("GetCallerIdentity", "arn"))?,
            user_id: out
                .user_id
                .ok_or_else(|| missing("GetCallerIdentity", "user id"))?,
        })
    }
}

impl CallState {
    /// The client behind an engine's handle (a cheap clone, so no borrow of `self` is
    /// held across the AWS call).
    fn sts(&self, handle: &Resource<StsClient>) -> Result<Sts, AwsError> {
        match self.table.get(handle).map_err(stale_handle)? {
            StsClient(Ok(sts)) => Ok(sts.clone()),
            StsClient(Err(e)) => Err(e.clone()),
        }
    }
}

impl Host for CallState {}

impl HostClient for CallState {
    async fn new(&mut self, config: ClientConfig) -> wasmtime::Result<Resource<StsClient>> {
        push(&mut self.table, StsClient(Sts::connect(config)))
    }

    #[allow(clippy::too_many_arguments)] // generated from the WIT signature
    async fn assume_role(
        &mut self,
        this: Resource<StsClient>,
        role_arn: String,
        role_session_name: String,
        duration_seconds: Option<u32>,
        policy: Option<String>,
        policy_arns: Vec<String>,
        tags: Vec<Tag>,
        external_id: Option<String>,
    ) -> Result<AssumedRole, AwsError> {
        let client = self.sts(&this)?;
        self.bounded(client.assume_role(
            &role_arn,
            &role_session_name,
            duration_seconds,
            policy.as_deref(),
            &policy_arns,
            &tags,
            external_id.as_deref(),
        ))
        .await
    }

    async fn get_federation_token(
        &mut self,
        this: Resource<StsClient>,
        name: String,
        duration_seconds: Option<u32>,
        policy: Option<String>,
        policy_arns: Vec<String>,
    ) -> Result<Credentials, AwsError> {
        let client = self.sts(&this)?;
        self.bounded(client.get_federation_token(
            &name,
            duration_seconds,
            policy.as_deref(),
            &policy_arns,
        ))
        .await
    }

    async fn get_session_token(
        &mut self,
        this: Resource<StsClient>,
        duration_seconds: Option<u32>,
        serial_number: Option<String>,
        token_code: Option<String>,
    ) -> Result<Credentials, AwsError> {
        let client = self.sts(&this)?;
        self.bounded(client.get_session_token(
            duration_seconds,
            serial_number.as_deref(),
            token_code.as_deref(),
        ))
        .await
    }

    async fn get_caller_identity(
        &mut self,
        this: Resource<StsClient>,
    ) -> Result<CallerIdentity, AwsError> {
        let client = self.sts(&this)?;
        self.bounded(client.get_caller_identity()).await
    }

    async fn drop(&mut self, this: Resource<StsClient>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fit_the_sdk_type() {
        assert_eq!(duration(None).ok(), Some(None));
        assert_eq!(duration(Some(3600)).ok(), Some(Some(3600)));
        assert!(matches!(
            duration(Some(u32::MAX)),
            Err(AwsError::InvalidInput(_))
        ));
    }

    #[test]
    fn empty_lists_are_not_sent() {
        assert!(policy_arns(&[]).is_none());
        let arns = policy_arns(&["arn:aws:iam::123456789012:policy/p".to_string()]);
        assert_eq!(arns.map(|v| v.len()), Some(1));
    }

    #[test]
    fn expiration_is_unix_seconds() {
        let sdk = aws_sdk_sts::types::Credentials::builder()
            .access_key_id("ASIA")
            .secret_access_key("s")
            .session_token("t")
            .expiration(aws_sdk_sts::primitives::DateTime::from_secs(1_700_000_000))
            .build();
        let Ok(sdk) = sdk else {
            panic!("builder refused a complete value")
        };
        let c = credentials("T", Some(sdk));
        assert!(matches!(c, Ok(c) if c.expiration == 1_700_000_000 && c.session_token == "t"));
        assert!(matches!(credentials("T", None), Err(AwsError::Other(_))));
    }
}
