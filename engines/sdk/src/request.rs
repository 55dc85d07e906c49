//! A client request as an engine handler sees it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::bindings::coffer::engine::types as wit;
use crate::error::{Error, Result};
use crate::fields::FromField;

/// What the client asked for, after the host mapped the HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `GET`.
    Read,
    /// `POST`/`PUT` of something that does not exist yet (the host sends
    /// [`Operation::Update`] for every write today; see the WIT docs).
    Create,
    /// `POST`/`PUT`.
    Update,
    /// `DELETE`.
    Delete,
    /// `LIST`, or `GET` with `?list=true`.
    List,
    /// `PATCH` with a JSON merge patch.
    Patch,
}

impl Operation {
    fn from_wit(op: wit::Operation) -> Self {
        match op {
            wit::Operation::Read => Operation::Read,
            wit::Operation::Create => Operation::Create,
            wit::Operation::Update => Operation::Update,
            wit::Operation::Delete => Operation::Delete,
            wit::Operation::List => Operation::List,
            wit::Operation::Patch => Operation::Patch,
        }
    }
}

/// The mount a request (or lease, or housekeeping call) belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mount {
    /// The mount path with its trailing slash, e.g. `secret/`.
    pub path: String,
    /// The mount's accessor, stable for the life of the mount.
    pub accessor: String,
    /// Mount options as given at enable or tune time.
    pub options: BTreeMap<String, String>,
    /// The mount's effective default lease TTL in seconds.
    pub default_lease_ttl: u64,
    /// The mount's effective maximum lease TTL in seconds.
    pub max_lease_ttl: u64,
}

impl Mount {
    /// The mount option `name`, e.g. `mount.option("version")`.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    pub(crate) fn from_wit(m: wit::Mount) -> Self {
        Mount {
            path: m.path,
            accessor: m.accessor,
            // Later duplicates win, like re-tuning an option.
            options: m.options.into_iter().collect(),
            default_lease_ttl: m.default_lease_ttl,
            max_lease_ttl: m.max_lease_ttl,
        }
    }
}

/// Who is calling, as the host authenticated them. For naming things (e.g. putting the
/// display name into generated user names), never for access control: the host has
/// already checked the caller's policies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// The token's display name, e.g. `root` or `token-ci`.
    pub display_name: String,
    /// The policies attached to the token.
    pub policies: Vec<String>,
    /// The identity entity id; empty when the token has none.
    pub entity_id: String,
}

/// One client request, routed to a handler.
///
/// Fields are read with [`Request::get`] (optional) and [`Request::require`], typed
/// through [`FromField`]. Path parameters captured by the route take precedence over
/// same-named body fields, as in Vault.
#[derive(Debug, Clone)]
pub struct Request {
    operation: Operation,
    path: String,
    data: Map<String, Value>,
    params: Vec<(String, String)>,
    mount: Mount,
    caller: Caller,
    request_id: String,
}

impl Request {
    /// A request for `operation` on `path` with no data, a default mount and caller.
    /// Engines receive requests from the host; this constructor is for tests.
    pub fn new(operation: Operation, path: impl Into<String>) -> Self {
        Request {
            operation,
            path: path.into(),
            data: Map::new(),
            params: Vec::new(),
            mount: Mount::default(),
            caller: Caller::default(),
            request_id: String::new(),
        }
    }

    /// Replaces the request data (the body, or query parameters for reads).
    pub fn with_data(mut self, data: Map<String, Value>) -> Self {
        self.data = data;
        self
    }

    /// Replaces the mount.
    pub fn with_mount(mut self, mount: Mount) -> Self {
        self.mount = mount;
        self
    }

    /// Replaces the caller.
    pub fn with_caller(mut self, caller: Caller) -> Self {
        self.caller = caller;
        self
    }

