//! One enabled audit device: its table entry, its key, its parsed options and its sink.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::AuditError;
use super::entry::Entry;
use super::file::Sink;
use super::hash::{Hasher, HmacKey};

/// The only device type Coffer has.
pub const FILE_TYPE: &str = "file";

/// A device as configured: what `sys/audit` lists and the table stores (besides the
/// key).
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// Normalised path, `name/`.
    pub path: String,
    /// Device type (`file`).
    pub kind: String,
    /// Free text.
    pub description: String,
    /// Options as given (strings), echoed by `sys/audit`.
    pub options: BTreeMap<String, String>,
    /// Vault's `local` flag (no replication in Coffer; stored and echoed).
    pub local: bool,
}

/// The file device's options, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    /// `file_path`: a path, `stdout` or `discard`.
    pub file_path: String,
    /// Write values unhashed.
    pub log_raw: bool,
    /// Hash token accessors.
    pub hmac_accessor: bool,
    /// Permissions of the log file; 0 leaves them alone.
    pub mode: u32,
    /// Written before every line.
    pub prefix: String,
}

impl FileOptions {
    /// Parses the options of a `file` device.
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self, AuditError> {
        // `path` is the pre-1.0 name Vault still accepts.
        let file_path = options
            .get("file_path")
            .or_else(|| options.get("path"))
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .ok_or(AuditError::MissingFilePath)?;
        let flag = |key: &str, default: bool| -> Result<bool, AuditError> {
            match options.get(key) {
                None => Ok(default),
                Some(v) => parse_bool(v).ok_or_else(|| {
                    AuditError::InvalidOption(format!(
                        "unable to parse {key}: {v:?} is not a boolean"
                    ))
                }),
            }
        };
        let mode = match options.get("mode") {
            None => 0o600,
            Some(m) => u32::from_str_radix(m.trim(), 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| {
                    AuditError::InvalidOption(format!(
                        "unable to parse mode: {m:?} is not an octal file mode"
                    ))
                })?,
        };
        match options.get("format").map(String::as_str) {
            None | Some("json") | Some("") => {}
            Some(other) => {
                return Err(AuditError::InvalidOption(format!(
                    "unsupported format {other:?} (only \"json\" is supported)"
                )));
            }
        }
        Ok(Self {
            file_path,
            log_raw: flag("log_raw", false)?,
            hmac_accessor: flag("hmac_accessor", true)?,
            mode,
            prefix: options.get("prefix").cloned().unwrap_or_default(),
        })
    }
}

/// Go's `strconv.ParseBool`, which Vault uses for device options.
fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// An enabled device.
pub struct Device {
    /// Its configuration.
    pub config: DeviceConfig,
    /// Its HMAC key (wiped on drop).
    pub key: HmacKey,
    /// Parsed options.
    pub options: FileOptions,
    sink: Sink,
    /// The id of the request that enabled this device: that request's entry went to
    /// the devices enabled before it, so its response is not written here either,
    /// keeping every response line in a log paired with its request line.
    pub enabled_by: Option<String>,
}

impl Device {
    /// A newly enabled device: the file must open now.
    pub fn create(
        config: DeviceConfig,
        key: HmacKey,
        enabled_by: Option<String>,
    ) -> Result<Self, AuditError> {
        let options = check_type(&config)?;
        let sink =
            Sink::open(&options.file_path, options.mode).map_err(|source| AuditError::Open {
                path: options.file_path.clone(),
                source,
            })?;
        Ok(Self {
            config,
            key,
            options,
            sink,
            enabled_by,
        })
    }

    /// A device restored at start-up. A file that cannot be opened now is retried at
    /// every write (failing those writes meanwhile) rather than stopping the server or
    /// silently dropping the device.
    pub fn restore(config: DeviceConfig, key: HmacKey) -> Result<Self, AuditError> {
        let options = check_type(&config)?;
        let (sink, err) = Sink::restore(&options.file_path, options.mode);
        if let Some(e) = err {
            tracing::warn!(device = %config.path, error = %e,
                "audit device cannot open its file; its writes fail until it can");
        }
        Ok(Self {
            config,
            key,
            options,
            sink,
            enabled_by: None,
        })
    }

    /// How this device hashes.
    pub fn hasher(&self) -> Hasher<'_> {
        Hasher::new(&self.key, self.options.log_raw, self.options.hmac_accessor)
    }

    /// Serialises and writes one entry as one line.
    pub fn write(&self, entry: &Entry) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(512);
        line.extend_from_slice(self.options.prefix.as_bytes());
        serde_json::to_writer(&mut line, entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.sink.write_line(&line)
    }

    /// The device as `sys/audit` lists it.
    pub fn info_json(&self) -> Value {
        json!({
            "type": self.config.kind,
            "description": self.config.description,
            "options": self.config.options,
            "local": self.config.local,
            "path": self.config.path,
        })
    }
}

fn check_type(config: &DeviceConfig) -> Result<FileOptions, AuditError> {
    if config.kind != FILE_TYPE {
        return Err(AuditError::UnknownType(config.kind.clone()));
    }
    FileOptions::parse(&config.options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_file_options() {
        let o = FileOptions::parse(&opts(&[("file_path", "/tmp/a")])).unwrap();
        assert_eq!(
            o,
            FileOptions {
                file_path: "/tmp/a".into(),
                log_raw: false,
                hmac_accessor: true,
                mode: 0o600,
                prefix: String::new()
            }
        );
        let o = FileOptions::parse(&opts(&[
            ("path", "stdout"),
            ("log_raw", "true"),
            ("hmac_accessor", "false"),
            ("mode", "0644"),
            ("prefix", "AUDIT:"),
            ("format", "json"),
        ]))
        .unwrap();
        assert_eq!(o.file_path, "stdout");
        assert!(o.log_raw && !o.hmac_accessor);
        assert_eq!(o.mode, 0o644);
        assert_eq!(o.prefix, "AUDIT:");
    }

    #[test]
    fn rejects_bad_options() {
        assert!(matches!(
            FileOptions::parse(&opts(&[])),
            Err(AuditError::MissingFilePath)
        ));
        assert!(matches!(
            FileOptions::parse(&opts(&[("file_path", " ")])),
            Err(AuditError::MissingFilePath)
        ));
        for bad in [
            ("log_raw", "yes"),
            ("mode", "999"),
            ("mode", "77777"),
            ("format", "jsonx"),
        ] {
            let r = FileOptions::parse(&opts(&[("file_path", "/tmp/a"), bad]));
            assert!(matches!(r, Err(AuditError::InvalidOption(_))), "{bad:?}");
        }
    }

    #[test]
    fn unknown_type_is_refused() {
        let config = DeviceConfig {
            path: "s/".into(),
            kind: "socket".into(),
            description: String::new(),
            options: opts(&[("file_path", "discard")]),
            local: false,
        };
        assert!(matches!(
            Device::create(config, HmacKey::generate(), None),
            Err(AuditError::UnknownType(t)) if t == "socket"
        ));
    }
}
