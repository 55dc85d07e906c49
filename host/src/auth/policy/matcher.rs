//! The compiled ACL of a token: which rule wins for a request path and what it allows.

use std::cmp::Reverse;
use std::collections::HashMap;

use serde_json::{Map, Value as Json};

use super::ast::{PathRule, Policy, has_segment_wildcards};
use super::builtin::requires_sudo;
use super::capability::{Capability, CapabilitySet};
use super::parameters::ParameterRules;
use crate::api::Operation;

/// The merged rules of a set of policies.
///
/// Building: rules for the same path string from all policies are merged first
/// (capabilities unioned; `deny` on either side leaves only `deny`). Rules fall in three
/// groups, as in Vault: exact paths, `*`-glob prefixes without `+`, and paths with `+`
/// segment wildcards (with or without a trailing `*`).
///
/// Lookup of a request path (Vault's `AllowOperation`):
/// 1. an exact rule for the path wins outright; for `list`, so does an exact rule for
///    the path without its trailing `/`;
/// 2. otherwise, among the longest matching glob prefix and every matching `+` rule,
///    the highest priority wins (for `list` of `x/`, rules matching `x` are tried first):
///    1. the first `+` or `*` later in the pattern wins (`secret/foo/*` beats
///       `secret/+/bar`; `foo/a*` beats `foo/+`);
///    2. then a pattern without trailing `*` wins (`foo/+` beats `foo/*`);
///    3. then fewer `+` segments win (`foo/bar/+/baz` beats `foo/+/+/baz`);
///    4. then the longer pattern wins (`foo/+/bar/ba*` beats `foo/+/bar/b*`);
///    5. then the lexicographically greater pattern (arbitrary but stable);
/// 3. no matching rule: nothing is allowed.
///
/// The winning rule alone decides: a `deny` or empty rule that wins refuses everything,
/// and a less specific `deny` does not override a more specific grant. Its parameter
/// constraints (merged across policies, see [`ParameterRules`]) are checked by
/// [`Acl::parameters_allowed`].
#[derive(Debug, Clone, Default)]
pub struct Acl {
    root: bool,
    exact: HashMap<String, Permissions>,
    prefix: HashMap<String, Permissions>,
    segment: Vec<SegmentRule>,
}

/// What the merged rules for one path string grant.
#[derive(Debug, Clone, Default)]
struct Permissions {
    capabilities: CapabilitySet,
    parameters: ParameterRules,
}

impl Permissions {
    fn of(rule: &PathRule) -> Self {
        let mut p = Self::default();
        p.merge(rule);
        p
    }

    /// Vault's merge: capabilities unioned, and a `deny` on either side leaves only
    /// `deny` with no parameter constraints (nothing is allowed anyway).
    fn merge(&mut self, rule: &PathRule) {
        self.capabilities = self.capabilities.merge(rule.capabilities);
        if self.capabilities.is_deny() {
            self.parameters = ParameterRules::default();
        } else {
            self.parameters.merge(&rule.parameters);
        }
    }
}

/// A rule using `+` wildcards.
#[derive(Debug, Clone)]
struct SegmentRule {
    /// The pattern as written (the merge key).
    pattern: String,
    /// The pattern without its trailing `*`, split on `/`.
    parts: Vec<String>,
    /// Whether the pattern ends with `*`.
    glob: bool,
    permissions: Permissions,
}

impl SegmentRule {
    /// The pattern without its trailing `*`.
    fn stem(&self) -> &str {
        self.pattern.strip_suffix('*').unwrap_or(&self.pattern)
    }

    fn matches(&self, path_parts: &[&str]) -> bool {
        if path_parts.len() < self.parts.len()
            || (!self.glob && path_parts.len() != self.parts.len())
        {
            return false;
        }
        let last = self.parts.len().saturating_sub(1);
        self.parts
            .iter()
            .zip(path_parts)
            .enumerate()
            .all(|(i, (rule, seg))| {
                rule == "+"
                    || rule == seg
                    || (self.glob && i == last && seg.starts_with(rule.as_str()))
            })
    }
}

