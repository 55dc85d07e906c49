//! Where the engine keeps things in the mount's storage.
//!
//! ```text
//! v1/<path>                  kv v1: the secret's JSON object, as written
//! v2/config                  kv v2: mount-wide settings (Config)
//! v2/metadata/<path>         kv v2: one record per secret (KeyMetadata, binary)
//! v2/versions/<path>/<n>     kv v2: the JSON object of version n of <path>
//! ```
//!
//! v1 and v2 live under separate prefixes so a v1 secret named `config` or
//! `metadata/x` can never collide with v2's own records. Metadata keys mirror the
//! secret paths, so listing `v2/metadata/<folder>/` is exactly kv v2's `metadata/`
//! LIST. A version key has one more segment than its secret's path, so the versions
//! of `a` (`v2/versions/a/1`) and of `a/1` (`v2/versions/a/1/1`) never share a key.

/// The key of a kv v1 secret.
pub fn v1_secret(path: &str) -> String {
    format!("v1/{path}")
}

/// The prefix to list for a kv v1 folder (`""` or ending with `/`).
pub fn v1_folder(folder: &str) -> String {
    format!("v1/{}", as_folder(folder))
}

/// The kv v2 mount configuration.
pub const V2_CONFIG: &str = "v2/config";

/// The first byte of a kv v2 metadata record in its binary form (postcard, see
/// `KeyMetadata::encode`). Every data read decodes the record, and decoding up to
/// `max_versions` entries of JSON was most of a read's time inside the engine.
/// Records written as JSON before it start with `{` and are still read.
pub const METADATA_RECORD_V1: u8 = 1;

// Keys are joined with `concat` rather than `format!`: every read builds two of them,
// and the formatting machinery costs more than the joining.

/// The key of a kv v2 secret's metadata record.
pub fn v2_metadata(path: &str) -> String {
    ["v2/metadata/", path].concat()
}

/// The prefix to list for a kv v2 metadata folder.
pub fn v2_metadata_folder(folder: &str) -> String {
    format!("v2/metadata/{}", as_folder(folder))
}

/// The key of version `version` of a kv v2 secret.
pub fn v2_version(path: &str, version: u64) -> String {
    ["v2/versions/", path, "/", &version.to_string()].concat()
}

/// `folder` as a listing prefix: empty stays empty, otherwise it ends with `/`.
fn as_folder(folder: &str) -> String {
    if folder.is_empty() || folder.ends_with('/') {
        folder.to_string()
    } else {
        format!("{folder}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(v1_secret("a/b"), "v1/a/b");
        assert_eq!(v1_folder(""), "v1/");
        assert_eq!(v1_folder("a"), "v1/a/");
        assert_eq!(v1_folder("a/"), "v1/a/");
        assert_eq!(v2_metadata("a/b"), "v2/metadata/a/b");
        assert_eq!(v2_metadata_folder(""), "v2/metadata/");
        assert_eq!(v2_version("a", 3), "v2/versions/a/3");
        assert_ne!(v2_version("a", 1), v2_version("a/1", 1));
    }
}
