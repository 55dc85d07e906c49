//! `allowed_parameters`, `denied_parameters` and `required_parameters`: which request
//! parameters (top-level keys of the request data) a path rule lets through.
//!
//! Semantics follow Vault (`vault/acl.go`, `AllowOperation`), checked on the rule that
//! wins for the request path, for read, create, update and patch requests:
//!
//! 1. every `required_parameters` key must be present (keys compared lower-cased);
//! 2. a request without parameters is then allowed;
//! 3. `denied_parameters`: a `"*"` key refuses any parameter; otherwise a parameter
//!    whose (lower-cased) key is listed is refused when its value is in the list, an
//!    empty list meaning every value;
//! 4. `allowed_parameters`: with none set (or only `"*"`), everything left is allowed;
//!    otherwise each parameter must be listed (or `"*"` be present) and its value be in
//!    its list (an empty list allowing every value).
//!
//! Value lists hold JSON values: strings match strings with Vault's globbing (a `*` at
//! the start and/or end of the policy value: suffix, prefix or substring match), other
//! values must be equal (`null` matches `null`).
//!
//! Rules for the same path from several policies are merged as Vault does (see
//! [`ParameterRules::merge`]): for each of `allowed_parameters` and
//! `denied_parameters`, the value lists of a key are concatenated, and an empty list on
//! either side (any value) wins; required keys are unioned.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

/// Parameter key → permitted (or refused) values; an empty list means any value.
pub type ParameterMap = BTreeMap<String, Vec<Json>>;

/// The parameter constraints of one (possibly merged) path rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParameterRules {
    /// `allowed_parameters`, keys lower-cased; empty: not restricted.
    pub allowed: ParameterMap,
    /// `denied_parameters`, keys lower-cased; empty: nothing refused.
    pub denied: ParameterMap,
    /// `required_parameters`, as written.
    pub required: Vec<String>,
}

impl ParameterRules {
    /// Whether the rules constrain anything at all.
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty() && self.denied.is_empty() && self.required.is_empty()
    }

    /// Folds another policy's rules for the same path into these (Vault's merge).
    pub fn merge(&mut self, other: &ParameterRules) {
        merge_map(&mut self.allowed, &other.allowed);
        merge_map(&mut self.denied, &other.denied);
        for key in &other.required {
            if !self.required.contains(key) {
                self.required.push(key.clone());
            }
        }
    }

    /// Whether a request carrying `data` passes these rules.
    pub fn allows(&self, data: &Map<String, Json>) -> bool {
        if self
            .required
            .iter()
            .any(|key| !data.contains_key(&key.to_lowercase()))
        {
            return false;
        }
        if data.is_empty() {
            return true;
        }
        if !self.denied.is_empty() {
            if self.denied.contains_key("*") {
                return false;
            }
            let refused = data.iter().any(|(key, value)| {
                self.denied
                    .get(&key.to_lowercase())
                    .is_some_and(|list| value_in_list(value, list))
            });
            if refused {
                return false;
            }
        }
        if self.allowed.is_empty() {
            return true;
        }
        let allow_any_key = self.allowed.contains_key("*");
        if allow_any_key && self.allowed.len() == 1 {
            return true;
        }
        data.iter()
            .all(|(key, value)| match self.allowed.get(&key.to_lowercase()) {
                Some(list) => value_in_list(value, list),
                None => allow_any_key,
            })
    }
}

/// Vault merges a parameter map only when the incoming one is non-empty; an empty list
/// for a key on either side means "any value" and wins.
fn merge_map(into: &mut ParameterMap, from: &ParameterMap) {
    for (key, values) in from {
        match into.get_mut(key) {
            Some(existing) if existing.is_empty() => {}
            Some(existing) if values.is_empty() => existing.clear(),
            Some(existing) => existing.extend(values.iter().cloned()),
            None => {
                into.insert(key.clone(), values.clone());
            }
        }
    }
}

/// An empty list holds every value.
fn value_in_list(value: &Json, list: &[Json]) -> bool {
    list.is_empty() || list.iter().any(|item| value_matches(item, value))
}

fn value_matches(item: &Json, value: &Json) -> bool {
    match (item, value) {
        (Json::String(pattern), Json::String(s)) => glob_match(pattern, s),
        _ => item == value,
    }
}

