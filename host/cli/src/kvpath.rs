//! Path helpers shared by the commands, ports of Vault's CLI helpers.

/// Vault's `sanitizePath`: trims whitespace and leading/trailing slashes.
pub fn sanitize(path: &str) -> String {
    path.trim()
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

/// Vault's `ensureTrailingSlash` (empty stays empty).
pub fn ensure_trailing_slash(path: &str) -> String {
    let p = path.trim();
    if p.is_empty() || p.ends_with('/') {
        p.to_string()
    } else {
        format!("{p}/")
    }
}

/// Go's `path.Join`: joins the non-empty parts with `/` and cleans the result
/// (no doubled or trailing slashes, `.` and `..` resolved).
pub fn join(parts: &[&str]) -> String {
    let joined = parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    if joined.is_empty() {
        return String::new();
    }
    clean(&joined)
}

/// Go's `path.Clean`.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|s| *s != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

/// Vault's `addPrefixToKVPath`: turns `secret/foo` on a KV v2 mount at
/// `secret/` into `secret/<api_prefix>/foo` (`data`, `metadata`, `delete`,
/// `undelete`, `destroy`).
pub fn add_kv_prefix(path: &str, mount_path: &str, api_prefix: &str) -> String {
    if path == mount_path || path == mount_path.trim_end_matches('/') {
        return join(&[mount_path, api_prefix]);
    }
    let mut mount = mount_path.to_string();
    let mut suffix = path
        .strip_prefix(mount.as_str())
        .unwrap_or(path)
        .to_string();
    // A mount path may carry namespace segments the user did not type; drop
    // leading segments of it until it matches (Vault does the same).
    while suffix == path {
        let Some((_, rest)) = mount.split_once('/') else {
            break;
        };
        if rest.is_empty() {
            break;
        }
        mount = rest.trim_end_matches('/').to_string();
        suffix = suffix
            .strip_prefix(mount.as_str())
            .unwrap_or(&suffix)
            .to_string();
    }
    join(&[&mount, api_prefix, &suffix])
}

/// Percent-encodes a request path for a URL, keeping `/` and the characters
/// Go's `url.URL` leaves alone in paths.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Encodes a query component like Go's `url.QueryEscape` (space as `+`).
pub fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_and_slashes() {
        assert_eq!(sanitize("  /secret/foo// "), "secret/foo");
        assert_eq!(ensure_trailing_slash("aws"), "aws/");
        assert_eq!(ensure_trailing_slash("aws/"), "aws/");
        assert_eq!(ensure_trailing_slash(""), "");
    }

    #[test]
    fn go_path_join() {
        assert_eq!(join(&["secret/", "data", "foo"]), "secret/data/foo");
        assert_eq!(join(&["secret/", "data", ""]), "secret/data");
        assert_eq!(join(&["a//b", "./c", "../d"]), "a/b/d");
        assert_eq!(join(&["", ""]), "");
        assert_eq!(clean("../x"), "../x");
        assert_eq!(clean("/../x/"), "/x");
    }

    #[test]
    fn kv_v2_rewrites() {
        assert_eq!(
            add_kv_prefix("secret/foo", "secret/", "data"),
            "secret/data/foo"
        );
        assert_eq!(
            add_kv_prefix("secret/a/b", "secret/", "metadata"),
            "secret/metadata/a/b"
        );
        assert_eq!(
            add_kv_prefix("secret", "secret/", "metadata"),
            "secret/metadata"
        );
        assert_eq!(add_kv_prefix("secret/", "secret/", "data"), "secret/data");
        assert_eq!(
            add_kv_prefix("kv/team/x", "kv/team/", "destroy"),
            "kv/team/destroy/x"
        );
        // Namespaced mount path the user did not type.
        assert_eq!(
            add_kv_prefix("secret/foo", "ns1/secret/", "data"),
            "secret/data/foo"
        );
    }

    #[test]
    fn url_encoding() {
        assert_eq!(encode_path("secret/data/a b?#"), "secret/data/a%20b%3F%23");
        assert_eq!(encode_path("aws/creds/r@x:1"), "aws/creds/r@x:1");
        assert_eq!(encode_query("a b&c=d"), "a+b%26c%3Dd");
    }
}
