//! Stored ACL policies (`sys/policy`, `sys/policies/acl`) and the compiled ACL of a
//! token's policy set. (Skeleton; filled in by the policy work.)

use std::sync::Arc;

use super::Acl;
use crate::api::ApiError;
use crate::storage::SharedBackend;

/// Named policies in storage, parsed and cached.
pub struct PolicyStore {
    #[allow(dead_code)]
    backend: SharedBackend,
}

impl PolicyStore {
    /// A store over (barrier-encrypted) storage.
    pub fn new(backend: SharedBackend) -> Self {
        Self { backend }
    }

    /// The ACL of a set of policy names.
    pub fn acl_for(&self, _policies: &[String]) -> Result<Arc<Acl>, ApiError> {
        Ok(Arc::new(Acl::root()))
    }
}
