//! Validated client settings, the process-wide SDK client cache, and the SDK plumbing
//! they share (one HTTP client, retry and timeout policy).
//!
//! Engine instances live for one request, but building an SDK client, its connection
//! pool and its TLS session every time would cost a handshake per call. So clients are
//! cached process-wide under a digest of everything that shapes them: a rotated root
//! key or a changed endpoint is simply a different key, and the old client ages out.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::timeout::TimeoutConfig;
use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{AwsError, ClientConfig};

/// Retries when the engine does not say (`max-retries: none`), as in Vault's SDK default.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Ceiling on `max-retries`: more only stretches a failing call to the operation timeout.
pub const MAX_RETRIES_CAP: u32 = 10;
/// Clients kept per service. Each holds little beyond credentials; the cap only stops a
/// stream of distinct configs (rotations, many mounts) from growing the map forever.
pub const CACHE_CAPACITY: usize = 64;

/// Time to establish a TCP (+TLS) connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One attempt, so a hung connection is abandoned and retried rather than waited on.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// The whole call including retries and backoff: a dead upstream fails the call.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Backoff cap; the standard strategy's 20 s default would eat the operation timeout.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Which AWS service a client talks to; part of the cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Iam,
    Sts,
}

impl Service {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }
}

/// A checked `client-config`. The credentials are zeroized when it is dropped.
pub(crate) struct AwsConfig {
    access_key: Zeroizing<String>,
    secret_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    region: String,
    endpoint: Option<String>,
    max_retries: u32,
}

impl AwsConfig {
    /// Validates an engine's config, taking ownership of its strings so the secret is
    /// wiped when this is dropped rather than left in a plain `String`.
    pub(crate) fn new(config: ClientConfig) -> Result<Self, AwsError> {
        let ClientConfig {
            access_key,
            secret_key,
            session_token,
            region,
            endpoint,
            max_retries,
        } = config;
        let (access_key, secret_key) = (Zeroizing::new(access_key), Zeroizing::new(secret_key));
        let session_token = session_token.map(Zeroizing::new);
        let invalid = |m: &str| Err(AwsError::InvalidInput(format!("AWS client config: {m}")));

        // The host never falls back to its own ambient credentials: that would hand
        // the host's AWS identity to any engine with the `aws` capability.
        if access_key.trim().is_empty() || secret_key.trim().is_empty() {
            return invalid("an access key and a secret key are required");
        }
        let region = region.trim().to_string();
        if region.is_empty() {
            return invalid("a region is required (requests are signed for one)");
        }
        if !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return invalid(&format!("region {region:?} is not a region name"));
        }
        let endpoint = match endpoint.map(|e| e.trim().to_string()) {
            None => None,
            Some(e) if e.is_empty() => None,
            Some(e) => match url::Url::parse(&e) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                    if !u.username().is_empty() || u.password().is_some() {
                        return invalid("the endpoint must not carry credentials");
                    }
                    Some(e)
                }
                _ => return invalid(&format!("endpoint {e:?} is not an http(s) URL")),
            },
        };
        Ok(Self {
            access_key,
            secret_key,
            session_token: session_token.filter(|t| !t.is_empty()),
            region,
            endpoint,
            max_retries: max_retries
                .unwrap_or(DEFAULT_MAX_RETRIES)
                .min(MAX_RETRIES_CAP),
        })
    }

    /// The cache key: a digest, so the map never holds the secret itself. Every field
    /// is length-prefixed so no two configs share an encoding.
    pub(crate) fn cache_key(&self, service: Service) -> [u8; 32] {
        let mut h = Sha256::new();
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        };
        field(service.name().as_bytes());
        field(self.access_key.as_bytes());
        field(self.secret_key.as_bytes());
        match &self.session_token {
            Some(t) => field(format!("1{}", t.as_str()).as_bytes()),
            None => field(b"0"),
        }
        field(self.region.as_bytes());
        match &self.endpoint {
            Some(e) => field(format!("1{e}").as_bytes()),
            None => field(b"0"),
        }
        field(&self.max_retries.to_be_bytes());
        h.finalize().into()
    }

    /// Where calls go, for error messages.
    pub(crate) fn endpoint_label(&self, service: Service) -> String {
        match (&self.endpoint, service) {
            (Some(e), _) => e.clone(),
            (None, Service::Iam) => format!("AWS IAM (default endpoint, region {})", self.region),
            (None, Service::Sts) => format!("AWS STS (default endpoint, region {})", self.region),
        }
    }

    pub(crate) fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// SDK credentials. The SDK keeps its own zeroizing copies.
    fn credentials(&self) -> Credentials {
        Credentials::new(
            self.access_key.as_str(),
            self.secret_key.as_str(),
            self.session_token.as_ref().map(|t| t.to_string()),
            None,
            "coffer-engine",
        )
    }

    fn retry(&self) -> RetryConfig {
        // Standard mode: exponential backoff with full jitter on throttling codes,
        // 5xx and connection errors, bounded by a client-side retry quota.
        RetryConfig::standard()
            .with_max_attempts(self.max_retries + 1)
            .with_max_backoff(MAX_BACKOFF)
    }

    /// An IAM SDK client for this config.
    pub(crate) fn iam_client(&self) -> aws_sdk_iam::Client {
        let mut b = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(self.credentials())
            .http_client(http_client())
            .retry_config(self.retry())
            .timeout_config(timeouts());
        if let Some(e) = &self.endpoint {
            b = b.endpoint_url(e.clone());
        }
        aws_sdk_iam::Client::from_conf(b.build())
    }

    /// An STS SDK client for this config.
    pub(crate) fn sts_client(&self) -> aws_sdk_sts::Client {
        let mut b = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(self.region.clone()))
            .credentials_provider(self.credentials())
            .http_client(http_client())
            .retry_config(self.retry())
            .timeout_config(timeouts());
        if let Some(e) = &self.endpoint {
            b = b.endpoint_url(e.clone());
        }
        aws_sdk_sts::Client::from_conf(b.build())
    }
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The one HTTP client every SDK client uses: hyper with rustls on ring. It keeps a
/// connection pool per (connect-timeout, …) setting, so all clients share connections.
/// `build_https` also speaks plain `http://` (test servers such as moto).
fn http_client() -> SharedHttpClient {
    static HTTP: LazyLock<SharedHttpClient> = LazyLock::new(|| {
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https()
    });
    HTTP.clone()
}

