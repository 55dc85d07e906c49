//! kv v2's stored records and the rules that change them: version numbering, pruning
//! beyond `max_versions`, soft deletion and automatic deletion times.

use std::collections::BTreeMap;

use coffer_sdk::duration::format_go_duration;
use coffer_sdk::{Error, Result, Timestamp, clock, storage};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::layout;

/// Versions kept per secret when neither the mount nor the secret sets `max_versions`.
pub const DEFAULT_MAX_VERSIONS: u32 = 10;

/// Mount-wide settings (`config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Versions to keep per secret; 0 means [`DEFAULT_MAX_VERSIONS`].
    pub max_versions: u32,
    /// Whether every data write must carry `options.cas`.
    pub cas_required: bool,
    /// Seconds after which new versions are deleted: 0 = unset, negative = disabled
    /// for every secret (Vault stores `-1s`).
    pub delete_version_after: i64,
}

impl Config {
    /// The stored configuration, or the defaults.
    pub fn load() -> Result<Config> {
        Ok(storage::get_json(layout::V2_CONFIG)?.unwrap_or_default())
    }

    /// Stores the configuration.
    pub fn save(&self) -> Result<()> {
        storage::put_json(layout::V2_CONFIG, self)
    }
}

/// What is known about one version of a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VersionMeta {
    /// When the version was written, nanoseconds since the epoch.
    pub created_time: u64,
    /// When the version is (or was) deleted; may lie in the future when set by
    /// `delete_version_after`.
    pub deletion_time: Option<u64>,
    /// Whether the version's data has been destroyed for good.
    pub destroyed: bool,
}

impl VersionMeta {
    /// Whether the version counts as deleted at `now`. A deletion time equal to `now`
    /// counts, so a delete followed by a read on a clock that has not moved (tests, a
    /// coarse host clock) behaves as the client expects.
    pub fn is_deleted(&self, now: Timestamp) -> bool {
        self.deletion_time.is_some_and(|t| t <= now.as_nanos())
    }

    /// Whether the version's data can be read at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        !self.destroyed && !self.is_deleted(now)
    }

    /// Whether the version's data can be read now. Asks the host's clock only when a
    /// deletion time is set: most versions have none, and a read skips a host call.
    pub fn is_live_now(&self) -> bool {
        !self.destroyed
            && self
                .deletion_time
                .is_none_or(|t| t > clock::now().as_nanos())
    }
}

/// The record kept per secret (`metadata/:path`), its versions in a map.
pub type KeyMetadata = Record<BTreeMap<u64, VersionMeta>>;

/// The record as a data read decodes it: its versions as the list of pairs they are
/// stored as, so a read builds no map for its one lookup. (In the binary form a map is
/// its length and then its pairs, which is also how a list of pairs is written.)
pub type ReadRecord = Record<Vec<(u64, VersionMeta)>>;

/// A secret's record, `V` holding its versions: see [`KeyMetadata`] and [`ReadRecord`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Record<V> {
    /// The versions still inside the `max_versions` window, by number.
    pub versions: V,
    /// The newest version number; 0 before the first write.
    pub current_version: u64,
    /// Vault's sliding-window start: stays 0 until the first version is pruned.
    pub oldest_version: u64,
    /// When the record was created.
    pub created_time: Option<u64>,
    /// When the newest version was written (or the record created).
    pub updated_time: Option<u64>,
    /// Versions to keep for this secret; 0 defers to the mount.
    pub max_versions: u32,
    /// Whether writes to this secret must carry `options.cas`.
    pub cas_required: bool,
    /// Seconds after which new versions are deleted; 0 defers to the mount.
    pub delete_version_after: i64,
    /// User-provided key/value pairs describing the secret.
    pub custom_metadata: BTreeMap<String, String>,
}

impl KeyMetadata {
    /// A fresh record, as a metadata write creates it.
    pub fn new(now: Timestamp) -> Self {
        KeyMetadata {
            created_time: Some(now.as_nanos()),
            updated_time: Some(now.as_nanos()),
            ..KeyMetadata::default()
        }
    }

    /// The record of the secret at `path`, if any.
    pub fn load(path: &str) -> Result<Option<KeyMetadata>> {
        let key = layout::v2_metadata(path);
        storage::get(&key)?
            .map(|bytes| Self::decode(&key, &bytes))
            .transpose()
    }

    /// Stores the record of the secret at `path`, in the binary form.
    pub fn save(&self, path: &str) -> Result<()> {
        storage::put(&layout::v2_metadata(path), &self.encode()?)
    }

