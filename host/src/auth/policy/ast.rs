//! Policies as data: path rules, and building them from the parsed tree.

use serde_json::Value as Json;

use super::capability::{Capability, CapabilitySet};
use super::parameters::{ParameterMap, ParameterRules};
use super::parser::{Entry, Node, Value, parse_document};
use super::{PolicyError, builtin, normalize_name};

/// One `path "..." { ... }` block.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRule {
    /// The path as written, without a leading `/` (may end with `*`, may hold `+`).
    pub path: String,
    /// What the block grants. A block with `deny` holds only `deny`.
    pub capabilities: CapabilitySet,
    /// `allowed_parameters`, `denied_parameters` and `required_parameters`.
    pub parameters: ParameterRules,
    /// The line of the block in HCL text.
    pub line: Option<usize>,
}

impl PathRule {
    /// A rule with just capabilities (used for built-ins and tests).
    pub fn new(path: &str, capabilities: CapabilitySet) -> Self {
        Self {
            path: path.trim_start_matches('/').to_string(),
            capabilities,
            parameters: ParameterRules::default(),
            line: None,
        }
    }

    /// Whether the path uses `+` segment wildcards (Vault: the path is `+`, starts
    /// with `+/` or contains `/+`).
    pub fn has_segment_wildcards(&self) -> bool {
        has_segment_wildcards(&self.path)
    }

    /// Whether the path ends with the `*` glob.
    pub fn is_glob(&self) -> bool {
        self.path.ends_with('*')
    }
}

pub(crate) fn has_segment_wildcards(path: &str) -> bool {
    path == "+" || path.starts_with("+/") || path.contains("/+")
}

/// A named, parsed ACL policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    name: String,
    raw: String,
    rules: Vec<PathRule>,
    root: bool,
}

/// Keys Vault accepts inside a path block. `comment` has no meaning; the ones in
/// [`UNSUPPORTED_PATH_KEYS`] are refused, because accepting a restriction this server
/// cannot enforce would silently grant more than the policy says.
const PATH_KEYS: [&str; 10] = [
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "control_group",
];

/// Path-block keys Vault accepts that this server cannot enforce, each with the reason
/// given in the error.
const UNSUPPORTED_PATH_KEYS: [(&str, &str); 4] = [
    (
        "min_wrapping_ttl",
        "response wrapping is not supported by this server",
    ),
    (
        "max_wrapping_ttl",
        "response wrapping is not supported by this server",
    ),
    ("mfa_methods", "MFA is not supported by this server"),
    (
        "control_group",
        "control groups are not supported by this server",
    ),
];

impl Policy {
    /// Parses HCL or JSON policy text. The name is lower-cased and trimmed.
    ///
    /// A parsed policy is never the root policy, even if named `root` (refusing that
    /// name is the `sys/policy` handler's job); use [`Policy::root`].
    pub fn parse(name: &str, text: &str) -> Result<Self, PolicyError> {
        let name = normalize_name(name)?;
        let mut rules = Vec::new();
        for entry in parse_document(text)? {
            match key(&entry) {
                "name" => {}
                "path" => path_entry(&entry, &mut rules)?,
                other => {
                    return Err(PolicyError::InvalidKey {
                        line: entry.line,
                        context: String::new(),
                        key: other.to_string(),
                    });
                }
            }
        }
        Ok(Self {
            root: false,
            name,
            raw: text.to_string(),
            rules,
        })
    }

    /// The built-in `root` policy: everything on every path, including `sudo`.
    pub fn root() -> Self {
        Self {
            name: builtin::ROOT_POLICY_NAME.to_string(),
            raw: String::new(),
            rules: Vec::new(),
            root: true,
        }
    }

    /// The policy's (lower-case) name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The text it was parsed from (`rules` / `policy` in `sys/policy` reads).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The path blocks, in the order written.
    pub fn rules(&self) -> &[PathRule] {
        &self.rules
    }

    /// Whether this is the built-in `root` policy.
    pub fn is_root(&self) -> bool {
        self.root
    }
}

fn key(entry: &Entry) -> &str {
    entry.keys.first().map(String::as_str).unwrap_or("")
}

fn invalid(line: Option<usize>, message: String) -> PolicyError {
    PolicyError::Invalid { line, message }
}

/// A top-level `path` item: `path "x" {..}` (HCL) or `"path": {"x": {..}, ..}` (JSON,
/// or HCL's `path = {..}`), possibly as a list of such objects.
fn path_entry(entry: &Entry, rules: &mut Vec<PathRule>) -> Result<(), PolicyError> {
    match entry.keys.as_slice() {
        [_, path] => rules.push(path_rule(path, &entry.value, entry.line)?),
        [_] => nested_paths(&entry.value, rules)?,
        _ => {
            return Err(invalid(
                entry.line,
                "path blocks take exactly one label".to_string(),
            ));
        }
    }
    Ok(())
}

