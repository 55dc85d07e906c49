//! What a handler answers.

use std::cell::OnceCell;

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
#[derive(Debug, Clone, Default)]
pub struct Response {
    data: Option<Data>,
    lease: Option<LeaseGrant>,
    refresh_interval: Option<u64>,
    warnings: Vec<String>,
}

/// A response's data, as a tree or as the JSON text [`Response::serialize`] wrote.
#[derive(Debug, Clone)]
enum Data {
    Value(Value),
    /// Handed to the host as it is: a handler that serialises a struct never builds a
    /// `Value` tree. Parsed only if someone asks for [`Response::data_value`] (tests).
    Json {
        text: String,
        parsed: OnceCell<Value>,
    },
}

impl PartialEq for Response {
    /// Responses are equal when they carry the same JSON, however it is held.
    fn eq(&self, other: &Self) -> bool {
        self.data_value() == other.data_value()
            && self.lease == other.lease
            && self.refresh_interval == other.refresh_interval
            && self.warnings == other.warnings
    }
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
            data: Some(Data::Value(data)),
            ..Response::default()
        }
    }

    /// A response with a JSON object as `data`.
    pub fn object(data: Map<String, Value>) -> Self {
        Response::data(Value::Object(data))
    }

    /// A response whose `data` is `value` serialised with serde (a struct or map).
    ///
    /// The JSON text is written straight away and passed to the host unchanged, which
    /// is cheaper than building a [`Value`] first: fields of type
    /// `&serde_json::value::RawValue` (stored JSON handed back as it is) are copied
    /// without being parsed at all.
    pub fn serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        Ok(Response::json_text(serde_json::to_string(value)?))
    }

    /// A response whose `data` is `text`, JSON text of an object, handed to the host
    /// without being parsed here: for a handler that assembles its answer from JSON it
    /// stored itself. The host checks every engine's answer, and text that is not a
    /// JSON object becomes a `500` there.
    pub fn json_text(text: String) -> Self {
        Response {
            data: Some(Data::Json {
                text,
                parsed: OnceCell::new(),
            }),
            ..Response::default()
        }
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
        match self.data.as_ref()? {
            Data::Value(v) => Some(v),
            // Text that does not parse shows as `null` (the host would refuse it).
            Data::Json { text, parsed } => {
                Some(parsed.get_or_init(|| serde_json::from_str(text).unwrap_or_default()))
            }
        }
    }

    /// Whether the response carries data (without parsing it).
    pub fn has_data(&self) -> bool {
        self.data.is_some()
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
        let not_object = || Error::internal("engine returned data that is not a JSON object");
        let data = match self.data {
            None => None,
            // `to_string` writes straight into a buffer; `Value`'s `Display` goes
            // through the formatter for every piece and costs twice as much.
            Some(Data::Value(v @ Value::Object(_))) => Some(serde_json::to_string(&v)?),
            Some(Data::Value(_)) => return Err(not_object()),
            // Only the first byte is looked at (serde_json writes no leading blanks);
            // the host validates the whole text.
            Some(Data::Json { text, .. }) if text.starts_with('{') => Some(text),
            Some(Data::Json { .. }) => return Err(not_object()),
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
            internal: serde_json::to_string(&self.internal)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::value::RawValue;

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
    fn json_text_is_passed_on_unparsed() {
        let text = r#"{"data":{"k":"v"},"n":1}"#;
        let r = Response::json_text(text.to_string());
        assert_eq!(r.data_value(), Some(&json!({"data": {"k": "v"}, "n": 1})));
        assert_eq!(r.into_wit().unwrap().data.as_deref(), Some(text));
        let not_object = Response::json_text("[1]".to_string()).into_wit();
        assert_eq!(not_object.unwrap_err().status(), 500);
    }

    #[test]
    fn serialized_data_is_passed_on_as_written() {
        #[derive(Serialize)]
        struct Shown<'a> {
            data: &'a RawValue,
            version: u64,
        }
        let stored: &RawValue = serde_json::from_str(r#"{"k":"v","n":[1,2]}"#).unwrap();
        let r = Response::serialize(&Shown {
            data: stored,
            version: 3,
        })
        .unwrap();
        assert!(r.has_data());
        assert_eq!(
            r.data_value(),
            Some(&json!({"data": {"k": "v", "n": [1, 2]}, "version": 3}))
        );
        assert_eq!(
            r,
            Response::data(json!({"data": {"k": "v", "n": [1, 2]}, "version": 3}))
        );
        let wit = r.into_wit().unwrap();
        assert_eq!(
            wit.data.as_deref(),
            Some(r#"{"data":{"k":"v","n":[1,2]},"version":3}"#)
        );
        assert_eq!(
            Response::serialize(&[1, 2])
                .unwrap()
                .into_wit()
                .unwrap_err()
                .status(),
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
