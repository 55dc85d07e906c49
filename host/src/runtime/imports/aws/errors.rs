//! Turning SDK failures into the WIT `aws-error` variant.
//!
//! Engines act on the class of an error (NoSuchEntity during revoke means "already
//! gone", throttling is a 502 not a 400), so the mapping is by AWS error code, with
//! fallbacks for responses the SDK cannot parse (moto's auth errors, bare 403/429/503).

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::AwsError;

/// Longest message handed to an engine; AWS messages are short, connector error
/// chains and unparseable bodies need not be.
const MAX_MESSAGE: usize = 1024;

/// Codes AWS uses for rate limiting. The SDK already retried these with backoff, so
/// seeing one here means it persisted.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "BandwidthLimitExceeded",
    "PriorRequestNotComplete",
];

/// Codes meaning the credentials are invalid, expired, or not allowed the action.
const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "InvalidAccessKeyId",
    "ExpiredToken",
    "ExpiredTokenException",
];

/// Codes meaning the request itself was wrong.
const INVALID_INPUT: &[&str] = &[
    "InvalidInput",
    "MalformedPolicyDocument",
    "ValidationError",
    "ValidationException",
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "MissingParameter",
    "PackedPolicyTooLarge",
];

/// Classifies an error response. `code` and `message` are what the SDK parsed; when it
/// parsed no code (moto's `<ErrorResponse><Errors><Error>` shape, or a non-XML body),
/// they are looked for in the raw `body`, and failing that the HTTP `status` decides.
pub fn classify(
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
    body: Option<&[u8]>,
) -> AwsError {
    let body = body.map(String::from_utf8_lossy);
    let body = body.as_deref();
    let code = code
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .or_else(|| body.and_then(|b| xml_element(b, "Code")));
    let message = message
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .or_else(|| body.and_then(|b| xml_element(b, "Message")))
        .unwrap_or_else(|| match (&code, status) {
            (Some(c), _) => c.clone(),
            (None, Some(s)) => format!("HTTP {s} with no error message"),
            (None, None) => "no error message".to_string(),
        });
    let message = truncate(message);

    let Some(code) = code else {
        return match status {
            Some(403) => AwsError::AccessDenied(message),
            Some(429 | 503) => AwsError::Throttled(message),
            _ => AwsError::Other((String::new(), message)),
        };
    };
    match code.as_str() {
        "NoSuchEntity" | "NoSuchEntityException" => AwsError::NoSuchEntity(message),
        "EntityAlreadyExists" | "EntityAlreadyExistsException" => {
            AwsError::EntityAlreadyExists(message)
        }
        "DeleteConflict" | "DeleteConflictException" => AwsError::DeleteConflict(message),
        "LimitExceeded" => AwsError::LimitExceeded(message),
        c if THROTTLING.contains(&c) => AwsError::Throttled(message),
        c if ACCESS_DENIED.contains(&c) => AwsError::AccessDenied(message),
        c if INVALID_INPUT.contains(&c) => AwsError::InvalidInput(message),
        _ => AwsError::Other((code, message)),
    }
}

/// Maps any SDK failure. `endpoint` names where the call went (for "cannot reach"
/// messages); `secret` is scrubbed from every message as a last line of defence.
pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>, endpoint: &str, secret: &str) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mapped = match err {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let raw = err.raw_response();
            classify(
                err.code(),
                err.message(),
                raw.map(|r| r.status().as_u16()),
                raw.and_then(|r| r.body().bytes()),
            )
        }
        SdkError::TimeoutError(_) => AwsError::Other((
            String::new(),
            truncate(format!("cannot reach {endpoint}: the call timed out")),
        )),
        SdkError::DispatchFailure(_) => AwsError::Other((
            String::new(),
            truncate(format!(
                "cannot reach {endpoint}: {}",
                DisplayErrorContext(err)
            )),
        )),
        SdkError::ConstructionFailure(_) => AwsError::Other((
            String::new(),
            truncate(format!(
                "cannot build the request to {endpoint}: {}",
                DisplayErrorContext(err)
            )),
        )),
        _ => AwsError::Other((
            String::new(),
            truncate(format!("{endpoint}: {}", DisplayErrorContext(err))),
        )),
    };
    redact(mapped, secret)
}