fn nested_paths(node: &Node, rules: &mut Vec<PathRule>) -> Result<(), PolicyError> {
    match &node.value {
        Value::Object(entries) => {
            for e in entries {
                let [path] = e.keys.as_slice() else {
                    return Err(invalid(e.line, "path blocks take exactly one label".into()));
                };
                rules.push(path_rule(path, &e.value, e.line)?);
            }
            Ok(())
        }
        Value::List(items) => items.iter().try_for_each(|n| nested_paths(n, rules)),
        other => Err(invalid(
            node.line,
            format!("\"path\" must be an object, found {}", other.kind()),
        )),
    }
}

/// The body of one path block.
fn path_rule(path: &str, body: &Node, line: Option<usize>) -> Result<PathRule, PolicyError> {
    let ctx = format!("path {path:?}: ");
    let entries = match &body.value {
        Value::Object(entries) => entries.as_slice(),
        // HCL decodes a list of one object the same way.
        Value::List(items) => match items.as_slice() {
            [
                Node {
                    value: Value::Object(entries),
                    ..
                },
            ] => entries.as_slice(),
            _ => return Err(invalid(line, format!("{ctx}expected an object"))),
        },
        other => {
            return Err(invalid(
                line,
                format!("{ctx}expected an object, found {}", other.kind()),
            ));
        }
    };
    let mut rule = PathRule::new(path, CapabilitySet::default());
    rule.line = line;
    if rule.path.contains("+*") {
        return Err(invalid(
            line,
            format!("{ctx}invalid use of wildcards ('+*' is forbidden)"),
        ));
    }
    for e in entries {
        let k = key(e);
        if !PATH_KEYS.contains(&k) || e.keys.len() != 1 {
            return Err(PolicyError::InvalidKey {
                line: e.line,
                context: ctx.clone(),
                key: k.to_string(),
            });
        }
        if let Some((_, why)) = UNSUPPORTED_PATH_KEYS.iter().find(|(u, _)| *u == k) {
            return Err(invalid(e.line, format!("{ctx}{k} cannot be used: {why}")));
        }
    }
    let find = |k: &str| entries.iter().find(|e| key(e) == k);

    // Old-style `policy = "write"` first, then `capabilities`; `deny` anywhere stops the
    // scan (later names are not even checked, as in Vault).
    let mut names: Vec<(String, Option<usize>)> = Vec::new();
    if let Some(e) = find("policy") {
        let old = string(&e.value, &ctx, "policy")?;
        let expanded: &[&str] = match old.as_str() {
            "deny" => &["deny"],
            "read" => &["read", "list"],
            "write" => &["create", "read", "update", "delete", "list"],
            "sudo" => &["create", "read", "update", "delete", "list", "sudo"],
            other => return Err(invalid(e.line, format!("{ctx}invalid policy {other:?}"))),
        };
        names.extend(expanded.iter().map(|s| (s.to_string(), e.line)));
    }
    if let Some(e) = find("capabilities") {
        names.extend(string_list(&e.value, &ctx, "capabilities")?);
    }
    for (name, at) in names {
        match Capability::from_name(&name) {
            Some(Capability::Deny) => {
                rule.capabilities = CapabilitySet::DENY;
                // Vault ignores the remaining keys of a deny block.
                return Ok(rule);
            }
            Some(cap) => rule.capabilities = rule.capabilities.with(cap),
            None => {
                return Err(PolicyError::InvalidCapability {
                    line: at,
                    path: path.to_string(),
                    capability: name,
                });
            }
        }
    }

    if let Some(e) = find("allowed_parameters") {
        rule.parameters.allowed = parameters(&e.value, &ctx, "allowed_parameters")?;
    }
    if let Some(e) = find("denied_parameters") {
        rule.parameters.denied = parameters(&e.value, &ctx, "denied_parameters")?;
    }
    if let Some(e) = find("required_parameters") {
        let required = string_list(&e.value, &ctx, "required_parameters")?;
        for (p, at) in &required {
            if p.contains('*') {
                return Err(invalid(
                    *at,
                    format!(
                        "{ctx}required_parameters: parameter key {p:?}: wildcard is not permitted here"
                    ),
                ));
            }
        }
        rule.parameters.required = required.into_iter().map(|(p, _)| p).collect();
    }
    Ok(rule)
}

