//! Routing requests to handlers by path pattern and operation.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::request::{Operation, Request};
use crate::response::Response;

/// A request handler: a function or closure from a request to a response.
pub type Handler = Box<dyn Fn(&Request) -> Result<Response>>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Rest { name: String, non_empty: bool },
}

/// The trailing `{name*}`/`{name+}` of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rest {
    name: String,
    non_empty: bool,
}

/// A parsed path pattern (syntax in [`Router`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    fixed: Vec<Segment>,
    rest: Option<Rest>,
}

impl Pattern {
    /// Parses `pattern`; the error explains what is wrong with it.
    pub fn parse(pattern: &str) -> core::result::Result<Pattern, String> {
        let body = pattern.strip_suffix('/').unwrap_or(pattern);
        if body.is_empty() {
            return Ok(Pattern {
                fixed: Vec::new(),
                rest: None,
            });
        }
        let pieces: Vec<&str> = body.split('/').collect();
        let mut fixed = Vec::with_capacity(pieces.len());
        let mut rest = None;
        for (i, piece) in pieces.iter().enumerate() {
            let segment = parse_segment(piece)
                .map_err(|e| format!("invalid route pattern {pattern:?}: {e}"))?;
            if let Segment::Rest { name, non_empty } = segment {
                if i + 1 != pieces.len() {
                    return Err(format!(
                        "invalid route pattern {pattern:?}: {piece} must be the last segment"
                    ));
                }
                rest = Some(Rest { name, non_empty });
            } else {
                fixed.push(segment);
            }
        }
        Ok(Pattern { fixed, rest })
    }

    /// Matches `path`, returning the captured parameters in pattern order.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let mut params = Vec::new();
        match &self.rest {
            None => {
                let path = path.strip_suffix('/').unwrap_or(path);
                if self.fixed.is_empty() {
                    return path.is_empty().then_some(params);
                }
                let mut parts = path.split('/');
                for segment in &self.fixed {
                    match_segment(segment, parts.next()?, &mut params)?;
                }
                parts.next().is_none().then_some(params)
            }
            Some(Rest { name, non_empty }) => {
                let n = self.fixed.len();
                let remainder = if n == 0 {
                    path
                } else {
                    // n fixed segments, then the separator, then the rest verbatim.
                    let mut parts = path.splitn(n + 1, '/');
                    for segment in &self.fixed {
                        match_segment(segment, parts.next()?, &mut params)?;
                    }
                    parts.next()?
                };
                if *non_empty && remainder.is_empty() {
                    return None;
                }
                params.push((name.clone(), remainder.to_string()));
                Some(params)
            }
        }
    }
}

fn parse_segment(piece: &str) -> core::result::Result<Segment, String> {
    if let Some(inner) = piece.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or_else(|| format!("unclosed parameter {piece:?}"))?;
        let (name, rest) = match inner.strip_suffix('*') {
            Some(name) => (name, Some(false)),
            None => match inner.strip_suffix('+') {
                Some(name) => (name, Some(true)),
                None => (inner, None),
            },
        };
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(format!("invalid parameter name in {piece:?}"));
        }
        return Ok(match rest {
            Some(non_empty) => Segment::Rest {
                name: name.to_string(),
                non_empty,
            },
            None => Segment::Param(name.to_string()),
        });
    }
    if piece.is_empty() {
        return Err("empty segment".to_string());
    }
    if piece.contains(['{', '}']) {
        return Err(format!("stray brace in {piece:?}"));
    }
    Ok(Segment::Literal(piece.to_string()))
}

fn match_segment(segment: &Segment, part: &str, params: &mut Vec<(String, String)>) -> Option<()> {
    match segment {
        Segment::Literal(lit) => (lit == part).then_some(()),
        Segment::Param(name) => {
            if part.is_empty() {
                return None;
            }
            params.push((name.clone(), part.to_string()));
            Some(())
        }
        Segment::Rest { .. } => None,
    }
}

/// One path pattern with its handlers. Built through [`Router::path`].
pub struct Route {
    pattern: core::result::Result<Pattern, String>,
    read: Option<Handler>,
    write: Option<Handler>,
    patch: Option<Handler>,
    delete: Option<Handler>,
    list: Option<Handler>,
    fields: Option<Vec<String>>,
}

