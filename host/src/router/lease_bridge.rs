//! Lets the lease manager call the engine that issued a lease, through the mount table
//! and the sandbox, without the lease manager knowing about either.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::leases::{EngineCallError, LeaseEngines, LeaseEntry, RenewTerms};
use crate::mounts::{MountHandle, Mounts, Routed};
use crate::runtime::Runtime;
use crate::runtime::bindings::{self as wit, EngineError};

use super::engine::{call_context, wit_mount};

/// The bridge from leases to engines.
pub struct EngineBridge {
    /// Mounted engines.
    pub mounts: Arc<Mounts>,
    /// The sandbox.
    pub runtime: Arc<Runtime>,
}

impl EngineBridge {
    /// The mount that issued `entry`, once its engine has loaded (it may still be
    /// loading just after start-up).
    async fn mount_for(&self, entry: &LeaseEntry) -> Result<Arc<MountHandle>, EngineCallError> {
        match self.mounts.route_ready(&entry.mount_path).await {
            Routed::Mount(h, _) if h.entry.uuid == entry.mount_uuid => Ok(h),
            Routed::Broken(path, cause) => Err(EngineCallError::Transient(format!(
                "engine at {path} is not available: {cause}"
            ))),
            _ => Err(EngineCallError::Permanent(format!(
                "the mount {} that issued this lease no longer exists",
                entry.mount_path
            ))),
        }
    }

    fn wit_lease(handle: &MountHandle, entry: &LeaseEntry, increment: u64) -> wit::Lease {
        wit::Lease {
            id: entry.id.clone(),
            path: entry.mount_rel_path.clone(),
            issue_time: entry.issue_time,
            internal: entry.internal.clone(),
            data: entry.data.clone(),
            increment,
            mount: wit_mount(handle),
        }
    }
}

/// Sorts an engine's refusal into retry classes.
fn classify(err: EngineError) -> EngineCallError {
    match err {
        EngineError::UnsupportedPath | EngineError::UnsupportedOperation => {
            EngineCallError::Permanent("the engine does not support this lease".into())
        }
        EngineError::InvalidRequest(m) | EngineError::PermissionDenied(m) => {
            EngineCallError::Refused(m)
        }
        EngineError::NotFound(_) => EngineCallError::Refused("not found".into()),
        EngineError::UpstreamRateLimited(m) | EngineError::Internal(m) => {
            EngineCallError::Transient(m)
        }
    }
}

impl LeaseEngines for EngineBridge {
    fn revoke<'a>(
        &'a self,
        entry: &'a LeaseEntry,
    ) -> Pin<Box<dyn Future<Output = Result<(), EngineCallError>> + Send + 'a>> {
        Box::pin(async move {
            let handle = self.mount_for(entry).await?;
            let lease = Self::wit_lease(&handle, entry, 0);
            let result = self
                .runtime
                .call(&handle.engine, call_context(&handle), move |e, store| {
                    Box::pin(
                        async move { e.coffer_engine_engine().call_revoke(store, &lease).await },
                    )
                })
                .await
                .map_err(|f| EngineCallError::Transient(f.to_string()))?;
            // A refusal to revoke is still a failure to revoke: keep retrying it.
            result.map_err(|e| match classify(e) {
                EngineCallError::Refused(m) => EngineCallError::Transient(m),
                other => other,
            })
        })
    }

    fn renew<'a>(
        &'a self,
        entry: &'a LeaseEntry,
        increment: u64,
    ) -> Pin<Box<dyn Future<Output = Result<RenewTerms, EngineCallError>> + Send + 'a>> {
        Box::pin(async move {
            let handle = self.mount_for(entry).await?;
            let lease = Self::wit_lease(&handle, entry, increment);
            let terms = self
                .runtime
                .call(&handle.engine, call_context(&handle), move |e, store| {
                    Box::pin(
                        async move { e.coffer_engine_engine().call_renew(store, &lease).await },
                    )
                })
                .await
                .map_err(|f| EngineCallError::Transient(f.to_string()))?
                .map_err(classify)?;
            Ok(RenewTerms {
                ttl: terms.ttl,
                max_ttl: terms.max_ttl,
                mount_default_ttl: handle.entry.default_ttl(),
                mount_max_ttl: handle.entry.max_ttl(),
            })
        })
    }
}
