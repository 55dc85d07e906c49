//! What a handler answers.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::bindings::coffer::engine::types as wit;
use crate::error::{Error, Result};

/// A successful answer: optional JSON data, warnings, and either a lease or a refresh
/// interval.
///
/// A response without data and without warnings or a lease becomes `204 No Content`.
///
/// ```ignore
/// Response::data(json!({"version": 3}))
///     .warning("max_versions is ignored")
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    data: Option<Value>,
    lease: Option<LeaseGrant>,
    refresh_interval: Option<u64>,
    warnings: Vec<String>,
}

impl Response {
    /// No data: `204 No Content`.
    pub fn empty() -> Self {
        Response::default()
    }

    /// A response whose `data` is `data`, which must be a JSON object (anything else
    /// turns into a `500` when the response is handed to the host).
    pub fn data(data: Value) -> Self {
        Response {
            data: Some(data),
            ..Response::default()
        }
    }

    /// A response with a JSON object as `data`.
    pub fn object(data: Map<String, Value>) -> Self {
        Response::data(Value::Object(data))
    }

    /// A response whose `data` is `value` serialised with serde (a struct or map).
    pub fn serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        Ok(Response::data(serde_json::to_value(value)?))
    }

    /// A list answer, `{"keys": [...]}`. The host answers an empty list with `404`.
    pub fn keys(keys: Vec<String>) -> Self {
        let mut data = Map::new();
        data.insert("keys".to_string(), Value::from(keys));
        Response::object(data)
    }

    /// Adds a human-readable warning.
    pub fn warning(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }

    /// Adds a warning in place (for post-processing a built response).
    pub fn add_warning(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    /// For unleased data clients may cache: the seconds reported as `lease_duration`
    /// with an empty `lease_id`; `0` means the mount's default lease TTL.
    pub fn refresh_interval(mut self, secs: u64) -> Self {
        self.refresh_interval = Some(secs);
        self
    }

    /// Puts the data under a lease; the host stores it and later calls the engine's
    /// `renew`/`revoke`.
    pub fn lease(mut self, lease: LeaseGrant) -> Self {
        self.lease = Some(lease);
        self
    }

    /// The response data, if any.
    pub fn data_value(&self) -> Option<&Value> {
        self.data.as_ref()
    }

    /// The warnings so far.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The refresh interval, if set.
    pub fn refresh_interval_secs(&self) -> Option<u64> {
        self.refresh_interval
    }

    /// The lease grant, if set.
    pub fn lease_grant(&self) -> Option<&LeaseGrant> {
        self.lease.as_ref()
    }

    pub(crate) fn into_wit(self) -> Result<wit::Response> {
        let data = match self.data {
            None => None,
            Some(v @ Value::Object(_)) => Some(v.to_string()),
            Some(_) => {
                return Err(Error::internal(
                    "engine returned data that is not a JSON object",
                ));
            }
        };
        let lease = match self.lease {
            None => None,
            Some(grant) => Some(grant.into_wit()?),
        };
        Ok(wit::Response {
            data,
            lease,
            refresh_interval: self.refresh_interval,
            warnings: self.warnings,
        })
    }
}

/// Asks the host to put a response under a lease.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeaseGrant {
    /// Requested lease duration in seconds; 0 means the mount's default.
    pub ttl: u64,
    /// Upper bound for the lease's life in seconds; 0 means the mount's maximum.
    pub max_ttl: u64,
    /// Whether clients may renew the lease.
    pub renewable: bool,
    /// Engine-private JSON object stored with the lease and handed back to `renew` and
    /// `revoke` (e.g. the name of the user to delete). Clients never see it.
    pub internal: Map<String, Value>,
}

impl LeaseGrant {
    /// A renewable lease of `ttl` seconds (0 = mount default) with no internal data.
    pub fn new(ttl: u64) -> Self {
        LeaseGrant {
            ttl,
            renewable: true,
            ..LeaseGrant::default()
        }
    }

    /// Sets the maximum TTL in seconds (0 = the mount's maximum).
    pub fn max_ttl(mut self, secs: u64) -> Self {
        self.max_ttl = secs;
        self
    }

    /// Sets whether clients may renew the lease.
    pub fn renewable(mut self, renewable: bool) -> Self {
        self.renewable = renewable;
        self
    }

    /// Sets the internal data from any serialisable value that becomes a JSON object.
    pub fn internal<T: Serialize + ?Sized>(mut self, internal: &T) -> Result<Self> {
        match serde_json::to_value(internal)? {
            Value::Object(map) => {
                self.internal = map;
                Ok(self)
            }
            _ => Err(Error::internal("lease internal data must be a JSON object")),
        }
    }

    fn into_wit(self) -> Result<wit::LeaseGrant> {
        Ok(wit::LeaseGrant {
            ttl: self.ttl,
            max_ttl: self.max_ttl,
            renewable: self.renewable,
            internal: Value::Object(self.internal).to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_to_wit() {
        let r = Response::data(json!({"a": 1}))
            .warning("w")
            .refresh_interval(5)
            .into_wit()
            .unwrap();
        assert_eq!(r.data.as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(r.warnings, vec!["w".to_string()]);
        assert_eq!(r.refresh_interval, Some(5));
        assert!(r.lease.is_none());

        let empty = Response::empty().into_wit().unwrap();
        assert!(empty.data.is_none());

        assert_eq!(
            Response::data(json!([1])).into_wit().unwrap_err().status(),
            500
        );
    }

    #[test]
    fn lease_grants() {
        let grant = LeaseGrant::new(60)
            .max_ttl(120)
            .internal(&json!({"user": "u1"}))
            .unwrap();
        let r = Response::keys(vec!["a".into()])
            .lease(grant)
            .into_wit()
            .unwrap();
        let lease = r.lease.unwrap();
        assert_eq!((lease.ttl, lease.max_ttl, lease.renewable), (60, 120, true));
        assert_eq!(lease.internal, r#"{"user":"u1"}"#);
        assert!(LeaseGrant::new(1).internal(&json!("x")).is_err());
    }
}
