//! HMAC-SHA256 of audited values with a per-device key, in Vault's `hmac-sha256:<hex>`
//! form, and the recursive hashing of request and response data.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Length of a device's HMAC key, bytes.
pub const KEY_LEN: usize = 32;

/// Prefix of every hashed value, as Vault writes it.
pub const HMAC_PREFIX: &str = "hmac-sha256:";

/// A device's HMAC key; wiped from memory when dropped.
///
/// `Debug` is deliberately not derived so the key cannot end up in a log line.
pub struct HmacKey(Zeroizing<[u8; KEY_LEN]>);

impl HmacKey {
    /// A fresh key from the OS CSPRNG (one per device, made when it is enabled).
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut_slice());
        Self(key)
    }

    /// A key restored from storage; `None` unless exactly [`KEY_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(arr)))
    }

    /// The raw key, for persisting it (the caller wipes what it copies).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// `hmac-sha256:<hex>` of `input`.
    pub fn hash(&self, input: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail for our 32 bytes; the
        // fallback only exists to avoid a panic path. The keyed state lives on the stack
        // only for this call and is not wiped (hmac 0.12 has no zeroize support): the
        // long-lived copy, `self.0`, is.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.as_slice()) else {
            return format!("{HMAC_PREFIX}invalid-key");
        };
        mac.update(input.as_bytes());
        format!("{HMAC_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// How one device treats sensitive values: hashed with its key, or written raw
/// (`log_raw=true`).
pub struct Hasher<'a> {
    /// `None` when the device logs raw values.
    key: Option<&'a HmacKey>,
    /// Whether token accessors are hashed too (`hmac_accessor`, default true).
    hmac_accessor: bool,
}

impl<'a> Hasher<'a> {
    /// Hashes with `key`, or nothing when `log_raw`.
    pub fn new(key: &'a HmacKey, log_raw: bool, hmac_accessor: bool) -> Self {
        Self {
            key: (!log_raw).then_some(key),
            hmac_accessor,
        }
    }

    /// A sensitive string as it is written to the log.
    pub fn string(&self, s: &str) -> String {
        match self.key {
            Some(k) => k.hash(s),
            None => s.to_string(),
        }
    }

    /// A token accessor as it is written to the log (hashed unless `hmac_accessor=false`).
    pub fn accessor(&self, s: &str) -> String {
        if self.hmac_accessor {
            self.string(s)
        } else {
            s.to_string()
        }
    }

    /// Hashes every string inside `value`, recursively (object keys, numbers, booleans
    /// and nulls are kept: they are structure, not secrets, in Vault's model).
    pub fn value(&self, value: &mut Value) {
        if self.key.is_none() {
            return;
        }
        match value {
            Value::String(s) => *s = self.string(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.value(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// A copy of `value` with its strings hashed.
    pub fn hashed(&self, value: &Value) -> Value {
        let mut v = value.clone();
        self.value(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> HmacKey {
        HmacKey::from_bytes(&[7u8; KEY_LEN]).unwrap()
    }

    #[test]
    fn matches_an_independent_implementation() {
        // python: hmac.new(b"\x07"*32, b"foo", "sha256").hexdigest()
        let h = key().hash("foo");
        assert_eq!(
            h,
            "hmac-sha256:2f5080c3869d044c3c514ed5163f88636cfb9421c90745ac757883ac8cbf9bbd"
        );
        assert_eq!(h, key().hash("foo"), "deterministic");
        assert_ne!(h, key().hash("bar"));
        let other = HmacKey::from_bytes(&[8u8; KEY_LEN]).unwrap();
        assert_ne!(h, other.hash("foo"), "per-key");
    }

    #[test]
    fn key_length_is_checked() {
        assert!(HmacKey::from_bytes(&[0u8; 31]).is_none());
        assert!(HmacKey::from_bytes(&[0u8; 33]).is_none());
        assert_ne!(
            HmacKey::generate().as_bytes(),
            HmacKey::generate().as_bytes()
        );
    }

    #[test]
    fn hashes_nested_strings_only() {
        let k = key();
        let h = Hasher::new(&k, false, true);
        let v = h.hashed(&json!({
            "data": {"password": "hunter2", "list": ["a", 1, {"deep": "b"}], "n": 5},
            "options": {"cas": 0, "flag": true, "none": null},
        }));
        assert_eq!(v["data"]["password"], json!(k.hash("hunter2")));
        assert_eq!(v["data"]["list"][0], json!(k.hash("a")));
        assert_eq!(v["data"]["list"][1], json!(1));
        assert_eq!(v["data"]["list"][2]["deep"], json!(k.hash("b")));
        assert_eq!(v["data"]["n"], json!(5));
        assert_eq!(v["options"], json!({"cas": 0, "flag": true, "none": null}));
        assert!(!v.to_string().contains("hunter2"));
    }

    #[test]
    fn log_raw_and_accessor_switches() {
        let k = key();
        let raw = Hasher::new(&k, true, true);
        assert_eq!(raw.string("s"), "s");
        assert_eq!(raw.accessor("a"), "a");
        assert_eq!(raw.hashed(&json!({"x": "y"})), json!({"x": "y"}));
        let plain_accessor = Hasher::new(&k, false, false);
        assert_eq!(plain_accessor.accessor("a"), "a");
        assert_eq!(plain_accessor.string("a"), k.hash("a"));
    }
}
