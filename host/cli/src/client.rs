//! A minimal blocking HTTP client for the Vault API, mirroring the error
//! handling of Vault's Go `api` package so the CLI's messages match.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::kvpath::{encode_path, encode_query};
use crate::secret::Secret;

/// The address used when neither `-address` nor the environment sets one.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:8200";

/// Where and how to talk to the server.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Base address, e.g. `http://127.0.0.1:8200` (no trailing slash).
    pub address: String,
    /// Client token sent as `X-Vault-Token`.
    pub token: Option<String>,
    /// Namespace sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// Extra headers from `-header=K=V`.
    pub headers: Vec<(String, String)>,
    /// PEM file of the CA that signed the server's certificate (`-ca-cert`,
    /// `COFFER_CACERT`, `VAULT_CACERT`); the public web roots when unset.
    pub ca_cert: Option<std::path::PathBuf>,
}

/// An HTTP method, including Vault's custom `LIST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// PUT
    Put,
    /// POST
    Post,
    /// DELETE
    Delete,
    /// PATCH
    Patch,
    /// LIST (custom verb)
    List,
}

impl Method {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::List => "LIST",
        }
    }

    /// Go's `net/http` capitalisation used in transport errors (`Get "…"`).
    fn go_name(self) -> &'static str {
        match self {
            Method::Get => "Get",
            Method::Put => "Put",
            Method::Post => "Post",
            Method::Delete => "Delete",
            Method::Patch => "Patch",
            Method::List => "List",
        }
    }
}

/// A non-success HTTP status, printed exactly like Go's `api.ResponseError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Request method.
    pub method: &'static str,
    /// Full request URL including the query string.
    pub url: String,
    /// HTTP status code.
    pub status: u16,
    /// The `errors` array, or the raw body when it was not JSON.
    pub errors: Vec<String>,
    /// Whether `errors` holds the raw body.
    pub raw: bool,
    /// The response body, for callers that inspect error envelopes.
    pub body: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.raw { "Raw Message" } else { "Errors" };
        write!(
            f,
            "Error making API request.\n\nURL: {} {}\nCode: {}. {}:\n\n",
            self.method, self.url, self.status, kind
        )?;
        if self.raw {
            write!(f, "{}", self.errors.join("\n"))
        } else {
            let lines: Vec<String> = self.errors.iter().map(|e| format!("* {e}")).collect();
            write!(f, "{}", lines.join("\n"))
        }
    }
}

/// Anything that can go wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The server answered with an error status.
    #[error("{0}")]
    Api(ApiError),
    /// No usable answer: connection refused, DNS, timeout, bad address…
    #[error("{method} \"{url}\": {detail}")]
    Transport {
        /// Go-style method name.
        method: &'static str,
        /// The URL that was being requested.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The server answered 2xx with a body that is not a JSON object.
    #[error("invalid response from server: {0}")]
    Decode(String),
}

impl RequestError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Api(e) => Some(e.status),
            _ => None,
        }
    }
}

/// A successful response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Body text.
    pub body: String,
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Method.
    pub method: Method,
    /// API path below `/v1/`.
    pub path: &'a str,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<Value>,
    /// Content type of the body (JSON unless overridden, e.g. merge-patch).
    pub content_type: &'a str,
}

impl<'a> Request<'a> {
    /// A request with no query and no body.
    pub fn new(method: Method, path: &'a str) -> Self {
        Request {
            method,
            path,
            query: Vec::new(),
            body: None,
            content_type: "application/json",
        }
    }

    /// Adds a JSON body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Adds query parameters.
    pub fn query(mut self, query: Vec<(String, String)>) -> Self {
        self.query = query;
        self
    }
}

/// The client.
pub struct Client {
    config: Config,
    agent: ureq::Agent,
    /// Why the configured CA file is unusable; reported by every request.
    tls_error: Option<String>,
}

impl Client {
    /// Creates a client; no network activity happens here.
    pub fn new(config: Config) -> Client {
        let mut builder = ureq::AgentBuilder::new().timeout(Duration::from_secs(60));
        let mut tls_error = None;
        if let Some(path) = &config.ca_cert {
            match tls_config(path) {
                Ok(tls) => builder = builder.tls_config(tls),
                Err(e) => {
                    tls_error = Some(format!(
                        "error loading CA certificate {}: {e}",
                        path.display()
                    ))
                }
            }
        }
        Client {
            config,
            agent: builder.build(),
            tls_error,
        }
    }