/// A short label for logs: the variant name and, for `other`, the code.
pub fn kind(err: &AwsError) -> String {
    match err {
        AwsError::NoSuchEntity(_) => "no-such-entity".into(),
        AwsError::EntityAlreadyExists(_) => "entity-already-exists".into(),
        AwsError::DeleteConflict(_) => "delete-conflict".into(),
        AwsError::LimitExceeded(_) => "limit-exceeded".into(),
        AwsError::Throttled(_) => "throttled".into(),
        AwsError::AccessDenied(_) => "access-denied".into(),
        AwsError::InvalidInput(_) => "invalid-input".into(),
        AwsError::Other((code, _)) if code.is_empty() => "other".into(),
        AwsError::Other((code, _)) => format!("other({code})"),
    }
}

/// The message an error carries.
pub fn message(err: &AwsError) -> &str {
    match err {
        AwsError::NoSuchEntity(m)
        | AwsError::EntityAlreadyExists(m)
        | AwsError::DeleteConflict(m)
        | AwsError::LimitExceeded(m)
        | AwsError::Throttled(m)
        | AwsError::AccessDenied(m)
        | AwsError::InvalidInput(m)
        | AwsError::Other((_, m)) => m,
    }
}

/// Replaces every occurrence of `secret` in the error's text. AWS never echoes the
/// secret key, but connector errors and future SDK versions are not ours to audit.
pub fn redact(err: AwsError, secret: &str) -> AwsError {
    if secret.is_empty() {
        return err;
    }
    let scrub = |s: String| {
        if s.contains(secret) {
            s.replace(secret, "[redacted]")
        } else {
            s
        }
    };
    match err {
        AwsError::NoSuchEntity(m) => AwsError::NoSuchEntity(scrub(m)),
        AwsError::EntityAlreadyExists(m) => AwsError::EntityAlreadyExists(scrub(m)),
        AwsError::DeleteConflict(m) => AwsError::DeleteConflict(scrub(m)),
        AwsError::LimitExceeded(m) => AwsError::LimitExceeded(scrub(m)),
        AwsError::Throttled(m) => AwsError::Throttled(scrub(m)),
        AwsError::AccessDenied(m) => AwsError::AccessDenied(scrub(m)),
        AwsError::InvalidInput(m) => AwsError::InvalidInput(scrub(m)),
        AwsError::Other((c, m)) => AwsError::Other((scrub(c), scrub(m))),
    }
}

/// The text of the first `<name>…</name>` element, XML entities decoded. Enough for
/// AWS query-protocol error bodies, whichever nesting they use.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&close)?;
    let text = body[start..start + len].trim();
    if text.is_empty() {
        return None;
    }
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Decodes a URL-encoded policy document as IAM returns it (`GetUserPolicy`,
/// `GetGroupPolicy`, `GetRolePolicy`). Like Go's `url.QueryUnescape`, which Vault uses,
/// `+` means a space; a `%` not followed by two hex digits is kept as is rather than
/// failing, since the document is only ever passed on.
pub fn decode_policy(encoded: &str) -> Result<String, AwsError> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push((h << 4) | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| {
        AwsError::Other((
            String::new(),
            "the policy document AWS returned is not UTF-8 once URL-decoded".into(),
        ))
    })
}

