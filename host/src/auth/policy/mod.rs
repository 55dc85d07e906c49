//! ACL policies: parsing Vault's HCL/JSON policy language and deciding what a set of
//! policies allows.
//!
//! * [`Policy::parse`] turns policy text (HCL or JSON, as accepted by `sys/policy`) into
//!   a list of [`PathRule`]s. Errors name the offending line for HCL.
//! * [`Acl::new`] compiles the policies attached to a token into one lookup structure;
//!   [`Acl::allowed`], [`Acl::allowed_operation`] and [`Acl::capabilities`] answer
//!   questions about a request path.
//! * [`builtin`] holds the `root` and `default` policies and the list of paths that need
//!   `sudo`.
//!
//! Evaluation follows Vault (`vault/acl.go`): rules for the same path from several
//! policies are merged first (capabilities unioned, `deny` replaces everything), then the
//! single most specific rule matching the request path decides. See [`Acl`] for the
//! priority order.
//!
//! `allowed_parameters`, `denied_parameters` and `required_parameters` are enforced on
//! the winning rule ([`Acl::parameters_allowed`], semantics in [`parameters`]). Keys
//! Vault accepts but this server cannot enforce (`min_wrapping_ttl`,
//! `max_wrapping_ttl`: there is no response wrapping; `mfa_methods`, `control_group`)
//! are refused when a policy is written, never accepted and ignored.
//! Identity templating (`{{identity.entity.id}}`) is not expanded: such paths match
//! literally, i.e. never in practice.

mod ast;
pub mod builtin;
mod capability;
mod matcher;
pub mod parameters;
mod parser;
mod store;

pub use ast::{PathRule, Policy};
pub use builtin::{DEFAULT_POLICY_NAME, ROOT_POLICY_NAME, requires_sudo};
pub use capability::{Capability, CapabilitySet};
pub use matcher::Acl;
pub use store::{PolicyStore, PolicyStoreError};

/// Why a policy could not be parsed.
///
/// `line` is the 1-based line in the policy text where the problem was found; it is
/// `None` for problems found in the JSON form (whose syntax errors still carry a line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The text is not valid HCL/JSON.
    #[error("failed to parse policy: {}{message}", at(*line))]
    Syntax {
        /// Where the parser gave up.
        line: Option<usize>,
        /// What it expected or found.
        message: String,
    },
    /// A key Vault does not accept at that place.
    #[error("failed to parse policy: {}{context}invalid key {key:?}", at(*line))]
    InvalidKey {
        /// Where the key was written.
        line: Option<usize>,
        /// `path "x": ` for keys inside a path block, empty at the top level.
        context: String,
        /// The key.
        key: String,
    },
    /// A capability name that does not exist.
    #[error("failed to parse policy: {}path {path:?}: invalid capability {capability:?}", at(*line))]
    InvalidCapability {
        /// Where the capability was written.
        line: Option<usize>,
        /// The path block it appeared in.
        path: String,
        /// The unknown name.
        capability: String,
    },
    /// Any other invalid content (wrong value type, bad duration, `+*` in a path, ...).
    #[error("failed to parse policy: {}{message}", at(*line))]
    Invalid {
        /// Where the problem was found.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The policy name is empty after trimming.
    #[error("policy name must not be empty")]
    EmptyName,
}

impl PolicyError {
    /// The 1-based line of the problem, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Syntax { line, .. }
            | Self::InvalidKey { line, .. }
            | Self::InvalidCapability { line, .. }
            | Self::Invalid { line, .. } => *line,
            Self::EmptyName => None,
        }
    }
}

/// `"line N: "` or nothing.
fn at(line: Option<usize>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

/// Normalises a policy name the way Vault does: surrounding whitespace removed,
/// lower-cased. Callers compare the result with the input to emit Vault's
/// `policy name was converted to …` warning.
pub fn normalize_name(name: &str) -> Result<String, PolicyError> {
    let name = name.trim().to_lowercase();
    if name.is_empty() {
        return Err(PolicyError::EmptyName);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_lower_cased() {
        assert_eq!(normalize_name(" My-Policy ").unwrap(), "my-policy");
        assert_eq!(normalize_name("  "), Err(PolicyError::EmptyName));
    }

    #[test]
    fn error_messages_name_the_line() {
        let e = PolicyError::InvalidCapability {
            line: Some(3),
            path: "secret/*".into(),
            capability: "write".into(),
        };
        assert_eq!(e.line(), Some(3));
        assert_eq!(
            e.to_string(),
            "failed to parse policy: line 3: path \"secret/*\": invalid capability \"write\""
        );
    }
}
