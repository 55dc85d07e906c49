//! `config/root`: the credentials and endpoints the engine reaches AWS with
//! (vault-spec §4.1), and the IAM/STS clients built from them.

use coffer_sdk::{Error, Request, Response, Result, storage};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::aws::{self, ClientConfig, Iam, Sts};
use crate::username;

/// Where the configuration is stored.
pub const KEY: &str = "config/root";

/// Fields `config/root` accepts.
pub const FIELDS: &[&str] = &[
    "access_key",
    "secret_key",
    "region",
    "iam_endpoint",
    "sts_endpoint",
    "sts_region",
    "sts_fallback_endpoints",
    "sts_fallback_regions",
    "max_retries",
    "username_template",
    "role_arn",
];

/// The region used when none is configured (Vault would consult `AWS_REGION` and
/// `AWS_DEFAULT_REGION` first; the sandbox has no environment).
const DEFAULT_REGION: &str = "us-east-1";

/// Vault's `aws.UseServiceDefaultRetries`.
const DEFAULT_MAX_RETRIES: i64 = -1;

/// The stored configuration, with Vault's JSON keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootConfig {
    /// Access key id.
    #[serde(default)]
    pub access_key: String,
    /// Secret access key; never returned by reads.
    #[serde(default)]
    pub secret_key: String,
    /// IAM endpoint override.
    #[serde(default)]
    pub iam_endpoint: String,
    /// STS endpoint override.
    #[serde(default)]
    pub sts_endpoint: String,
    /// Region STS requests are signed for (defaults to `region`).
    #[serde(default)]
    pub sts_region: String,
    /// Extra STS endpoints (stored and returned; not tried, see the crate docs).
    #[serde(default)]
    pub sts_fallback_endpoints: Option<Vec<String>>,
    /// Regions of the extra STS endpoints.
    #[serde(default)]
    pub sts_fallback_regions: Option<Vec<String>>,
    /// Region for API calls.
    #[serde(default)]
    pub region: String,
    /// Retry budget; negative means the host's default.
    #[serde(default = "default_max_retries")]
    pub max_retries: i64,
    /// Template for generated user names.
    #[serde(default)]
    pub username_template: String,
    /// Role for workload-identity federation (Vault Enterprise); stored only.
    #[serde(default)]
    pub role_arn: String,
}

fn default_max_retries() -> i64 {
    DEFAULT_MAX_RETRIES
}

impl Default for RootConfig {
    fn default() -> Self {
        RootConfig {
            access_key: String::new(),
            secret_key: String::new(),
            iam_endpoint: String::new(),
            sts_endpoint: String::new(),
            sts_region: String::new(),
            sts_fallback_endpoints: None,
            sts_fallback_regions: None,
            region: String::new(),
            max_retries: DEFAULT_MAX_RETRIES,
            username_template: username::DEFAULT_TEMPLATE.to_string(),
            role_arn: String::new(),
        }
    }
}

impl RootConfig {
    /// The client configuration for IAM.
    pub fn iam_client_config(&self) -> ClientConfig {
        self.client_config(&self.iam_endpoint, &self.region)
    }

    /// The client configuration for STS (`sts_region` wins over `region`).
    pub fn sts_client_config(&self) -> ClientConfig {
        let region = if self.sts_region.is_empty() {
            &self.region
        } else {
            &self.sts_region
        };
        self.client_config(&self.sts_endpoint, region)
    }

    fn client_config(&self, endpoint: &str, region: &str) -> ClientConfig {
        ClientConfig {
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            region: if region.is_empty() {
                DEFAULT_REGION.to_string()
            } else {
                region.to_string()
            },
            endpoint: (!endpoint.is_empty()).then(|| endpoint.to_string()),
            // -1 (or any negative) asks for the SDK's default, as in Vault.
            max_retries: u32::try_from(self.max_retries).ok(),
        }
    }

    /// The user-name template to use (the default when none is stored).
    pub fn username_template(&self) -> &str {
        if self.username_template.is_empty() {
            username::DEFAULT_TEMPLATE
        } else {
            &self.username_template
        }
    }
}

/// The stored configuration, if any.
pub fn load() -> Result<Option<RootConfig>> {
    storage::get_json(KEY)
}