fn hex(b: Option<&u8>) -> Option<u8> {
    match b? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ b'a'..=b'f' => Some(c - b'a' + 10),
        c @ b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_codes_map_to_variants() {
        let c = |code| classify(Some(code), Some("msg"), Some(400), None);
        assert!(matches!(c("NoSuchEntity"), AwsError::NoSuchEntity(m) if m == "msg"));
        assert!(matches!(
            c("EntityAlreadyExists"),
            AwsError::EntityAlreadyExists(_)
        ));
        assert!(matches!(c("DeleteConflict"), AwsError::DeleteConflict(_)));
        assert!(matches!(c("LimitExceeded"), AwsError::LimitExceeded(_)));
        for t in ["Throttling", "ThrottlingException", "RequestLimitExceeded"] {
            assert!(matches!(c(t), AwsError::Throttled(_)), "{t}");
        }
        assert!(matches!(
            c("TooManyRequestsException"),
            AwsError::Throttled(_)
        ));
        assert!(matches!(c("SlowDown"), AwsError::Throttled(_)));
        for a in [
            "AccessDenied",
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
            "UnrecognizedClientException",
        ] {
            assert!(matches!(c(a), AwsError::AccessDenied(_)), "{a}");
        }
        for i in ["InvalidInput", "MalformedPolicyDocument", "ValidationError"] {
            assert!(matches!(c(i), AwsError::InvalidInput(_)), "{i}");
        }
        assert!(
            matches!(c("ServiceFailure"), AwsError::Other((code, m)) if code == "ServiceFailure" && m == "msg")
        );
    }

    #[test]
    fn moto_auth_errors_are_read_from_the_body() {
        // moto nests <Error> in <Errors>, which the SDK's parser misses: code() is None.
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code>
<Message>The security token included in the request is invalid.</Message>
</Error></Errors><RequestId>x</RequestId></ErrorResponse>"#;
        let e = classify(None, None, Some(403), Some(body));
        assert!(
            matches!(&e, AwsError::AccessDenied(m) if m == "The security token included in the request is invalid."),
            "{e:?}"
        );
        // A body code wins over the status.
        let body = b"<ErrorResponse><Error><Code>NoSuchEntity</Code><Message>gone &amp; done</Message></Error></ErrorResponse>";
        let e = classify(None, None, Some(403), Some(body));
        assert!(
            matches!(&e, AwsError::NoSuchEntity(m) if m == "gone & done"),
            "{e:?}"
        );
    }

    #[test]
    fn bare_statuses_fall_back_by_status() {
        assert!(matches!(
            classify(None, None, Some(403), Some(b"")),
            AwsError::AccessDenied(_)
        ));
        assert!(matches!(
            classify(None, None, Some(429), None),
            AwsError::Throttled(_)
        ));
        assert!(matches!(
            classify(None, None, Some(503), Some(b"<html>busy</html>")),
            AwsError::Throttled(_)
        ));
        let e = classify(None, None, Some(500), None);
        assert!(
            matches!(&e, AwsError::Other((c, m)) if c.is_empty() && m.contains("500")),
            "{e:?}"
        );
        // An empty parsed code is no code.
        assert!(matches!(
            classify(Some(""), Some(""), Some(403), None),
            AwsError::AccessDenied(_)
        ));
    }

    #[test]
    fn messages_are_bounded_and_redacted() {
        let long = "x".repeat(5000);
        let e = classify(Some("Boom"), Some(&long), Some(400), None);
        assert!(message(&e).len() <= MAX_MESSAGE + '…'.len_utf8());

        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let e = AwsError::Other(("".into(), format!("signed with {secret} oops")));
        let e = redact(e, secret);
        assert_eq!(message(&e), "signed with [redacted] oops");
        let e = redact(AwsError::AccessDenied("fine".into()), "");
        assert_eq!(message(&e), "fine");
        assert_eq!(kind(&e), "access-denied");
        assert_eq!(kind(&AwsError::Other(("X".into(), "".into()))), "other(X)");
    }

    #[test]
    fn policies_are_url_decoded() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::a+b/*"}]}"#;
        // What IAM sends: RFC 3986 percent-encoding of every reserved character.
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGet%2A%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Aa%2Bb%2F%2A%22%7D%5D%7D";
        assert_eq!(decode_policy(encoded).ok().as_deref(), Some(doc));
        assert_eq!(
            decode_policy("a+b%20c%zz%4").ok().as_deref(),
            Some("a b c%zz%4")
        );
        assert_eq!(decode_policy("%E2%9C%93").ok().as_deref(), Some("\u{2713}"));
        assert!(decode_policy("%FF").is_err());
        assert_eq!(decode_policy("").ok().as_deref(), Some(""));
    }
}
