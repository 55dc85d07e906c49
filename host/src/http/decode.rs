//! HTTP request → [`LogicalRequest`].

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

use crate::api::{ApiError, LogicalRequest, Operation};

/// The largest body accepted from a request that carries no token (bytes). Such a
/// request can only reach unauthenticated endpoints (`sys/init`, `sys/unseal`,
/// `sys/seal-status`, logins), whose bodies are a few KiB at most (a PGP key per share
/// for `sys/init`); requests with a token keep `max_request_size`.
pub const UNAUTHENTICATED_MAX_BODY: usize = 64 * 1024;

/// The header that asks for the native kv reader (see [`LogicalRequest::bench_native`]).
const BENCH_NATIVE_HEADER: &str = "x-coffer-bench-native";

/// Decodes method, path, query, body and token. Errors are already in Vault's shape.
/// `bench_native_kv` is the server's `-bench-native-kv`: without it the benchmark
/// header is ignored.
pub async fn decode(
    req: Request,
    max_body: usize,
    remote_address: Option<String>,
    bench_native_kv: bool,
) -> Result<LogicalRequest, ApiError> {
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path();
    let Some(rest) = raw_path.strip_prefix("/v1/") else {
        return Err(ApiError::not_found());
    };
    let decoded = percent_decode(rest)?;
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let flag = |name: &str| -> Result<bool, ApiError> {
        match query.iter().find(|(k, _)| k == name) {
            None => Ok(false),
            Some((_, v)) => parse_go_bool(v).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "error parsing {name} parameter: invalid syntax {v:?}"
                ))
            }),
        }
    };
    if parts.headers.contains_key("x-vault-wrap-ttl") {
        // Handing back unwrapped data to a client that asked for wrapping would defeat
        // the reason it asked.
        return Err(ApiError::bad_request(
            "response wrapping (X-Vault-Wrap-TTL) is not supported by this server",
        ));
    }
    let list = flag("list")?;
    let help = flag("help")?;

    let mut operation = match parts.method.as_str() {
        "GET" | "HEAD" => Operation::Read,
        "POST" | "PUT" => Operation::Update,
        "DELETE" => Operation::Delete,
        "LIST" => Operation::List,
        "PATCH" => Operation::Patch,
        _ => {
            return Err(ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                errors: Vec::new(),
            });
        }
    };
    if operation == Operation::Read && list {
        operation = Operation::List;
    }
    if operation == Operation::Patch
        && content_type(&parts.headers) != Some("application/merge-patch+json")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "PATCH requires Content-Type application/merge-patch+json",
        ));
    }

    let token = token(&parts.headers);
    // Without a token nothing can have authorised a large upload yet: only the small,
    // unauthenticated endpoints (init, unseal, seal-status, login) are reachable, so
    // the body is bounded before any of it is buffered or parsed.
    let limit = if token.is_some() {
        max_body
    } else {
        max_body.min(UNAUTHENTICATED_MAX_BODY)
    };
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "http: request body too large",
        )
    })?;
    let mut data = parse_body(&bytes, &parts.headers)?;
    if matches!(
        operation,
        Operation::Read | Operation::List | Operation::Delete
    ) {
        for (k, v) in query {
            if k != "list" && k != "help" {
                data.insert(k, Value::String(v));
            }
        }
    }

    let path = logical_path(&decoded, operation);
    Ok(LogicalRequest {
        id: uuid::Uuid::new_v4().to_string(),
        operation,
        path,
        data,
        token: token.map(zeroize::Zeroizing::new),
        help,
        remote_address,
        bench_native: bench_native_kv
            && parts
                .headers
                .get(BENCH_NATIVE_HEADER)
                .is_some_and(|v| v.as_bytes() == b"1"),
    })
}

/// The one spelling of a request path that the ACL check and every handler see.
///
/// Authorisation must run on exactly the path the handler acts on; handlers that
/// tolerated a different spelling (`sys/seal/`, `sys//seal`) than the ACL matched let a
/// token skip `sudo`. So the path is put in its canonical form here, once:
/// * empty segments are dropped (`a//b` is `a/b`, a leading `/` goes), as Vault's Go
///   mux does by redirecting to the cleaned path;
/// * a `LIST` path ends with `/` (Vault's list semantics);
/// * on the paths the host serves itself (`sys/...`, `auth/token/...`) a trailing `/`
///   means nothing to any handler, so other operations drop it;
/// * on engine paths any trailing `/` is kept: the engine decides what it means, as
///   in Vault, and the ACL sees it too.
fn logical_path(decoded: &str, operation: Operation) -> String {
    let mut path = String::with_capacity(decoded.len() + 1);
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(segment);
    }
    let host_served = path == "sys" || path.starts_with("sys/") || path.starts_with("auth/token/");
    let trailing = match operation {
        Operation::List => true,
        _ => decoded.ends_with('/') && !host_served,
    };
    if trailing && !path.is_empty() {
        path.push('/');
    }
    path
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
}