/// A matching non-exact rule, ranked by Vault's priority order.
struct Candidate<'a> {
    first_wildcard: usize,
    glob: bool,
    wildcards: usize,
    stem: &'a str,
    permissions: &'a Permissions,
}

impl Candidate<'_> {
    /// Greater is higher priority.
    fn rank(&self) -> (usize, bool, Reverse<usize>, usize, &str) {
        (
            self.first_wildcard,
            !self.glob,
            Reverse(self.wildcards),
            self.stem.len(),
            self.stem,
        )
    }
}

impl Acl {
    /// Compiles the policies attached to a token. If any of them is the built-in root
    /// policy the ACL allows everything.
    pub fn new<'a>(policies: impl IntoIterator<Item = &'a Policy>) -> Self {
        let mut acl = Self::default();
        let mut segment_index: HashMap<String, usize> = HashMap::new();
        for policy in policies {
            if policy.is_root() {
                acl.root = true;
            }
            for rule in policy.rules() {
                let path = rule.path.as_str();
                if has_segment_wildcards(path) {
                    if let Some(&i) = segment_index.get(path) {
                        if let Some(existing) = acl.segment.get_mut(i) {
                            existing.permissions.merge(rule);
                        }
                        continue;
                    }
                    let glob = path.ends_with('*');
                    let stem = path.strip_suffix('*').unwrap_or(path);
                    segment_index.insert(path.to_string(), acl.segment.len());
                    acl.segment.push(SegmentRule {
                        pattern: path.to_string(),
                        parts: stem.split('/').map(str::to_string).collect(),
                        glob,
                        permissions: Permissions::of(rule),
                    });
                } else {
                    let (map, key) = match path.strip_suffix('*') {
                        Some(prefix) => (&mut acl.prefix, prefix),
                        None => (&mut acl.exact, path),
                    };
                    map.entry(key.to_string())
                        .and_modify(|p| p.merge(rule))
                        .or_insert_with(|| Permissions::of(rule));
                }
            }
        }
        acl
    }

    /// The ACL of the root policy alone.
    pub fn root() -> Self {
        Self {
            root: true,
            ..Self::default()
        }
    }

    /// Whether the root policy is among the ACL's policies.
    pub fn is_root(&self) -> bool {
        self.root
    }

    /// The capabilities of the rule that wins for `path` (`None`: no rule matches).
    /// `list` applies the trailing-`/` fallbacks Vault uses for list requests.
    /// The root ACL yields every capability.
    pub fn rule_capabilities(&self, path: &str, list: bool) -> Option<CapabilitySet> {
        if self.root {
            return Some(CapabilitySet::all());
        }
        self.winning_rule(path, list).map(|p| p.capabilities)
    }

    /// Whether the parameter constraints of the rule that wins for `path` let a request
    /// with `data` through (Vault checks them for read, create, update and patch; the
    /// other operations carry no parameters a policy constrains). `true` when no rule
    /// matches: the capability check refuses that request anyway.
    pub fn parameters_allowed(&self, path: &str, op: Operation, data: &Map<String, Json>) -> bool {
        if self.root
            || !matches!(
                op,
                Operation::Read | Operation::Create | Operation::Update | Operation::Patch
            )
        {
            return true;
        }
        self.winning_rule(path, false)
            .is_none_or(|p| p.parameters.allows(data))
    }

    /// The merged rule that wins for `path`, with the list fallbacks when `list`.
    fn winning_rule(&self, path: &str, list: bool) -> Option<&Permissions> {
        let path = path.trim_start_matches('/');
        if let Some(p) = self.exact.get(path) {
            return Some(p);
        }
        let trimmed = path.strip_suffix('/');
        if list {
            if let Some(p) = trimmed.and_then(|t| self.exact.get(t)) {
                return Some(p);
            }
            if let Some(p) = trimmed.and_then(|t| self.non_exact(t)) {
                return Some(p);
            }
        }
        self.non_exact(path)
    }

    /// Whether the winning rule for `path` grants `cap`. Asking for
    /// [`Capability::Deny`] always yields `false`. Does not check `sudo` paths; see
    /// [`Acl::allowed_operation`].
    pub fn allowed(&self, path: &str, cap: Capability) -> bool {
        if cap == Capability::Deny {
            return false;
        }
        self.rule_capabilities(path, cap == Capability::List)
            .is_some_and(|caps| !caps.is_deny() && caps.contains(cap))
    }

    /// Whether a request may run: the operation's capability
    /// ([`Capability::for_operation`]) on `path`, plus `sudo` when the path is
    /// root-protected ([`requires_sudo`]). For writes the caller passes
    /// [`Operation::Create`] when the target does not exist, [`Operation::Update`]
    /// otherwise.
    pub fn allowed_operation(&self, path: &str, op: Operation) -> bool {
        if self.root {
            return true;
        }
        let cap = Capability::for_operation(op);
        let Some(caps) = self.rule_capabilities(path, op == Operation::List) else {
            return false;
        };
        !caps.is_deny()
            && caps.contains(cap)
            && (!requires_sudo(path) || caps.contains(Capability::Sudo))
    }

    /// The capability names `sys/capabilities-self` reports for `path`: `["root"]` for
    /// the root ACL, `["deny"]` when denied or nothing is granted, otherwise the granted
    /// names in Vault's order (sudo, read, list, update, delete, create, patch).
    pub fn capabilities(&self, path: &str) -> Vec<&'static str> {
        if self.root {
            return vec!["root"];
        }
        let caps = self.rule_capabilities(path, true).unwrap_or_default();
        if caps.is_deny() || caps.is_empty() {
            return vec![Capability::Deny.as_str()];
        }
        [
            Capability::Sudo,
            Capability::Read,
            Capability::List,
            Capability::Update,
            Capability::Delete,
            Capability::Create,
            Capability::Patch,
        ]
        .into_iter()
        .filter(|c| caps.contains(*c))
        .map(Capability::as_str)
        .collect()
    }

    /// Whether the token may see a mount at all (for filtering `sys/mounts` and
    /// `sys/internal/ui/mounts`): some capability on the mount path itself, or some
    /// non-deny rule for a path under it. `mount` is like `secret/`.
    pub fn has_mount_access(&self, mount: &str) -> bool {
        if self.root {
            return true;
        }
        let mount = mount.trim_start_matches('/');
        if self.capabilities(mount) != [Capability::Deny.as_str()] {
            return true;
        }
        let grants = |caps: &CapabilitySet| !caps.is_deny() && !caps.is_empty();
        if self
            .exact
            .iter()
            .chain(&self.prefix)
            .any(|(path, p)| path.starts_with(mount) && grants(&p.capabilities))
        {
            return true;
        }
        // `+` rules: the mount's segments must all be matched by the pattern's first
        // segments.
        let mount_parts: Vec<&str> = mount.trim_end_matches('/').split('/').collect();
        self.segment.iter().any(|rule| {
            let last = rule.parts.len().saturating_sub(1);
            grants(&rule.permissions.capabilities)
                && rule.parts.len() >= mount_parts.len()
                && mount_parts
                    .iter()
                    .zip(&rule.parts)
                    .enumerate()
                    .all(|(i, (seg, r))| {
                        r == "+"
                            || r == seg
                            || (rule.glob && i == last && seg.starts_with(r.as_str()))
                    })
        })
    }

    /// The winning glob or `+` rule for `path`.
    fn non_exact(&self, path: &str) -> Option<&Permissions> {
        let prefix = self
            .prefix
            .iter()
            .filter(|(p, _)| path.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map(|(p, permissions)| Candidate {
                first_wildcard: p.len(),
                glob: true,
                wildcards: 0,
                stem: p,
                permissions,
            });
        if self.segment.is_empty() {
            return prefix.map(|c| c.permissions);
        }
        let parts: Vec<&str> = path.split('/').collect();
        let segment = self
            .segment
            .iter()
            .filter(|rule| rule.matches(&parts))
            .map(|rule| Candidate {
                first_wildcard: rule.pattern.find('+').unwrap_or(0),
                glob: rule.glob,
                wildcards: rule.parts.iter().filter(|p| *p == "+").count(),
                stem: rule.stem(),
                permissions: &rule.permissions,
            });
        prefix
            .into_iter()
            .chain(segment)
            .max_by(|a, b| a.rank().cmp(&b.rank()))
            .map(|c| c.permissions)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::policy::builtin::default_policy;

    fn policy(name: &str, text: &str) -> Policy {
        Policy::parse(name, text).unwrap()
    }

    fn acl(text: &str) -> Acl {
        Acl::new(&[policy("p", text)])
    }

    /// Which of the rules (identified by a unique capability set) wins for `path`.
    fn winner(rules: &[&str], path: &str) -> String {
        let caps = [
            "read", "list", "update", "delete", "create", "patch", "sudo",
        ];
        let text: String = rules
            .iter()
            .zip(caps)
            .map(|(r, c)| format!("path \"{r}\" {{ capabilities = [\"{c}\"] }}\n"))
            .collect();
        let acl = acl(&text);
        let got = acl.capabilities(path);
        match caps.iter().position(|c| got == [*c]) {
            Some(i) => rules[i].to_string(),
            None => format!("{got:?}"),
        }
    }

    #[test]
    fn exact_beats_globs_and_wildcards() {
        let rules = ["secret/*", "secret/foo", "secret/+"];
        assert_eq!(winner(&rules, "secret/foo"), "secret/foo");
        assert_eq!(winner(&rules, "secret/bar"), "secret/+");
        assert_eq!(winner(&rules, "secret/bar/baz"), "secret/*");
    }

    #[test]
    fn vault_priority_order() {
        // Docs: same first wildcard, both globs, fewer `+` segments wins.
        assert_eq!(
            winner(&["secret/*", "secret/+/*"], "secret/a/b"),
            "secret/*"
        );
        // 1. First wildcard later in the pattern wins.
        assert_eq!(
            winner(&["secret/+/bar", "secret/foo/*"], "secret/foo/bar"),
            "secret/foo/*"
        );
        assert_eq!(winner(&["foo/+", "foo/a*"], "foo/ab"), "foo/a*");
        assert_eq!(
            winner(&["foo/+/bar/baz", "foo/bar/+/baz"], "foo/bar/bar/baz"),
            "foo/bar/+/baz"
        );
        // 2. Not ending in `*` wins.
        assert_eq!(
            winner(&["secret/*", "secret/+/bar"], "secret/foo/bar"),
            "secret/+/bar"
        );
        assert_eq!(winner(&["foo/*", "foo/+"], "foo/x"), "foo/+");
        assert_eq!(
            winner(&["foo/+/ba*", "foo/+/bar"], "foo/x/bar"),
            "foo/+/bar"
        );
        // 3. Fewer `+` segments win.
        assert_eq!(
            winner(&["foo/+/+/baz", "foo/+/bar/baz"], "foo/a/bar/baz"),
            "foo/+/bar/baz"
        );
        // 4. Longer wins.
        assert_eq!(
            winner(&["foo/+/bar/b*", "foo/+/bar/ba*"], "foo/x/bar/baz"),
            "foo/+/bar/ba*"
        );
        assert_eq!(
            winner(&["secret/*", "secret/data/*"], "secret/data/x"),
            "secret/data/*"
        );
    }

    #[test]
    fn wildcard_shapes() {
        assert_eq!(winner(&["+"], "secret"), "+");
        assert_eq!(winner(&["+"], "secret/x"), "[\"deny\"]");
        assert_eq!(winner(&["+/config"], "kv/config"), "+/config");
        assert_eq!(winner(&["+/config"], "kv/config/x"), "[\"deny\"]");
        assert_eq!(winner(&["a/+/c*"], "a/b/cde/f"), "a/+/c*");
        assert_eq!(winner(&["a/+/c*"], "a/b"), "[\"deny\"]");
        assert_eq!(winner(&["*"], "anything/at/all"), "*");
        // `*` inside a pattern is literal, as is a `+` that is not a whole segment.
        assert_eq!(winner(&["a/*/c"], "a/b/c"), "[\"deny\"]");
        assert_eq!(winner(&["a/*/c"], "a/*/c"), "a/*/c");
        assert_eq!(winner(&["a/b+"], "a/bx"), "[\"deny\"]");
        // A leading `/` in the request or the rule is ignored.
        assert_eq!(winner(&["/secret/x"], "/secret/x"), "/secret/x");
    }

    #[test]
    fn list_requests_fall_back_to_the_path_without_slash() {
        let a = acl(r#"path "secret/metadata/app" { capabilities = ["list"] }
               path "+/sys/policies/acl" { capabilities = ["list"] }
               path "kv/*" { capabilities = ["read"] }
               path "kv/dir" { capabilities = ["list"] }"#);
        assert!(a.allowed("secret/metadata/app/", Capability::List));
        assert!(a.allowed_operation("secret/metadata/app/", Operation::List));
        assert!(!a.allowed("secret/metadata/app/", Capability::Read));
        assert!(a.allowed("ns/sys/policies/acl/", Capability::List));
        assert!(a.allowed("kv/dir/", Capability::List));
        // Only list requests use the fallback: a read of `kv/dir/` goes to `kv/*`.
        assert!(a.allowed("kv/dir/", Capability::Read));
        assert!(!a.allowed("kv/dir", Capability::Read));
        assert!(a.allowed("kv/other/", Capability::Read));
    }

    #[test]
    fn deny_and_empty_rules() {
        // A deny on the same path in any policy wins over grants in others.
        let grant = policy(
            "grant",
            r#"path "secret/x" { capabilities = ["read", "update"] }"#,
        );
        let deny = policy("deny", r#"path "secret/x" { capabilities = ["deny"] }"#);
        let a = Acl::new(&[grant.clone(), deny.clone()]);
        assert!(!a.allowed("secret/x", Capability::Read));
        assert_eq!(a.capabilities("secret/x"), ["deny"]);
        let a = Acl::new(&[deny, grant.clone()]);
        assert!(!a.allowed("secret/x", Capability::Update));

        // A less specific deny does not override a more specific grant (Vault).
        let deny_all = policy("d", r#"path "secret/*" { capabilities = ["deny"] }"#);
        let a = Acl::new(&[grant, deny_all]);
        assert!(a.allowed("secret/x", Capability::Read));
        assert!(!a.allowed("secret/y", Capability::Read));

        // A more specific rule granting nothing shadows a broader grant.
        let a = acl(r#"path "secret/*" { capabilities = ["read"] }
               path "secret/hidden" { capabilities = [] }"#);
        assert!(!a.allowed("secret/hidden", Capability::Read));
        assert_eq!(a.capabilities("secret/hidden"), ["deny"]);
        assert!(!a.allowed("secret/any", Capability::Deny));
    }

    #[test]
    fn capabilities_union_across_policies() {
        let r = policy(
            "r",
            r#"path "secret/+/app" { capabilities = ["read", "list"] }"#,
        );
        let w = policy("w", r#"path "secret/+/app" { capabilities = ["update"] }"#);
        let s = policy("s", r#"path "secret/*" { capabilities = ["create"] }"#);
        let a = Acl::new([&r, &w, &s]);
        // Union on the winning rule only: `secret/*` does not add `create`.
        assert_eq!(
            a.capabilities("secret/data/app"),
            ["read", "list", "update"]
        );
        assert!(!a.allowed("secret/data/app", Capability::Create));
        assert_eq!(a.capabilities("secret/data/other"), ["create"]);
        // A glob whose `*` comes after the `+` outranks the `+` rule.
        let d = policy("d", r#"path "secret/data/*" { capabilities = ["delete"] }"#);
        let a = Acl::new([&r, &w, &d]);
        assert_eq!(a.capabilities("secret/data/app"), ["delete"]);
        assert_eq!(Acl::new([]).capabilities("secret/data/app"), ["deny"]);
    }

    #[test]
    fn limited_token() {
        let app = policy(
            "app",
            r#"
# The app may read its own secrets, nothing else.
path "secret/data/app/*" {
  capabilities = ["read", "list"]
}
"#,
        );
        let a = Acl::new(&[app, default_policy().unwrap()]);
        assert!(a.allowed_operation("secret/data/app/db", Operation::Read));
        assert!(a.allowed_operation("secret/data/app/nested/key", Operation::Read));
        assert!(!a.allowed_operation("secret/data/app/db", Operation::Update));
        assert!(!a.allowed_operation("secret/data/app/db", Operation::Create));
        assert!(!a.allowed_operation("secret/data/other", Operation::Read));
        assert!(!a.allowed_operation("secret/data/app", Operation::Read));
        assert!(!a.allowed_operation("sys/mounts/x", Operation::Update));
        assert!(!a.allowed_operation("sys/mounts/x", Operation::Create));
        assert!(a.allowed_operation("auth/token/lookup-self", Operation::Read));
        assert_eq!(a.capabilities("secret/data/app/db"), ["read", "list"]);
        assert!(!a.is_root());
    }

    #[test]
    fn root_allows_everything() {
        let a = Acl::new(&[Policy::root()]);
        assert!(a.is_root());
        for op in [
            Operation::Read,
            Operation::Create,
            Operation::Update,
            Operation::Delete,
            Operation::List,
            Operation::Patch,
        ] {
            assert!(a.allowed_operation("sys/seal", op));
            assert!(a.allowed_operation("sys/auth/userpass", op));
            assert!(a.allowed_operation("any/path", op));
        }
        assert!(a.allowed("sys/raw/x", Capability::Sudo));
        assert_eq!(a.capabilities("secret/x"), ["root"]);
        assert!(a.has_mount_access("secret/"));
        assert!(Acl::root().is_root());
    }

    #[test]
    fn default_policy_grants_self_service_only() {
        let a = Acl::new(&[default_policy().unwrap()]);
        assert!(a.allowed("auth/token/lookup-self", Capability::Read));
        assert!(a.allowed_operation("auth/token/renew-self", Operation::Update));
        assert!(a.allowed_operation("sys/capabilities-self", Operation::Update));
        assert!(a.allowed_operation("cubbyhole/mine", Operation::Create));
        assert!(a.allowed_operation("cubbyhole/", Operation::List));
        assert!(a.allowed_operation("sys/leases/lookup", Operation::Update));
        assert!(!a.allowed_operation("sys/leases/lookup/aws/", Operation::List));
        assert!(!a.allowed_operation("auth/token/create", Operation::Update));
        assert!(!a.allowed_operation("secret/data/x", Operation::Read));
        assert!(!a.allowed_operation("sys/policy/default", Operation::Update));
    }

    #[test]
    fn sudo_paths_need_sudo() {
        let without = acl(
            r#"path "sys/auth/*" { capabilities = ["create", "update", "read"] }
               path "sys/leases/lookup/*" { capabilities = ["list"] }
               path "sys/mounts/*" { capabilities = ["update"] }"#,
        );
        assert!(!without.allowed_operation("sys/auth/userpass", Operation::Update));
        assert!(without.allowed("sys/auth/userpass", Capability::Update));
        assert!(!without.allowed_operation("sys/leases/lookup/aws/", Operation::List));
        assert!(without.allowed_operation("sys/mounts/aws", Operation::Update));

        let with = acl(r#"path "sys/auth/*" { capabilities = ["update", "sudo"] }
               path "sys/leases/lookup/*" { capabilities = ["list", "sudo"] }"#);
        assert!(with.allowed_operation("sys/auth/userpass", Operation::Update));
        assert!(!with.allowed_operation("sys/auth/userpass", Operation::Delete));
        assert!(with.allowed_operation("sys/leases/lookup/aws/", Operation::List));
        assert_eq!(with.capabilities("sys/auth/x"), ["sudo", "update"]);
    }

    #[test]
    fn parameters_are_checked_on_the_winning_rule_merged_across_policies() {
        let blue = policy(
            "blue",
            r#"path "secret/data/paint/*" {
                 capabilities = ["create", "update", "read"]
                 allowed_parameters = { "color" = ["blue"] }
               }
               path "secret/data/paint/free" { capabilities = ["update"] }
               path "auth/token/create" {
                 capabilities = ["update"]
                 allowed_parameters = { "ttl" = ["1h", "2h"], "*" = [] }
                 denied_parameters = { "policies" = [] }
                 required_parameters = ["display_name"]
               }"#,
        );
        let data = |v: Json| -> Map<String, Json> { serde_json::from_value(v).unwrap() };
        let a = Acl::new([&blue]);
        let path = "secret/data/paint/wall";
        assert!(a.parameters_allowed(path, Operation::Update, &data(json!({"color": "blue"}))));
        assert!(!a.parameters_allowed(path, Operation::Update, &data(json!({"color": "red"}))));
        assert!(!a.parameters_allowed(path, Operation::Create, &data(json!({"size": 1}))));
        // Reads carry their query parameters in the data too.
        assert!(!a.parameters_allowed(path, Operation::Read, &data(json!({"version": "1"}))));
        // Delete and list are not constrained (Vault).
        assert!(a.parameters_allowed(path, Operation::Delete, &data(json!({"x": 1}))));
        assert!(a.parameters_allowed(
            "secret/data/paint/",
            Operation::List,
            &data(json!({"x": 1}))
        ));
        // A more specific rule without constraints wins.
        assert!(a.parameters_allowed(
            "secret/data/paint/free",
            Operation::Update,
            &data(json!({"color": "red"}))
        ));
        let token =
            |v: Json| a.parameters_allowed("auth/token/create", Operation::Update, &data(v));
        assert!(token(json!({"display_name": "x", "ttl": "1h", "meta": {}})));
        assert!(!token(json!({"display_name": "x", "ttl": "700h"})));
        assert!(!token(json!({"ttl": "1h"})));
        assert!(!token(json!({"display_name": "x", "policies": ["root"]})));

        // A second policy for the same path widens the allowed values.
        let red = policy(
            "red",
            r#"path "secret/data/paint/*" {
                 capabilities = ["update"]
                 allowed_parameters = { "color" = ["red"] }
               }"#,
        );
        let a = Acl::new([&blue, &red]);
        assert!(a.parameters_allowed(path, Operation::Update, &data(json!({"color": "red"}))));
        assert!(a.parameters_allowed(path, Operation::Update, &data(json!({"color": "blue"}))));
        assert!(!a.parameters_allowed(path, Operation::Update, &data(json!({"color": "green"}))));
        // ... and an empty list from any of them allows every value.
        let any = policy(
            "any",
            r#"path "secret/data/paint/*" {
                 capabilities = ["update"]
                 allowed_parameters = { "color" = [] }
               }"#,
        );
        let a = Acl::new([&blue, &any]);
        assert!(a.parameters_allowed(path, Operation::Update, &data(json!({"color": "green"}))));
        // A deny merged in leaves nothing allowed, constraints or not.
        let deny = policy(
            "d",
            r#"path "secret/data/paint/*" { capabilities = ["deny"] }"#,
        );
        let a = Acl::new([&blue, &deny]);
        assert!(!a.allowed_operation(path, Operation::Update));
        // Root is never constrained.
        assert!(Acl::root().parameters_allowed(
            path,
            Operation::Update,
            &data(json!({"color": "red"}))
        ));
    }

    #[test]
    fn mount_access() {
        let a = acl(r#"path "secret/data/app/*" { capabilities = ["read"] }
               path "aws/+/creds" { capabilities = ["read"] }
               path "kv2/*" { capabilities = ["deny"] }
               path "db/+" { capabilities = ["deny"] }"#);
        assert!(a.has_mount_access("secret/"));
        assert!(a.has_mount_access("aws/"));
        assert!(!a.has_mount_access("kv2/"));
        assert!(!a.has_mount_access("db/"));
        assert!(!a.has_mount_access("other/"));
    }
}