/// Vault's `GlobbedStringsMatch`: a leading and/or trailing `*` on the pattern makes it
/// a suffix, prefix or substring match; a pattern shorter than two characters (so `*`
/// alone) is compared literally.
fn glob_match(pattern: &str, s: &str) -> bool {
    if pattern.len() < 2 {
        return pattern == s;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(_), Some(_)) => s.contains(&pattern[1..pattern.len() - 1]),
        (Some(suffix), None) => s.ends_with(suffix),
        (None, Some(prefix)) => s.starts_with(prefix),
        (None, None) => pattern == s,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Json) -> ParameterMap {
        serde_json::from_value(v).unwrap()
    }

    fn data(v: Json) -> Map<String, Json> {
        serde_json::from_value(v).unwrap()
    }

    fn rules(allowed: Json, denied: Json, required: &[&str]) -> ParameterRules {
        ParameterRules {
            allowed: map(allowed),
            denied: map(denied),
            required: required.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn globs_follow_vault() {
        assert!(glob_match("blue", "blue"));
        assert!(!glob_match("blue", "bluer"));
        assert!(glob_match("blue*", "bluer"));
        assert!(glob_match("*blue", "lightblue"));
        assert!(!glob_match("*blue", "bluer"));
        assert!(glob_match("*lue*", "a-lue-b"));
        assert!(glob_match("*", "*"));
        assert!(!glob_match("*", "anything"));
        assert!(value_matches(&json!(3), &json!(3)));
        assert!(!value_matches(&json!("3"), &json!(3)));
        assert!(value_matches(&json!(null), &json!(null)));
        assert!(value_matches(&json!(["a", "b"]), &json!(["a", "b"])));
    }

    #[test]
    fn allowed_values_and_keys() {
        let r = rules(json!({"color": ["blue", "green*"]}), json!({}), &[]);
        assert!(r.allows(&data(json!({"color": "blue"}))));
        assert!(r.allows(&data(json!({"Color": "greenish"}))));
        assert!(!r.allows(&data(json!({"color": "red"}))));
        // Keys not listed are refused without `*`.
        assert!(!r.allows(&data(json!({"color": "blue", "size": 1}))));
        // No parameters at all pass.
        assert!(r.allows(&Map::new()));

        let any_key = rules(json!({"color": ["blue"], "*": []}), json!({}), &[]);
        assert!(any_key.allows(&data(json!({"color": "blue", "size": 1}))));
        assert!(!any_key.allows(&data(json!({"color": "red", "size": 1}))));
        let only_star = rules(json!({"*": []}), json!({}), &[]);
        assert!(only_star.allows(&data(json!({"x": "y"}))));
        let any_value = rules(json!({"color": []}), json!({}), &[]);
        assert!(any_value.allows(&data(json!({"color": "red"}))));
        assert!(!any_value.allows(&data(json!({"other": "red"}))));
    }

    #[test]
    fn denied_takes_precedence() {
        let r = rules(json!({"*": []}), json!({"data": []}), &[]);
        assert!(!r.allows(&data(json!({"data": {"k": "v"}}))));
        assert!(r.allows(&data(json!({"options": {}}))));
        let values = rules(json!({"color": []}), json!({"color": ["red", "*ish"]}), &[]);
        assert!(!values.allows(&data(json!({"color": "red"}))));
        assert!(!values.allows(&data(json!({"color": "reddish"}))));
        assert!(values.allows(&data(json!({"color": "blue"}))));
        let all = rules(json!({}), json!({"*": []}), &[]);
        assert!(!all.allows(&data(json!({"anything": 1}))));
        assert!(all.allows(&Map::new()));
    }

    #[test]
    fn required_parameters_must_be_present() {
        let r = rules(json!({}), json!({}), &["color", "Size"]);
        assert!(!r.allows(&Map::new()));
        assert!(!r.allows(&data(json!({"color": "x"}))));
        assert!(r.allows(&data(json!({"color": "x", "size": 2}))));
    }

    #[test]
    fn merging_unions_lists_and_empty_wins() {
        let mut a = rules(
            json!({"color": ["blue"], "size": []}),
            json!({"ttl": ["1h"]}),
            &["color"],
        );
        let b = rules(
            json!({"color": ["green"], "size": ["s"], "shape": ["round"]}),
            json!({"ttl": []}),
            &["color", "shape"],
        );
        a.merge(&b);
        assert_eq!(
            a,
            rules(
                json!({"color": ["blue", "green"], "size": [], "shape": ["round"]}),
                json!({"ttl": []}),
                &["color", "shape"],
            )
        );
        // An empty list coming in also wins.
        let mut c = rules(json!({"color": ["blue"]}), json!({}), &[]);
        c.merge(&rules(json!({"color": []}), json!({}), &[]));
        assert!(c.allows(&data(json!({"color": "red"}))));
        // Merging an unrestricted rule changes nothing (Vault merges non-empty maps).
        let mut d = rules(json!({"color": ["blue"]}), json!({}), &[]);
        d.merge(&ParameterRules::default());
        assert!(!d.allows(&data(json!({"color": "red"}))));
    }
}
