//! One-level listing over an ordered key space, shared by the backends.

/// Walks keys in order starting at `prefix` and collects one level of names.
///
/// `seek(start)` must return the first key `>= start` (or none). When a sub-folder
/// `prefix + name + "/"` is found, the walk jumps past every key inside it, so listing a
/// folder costs one seek per child rather than one step per key below it.
pub(crate) fn list_one_level(
    prefix: &str,
    mut seek: impl FnMut(&str) -> Result<Option<String>, super::StorageError>,
) -> Result<Vec<String>, super::StorageError> {
    let mut out = Vec::new();
    let mut cursor = prefix.to_string();
    while let Some(key) = seek(&cursor)? {
        let Some(rest) = key.strip_prefix(prefix) else {
            break;
        };
        match rest.find('/') {
            Some(idx) => {
                let folder = &rest[..=idx];
                out.push(folder.to_string());
                // '0' is the byte after '/', so this skips the whole folder.
                cursor = format!("{prefix}{}0", &rest[..idx]);
            }
            None => {
                if !rest.is_empty() {
                    out.push(rest.to_string());
                }
                cursor = format!("{key}\0");
            }
        }
    }
    Ok(out)
}