fn token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers.get("x-vault-token").and_then(|v| v.to_str().ok()) {
        return Some(t.trim().to_string());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
}

fn parse_body(bytes: &[u8], headers: &HeaderMap) -> Result<Map<String, Value>, ApiError> {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Ok(Map::new());
    }
    let is_form = content_type(headers) == Some("application/x-www-form-urlencoded")
        && !matches!(trimmed.first(), Some(b'{') | Some(b'['));
    if is_form {
        return Ok(parse_form(trimmed));
    }
    match serde_json::from_slice::<Value>(trimmed) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(ApiError::bad_request(
            "error parsing JSON: request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!("error parsing JSON: {e}"))),
    }
}

/// A form body as Vault's `parseFormRequest` sees it: values of a repeated key joined
/// with `,`. Values are collected per key and joined once, so the cost is linear in the
/// body size however often a key repeats (joining on every repeat copied the growing
/// value each time: quadratic, and reachable without a token).
fn parse_form(body: &[u8]) -> Map<String, Value> {
    let mut order: Vec<String> = Vec::new();
    let mut values: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        match values.get_mut(k.as_ref()) {
            Some(list) => list.push(v.into_owned()),
            None => {
                order.push(k.clone().into_owned());
                values.insert(k.into_owned(), vec![v.into_owned()]);
            }
        }
    }
    order
        .into_iter()
        .map(|k| {
            let joined = values.remove(&k).unwrap_or_default().join(",");
            (k, Value::String(joined))
        })
        .collect()
}

use crate::util::parse_go_bool;

fn percent_decode(s: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
            match byte {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => return Err(ApiError::bad_request("invalid percent-encoding in path")),
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("path is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bools_and_percent_paths() {
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("maybe"), None);
        assert_eq!(percent_decode("a%2Fb%20c").unwrap(), "a/b c");
        assert!(percent_decode("a%zz").is_err());
    }

    #[test]
    fn paths_have_one_spelling() {
        use Operation::*;
        for (raw, op, want) in [
            ("sys/seal", Update, "sys/seal"),
            ("sys/seal/", Update, "sys/seal"),
            ("sys//seal", Update, "sys/seal"),
            ("/sys/seal//", Update, "sys/seal"),
            ("sys/key-status/", Read, "sys/key-status"),
            ("sys/leases/", Read, "sys/leases"),
            (
                "sys/leases/revoke-prefix/aws//creds/",
                Update,
                "sys/leases/revoke-prefix/aws/creds",
            ),
            ("auth/token/create/", Update, "auth/token/create"),
            ("sys/leases/lookup/aws", List, "sys/leases/lookup/aws/"),
            ("sys/policies/acl", List, "sys/policies/acl/"),
            // Engine paths keep their trailing slash; LIST adds one.
            ("secret/data/a//b", Read, "secret/data/a/b"),
            ("secret/data/a/", Update, "secret/data/a/"),
            ("secret//metadata", List, "secret/metadata/"),
            ("auth/token/", Update, "auth/token/"),
            ("", List, ""),
            ("//", Read, ""),
        ] {
            assert_eq!(logical_path(raw, op), want, "{raw:?} {op:?}");
        }
    }

    #[test]
    fn form_bodies_join_repeated_keys() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let m = parse_body(b"a=1&a=2&b=x", &h).unwrap();
        assert_eq!(m["a"], "1,2");
        assert_eq!(m["b"], "x");
        // Many repeats (the quadratic case) come out joined once, in order.
        let n = 200_000;
        let body: String = (0..n).map(|i| format!("k={i}&")).collect::<String>() + "z=last";
        let m = parse_body(body.as_bytes(), &h).unwrap();
        let joined = m["k"].as_str().unwrap();
        assert_eq!(joined.split(',').count(), n);
        assert!(joined.starts_with("0,1,2,") && joined.ends_with(",199999"));
        assert_eq!(m["z"], "last");
        assert_eq!(m.keys().collect::<Vec<_>>(), ["k", "z"]);
        assert!(parse_body(b"[1]", &HeaderMap::new()).is_err());
        assert!(parse_body(b"{oops", &HeaderMap::new()).is_err());
        assert!(parse_body(b"null", &HeaderMap::new()).unwrap().is_empty());
    }
}