impl Route {
    fn new(pattern: &str) -> Self {
        Route {
            pattern: Pattern::parse(pattern),
            read: None,
            write: None,
            patch: None,
            delete: None,
            list: None,
            fields: None,
        }
    }

    /// Handles `read` (`GET`).
    pub fn read(&mut self, handler: impl Fn(&Request) -> Result<Response> + 'static) -> &mut Self {
        self.read = Some(Box::new(handler));
        self
    }

    /// Handles `create` and `update` (`POST`/`PUT`); tell them apart with
    /// [`Request::operation`] if needed.
    pub fn write(&mut self, handler: impl Fn(&Request) -> Result<Response> + 'static) -> &mut Self {
        self.write = Some(Box::new(handler));
        self
    }

    /// Handles `patch` (`PATCH` with a JSON merge patch body).
    pub fn patch(&mut self, handler: impl Fn(&Request) -> Result<Response> + 'static) -> &mut Self {
        self.patch = Some(Box::new(handler));
        self
    }

    /// Handles `delete` (`DELETE`).
    pub fn delete(
        &mut self,
        handler: impl Fn(&Request) -> Result<Response> + 'static,
    ) -> &mut Self {
        self.delete = Some(Box::new(handler));
        self
    }

    /// Handles `list` (`LIST`, `GET ?list=true`).
    pub fn list(&mut self, handler: impl Fn(&Request) -> Result<Response> + 'static) -> &mut Self {
        self.list = Some(Box::new(handler));
        self
    }

    /// Declares the fields this route understands. When a handler returns data, fields
    /// the client sent that are not declared (and not path parameters) are reported
    /// with Vault's warning `Endpoint ignored these unrecognized parameters: [a b]`.
    /// Without this call the route accepts anything silently.
    pub fn fields(&mut self, names: &[&str]) -> &mut Self {
        self.fields = Some(names.iter().map(|n| (*n).to_string()).collect());
        self
    }

    fn handler(&self, op: Operation) -> Option<&Handler> {
        match op {
            Operation::Read => self.read.as_ref(),
            Operation::Create | Operation::Update => self.write.as_ref(),
            Operation::Patch => self.patch.as_ref(),
            Operation::Delete => self.delete.as_ref(),
            Operation::List => self.list.as_ref(),
        }
    }
}

/// The routes of an engine (for one mount).
///
/// # Patterns
///
/// A pattern is a `/`-separated list of segments:
///
/// | segment | matches |
/// |---|---|
/// | `config` | exactly that segment |
/// | `{name}` | one non-empty segment, captured as `name` |
/// | `{name*}` | the rest of the path, possibly empty, slashes included (last segment only) |
/// | `{name+}` | the rest of the path, non-empty (last segment only) |
///
/// A pattern without a rest segment also matches the path with one trailing `/`, so
/// `roles` serves both `roles` and the list path `roles/`. A rest segment captures the
/// path verbatim, trailing slash included, so a list handler on `{path*}` sees the
/// folder it lists. The empty pattern `""` matches only the mount root.
///
/// Routes are tried in the order they were added; the first whose pattern matches the
/// path handles the request. No matching route is `unsupported path`; a matching route
/// without a handler for the operation is `unsupported operation`.
///
/// # Example
///
/// ```
/// use coffer_sdk::{Request, Response, Result, Router};
///
/// fn read_role(req: &Request) -> Result<Response> {
///     let name: String = req.require("name")?;
///     Ok(Response::data(serde_json::json!({ "name": name })))
/// }
///
/// let mut router = Router::new();
/// router.path("roles/{name}").read(read_role).fields(&["ttl"]);
/// router.path("roles").list(|_| Ok(Response::keys(vec!["a".into()])));
/// ```
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// An empty router: every path is `unsupported path`.
    pub fn new() -> Self {
        Router::default()
    }

    /// Adds a route for `pattern` and returns it for attaching handlers. An invalid
    /// pattern does not panic: requests reaching it fail with a `500` naming it, and
    /// [`Router::check`] reports it (call that in a unit test).
    pub fn path(&mut self, pattern: &str) -> &mut Route {
        self.routes.push(Route::new(pattern));
        let last = self.routes.len() - 1;
        &mut self.routes[last]
    }

    /// Every invalid pattern among the routes, with the reason.
    pub fn check(&self) -> core::result::Result<(), Vec<String>> {
        let errors: Vec<String> = self
            .routes
            .iter()
            .filter_map(|r| r.pattern.as_ref().err().cloned())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Routes `req` to its handler and runs it.
    pub fn handle(&self, mut req: Request) -> Result<Response> {
        let (route, params) = self.find(req.path())?;
        let handler = route
            .handler(req.operation())
            .ok_or(Error::UnsupportedOperation)?;
        req.set_params(params);
        let mut response = handler(&req)?;
        if response.has_data() {
            add_field_warnings(route, &req, &mut response);
        }
        Ok(response)
    }

    fn find(&self, path: &str) -> Result<(&Route, Vec<(String, String)>)> {
        for route in &self.routes {
            match &route.pattern {
                Ok(pattern) => {
                    if let Some(params) = pattern.matches(path) {
                        return Ok((route, params));
                    }
                }
                Err(e) => return Err(Error::internal(e.clone())),
            }
        }
        Err(Error::UnsupportedPath)
    }
}