fn string(node: &Node, ctx: &str, what: &str) -> Result<String, PolicyError> {
    match &node.value {
        Value::String(s) => Ok(s.clone()),
        other => Err(invalid(
            node.line,
            format!("{ctx}{what}: expected a string, found {}", other.kind()),
        )),
    }
}

/// A list of strings (a lone string is accepted as a one-element list, as HCL does),
/// each with its line.
fn string_list(
    node: &Node,
    ctx: &str,
    what: &str,
) -> Result<Vec<(String, Option<usize>)>, PolicyError> {
    match &node.value {
        Value::List(items) => items
            .iter()
            .map(|n| string(n, ctx, what).map(|s| (s, n.line)))
            .collect(),
        Value::String(s) => Ok(vec![(s.clone(), node.line)]),
        other => Err(invalid(
            node.line,
            format!(
                "{ctx}{what}: expected a list of strings, found {}",
                other.kind()
            ),
        )),
    }
}

/// `{ "key" = [values...] }`: keys lower-cased, values as JSON. The only wildcard key
/// is `*` itself (any parameter); any other key holding `*` would be taken literally
/// by the matcher, so it is refused rather than silently never matching.
fn parameters(node: &Node, ctx: &str, what: &str) -> Result<ParameterMap, PolicyError> {
    let entries: Vec<&Entry> = match &node.value {
        Value::Object(entries) => entries.iter().collect(),
        // `allowed_parameters { .. }` written twice or as a JSON list of objects.
        Value::List(items) => {
            let mut all = Vec::new();
            for item in items {
                match &item.value {
                    Value::Object(entries) => all.extend(entries.iter()),
                    other => {
                        return Err(invalid(
                            item.line,
                            format!("{ctx}{what}: expected an object, found {}", other.kind()),
                        ));
                    }
                }
            }
            all
        }
        other => {
            return Err(invalid(
                node.line,
                format!("{ctx}{what}: expected an object, found {}", other.kind()),
            ));
        }
    };
    let mut out = ParameterMap::new();
    for e in entries {
        let k = key(e);
        if k.contains('*') && k != "*" {
            return Err(invalid(
                e.line,
                format!(
                    "{ctx}{what}: parameter key {k:?}: wildcard is only permitted as the whole key \"*\""
                ),
            ));
        }
        let values = match &e.value.value {
            Value::List(items) => items.iter().map(to_json).collect::<Result<_, _>>()?,
            other => {
                return Err(invalid(
                    e.line,
                    format!(
                        "{ctx}{what}: {k:?}: expected a list, found {}",
                        other.kind()
                    ),
                ));
            }
        };
        out.insert(k.to_lowercase(), values);
    }
    Ok(out)
}

