//! Validation of `custom_metadata`, with Vault's limits and messages.

use std::collections::BTreeMap;

use coffer_sdk::Error;

const MAX_KEYS: usize = 64;
const MAX_KEY_LEN: usize = 128;
const MAX_VALUE_LEN: usize = 512;
const PREFIX: &str = "custom_metadata validation failed";

/// Checks the limits on custom metadata: at most 64 keys, keys of 1–128 bytes and
/// values of 1–512 bytes, all printable. Reports every problem at once, in the
/// multi-error format Vault's clients display.
pub fn validate(entries: &BTreeMap<String, String>) -> Result<(), Error> {
    if entries.len() > MAX_KEYS {
        // Vault stops here: checking each of a huge number of keys is pointless work.
        return Err(multi_error(&[format!(
            "{PREFIX}: payload must contain at most {MAX_KEYS} keys, provided {}",
            entries.len()
        )]));
    }
    let mut problems = Vec::new();
    for (key, value) in entries {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            problems.push(format!(
                "{PREFIX}: length of key {key:?} is {} but must be 0 < len(key) <= {MAX_KEY_LEN}",
                key.len()
            ));
        }
        if value.is_empty() || value.len() > MAX_VALUE_LEN {
            problems.push(format!(
                "{PREFIX}: length of value for key {key:?} is {} but must be 0 < len(value) <= {MAX_VALUE_LEN}",
                value.len()
            ));
        }
        if !printable(key) {
            problems.push(format!(
                "{PREFIX}: key {key:?} contains unprintable characters"
            ));
        }
        if !printable(value) {
            problems.push(format!(
                "{PREFIX}: value for key {key:?} contains unprintable characters"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(multi_error(&problems))
    }
}

/// Go's `unicode.IsPrint` in spirit: no control characters and no whitespace other
/// than the plain space.
fn printable(s: &str) -> bool {
    s.chars()
        .all(|c| !c.is_control() && (c == ' ' || !c.is_whitespace()))
}

/// hashicorp/go-multierror's format, which Vault puts into the error message.
fn multi_error(problems: &[String]) -> Error {
    let count = match problems.len() {
        1 => "1 error occurred".to_string(),
        n => format!("{n} errors occurred"),
    };
    let mut message = format!("{count}:\n");
    for p in problems {
        message.push_str(&format!("\t* {p}\n"));
    }
    message.push('\n');
    Error::invalid(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn message(e: Error) -> String {
        match e {
            Error::InvalidRequest(m) => m,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn accepts_reasonable_metadata() {
        assert!(validate(&map(&[("owner", "team a"), ("k", "v")])).is_ok());
        assert!(validate(&BTreeMap::new()).is_ok());
        let long_key = "k".repeat(128);
        let long_value = "v".repeat(512);
        assert!(validate(&map(&[(&long_key, &long_value)])).is_ok());
    }

    #[test]
    fn too_many_keys() {
        let many: BTreeMap<String, String> = (0..65)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        let m = message(validate(&many).unwrap_err());
        assert_eq!(
            m,
            "1 error occurred:\n\t* custom_metadata validation failed: payload must contain at most 64 keys, provided 65\n\n"
        );
    }

    #[test]
    fn reports_every_problem() {
        let long_key = "k".repeat(129);
        let long_value = "v".repeat(513);
        let m = message(
            validate(&map(&[
                (&long_key, "ok"),
                ("a", &long_value),
                ("b", ""),
                ("c\n", "x\ty"),
            ]))
            .unwrap_err(),
        );
        assert!(m.starts_with("5 errors occurred:\n"), "{m}");
        assert!(m.contains("length of key \"kkk"), "{m}");
        assert!(m.contains("is 129 but must be 0 < len(key) <= 128"), "{m}");
        assert!(m.contains("length of value for key \"a\" is 513"), "{m}");
        assert!(m.contains("length of value for key \"b\" is 0"), "{m}");
        assert!(
            m.contains("key \"c\\n\" contains unprintable characters"),
            "{m}"
        );
        assert!(
            m.contains("value for key \"c\\n\" contains unprintable characters"),
            "{m}"
        );
    }
}
