//! The set of mounts, longest-prefix routing, and persistence.

use std::collections::BTreeMap;

use crate::storage::{SharedBackend, StorageError};

use super::MountEntry;

/// Storage key of the persisted mount table.
const TABLE_KEY: &str = "core/mounts";

/// Path prefixes the host serves itself; nothing may be mounted on or under them.
const RESERVED: &[&str] = &["sys/", "auth/", "audit/", "cubbyhole/", "identity/"];

/// Why a mount-table change was refused.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The path overlaps an existing mount.
    #[error("path is already in use at {0}")]
    InUse(String),
    /// The path belongs to the host (`sys/`, `auth/`, ...).
    #[error("cannot mount {0:?}")]
    Reserved(String),
    /// The path is malformed.
    #[error("{0}")]
    InvalidPath(String),
    /// Persisting the table failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The stored table could not be decoded.
    #[error("stored mount table is corrupt: {0}")]
    Corrupt(String),
}

/// All mounts by path.
#[derive(Debug, Default, Clone)]
pub struct MountTable {
    by_path: BTreeMap<String, MountEntry>,
}

/// Normalises a user-given mount path to `a/b/`.
pub fn normalize_path(path: &str) -> Result<String, MountError> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Err(MountError::InvalidPath("mount path cannot be empty".into()));
    }
    if trimmed
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(MountError::InvalidPath(format!(
            "invalid mount path {path:?}"
        )));
    }
    Ok(format!("{trimmed}/"))
}

impl MountTable {
    /// Loads the table from storage (empty if never saved).
    pub fn load(backend: &SharedBackend) -> Result<Self, MountError> {
        let Some(bytes) = backend.get(TABLE_KEY)? else {
            return Ok(Self::default());
        };
        let entries: Vec<MountEntry> =
            serde_json::from_slice(&bytes).map_err(|e| MountError::Corrupt(e.to_string()))?;
        Ok(Self {
            by_path: entries.into_iter().map(|e| (e.path.clone(), e)).collect(),
        })
    }

    /// Writes the table to storage.
    pub fn save(&self, backend: &SharedBackend) -> Result<(), MountError> {
        let entries: Vec<&MountEntry> = self.by_path.values().collect();
        let bytes = serde_json::to_vec(&entries).map_err(|e| MountError::Corrupt(e.to_string()))?;
        backend.put(TABLE_KEY, &bytes)?;
        Ok(())
    }

    /// Every mount, sorted by path.
    pub fn entries(&self) -> impl Iterator<Item = &MountEntry> {
        self.by_path.values()
    }

    /// The mount at exactly `path` (normalised, with trailing slash).
    pub fn get(&self, path: &str) -> Option<&MountEntry> {
        self.by_path.get(path)
    }

    /// Mutable access to the mount at exactly `path`.
    pub fn get_mut(&mut self, path: &str) -> Option<&mut MountEntry> {
        self.by_path.get_mut(path)
    }

    /// The mount serving `request_path` (longest prefix) and the path inside it.
    pub fn route<'a>(&self, request_path: &'a str) -> Option<(&MountEntry, &'a str)> {
        // Mounts never nest, so at most one prefix matches; walk candidate prefixes
        // from longest to shortest to find it without scanning the table.
        let mut end = request_path.len();
        loop {
            let candidate = &request_path[..end];
            let key = if candidate.ends_with('/') {
                candidate.to_string()
            } else {
                format!("{candidate}/")
            };
            if let Some(entry) = self.by_path.get(&key) {
                let rest = request_path.get(key.len()..).unwrap_or("");
                return Some((entry, rest));
            }
            match candidate.trim_end_matches('/').rfind('/') {
                Some(idx) => end = idx + 1,
                None => return None,
            }
        }
    }

    /// Adds a mount after checking the path is free.
    pub fn insert(&mut self, entry: MountEntry) -> Result<(), MountError> {
        let path = entry.path.as_str();
        if RESERVED
            .iter()
            .any(|r| path.starts_with(*r) || r.starts_with(path))
        {
            return Err(MountError::Reserved(path.to_string()));
        }
        if let Some(existing) = self
            .by_path
            .keys()
            .find(|p| path.starts_with(p.as_str()) || p.starts_with(path))
        {
            return Err(MountError::InUse(existing.clone()));
        }
        self.by_path.insert(entry.path.clone(), entry);
        Ok(())
    }

    /// Removes the mount at `path`, returning it.
    pub fn remove(&mut self, path: &str) -> Option<MountEntry> {
        self.by_path.remove(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mounts::MountConfig;

    fn entry(path: &str) -> MountEntry {
        MountEntry {
            path: path.into(),
            kind: "kv".into(),
            description: String::new(),
            accessor: "kv_1".into(),
            uuid: "u".into(),
            config: MountConfig::default(),
            options: None,
            local: false,
            seal_wrap: false,
            external_entropy_access: false,
            running_sha256: String::new(),
            running_version: String::new(),
        }
    }

    #[test]
    fn routes_longest_prefix_and_refuses_overlap() {
        let mut t = MountTable::default();
        t.insert(entry("secret/")).unwrap();
        t.insert(entry("team/a/")).unwrap();
        assert!(
            matches!(t.insert(entry("secret/sub/")), Err(MountError::InUse(p)) if p == "secret/")
        );
        assert!(matches!(
            t.insert(entry("team/")),
            Err(MountError::InUse(_))
        ));
        assert!(matches!(
            t.insert(entry("sys/x/")),
            Err(MountError::Reserved(_))
        ));
        let (e, rest) = t.route("secret/data/foo").unwrap();
        assert_eq!((e.path.as_str(), rest), ("secret/", "data/foo"));
        let (e, rest) = t.route("team/a/x/y").unwrap();
        assert_eq!((e.path.as_str(), rest), ("team/a/", "x/y"));
        assert_eq!(
            t.route("secret").map(|(e, r)| (e.path.clone(), r)),
            Some(("secret/".into(), ""))
        );
        assert!(t.route("team/b/x").is_none());
        assert!(t.route("nope/x").is_none());
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize_path("/aws/").unwrap(), "aws/");
        assert!(normalize_path("a//b").is_err());
        assert!(normalize_path("").is_err());
    }
}
