//! A time-ordered index in the key space: `<prefix><unix secs, 12 digits>/<id>`.
//!
//! Zero-padded seconds make the keys sort by time, so "what is due" is one ordered scan
//! from the start of the prefix that stops at the first key past now. The lease manager
//! and the token store both keep their expiries this way.

use super::{Backend, StorageError};

/// An index under one prefix (ending in `/`).
#[derive(Debug, Clone, Copy)]
pub struct TimeIndex(pub &'static str);

impl TimeIndex {
    /// The slot of `id` due at `secs`.
    pub fn key(&self, secs: u64, id: &str) -> String {
        format!("{}{secs:012}/{id}", self.0)
    }

    /// The first key due after `secs` (exclusive bound of a scan up to `secs`).
    pub fn bound(&self, secs: u64) -> String {
        format!("{}{:012}/", self.0, secs.saturating_add(1))
    }

    /// Splits a key into (seconds, id).
    pub fn parse<'k>(&self, key: &'k str) -> Option<(u64, &'k str)> {
        let rest = key.strip_prefix(self.0)?;
        let (secs, id) = rest.split_once('/')?;
        Some((secs.parse().ok()?, id))
    }

    /// Up to `limit` slots due at or before `now_secs`, earliest first.
    pub fn due(
        &self,
        backend: &dyn Backend,
        now_secs: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StorageError> {
        let bound = self.bound(now_secs);
        let keys = backend.scan(self.0, None, limit)?;
        Ok(keys
            .iter()
            .take_while(|k| k.as_str() < bound.as_str())
            .filter_map(|k| self.parse(k).map(|(s, id)| (s, id.to_string())))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryBackend;

    #[test]
    fn keys_sort_by_time_parse_back_and_only_due_ones_are_returned() {
        const IX: TimeIndex = TimeIndex("ix/");
        let a = IX.key(99, "aws/creds/r/x");
        let b = IX.key(1000, "a/b");
        assert!(a < IX.bound(99) && IX.bound(99) < b);
        assert_eq!(IX.parse(&a), Some((99, "aws/creds/r/x")));
        assert_eq!(IX.parse("ix/x/y"), None);
        let backend = MemoryBackend::new();
        backend.put(&a, b"").unwrap();
        backend.put(&b, b"").unwrap();
        assert_eq!(
            IX.due(&backend, 500, 10).unwrap(),
            vec![(99, "aws/creds/r/x".to_string())]
        );
    }
}