fn to_json(node: &Node) -> Result<Json, PolicyError> {
    Ok(match &node.value {
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => Json::Number(
            n.parse()
                .map_err(|_| invalid(node.line, format!("invalid number {n}")))?,
        ),
        Value::Bool(b) => Json::Bool(*b),
        Value::Null => Json::Null,
        Value::List(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Object(entries) => Json::Object(
            entries
                .iter()
                .map(|e| Ok((key(e).to_string(), to_json(&e.value)?)))
                .collect::<Result<_, PolicyError>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(rule: &PathRule) -> Vec<&'static str> {
        rule.capabilities.iter().map(Capability::as_str).collect()
    }

    #[test]
    fn hcl_policy_with_several_blocks_and_comments() {
        let p = Policy::parse(
            "App-Reader",
            r#"
# read the app's secrets
path "secret/data/app/*" {
  capabilities = ["read", "list"]   // trailing comment
}

/* metadata
   too */
path "/secret/metadata/app/+/config" {
  capabilities = ["list"]
}
path "secret/data/app/locked" { capabilities = ["deny", "read"] }
"#,
        )
        .unwrap();
        assert_eq!(p.name(), "app-reader");
        let rules = p.rules();
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].path, "secret/data/app/*");
        assert!(rules[0].is_glob() && !rules[0].has_segment_wildcards());
        assert_eq!(caps(&rules[0]), ["read", "list"]);
        assert_eq!(rules[0].line, Some(3));
        assert_eq!(rules[1].path, "secret/metadata/app/+/config");
        assert!(rules[1].has_segment_wildcards());
        assert_eq!(caps(&rules[2]), ["deny"]);
        assert!(p.raw().contains("read the app's secrets"));
    }

    #[test]
    fn json_policy() {
        let p = Policy::parse(
            "j",
            r#"{"path": {"secret/*": {"capabilities": ["read"]},
                         "sys/mounts": {"policy": "write"}}}"#,
        )
        .unwrap();
        let mut rules: Vec<_> = p
            .rules()
            .iter()
            .map(|r| (r.path.as_str(), caps(r)))
            .collect();
        rules.sort();
        assert_eq!(
            rules,
            vec![
                ("secret/*", vec!["read"]),
                (
                    "sys/mounts",
                    vec!["create", "read", "update", "delete", "list"]
                )
            ]
        );
        // hvac-style list of path objects.
        let p = Policy::parse("j", r#"{"path": [{"a": {"capabilities": ["list"]}}]}"#).unwrap();
        assert_eq!(caps(&p.rules()[0]), ["list"]);
    }

    #[test]
    fn unknown_capability_is_named_with_its_line() {
        let err = Policy::parse(
            "p",
            "path \"a\" {\n  capabilities = [\n    \"read\",\n    \"write\",\n  ]\n}\n",
        )
        .unwrap_err();
        assert_eq!(
            err,
            PolicyError::InvalidCapability {
                line: Some(4),
                path: "a".into(),
                capability: "write".into()
            }
        );
        assert!(err.to_string().contains("invalid capability \"write\""));
        let err = Policy::parse("p", r#"{"path": {"a": {"capabilities": ["reed"]}}}"#).unwrap_err();
        assert!(err.to_string().contains("\"reed\""), "{err}");
    }

    #[test]
    fn invalid_keys_and_shapes() {
        let err = Policy::parse("p", "path \"a\" {\n  capabilites = [\"read\"]\n}").unwrap_err();
        assert!(
            matches!(err, PolicyError::InvalidKey { line: Some(2), ref key, .. } if key == "capabilites")
        );
        let err = Policy::parse("p", "\nfoo \"a\" {}").unwrap_err();
        assert!(
            matches!(err, PolicyError::InvalidKey { line: Some(2), .. }),
            "{err:?}"
        );
        let err = Policy::parse("p", "path \"a/+*\" { capabilities = [] }").unwrap_err();
        assert!(err.to_string().contains("'+*' is forbidden"));
        let err = Policy::parse("p", "path \"a\" { policy = \"admin\" }").unwrap_err();
        assert!(err.to_string().contains("invalid policy \"admin\""));
        let err = Policy::parse("p", "path \"a\" { capabilities = 3 }").unwrap_err();
        assert_eq!(err.line(), Some(1));
    }

    #[test]
    fn parameter_constraints_are_kept() {
        let p = Policy::parse(
            "p",
            r#"
path "secret/data/x" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "Color" = ["red", "green"]
    "*" = []
  }
  denied_parameters { "ttl" = [] }
  required_parameters = ["color"]
  comment = "free text"
}
"#,
        )
        .unwrap();
        let r = &p.rules()[0].parameters;
        assert_eq!(
            r.allowed["color"],
            vec![Json::from("red"), Json::from("green")]
        );
        assert!(r.allowed["*"].is_empty());
        assert!(r.denied.contains_key("ttl"));
        assert_eq!(r.required, vec!["color"]);

        let err = Policy::parse(
            "p",
            "path \"a\" {\n capabilities = [\"read\"]\n allowed_parameters = { \"a*b\" = [] }\n}",
        )
        .unwrap_err();
        assert_eq!(err.line(), Some(3));
        let err = Policy::parse(
            "p",
            "path \"a\" {\n capabilities = [\"read\"]\n denied_parameters = { \"/data/*\" = [] }\n}",
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"/data/*\""), "{err}");
    }

    #[test]
    fn unenforceable_keys_are_refused() {
        for (key, value) in [
            ("min_wrapping_ttl", "\"1m\""),
            ("max_wrapping_ttl", "3600"),
            ("mfa_methods", "[\"totp\"]"),
            ("control_group", "{ max_approvals = 1 }"),
        ] {
            let text = format!("path \"a\" {{\n capabilities = [\"read\"]\n {key} = {value}\n}}");
            let err = Policy::parse("p", &text).unwrap_err();
            assert_eq!(err.line(), Some(3), "{key}: {err}");
            let msg = err.to_string();
            assert!(
                msg.starts_with("failed to parse policy: line 3: path \"a\": ")
                    && msg.contains(key)
                    && msg.contains("not supported"),
                "{msg}"
            );
            // The JSON form too, and inside a deny block.
            let json = format!(
                r#"{{"path": {{"a": {{"capabilities": ["deny"], "{key}": {}}}}}}}"#,
                if key == "control_group" { "{}" } else { "[]" }
            );
            assert!(Policy::parse("p", &json).is_err(), "{key}");
        }
    }

    #[test]
    fn empty_policy_and_name_key() {
        let p = Policy::parse("Empty", "# nothing\nname = \"ignored\"\n").unwrap();
        assert!(p.rules().is_empty());
        assert!(!p.is_root());
        assert!(Policy::root().is_root());
    }
}