/// What a cached client needs besides the SDK client: how to describe its endpoint
/// in errors, and the secret to scrub from messages.
pub(crate) struct Conn {
    pub(crate) service: Service,
    pub(crate) endpoint: String,
    pub(crate) secret: Zeroizing<String>,
}

impl Conn {
    pub(crate) fn new(config: &AwsConfig, service: Service) -> Arc<Self> {
        Arc::new(Self {
            service,
            endpoint: config.endpoint_label(service),
            secret: Zeroizing::new(config.secret_key().to_string()),
        })
    }
}

/// A bounded map from config digest to client; the oldest insertion is evicted when
/// full. Lookups do not refresh age: a client is cheap to rebuild, and insertion order
/// keeps eviction O(n) over a tiny n with no bookkeeping on the hot path.
pub(crate) struct ClientCache<T> {
    capacity: usize,
    next_seq: u64,
    entries: HashMap<[u8; 32], (u64, T)>,
}

impl<T: Clone> ClientCache<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            next_seq: 0,
            entries: HashMap::new(),
        }
    }

    /// The client for `key`, building and inserting it on a miss.
    pub(crate) fn get_or_insert_with(&mut self, key: [u8; 32], build: impl FnOnce() -> T) -> T {
        if let Some((_, client)) = self.entries.get(&key) {
            return client.clone();
        }
        if self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (seq, _))| *seq)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        let client = build();
        self.next_seq += 1;
        self.entries.insert(key, (self.next_seq, client.clone()));
        client
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Looks `key` up in a process-wide cache, tolerating a poisoned lock: the map holds
/// no invariant a panicking builder could break.
pub(crate) fn cached<T: Clone>(
    cache: &LazyLock<Mutex<ClientCache<T>>>,
    key: [u8; 32],
    build: impl FnOnce() -> T,
) -> T {
    let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
    guard.get_or_insert_with(key, build)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClientConfig {
        ClientConfig {
            access_key: "AKIAEXAMPLE".into(),
            secret_key: "secret".into(),
            session_token: None,
            region: "us-east-1".into(),
            endpoint: Some("http://127.0.0.1:5000".into()),
            max_retries: None,
        }
    }

    fn key(c: ClientConfig, s: Service) -> [u8; 32] {
        match AwsConfig::new(c) {
            Ok(c) => c.cache_key(s),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn every_field_changes_the_key() {
        let base = key(config(), Service::Iam);
        assert_eq!(base, key(config(), Service::Iam));
        assert_ne!(base, key(config(), Service::Sts));
        let variants: &[fn(&mut ClientConfig)] = &[
            |c| c.access_key = "AKIAOTHER".into(),
            |c| c.secret_key = "secret2".into(),
            |c| c.session_token = Some("tok".into()),
            |c| c.region = "eu-west-1".into(),
            |c| c.endpoint = None,
            |c| c.endpoint = Some("http://127.0.0.1:5001".into()),
            |c| c.max_retries = Some(0),
        ];
        for (i, change) in variants.iter().enumerate() {
            let mut c = config();
            change(&mut c);
            assert_ne!(base, key(c, Service::Iam), "variant {i}");
        }
        // Defaults are normalised: `none` retries is the default count.
        let mut c = config();
        c.max_retries = Some(DEFAULT_MAX_RETRIES);
        assert_eq!(base, key(c, Service::Iam));
        // Field boundaries cannot be shifted to collide.
        let mut a = config();
        a.access_key = "AK".into();
        a.secret_key = "IAsecret".into();
        let mut b = config();
        b.access_key = "AKIA".into();
        b.secret_key = "secret".into();
        assert_ne!(key(a, Service::Iam), key(b, Service::Iam));
    }

    #[test]
    fn bad_configs_are_refused() {
        let refused = |f: &dyn Fn(&mut ClientConfig)| {
            let mut c = config();
            f(&mut c);
            matches!(AwsConfig::new(c), Err(AwsError::InvalidInput(_)))
        };
        assert!(refused(&|c| c.region = " ".into()));
        assert!(refused(&|c| c.region = "us-east-1/../x".into()));
        assert!(refused(&|c| c.access_key = String::new()));
        assert!(refused(&|c| c.secret_key = String::new()));
        assert!(refused(&|c| c.endpoint = Some("127.0.0.1:5000".into())));
        assert!(refused(&|c| c.endpoint = Some("ftp://x".into())));
        assert!(refused(&|c| c.endpoint = Some("http://a:b@x".into())));
        assert!(!refused(&|c| c.endpoint = Some(String::new())));
        assert!(!refused(
            &|c| c.endpoint = Some("https://iam.amazonaws.com".into())
        ));
        let mut c = config();
        c.max_retries = Some(u32::MAX);
        assert!(matches!(AwsConfig::new(c), Ok(c) if c.max_retries == MAX_RETRIES_CAP));
    }

    #[test]
    fn invalid_config_message_never_holds_the_secret() {
        let mut c = config();
        c.secret_key = "TOPSECRETVALUE".into();
        c.region = String::new();
        match AwsConfig::new(c) {
            Err(e) => assert!(!format!("{e:?}").contains("TOPSECRETVALUE")),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn cache_is_bounded_and_evicts_the_oldest() {
        let mut cache = ClientCache::new(2);
        let k = |n: u8| [n; 32];
        let built = std::cell::Cell::new(0);
        let get = |cache: &mut ClientCache<u8>, n: u8| {
            cache.get_or_insert_with(k(n), || {
                built.set(built.get() + 1);
                n
            })
        };
        assert_eq!(get(&mut cache, 1), 1);
        assert_eq!(get(&mut cache, 1), 1);
        assert_eq!(get(&mut cache, 2), 2);
        assert_eq!(get(&mut cache, 3), 3); // evicts 1
        assert_eq!(cache.len(), 2);
        assert_eq!(get(&mut cache, 2), 2); // still cached
        assert_eq!(get(&mut cache, 1), 1); // rebuilt, evicts 2
        assert_eq!(built.get(), 4);
    }
}