    /// The stored form: [`layout::METADATA_RECORD_V1`], then the record in postcard
    /// (fields in declaration order, integers as varints).
    pub fn encode(&self) -> Result<Vec<u8>> {
        postcard::to_allocvec(&(layout::METADATA_RECORD_V1, self))
            .map_err(|e| Error::internal(format!("cannot encode a metadata record: {e}")))
    }

    /// A record as read from `key`: the binary form, or the JSON one that records
    /// written before it still have (rewritten in the binary form on their next save).
    pub fn decode(key: &str, bytes: &[u8]) -> Result<KeyMetadata> {
        Record::decode_binary(key, bytes).unwrap_or_else(|| storage::decode(key, bytes))
    }

    /// Records a new version written at `created` and slides the window of kept
    /// versions. Returns the version numbers that fell out of the window, oldest first:
    /// their data must be deleted.
    ///
    /// Follows Vault: the window size is the larger of the secret's and the mount's
    /// `max_versions` (10 when both are 0), and `oldest_version` only moves once the
    /// window is full.
    pub fn add_version(
        &mut self,
        created: Timestamp,
        deletion: Option<Timestamp>,
        mount_max_versions: u32,
    ) -> Vec<u64> {
        let created = created.as_nanos();
        self.current_version = self.current_version.saturating_add(1);
        self.versions.insert(
            self.current_version,
            VersionMeta {
                created_time: created,
                deletion_time: deletion.map(Timestamp::as_nanos),
                destroyed: false,
            },
        );
        self.updated_time = Some(created);
        self.created_time.get_or_insert(created);

        let max = match self.max_versions.max(mount_max_versions) {
            0 => DEFAULT_MAX_VERSIONS,
            n => n,
        };
        let max = u64::from(max);
        if self.current_version - self.oldest_version < max {
            return Vec::new();
        }
        let newest_pruned = self.current_version - max;
        let pruned: Vec<u64> = self
            .versions
            .range(..=newest_pruned)
            .map(|(n, _)| *n)
            .collect();
        for n in &pruned {
            self.versions.remove(n);
        }
        self.oldest_version = newest_pruned + 1;
        pruned
    }

    /// The version metadata shown by data reads and writes.
    pub fn version_json(&self, version: u64, meta: &VersionMeta) -> Value {
        ShownVersion::new(&self.custom_metadata, version, meta).to_value()
    }

    /// The full record as `GET metadata/:path` shows it.
    pub fn to_json(&self) -> Value {
        let versions: Map<String, Value> = self
            .versions
            .iter()
            .map(|(n, v)| {
                let shown = json!({
                    "created_time": time_string(Some(v.created_time)),
                    "deletion_time": time_string(v.deletion_time),
                    "destroyed": v.destroyed,
                });
                (n.to_string(), shown)
            })
            .collect();
        json!({
            "cas_required": self.cas_required,
            "created_time": time_string(self.created_time),
            "current_version": self.current_version,
            "custom_metadata": self.custom_metadata_json(),
            "delete_version_after": format_go_duration(self.delete_version_after),
            "max_versions": self.max_versions,
            "oldest_version": self.oldest_version,
            "updated_time": time_string(self.updated_time),
            "versions": versions,
        })
    }

    /// Vault shows no custom metadata as `null`, not `{}`.
    fn custom_metadata_json(&self) -> Value {
        if self.custom_metadata.is_empty() {
            Value::Null
        } else {
            json!(self.custom_metadata)
        }
    }
}

impl<V> Record<V> {
    /// The same record with its versions converted by `f`.
    fn map_versions<W>(self, f: impl FnOnce(V) -> W) -> Record<W> {
        Record {
            versions: f(self.versions),
            current_version: self.current_version,
            oldest_version: self.oldest_version,
            created_time: self.created_time,
            updated_time: self.updated_time,
            max_versions: self.max_versions,
            cas_required: self.cas_required,
            delete_version_after: self.delete_version_after,
            custom_metadata: self.custom_metadata,
        }
    }
}

impl<V: DeserializeOwned + Default> Record<V> {
    /// The record in `bytes` if they are in the binary form; `None` for JSON.
    fn decode_binary(key: &str, bytes: &[u8]) -> Option<Result<Self>> {
        match bytes.split_first() {
            Some((&layout::METADATA_RECORD_V1, record)) => Some(
                postcard::from_bytes(record)
                    .map_err(|e| Error::internal(format!("stored entry {key:?} is corrupt: {e}"))),
            ),
            _ => None,
        }
    }
}