/// Vault's warnings about body fields a route ignored or replaced with path values.
fn add_field_warnings(route: &Route, req: &Request, response: &mut Response) {
    let given = || {
        req.data()
            .iter()
            .filter(|(_, v)| !matches!(v, Value::Null))
            .map(|(k, _)| k.as_str())
    };
    let is_param = |k: &str| req.params().iter().any(|(name, _)| name == k);

    // Map keys iterate sorted, so both lists come out sorted as Vault prints them.
    let replaced: Vec<&str> = given().filter(|k| is_param(k)).collect();
    if !replaced.is_empty() {
        response.add_warning(format!(
            "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [{}]",
            replaced.join(" ")
        ));
    }
    if let Some(fields) = &route.fields {
        let unknown: Vec<&str> = given()
            .filter(|k| !is_param(k) && !fields.iter().any(|f| f == k))
            .collect();
        if !unknown.is_empty() {
            response.add_warning(format!(
                "Endpoint ignored these unrecognized parameters: [{}]",
                unknown.join(" ")
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
        Pattern::parse(pattern).unwrap().matches(path)
    }

    fn p(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        )
    }

    #[test]
    fn literals_and_trailing_slash() {
        assert_eq!(m("config", "config"), p(&[]));
        assert_eq!(m("config", "config/"), p(&[]));
        assert_eq!(m("config", "configs"), None);
        assert_eq!(m("config", "config/x"), None);
        assert_eq!(m("config", ""), None);
        assert_eq!(m("roles/", "roles"), p(&[]));
        assert_eq!(m("a/b", "a/b"), p(&[]));
        assert_eq!(m("a/b", "a//b"), None);
    }

    #[test]
    fn root_pattern() {
        assert_eq!(m("", ""), p(&[]));
        assert_eq!(m("", "x"), None);
    }

    #[test]
    fn single_segment_params() {
        assert_eq!(m("roles/{name}", "roles/web"), p(&[("name", "web")]));
        assert_eq!(m("roles/{name}", "roles/web/"), p(&[("name", "web")]));
        assert_eq!(m("roles/{name}", "roles/"), None);
        assert_eq!(m("roles/{name}", "roles/a/b"), None);
        assert_eq!(m("{a}/x/{b}", "1/x/2"), p(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn rest_params() {
        assert_eq!(m("data/{path+}", "data/a/b/c"), p(&[("path", "a/b/c")]));
        assert_eq!(m("data/{path+}", "data/a/"), p(&[("path", "a/")]));
        assert_eq!(m("data/{path+}", "data/"), None);
        assert_eq!(m("data/{path+}", "data"), None);
        assert_eq!(m("metadata/{path*}", "metadata/"), p(&[("path", "")]));
        assert_eq!(m("metadata/{path*}", "metadata/a/"), p(&[("path", "a/")]));
        assert_eq!(m("metadata/{path*}", "metadata"), None);
        assert_eq!(m("metadata/{path*}", "metadatax/a"), None);
        assert_eq!(m("{path*}", ""), p(&[("path", "")]));
        assert_eq!(m("{path*}", "a/b/"), p(&[("path", "a/b/")]));
        assert_eq!(m("{path+}", ""), None);
        assert_eq!(
            m("x/{id}/{rest*}", "x/1/a/b"),
            p(&[("id", "1"), ("rest", "a/b")])
        );
        assert_eq!(m("x/{id}/{rest*}", "x//a"), None);
    }

    #[test]
    fn invalid_patterns() {
        for bad in ["{a*}/b", "a//b", "{}", "{a", "a}", "x{a}", "{a b}", "{*}"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }

    fn ok_data(_: &Request) -> Result<Response> {
        Ok(Response::data(json!({"ok": true})))
    }

    fn request(op: Operation, path: &str, data: Value) -> Request {
        let Value::Object(map) = data else {
            panic!("object expected")
        };
        Request::new(op, path).with_data(map)
    }

    #[test]
    fn dispatch_by_path_and_operation() {
        let mut router = Router::new();
        router
            .path("config")
            .read(ok_data)
            .write(|_| Ok(Response::empty()));
        router
            .path("roles/{name}")
            .read(|req| Ok(Response::data(json!({ "name": req.param("name") }))));
        assert!(router.check().is_ok());

        let r = router
            .handle(request(Operation::Read, "config", json!({})))
            .unwrap();
        assert_eq!(r.data_value(), Some(&json!({"ok": true})));
        let r = router
            .handle(request(Operation::Update, "config", json!({})))
            .unwrap();
        assert_eq!(r.data_value(), None);
        let r = router
            .handle(request(Operation::Create, "config", json!({})))
            .unwrap();
        assert_eq!(r.data_value(), None);
        assert_eq!(
            router.handle(request(Operation::Delete, "config", json!({}))),
            Err(Error::UnsupportedOperation)
        );
        assert_eq!(
            router.handle(request(Operation::Read, "nope", json!({}))),
            Err(Error::UnsupportedPath)
        );
        let r = router
            .handle(request(Operation::Read, "roles/web", json!({})))
            .unwrap();
        assert_eq!(r.data_value(), Some(&json!({"name": "web"})));
    }

    #[test]
    fn first_matching_route_wins() {
        let mut router = Router::new();
        router
            .path("a/{x}")
            .read(|_| Ok(Response::data(json!({"n": 1}))));
        router
            .path("a/b")
            .read(|_| Ok(Response::data(json!({"n": 2}))));
        let r = router
            .handle(request(Operation::Read, "a/b", json!({})))
            .unwrap();
        assert_eq!(r.data_value(), Some(&json!({"n": 1})));
    }

    #[test]
    fn invalid_pattern_is_an_internal_error() {
        let mut router = Router::new();
        router.path("{bad").read(ok_data);
        assert!(router.check().is_err());
        let err = router
            .handle(request(Operation::Read, "x", json!({})))
            .unwrap_err();
        assert_eq!(err.status(), 500);
    }

    #[test]
    fn warnings_for_unknown_and_replaced_fields() {
        let mut router = Router::new();
        router.path("roles/{name}").write(ok_data).fields(&["ttl"]);
        router.path("open").write(ok_data);
        router
            .path("quiet/{name}")
            .write(|_| Ok(Response::empty()))
            .fields(&[]);

        let r = router
            .handle(request(
                Operation::Update,
                "roles/web",
                json!({"ttl": 1, "zeta": 1, "alpha": 2, "nothing": null, "name": "other"}),
            ))
            .unwrap();
        assert_eq!(
            r.warnings(),
            &[
                "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [name]".to_string(),
                "Endpoint ignored these unrecognized parameters: [alpha zeta]".to_string(),
            ]
        );

        let r = router
            .handle(request(Operation::Update, "open", json!({"anything": 1})))
            .unwrap();
        assert!(r.warnings().is_empty());

        // No body, no warnings (Vault only warns when it returns a response).
        let r = router
            .handle(request(Operation::Update, "quiet/x", json!({"x": 1})))
            .unwrap();
        assert!(r.warnings().is_empty());
    }
}
