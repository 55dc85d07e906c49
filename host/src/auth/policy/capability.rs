//! Capabilities and sets of them.

use std::fmt;

use crate::api::Operation;

/// One capability a policy can grant (or, for `deny`, refuse) on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Refuses everything on the path, whatever other policies grant there.
    Deny,
    /// Write to a path that does not exist yet (`POST`/`PUT`).
    Create,
    /// `GET`.
    Read,
    /// Write to an existing path (`POST`/`PUT`).
    Update,
    /// `DELETE`.
    Delete,
    /// `LIST`.
    List,
    /// Needed in addition to the operation's capability on root-protected paths
    /// ([`super::builtin::SUDO_PATHS`]).
    Sudo,
    /// `PATCH`.
    Patch,
}

impl Capability {
    /// Every capability, in bit order.
    pub const ALL: [Capability; 8] = [
        Capability::Deny,
        Capability::Create,
        Capability::Read,
        Capability::Update,
        Capability::Delete,
        Capability::List,
        Capability::Sudo,
        Capability::Patch,
    ];

    /// The policy-language name (`"read"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Deny => "deny",
            Capability::Create => "create",
            Capability::Read => "read",
            Capability::Update => "update",
            Capability::Delete => "delete",
            Capability::List => "list",
            Capability::Sudo => "sudo",
            Capability::Patch => "patch",
        }
    }

    /// The capability with this exact (lower-case) name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The capability an operation needs. `Create` and `Update` are distinct: the
    /// caller decides between them (Vault checks `create` when the target does not
    /// exist yet and `update` otherwise).
    pub fn for_operation(op: Operation) -> Self {
        match op {
            Operation::Read => Capability::Read,
            Operation::Create => Capability::Create,
            Operation::Update => Capability::Update,
            Operation::Delete => Capability::Delete,
            Operation::List => Capability::List,
            Operation::Patch => Capability::Patch,
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of capabilities. A set containing `deny` contains nothing else.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CapabilitySet(u8);

impl CapabilitySet {
    /// The set holding only `deny`.
    pub const DENY: CapabilitySet = CapabilitySet(1);

    /// Every capability except `deny` (what the root policy grants).
    pub fn all() -> Self {
        Capability::ALL
            .into_iter()
            .filter(|c| *c != Capability::Deny)
            .fold(Self::default(), |s, c| s.with(c))
    }

    /// Whether `cap` is in the set.
    pub fn contains(self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    /// Whether the set is `deny`.
    pub fn is_deny(self) -> bool {
        self.contains(Capability::Deny)
    }

    /// Whether the set is empty (a rule that matches but grants nothing).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set plus `cap`; adding `deny` yields just `deny`.
    pub fn with(self, cap: Capability) -> Self {
        if cap == Capability::Deny || self.is_deny() {
            Self::DENY
        } else {
            Self(self.0 | cap.bit())
        }
    }

    /// Merges two rules for the same path the way Vault does: `deny` on either side
    /// wins, otherwise the union.
    pub fn merge(self, other: Self) -> Self {
        if self.is_deny() || other.is_deny() {
            Self::DENY
        } else {
            Self(self.0 | other.0)
        }
    }

    /// The members, in bit order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_sets() {
        let s = CapabilitySet::default()
            .with(Capability::Read)
            .with(Capability::List);
        assert!(s.contains(Capability::Read) && !s.contains(Capability::Update));
        assert_eq!(s.merge(CapabilitySet::DENY), CapabilitySet::DENY);
        assert_eq!(s.with(Capability::Deny).iter().count(), 1);
        assert!(!CapabilitySet::all().is_deny());
        assert_eq!(Capability::for_operation(Operation::List), Capability::List);
        assert_eq!(Capability::from_name("sudo"), Some(Capability::Sudo));
        assert_eq!(Capability::from_name("Read"), None);
    }
}