impl ReadRecord {
    /// The record of the secret at `path`, if any, as a data read needs it.
    pub fn load(path: &str) -> Result<Option<ReadRecord>> {
        let key = layout::v2_metadata(path);
        let Some(bytes) = storage::get(&key)? else {
            return Ok(None);
        };
        let record = match Record::decode_binary(&key, &bytes) {
            Some(record) => record?,
            None => {
                let json: KeyMetadata = storage::decode(&key, &bytes)?;
                json.map_versions(|versions| versions.into_iter().collect())
            }
        };
        Ok(Some(record))
    }

    /// Version `n`'s entry, if it is inside the window.
    pub fn version(&self, n: u64) -> Option<&VersionMeta> {
        self.versions
            .iter()
            .find(|(v, _)| *v == n)
            .map(|(_, meta)| meta)
    }
}

/// One version's metadata as data reads and writes show it; fields in Vault's (sorted)
/// order, so serialising this gives the same text as the equivalent `json!` object.
#[derive(Debug, Serialize)]
pub struct ShownVersion<'a> {
    created_time: String,
    /// Vault shows no custom metadata as `null`, not `{}`.
    custom_metadata: Option<&'a BTreeMap<String, String>>,
    deletion_time: String,
    destroyed: bool,
    version: u64,
}

impl<'a> ShownVersion<'a> {
    /// Version `version` of a secret whose custom metadata is `custom`.
    pub fn new(custom: &'a BTreeMap<String, String>, version: u64, meta: &VersionMeta) -> Self {
        ShownVersion {
            created_time: time_string(Some(meta.created_time)),
            custom_metadata: (!custom.is_empty()).then_some(custom),
            deletion_time: time_string(meta.deletion_time),
            destroyed: meta.destroyed,
            version,
        }
    }

