//! The mount's configuration: root credentials ([`root`]), the iam_user lease
//! ([`lease`]) and root key rotation ([`rotate`]).

pub mod lease;
pub mod root;
pub mod rotate;