    /// Builds the full URL for a path and query.
    pub fn url(&self, path: &str, query: &[(String, String)]) -> String {
        let mut url = format!(
            "{}/v1/{}",
            self.config.address,
            encode_path(path.trim_start_matches('/'))
        );
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", encode_query(k), encode_query(v)))
                .collect();
            url.push('?');
            url.push_str(&q.join("&"));
        }
        url
    }

    /// Sends a request. Statuses outside 200–399 become [`RequestError::Api`].
    pub fn send(&self, req: &Request<'_>) -> Result<Response, RequestError> {
        let url = self.url(req.path, &req.query);
        if let Some(e) = &self.tls_error {
            return Err(RequestError::Transport {
                method: req.method.go_name(),
                url,
                detail: e.clone(),
            });
        }
        let mut r = self
            .agent
            .request(req.method.as_str(), &url)
            .set("X-Vault-Request", "true");
        if let Some(token) = self.config.token.as_deref().filter(|t| !t.is_empty()) {
            r = r.set("X-Vault-Token", token);
        }
        if let Some(ns) = self.config.namespace.as_deref().filter(|n| !n.is_empty()) {
            r = r.set("X-Vault-Namespace", ns);
        }
        for (k, v) in &self.config.headers {
            r = r.set(k, v);
        }
        let result = match &req.body {
            Some(body) => r
                .set("Content-Type", req.content_type)
                .send_string(&body.to_string()),
            None => r.call(),
        };
        let transport = |detail: String| RequestError::Transport {
            method: req.method.go_name(),
            url: url.clone(),
            detail,
        };
        match result {
            Ok(resp) => {
                let body = resp.into_string().map_err(|e| transport(e.to_string()))?;
                Ok(Response { body })
            }
            Err(ureq::Error::Status(status, resp)) => {
                let body = resp.into_string().unwrap_or_default();
                Err(RequestError::Api(api_error(
                    req.method.as_str(),
                    &url,
                    status,
                    body,
                )))
            }
            Err(ureq::Error::Transport(t)) => Err(transport(describe_transport(&t))),
        }
    }

    /// Vault's `Logical().Read`: `Ok(None)` on 404 unless the 404 carries
    /// data or warnings (KV v2 answers a deleted version that way).
    pub fn read(
        &self,
        path: &str,
        query: Vec<(String, String)>,
    ) -> Result<Option<Secret>, RequestError> {
        self.read_like(&Request::new(Method::Get, path).query(query))
    }

    /// Vault's `Logical().List`, sent as `GET ?list=true` like the Go CLI;
    /// a server that refuses that form (405) is asked again with `LIST`.
    pub fn list(&self, path: &str) -> Result<Option<Secret>, RequestError> {
        let q = vec![("list".to_string(), "true".to_string())];
        match self.read_like(&Request::new(Method::Get, path).query(q)) {
            Err(e) if e.status() == Some(405) => self.read_like(&Request::new(Method::List, path)),
            other => other,
        }
    }

    /// Vault's `Logical().Write` (PUT, or the given method and content type).
    /// `Ok(None)` for empty bodies (204).
    pub fn write(&self, req: &Request<'_>) -> Result<Option<Secret>, RequestError> {
        match self.send(req) {
            Ok(resp) => parse_secret(&resp.body),
            // Go's client treats an empty 404 to a write as "nothing returned".
            Err(RequestError::Api(e)) if e.status == 404 && e.body.trim().is_empty() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Vault's `Logical().Delete` with optional query data.
    pub fn delete(
        &self,
        path: &str,
        query: Vec<(String, String)>,
    ) -> Result<Option<Secret>, RequestError> {
        self.write(&Request::new(Method::Delete, path).query(query))
    }

    fn read_like(&self, req: &Request<'_>) -> Result<Option<Secret>, RequestError> {
        match self.send(req) {
            Ok(resp) => parse_secret(&resp.body),
            Err(RequestError::Api(e)) if e.status == 404 => {
                let secret = Secret::parse(&e.body).ok().flatten();
                Ok(secret.filter(|s| s.has_data() || !s.warnings().is_empty()))
            }
            Err(e) => Err(e),
        }
    }
}

fn parse_secret(body: &str) -> Result<Option<Secret>, RequestError> {
    Secret::parse(body).map_err(|e| RequestError::Decode(e.to_string()))
}

/// Builds an [`ApiError`] from an error response the way Go's
/// `Response.Error()` does.
pub fn api_error(method: &'static str, url: &str, status: u16, body: String) -> ApiError {
    let parsed = serde_json::from_str::<Value>(&body).ok();
    let errors = parsed.as_ref().and_then(|v| match v {
        Value::Object(o) => Some(
            o.get("errors")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            e.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| e.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => None,
    });
    let (errors, raw) = match errors {
        Some(list) => (list, false),
        None => (vec![body.clone()], true),
    };
    ApiError {
        method,
        url: url.to_string(),
        status,
        errors,
        raw,
        body,
    }
}

fn describe_transport(t: &ureq::Transport) -> String {
    let mut parts = vec![t.kind().to_string()];
    if let Some(m) = t.message() {
        parts.push(m.to_string());
    }
    if let Some(source) = std::error::Error::source(t) {
        parts.push(source.to_string());
    }
    parts.join(": ")
}

/// A rustls client config trusting only the CAs in the PEM file at `path`.
fn tls_config(path: &std::path::Path) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| e.to_string())? {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    if roots.is_empty() {
        return Err("no CERTIFICATE block found".into());
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_text_matches_vault() {
        let e = api_error(
            "PUT",
            "http://127.0.0.1:8200/v1/aws/roles/x",
            400,
            r#"{"errors":["missing credential_type"]}"#.to_string(),
        );
        assert_eq!(
            e.to_string(),
            "Error making API request.\n\nURL: PUT http://127.0.0.1:8200/v1/aws/roles/x\nCode: 400. Errors:\n\n* missing credential_type"
        );
        let raw = api_error(
            "GET",
            "http://x/v1/y",
            502,
            "<html>bad gateway</html>".to_string(),
        );
        assert!(raw.raw);
        assert!(
            raw.to_string()
                .ends_with("Code: 502. Raw Message:\n\n<html>bad gateway</html>")
        );
        let empty = api_error("GET", "http://x/v1/y", 404, r#"{"errors":[]}"#.to_string());
        assert!(empty.errors.is_empty());
        assert!(!empty.raw);
    }

    #[test]
    fn urls_are_encoded() {
        let c = Client::new(Config {
            address: "http://127.0.0.1:8200".into(),
            ..Config::default()
        });
        assert_eq!(
            c.url("/secret/data/a b", &[("version".into(), "1".into())]),
            "http://127.0.0.1:8200/v1/secret/data/a%20b?version=1"
        );
    }
}
