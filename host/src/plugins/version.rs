//! Plugin versions: semantic versions, stored canonically with a leading `v` as Vault
//! does (`1.2.0` and `v1.2.0` are the same version).

use std::cmp::Ordering;

/// `v1.2.3[-pre][+build]` for a valid semantic version (a leading `v` optional), or
/// `None`.
pub fn canonical_version(raw: &str) -> Option<String> {
    let body = raw.trim().strip_prefix('v').unwrap_or(raw.trim());
    let (core, build) = match body.split_once('+') {
        Some((c, b)) => (c, Some(b)),
        None => (body, None),
    };
    let (numbers, pre) = match core.split_once('-') {
        Some((n, p)) => (n, Some(p)),
        None => (core, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| !is_number(p)) {
        return None;
    }
    let ident_ok = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|id| {
                !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    };
    if pre.is_some_and(|p| !ident_ok(p)) || build.is_some_and(|b| !ident_ok(b)) {
        return None;
    }
    Some(format!("v{body}"))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// Semantic-version order of two canonical versions (build metadata ignored; a release
/// is newer than its pre-releases). Unparsable versions sort first.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    key(a).cmp(&key(b))
}

type Key = (Option<(u64, u64, u64)>, bool, Vec<(u64, String)>);

fn key(v: &str) -> Key {
    let body = v.strip_prefix('v').unwrap_or(v);
    let core = body.split('+').next().unwrap_or(body);
    let (numbers, pre) = match core.split_once('-') {
        Some((n, p)) => (n, Some(p)),
        None => (core, None),
    };
    let nums: Vec<u64> = numbers.split('.').filter_map(|n| n.parse().ok()).collect();
    let triple = match nums.as_slice() {
        [a, b, c] => Some((*a, *b, *c)),
        _ => None,
    };
    let pre_ids = pre
        .map(|p| {
            p.split('.')
                .map(|id| match id.parse::<u64>() {
                    Ok(n) => (n, String::new()),
                    Err(_) => (u64::MAX, id.to_string()),
                })
                .collect()
        })
        .unwrap_or_default();
    (triple, pre.is_none(), pre_ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_and_validates() {
        assert_eq!(canonical_version("1.2.0").as_deref(), Some("v1.2.0"));
        assert_eq!(
            canonical_version("v1.2.0-rc.1+abc").as_deref(),
            Some("v1.2.0-rc.1+abc")
        );
        assert_eq!(canonical_version("1.2"), None);
        assert_eq!(canonical_version("v01.2.3"), None);
        assert_eq!(canonical_version(""), None);
        assert_eq!(canonical_version("v1.2.3-"), None);
    }

    #[test]
    fn orders_like_semver() {
        assert_eq!(compare_versions("v1.10.0", "v1.9.9"), Ordering::Greater);
        assert_eq!(compare_versions("v1.0.0", "v1.0.0-rc.1"), Ordering::Greater);
        assert_eq!(
            compare_versions("v1.0.0-rc.2", "v1.0.0-rc.10"),
            Ordering::Less
        );
        assert_eq!(compare_versions("v2.0.0", "v2.0.0+build"), Ordering::Equal);
    }
}