    /// As a JSON tree (strings, numbers and string maps always serialise).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// When a version created at `created` is deleted automatically, if ever: after the
/// smaller non-zero `delete_version_after` of mount and secret, never when the mount
/// disabled the feature (negative) or neither sets it.
pub fn auto_deletion_time(created: Timestamp, mount_dva: i64, key_dva: i64) -> Option<Timestamp> {
    if mount_dva < 0 {
        return None;
    }
    let after = match (mount_dva, key_dva.max(0)) {
        (0, 0) => return None,
        (0, key) => key,
        (mount, 0) => mount,
        (mount, key) => mount.min(key),
    };
    Some(created.add_secs(after))
}

/// A time as Vault shows it: RFC3339 with nanoseconds, or `""` when unset.
pub fn time_string(nanos: Option<u64>) -> String {
    nanos
        .map(|n| Timestamp::from_nanos(n).to_rfc3339())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    #[test]
    fn first_write_starts_the_window() {
        let mut m = KeyMetadata::default();
        assert!(m.add_version(t(100), None, 0).is_empty());
        assert_eq!(m.current_version, 1);
        assert_eq!(m.oldest_version, 0);
        assert_eq!(m.created_time, Some(t(100).as_nanos()));
        assert!(m.add_version(t(200), None, 0).is_empty());
        assert_eq!(m.created_time, Some(t(100).as_nanos()));
        assert_eq!(m.updated_time, Some(t(200).as_nanos()));
    }

    #[test]
    fn prunes_like_vault_with_the_default_of_ten() {
        let mut m = KeyMetadata::default();
        for i in 1..=9 {
            assert!(m.add_version(t(i), None, 0).is_empty());
        }
        // The tenth write fills the window: nothing to delete yet, but the window
        // start moves from 0 to 1, exactly as Vault reports oldest_version.
        assert!(m.add_version(t(10), None, 0).is_empty());
        assert_eq!(m.oldest_version, 1);
        assert_eq!(m.add_version(t(11), None, 0), vec![1]);
        assert_eq!(m.oldest_version, 2);
        assert_eq!(
            m.versions.keys().copied().collect::<Vec<_>>(),
            (2..=11).collect::<Vec<_>>()
        );
    }

    #[test]
    fn shrinking_max_versions_prunes_several_at_once() {
        let mut m = KeyMetadata::default();
        for i in 1..=5 {
            m.add_version(t(i), None, 0);
        }
        m.max_versions = 2;
        assert_eq!(m.add_version(t(6), None, 0), vec![1, 2, 3, 4]);
        assert_eq!(m.oldest_version, 5);
        assert_eq!(m.versions.keys().copied().collect::<Vec<_>>(), vec![5, 6]);
        assert_eq!(m.add_version(t(7), None, 0), vec![5]);
    }

    #[test]
    fn the_larger_max_versions_wins() {
        let mut m = KeyMetadata {
            max_versions: 2,
            ..KeyMetadata::default()
        };
        for i in 1..=3 {
            m.add_version(t(i), None, 3);
        }
        assert_eq!(m.versions.len(), 3);
        assert_eq!(m.add_version(t(4), None, 3), vec![1]);
    }

    fn sample_record() -> KeyMetadata {
        let mut m = KeyMetadata::new(t(50));
        for i in 1..=12 {
            m.add_version(t(100 + i), (i == 11).then(|| t(500)), 0);
        }
        if let Some(v) = m.versions.get_mut(&4) {
            v.destroyed = true;
        }
        m.cas_required = true;
        m.delete_version_after = -1;
        m.custom_metadata.insert("owner".into(), "ops".into());
        m
    }

    #[test]
    fn records_are_stored_binary_and_decode_either_way() {
        let m = sample_record();
        let bytes = m.encode().unwrap();
        assert_eq!(bytes[0], layout::METADATA_RECORD_V1);
        assert_eq!(KeyMetadata::decode("k", &bytes).unwrap(), m);
        // A data read's view decodes the same bytes without the map.
        let read: ReadRecord = Record::decode_binary("k", &bytes).unwrap().unwrap();
        assert_eq!(
            read.versions,
            m.versions.clone().into_iter().collect::<Vec<_>>()
        );
        assert_eq!(read.version(11), m.versions.get(&11));
        assert_eq!(read.version(1), None);
        assert_eq!(read.custom_metadata, m.custom_metadata);
        assert!(read.cas_required);
        // Records written before the binary form are JSON, and still read.
        let json = serde_json::to_vec(&m).unwrap();
        assert_eq!(KeyMetadata::decode("k", &json).unwrap(), m);
        assert!(Record::<Vec<(u64, VersionMeta)>>::decode_binary("k", &json).is_none());
    }

    #[test]
    fn a_corrupt_record_is_an_error_naming_its_key() {
        let mut bytes = sample_record().encode().unwrap();
        bytes.truncate(bytes.len() / 2);
        let err = KeyMetadata::decode("v2/metadata/app", &bytes).unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(format!("{err:?}").contains("v2/metadata/app"), "{err:?}");
        assert!(KeyMetadata::decode("k", b"not json").is_err());
    }

    #[test]
    fn deletion_state() {
        let v = VersionMeta {
            created_time: 0,
            deletion_time: Some(t(10).as_nanos()),
            destroyed: false,
        };
        assert!(!v.is_deleted(t(9)));
        assert!(v.is_deleted(t(10)));
        assert!(v.is_live(t(9)));
        assert!(!v.is_live(t(11)));
        let destroyed = VersionMeta {
            destroyed: true,
            ..VersionMeta::default()
        };
        assert!(!destroyed.is_live(t(0)));
    }

    #[test]
    fn automatic_deletion_time() {
        assert_eq!(auto_deletion_time(t(100), 0, 0), None);
        assert_eq!(auto_deletion_time(t(100), 10, 0), Some(t(110)));
        assert_eq!(auto_deletion_time(t(100), 0, 20), Some(t(120)));
        assert_eq!(auto_deletion_time(t(100), 30, 20), Some(t(120)));
        assert_eq!(auto_deletion_time(t(100), 10, 20), Some(t(110)));
        assert_eq!(auto_deletion_time(t(100), -1, 20), None);
    }

    #[test]
    fn json_shapes() {
        let mut m = KeyMetadata::default();
        m.add_version(Timestamp::from_nanos(1_521_685_446_945_319_214), None, 0);
        let v = m.versions[&1].clone();
        assert_eq!(
            m.version_json(1, &v),
            json!({
                "created_time": "2018-03-22T02:24:06.945319214Z",
                "custom_metadata": null,
                "deletion_time": "",
                "destroyed": false,
                "version": 1,
            })
        );
        m.custom_metadata.insert("owner".into(), "ops".into());
        m.delete_version_after = 3600;
        let shown = m.to_json();
        assert_eq!(shown["custom_metadata"], json!({"owner": "ops"}));
        assert_eq!(shown["delete_version_after"], json!("1h0m0s"));
        assert_eq!(shown["versions"]["1"]["deletion_time"], json!(""));
        assert_eq!(shown["oldest_version"], json!(0));
        assert_eq!(shown["current_version"], json!(1));
    }

    #[test]
    fn stored_form_round_trips_and_tolerates_missing_fields() {
        let mut m = KeyMetadata::new(t(5));
        m.add_version(t(6), Some(t(7)), 0);
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<KeyMetadata>(&text).unwrap(), m);
        let sparse: KeyMetadata = serde_json::from_str(r#"{"current_version":3}"#).unwrap();
        assert_eq!(sparse.current_version, 3);
    }
}