/// The stored configuration, or the defaults (empty credentials) when none is stored,
/// as Vault builds clients from an absent config.
pub fn load_or_default() -> Result<RootConfig> {
    Ok(load()?.unwrap_or_default())
}

/// An IAM client for the stored configuration.
pub fn iam() -> Result<Box<dyn Iam>> {
    Ok(aws::iam_client(&load_or_default()?.iam_client_config()))
}

/// An STS client for the stored configuration.
pub fn sts() -> Result<Box<dyn Sts>> {
    Ok(aws::sts_client(&load_or_default()?.sts_client_config()))
}

/// `GET config/root`.
pub fn read(_req: &Request) -> Result<Response> {
    let config = load()?.ok_or_else(Error::not_found)?;
    Ok(Response::data(json!({
        "access_key": config.access_key,
        "region": config.region,
        "iam_endpoint": config.iam_endpoint,
        "sts_endpoint": config.sts_endpoint,
        "sts_region": config.sts_region,
        "sts_fallback_endpoints": config.sts_fallback_endpoints,
        "sts_fallback_regions": config.sts_fallback_regions,
        "max_retries": config.max_retries,
        "username_template": config.username_template,
        "role_arn": config.role_arn,
    })))
}

/// `POST config/root`: with a stored configuration, omitted fields keep their values,
/// except `username_template`, which falls back to the default.
pub fn write(req: &Request) -> Result<Response> {
    let mut config = load()?.unwrap_or_default();
    for (field, slot) in [
        ("access_key", &mut config.access_key),
        ("secret_key", &mut config.secret_key),
        ("region", &mut config.region),
        ("iam_endpoint", &mut config.iam_endpoint),
        ("sts_endpoint", &mut config.sts_endpoint),
        ("sts_region", &mut config.sts_region),
        ("role_arn", &mut config.role_arn),
    ] {
        if let Some(value) = req.get::<String>(field)? {
            *slot = value;
        }
    }
    if let Some(retries) = req.get::<i64>("max_retries")? {
        config.max_retries = retries;
    }
    if let Some(endpoints) = req.get::<Vec<String>>("sts_fallback_endpoints")? {
        config.sts_fallback_endpoints = Some(endpoints);
    }
    if let Some(regions) = req.get::<Vec<String>>("sts_fallback_regions")? {
        config.sts_fallback_regions = Some(regions);
    }
    let fallback_len = |v: &Option<Vec<String>>| v.as_ref().map_or(0, Vec::len);
    if fallback_len(&config.sts_fallback_endpoints) != fallback_len(&config.sts_fallback_regions) {
        return Err(Error::invalid(
            "fallback endpoints and fallback regions must be the same length",
        ));
    }

    let template = req.get::<String>("username_template")?.unwrap_or_default();
    config.username_template = if template.is_empty() {
        username::DEFAULT_TEMPLATE.to_string()
    } else {
        // Refused here rather than on every later credential request.
        username::validate_template(&template)
            .map_err(|e| Error::invalid(format!("invalid username_template: {e}")))?;
        template
    };

    storage::put_json(KEY, &config)?;
    Ok(Response::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_configs_follow_the_stored_config() {
        let mut c = RootConfig::default();
        let iam = c.iam_client_config();
        assert_eq!(iam.region, "us-east-1");
        assert_eq!(iam.endpoint, None);
        assert_eq!(iam.max_retries, None);

        c.region = "eu-west-1".into();
        c.sts_region = "eu-central-1".into();
        c.iam_endpoint = "http://127.0.0.1:5000".into();
        c.max_retries = 0;
        let iam = c.iam_client_config();
        assert_eq!(iam.region, "eu-west-1");
        assert_eq!(iam.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(iam.max_retries, Some(0));
        let sts = c.sts_client_config();
        assert_eq!(sts.region, "eu-central-1");
        assert_eq!(sts.endpoint, None);
    }

    #[test]
    fn stored_json_uses_vaults_keys() {
        let c: RootConfig = serde_json::from_str(r#"{"access_key":"a"}"#).unwrap();
        assert_eq!(c.max_retries, -1);
        assert_eq!(c.username_template(), username::DEFAULT_TEMPLATE);
    }
}