    /// Converts the host's request; data that is not a JSON object is a `400`.
    pub(crate) fn from_wit(req: wit::Request) -> Result<Self> {
        // Reads without parameters (the hot path) carry no data: skip the parser.
        let data = if req.data == "{}" {
            Map::new()
        } else {
            match serde_json::from_str::<Value>(&req.data) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(Error::invalid("request data must be a JSON object")),
                Err(e) => return Err(Error::invalid(format!("malformed request data: {e}"))),
            }
        };
        Ok(Request {
            operation: Operation::from_wit(req.operation),
            path: req.path,
            data,
            params: Vec::new(),
            mount: Mount::from_wit(req.mount),
            caller: Caller {
                display_name: req.caller.display_name,
                policies: req.caller.policies,
                entity_id: req.caller.entity_id,
            },
            request_id: req.request_id,
        })
    }

    pub(crate) fn set_params(&mut self, params: Vec<(String, String)>) {
        self.params = params;
    }

    /// The operation.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The path inside the mount, without a leading slash. For lists it ends with `/`
    /// unless it is empty.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw request data: every field the client sent, `null`s included.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }

    /// The path parameter `name` captured by the route pattern (`{name}`, `{name*}`,
    /// `{name+}`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The field `name` converted to `T`; `None` when absent or `null`. A present value
    /// that does not convert is a `400` naming the field.
    ///
    /// ```ignore
    /// let ttl: Option<coffer_sdk::Seconds> = req.get("ttl")?;
    /// let policies: Vec<String> = req.get("policies")?.unwrap_or_default();
    /// ```
    pub fn get<T: FromField>(&self, name: &str) -> Result<Option<T>> {
        let captured;
        let value = match self.param(name) {
            Some(p) => {
                captured = Value::String(p.to_string());
                &captured
            }
            None => match self.data.get(name) {
                None | Some(Value::Null) => return Ok(None),
                Some(v) => v,
            },
        };
        T::from_field(value)
            .map(Some)
            .map_err(|e| Error::invalid(format!("invalid value for field \"{name}\": {e}")))
    }

    /// Like [`Request::get`], with `default` when the field is absent.
    pub fn get_or<T: FromField>(&self, name: &str, default: T) -> Result<T> {
        Ok(self.get(name)?.unwrap_or(default))
    }

    /// Like [`Request::get`], but an absent field is a `400` `missing <name>`.
    pub fn require<T: FromField>(&self, name: &str) -> Result<T> {
        self.get(name)?
            .ok_or_else(|| Error::invalid(format!("missing {name}")))
    }

    /// Whether the field `name` was given (and is not `null`).
    pub fn has(&self, name: &str) -> bool {
        self.param(name).is_some() || self.data.get(name).is_some_and(|v| !v.is_null())
    }

    /// The mount the request came through.
    pub fn mount(&self) -> &Mount {
        &self.mount
    }

    /// The authenticated caller.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The request id the client sees as `request_id`.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(data: Value) -> Request {
        let Value::Object(map) = data else {
            panic!("test data must be an object")
        };
        Request::new(Operation::Update, "x").with_data(map)
    }

    #[test]
    fn null_means_absent() {
        let r = req(json!({"a": null, "b": "1"}));
        assert_eq!(r.get::<String>("a").unwrap(), None);
        assert!(!r.has("a"));
        assert!(r.has("b"));
        assert_eq!(r.get::<i64>("b").unwrap(), Some(1));
        assert_eq!(r.get_or::<i64>("zz", 7).unwrap(), 7);
        assert_eq!(
            r.require::<String>("a").unwrap_err(),
            Error::invalid("missing a")
        );
    }

    #[test]
    fn conversion_errors_name_the_field() {
        let r = req(json!({"n": "many"}));
        let err = r.get::<i64>("n").unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("\"n\""), "{err}");
    }

    #[test]
    fn path_params_win_over_body() {
        let mut r = req(json!({"name": "body"}));
        r.set_params(vec![("name".into(), "path".into())]);
        assert_eq!(r.get::<String>("name").unwrap().as_deref(), Some("path"));
        assert_eq!(r.param("name"), Some("path"));
    }

    #[test]
    fn wit_requests_need_object_data() {
        let wit_req = |data: &str| wit::Request {
            operation: wit::Operation::Read,
            path: "p".into(),
            data: data.into(),
            mount: wit::Mount {
                path: "secret/".into(),
                accessor: "kv_1".into(),
                options: vec![
                    ("version".into(), "1".into()),
                    ("version".into(), "2".into()),
                ],
                default_lease_ttl: 10,
                max_lease_ttl: 20,
            },
            caller: wit::Caller {
                display_name: "root".into(),
                policies: vec!["root".into()],
                entity_id: String::new(),
            },
            request_id: "rid".into(),
        };
        let r = Request::from_wit(wit_req(r#"{"a":1}"#)).unwrap();
        assert_eq!(r.mount().option("version"), Some("2"));
        assert_eq!(r.caller().display_name, "root");
        assert_eq!(r.request_id(), "rid");
        assert_eq!(Request::from_wit(wit_req("[]")).unwrap_err().status(), 400);
        assert_eq!(Request::from_wit(wit_req("{")).unwrap_err().status(), 400);
    }
}
