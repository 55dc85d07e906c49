//! `subkeys/:path`: the shape of a secret without its values.

use coffer_sdk::{Error, Request, Response, Result};
use serde_json::{Map, Value, json};

use super::data::load_version;
use super::model::KeyMetadata;
use super::{requested_version, secret_path};

/// `GET subkeys/:path[?version=n&depth=d]`: the version's keys with every leaf
/// (non-object or empty object) replaced by `null`, plus the version metadata.
pub fn read(req: &Request) -> Result<Response> {
    let path = secret_path(req);
    let depth: u32 = req.get_or("depth", 0)?;
    let meta = KeyMetadata::load(path)?.ok_or_else(Error::not_found)?;
    let version = requested_version(req, meta.current_version)?;
    let vm = meta.versions.get(&version).ok_or_else(Error::not_found)?;

    let version_meta = meta.version_json(version, vm);
    if !vm.is_live_now() {
        return Err(Error::not_found_with(
            json!({ "subkeys": null, "metadata": version_meta }),
        ));
    }
    let data = load_version(path, version)?;
    Ok(Response::data(json!({
        "subkeys": subkeys(&data, depth),
        "metadata": version_meta,
    })))
}

/// The keys of `data` with values removed. `max_depth` limits the nesting shown
/// (1 = top-level keys only); 0 means no limit.
///
/// Values are never copied, only key names, so no secret can leak through here even
/// at depth limits.
pub fn subkeys(data: &Map<String, Value>, max_depth: u32) -> Map<String, Value> {
    walk(data, 1, max_depth)
}

fn walk(data: &Map<String, Value>, depth: u32, max_depth: u32) -> Map<String, Value> {
    data.iter()
        .map(|(key, value)| {
            let shown = match value {
                Value::Object(inner)
                    if !inner.is_empty() && (max_depth == 0 || depth < max_depth) =>
                {
                    Value::Object(walk(inner, depth + 1, max_depth))
                }
                _ => Value::Null,
            };
            (key.clone(), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        coffer_sdk::testing::object(v)
    }

    #[test]
    fn replaces_leaves_with_null() {
        let data = obj(json!({
            "foo": "abc",
            "bar": {"baz": 1, "deep": {"x": [1, 2]}},
            "empty": {},
            "list": [{"a": 1}],
        }));
        assert_eq!(
            Value::Object(subkeys(&data, 0)),
            json!({
                "foo": null,
                "bar": {"baz": null, "deep": {"x": null}},
                "empty": null,
                "list": null,
            })
        );
    }

    #[test]
    fn depth_limits_nesting() {
        let data = obj(json!({"a": {"b": {"c": 1}}, "d": 2}));
        assert_eq!(
            Value::Object(subkeys(&data, 1)),
            json!({"a": null, "d": null})
        );
        assert_eq!(
            Value::Object(subkeys(&data, 2)),
            json!({"a": {"b": null}, "d": null})
        );
        assert_eq!(
            Value::Object(subkeys(&data, 3)),
            json!({"a": {"b": {"c": null}}, "d": null})
        );
    }
}
