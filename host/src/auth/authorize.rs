//! Whether a caller may make a request: its policies' ACL, plus `sudo` on sudo paths.
//!
//! Called by the router for every authenticated request (sys/, auth/token/ and mounts
//! alike) after the token is resolved and before anything is routed, so a denied
//! request never reaches a handler or an engine.
//!
//! Writes: the HTTP layer sends [`Operation::Update`] for `POST`/`PUT`. Vault checks the
//! `create` capability when the target does not exist yet and `update` when it does.
//! Here:
//! * the ACL grants both, or neither: decided without looking at the target;
//! * it grants exactly one: the target's existence decides. For a mounted engine that
//!   is a `read` of the same path ([`crate::router::exists`]: found means present, 404
//!   absent, and a path that cannot be read (405, unsupported path, engine failure) has
//!   no existence check); for `sys/policy/<name>` and `sys/policies/acl/<name>` it is
//!   the policy store; every other sys and token path has no existence check. A write
//!   to a path without an existence check is an update, as in Vault.
//!
//! `sys/internal/ui/mounts` is unauthenticated in Vault (every CLI `kv` command calls
//! it), so it is allowed for any token: the listing as a whole, and a single mount when
//! the token has any access to that mount (Vault's `hasMountAccess`).

use std::future::Future;

use super::Caller;
use super::policy::{Acl, ROOT_POLICY_NAME};
use crate::api::{ApiError, LogicalRequest, Operation};
use crate::app::App;
use crate::mounts::Routed;

/// What the ACL alone says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Allowed whatever the target's state.
    Allow,
    /// Refused whatever the target's state.
    Deny,
    /// A write for which the ACL grants only `create` (`create_only`) or only `update`:
    /// allowed when the target is absent (resp. present).
    DependsOnExistence {
        /// `true`: only `create` is granted; `false`: only `update`.
        create_only: bool,
    },
}

/// `Ok` when `caller`'s policies allow `req`, else `403 permission denied`.
pub async fn authorize(app: &App, caller: &Caller, req: &LogicalRequest) -> Result<(), ApiError> {
    // The common root case costs no lookup at all.
    if caller.policies.iter().any(|p| p == ROOT_POLICY_NAME) {
        return Ok(());
    }
    let acl = app.policies.acl_for(&caller.policies)?;
    if let Some(target) = ui_mounts_target(&req.path) {
        return ui_mounts_access(app, &acl, target);
    }
    check(&acl, req, || target_exists(app, caller, req)).await
}

/// [`authorize`] once the ACL is known, with the existence check as a seam (unit tests
/// supply their own). `exists` is only called when [`decide`] needs it; `None` from it
/// means "the path has no existence check": the write is an update.
pub(crate) async fn check<F, Fut>(
    acl: &Acl,
    req: &LogicalRequest,
    exists: F,
) -> Result<(), ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Option<bool>, ApiError>>,
{
    // allowed/denied/required_parameters of the winning rule, on the request data.
    if !acl.parameters_allowed(&req.path, req.operation, &req.data) {
        return Err(ApiError::permission_denied());
    }
    match decide(acl, &req.path, req.operation) {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(ApiError::permission_denied()),
        Decision::DependsOnExistence { create_only } => {
            let present = exists().await?.unwrap_or(true);
            // Only create granted: allowed for a new target; only update: for an
            // existing one.
            if create_only != present {
                Ok(())
            } else {
                Err(ApiError::permission_denied())
            }
        }
    }
}

/// The ACL's verdict on `op` at `path`, `sudo` included.
pub(crate) fn decide(acl: &Acl, path: &str, op: Operation) -> Decision {
    match op {
        Operation::Create | Operation::Update => {
            let create = acl.allowed_operation(path, Operation::Create);
            let update = acl.allowed_operation(path, Operation::Update);
            match (create, update) {
                (true, true) => Decision::Allow,
                (false, false) => Decision::Deny,
                (create_only, _) => Decision::DependsOnExistence { create_only },
            }
        }
        // Read, list, delete and patch each need exactly their own capability.
        _ if acl.allowed_operation(path, op) => Decision::Allow,
        _ => Decision::Deny,
    }
}

/// Whether the write's target exists, `None` when the path has no existence check.
async fn target_exists(
    app: &App,
    caller: &Caller,
    req: &LogicalRequest,
) -> Result<Option<bool>, ApiError> {
    let path = req.path.as_str();
    let policy_name = path
        .strip_prefix("sys/policy/")
        .or_else(|| path.strip_prefix("sys/policies/acl/"));
    if let Some(name) = policy_name.filter(|n| !n.is_empty()) {
        // An unusable name is "absent"; the handler then rejects it properly.
        return Ok(Some(app.policies.exists(name).unwrap_or(false)));
    }
    if path == "sys" || path.starts_with("sys/") || path.starts_with("auth/token/") {
        return Ok(None);
    }
    Ok(crate::router::exists(app, req, caller).await)
}

/// The part after `sys/internal/ui/mounts` (`""` for the listing itself).
fn ui_mounts_target(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("sys/internal/ui/mounts")?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix('/')
}

fn ui_mounts_access(app: &App, acl: &Acl, target: &str) -> Result<(), ApiError> {
    if target.trim_matches('/').is_empty() {
        return Ok(());
    }
    let probe = format!("{}/", target.trim_end_matches('/'));
    match app.mounts.route(&probe) {
        Routed::Mount(handle, _) if !acl.has_mount_access(&handle.entry.path) => {
            Err(ApiError::permission_denied())
        }
        // Unmounted paths: the handler answers 403 itself, as Vault does.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Map;

    use super::*;
    use crate::auth::policy::PolicyStore;
    use crate::storage::{MemoryBackend, SharedBackend};

    fn caller(policies: &[&str]) -> Caller {
        Caller {
            token: String::from("hvs.test").into(),
            accessor: "acc".into(),
            display_name: "token".into(),
            policies: policies.iter().map(|p| p.to_string()).collect(),
            ..Caller::default()
        }
    }

    fn req(op: Operation, path: &str) -> LogicalRequest {
        LogicalRequest {
            id: "id".into(),
            operation: op,
            path: path.into(),
            data: Map::new(),
            token: Some(String::from("hvs.test").into()),
            help: false,
            remote_address: None,
            bench_native: false,
        }
    }

    fn store() -> PolicyStore {
        let backend: SharedBackend = Arc::new(MemoryBackend::new());
        let s = PolicyStore::new(backend);
        s.set(
            "app-reader",
            r#"path "secret/data/app/*" { capabilities = ["read", "create", "update"] }"#,
        )
        .unwrap();
        s.set(
            "globs",
            r#"
path "kv/+/config" { capabilities = ["read"] }
path "kv/team/*" { capabilities = ["read", "list"] }
path "kv/team/secret" { capabilities = ["deny"] }
path "sys/audit*" { capabilities = ["read", "update"] }
path "sys/leases/lookup/*" { capabilities = ["list", "sudo"] }
path "create-only/*" { capabilities = ["create"] }
path "update-only/*" { capabilities = ["update"] }
"#,
        )
        .unwrap();
        s
    }

    /// Runs [`check`] for a caller with a fixed answer from the existence check, and
    /// records whether the check was consulted.
    fn run(
        s: &PolicyStore,
        c: &Caller,
        op: Operation,
        path: &str,
        exists: Option<bool>,
    ) -> (Result<(), ApiError>, bool) {
        let acl = s.acl_for(&c.policies).unwrap();
        let asked = std::cell::Cell::new(false);
        let r = req(op, path);
        let result = block_on(check(&acl, &r, || {
            asked.set(true);
            std::future::ready(Ok(exists))
        }));
        (result, asked.get())
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn allowed(s: &PolicyStore, c: &Caller, op: Operation, path: &str) -> bool {
        run(s, c, op, path, Some(true)).0.is_ok()
    }

    #[test]
    fn limited_token() {
        let s = store();
        let c = caller(&["app-reader", "default"]);
        assert!(allowed(&s, &c, Operation::Read, "secret/data/app/db"));
        assert!(allowed(&s, &c, Operation::Update, "secret/data/app/db"));
        assert!(!allowed(&s, &c, Operation::Delete, "secret/data/app/db"));
        assert!(!allowed(&s, &c, Operation::Read, "secret/data/other"));
        assert!(!allowed(&s, &c, Operation::Update, "sys/mounts/x"));
        assert!(!allowed(&s, &c, Operation::Update, "aws/config/root"));
        assert!(!allowed(&s, &c, Operation::List, "secret/metadata/"));
        assert!(!allowed(&s, &c, Operation::Patch, "secret/data/app/db"));
        // Self-service through the default policy.
        assert!(allowed(&s, &c, Operation::Read, "auth/token/lookup-self"));
        assert!(allowed(&s, &c, Operation::Update, "sys/capabilities-self"));
        assert!(!allowed(&s, &c, Operation::Update, "auth/token/create"));
        // Without `default` (no_default_policy) even lookup-self is refused.
        let bare = caller(&["app-reader"]);
        assert!(!allowed(
            &s,
            &bare,
            Operation::Read,
            "auth/token/lookup-self"
        ));
        let e = run(&s, &bare, Operation::Read, "secret/data/other", None)
            .0
            .unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.errors),
            (403, vec!["permission denied".to_string()])
        );
    }

    #[test]
    fn root_and_unknown_policies() {
        let s = store();
        assert!(allowed(
            &s,
            &caller(&["root"]),
            Operation::Update,
            "sys/seal"
        ));
        assert!(!allowed(
            &s,
            &caller(&[]),
            Operation::Read,
            "secret/data/app/x"
        ));
        // A policy that does not exist grants nothing but does not fail the request.
        let c = caller(&["missing", "app-reader"]);
        assert!(allowed(&s, &c, Operation::Read, "secret/data/app/x"));
    }

    #[test]
    fn globs_deny_and_sudo() {
        let s = store();
        let c = caller(&["globs"]);
        assert!(allowed(&s, &c, Operation::Read, "kv/a/config"));
        assert!(!allowed(&s, &c, Operation::Read, "kv/a/b/config"));
        assert!(allowed(&s, &c, Operation::Read, "kv/team/x/y"));
        assert!(allowed(&s, &c, Operation::List, "kv/team/"));
        assert!(!allowed(&s, &c, Operation::Read, "kv/team/secret"));
        // sys/audit needs sudo; sys/audit-hash does not.
        assert!(!allowed(&s, &c, Operation::Read, "sys/audit"));
        assert!(!allowed(&s, &c, Operation::Update, "sys/audit/file"));
        assert!(allowed(&s, &c, Operation::Update, "sys/audit-hash/file"));
        assert!(allowed(&s, &c, Operation::List, "sys/leases/lookup/aws/"));
    }

    #[test]
    fn create_and_update_depend_on_existence() {
        let s = store();
        let c = caller(&["globs", "app-reader"]);
        // Both granted: no existence check.
        let (r, asked) = run(&s, &c, Operation::Update, "secret/data/app/x", Some(false));
        assert!(r.is_ok() && !asked);
        // Neither granted: no existence check either.
        let (r, asked) = run(&s, &c, Operation::Update, "kv/a/config", Some(false));
        assert!(r.is_err() && !asked);
        // Only create: allowed for a new target only.
        let (r, asked) = run(&s, &c, Operation::Update, "create-only/x", Some(false));
        assert!(r.is_ok() && asked);
        assert!(
            run(&s, &c, Operation::Update, "create-only/x", Some(true))
                .0
                .is_err()
        );
        // Only update: allowed for an existing target only.
        assert!(
            run(&s, &c, Operation::Update, "update-only/x", Some(true))
                .0
                .is_ok()
        );
        assert!(
            run(&s, &c, Operation::Update, "update-only/x", Some(false))
                .0
                .is_err()
        );
        // A path without an existence check is an update.
        assert!(
            run(&s, &c, Operation::Update, "update-only/x", None)
                .0
                .is_ok()
        );
        assert!(
            run(&s, &c, Operation::Update, "create-only/x", None)
                .0
                .is_err()
        );
    }

    #[test]
    fn decisions() {
        let s = store();
        let acl = s.acl_for(&["globs".to_string()]).unwrap();
        assert_eq!(
            decide(&acl, "create-only/a", Operation::Update),
            Decision::DependsOnExistence { create_only: true }
        );
        assert_eq!(
            decide(&acl, "update-only/a", Operation::Create),
            Decision::DependsOnExistence { create_only: false }
        );
        assert_eq!(decide(&acl, "kv/team/x", Operation::Read), Decision::Allow);
        assert_eq!(decide(&acl, "kv/team/x", Operation::Delete), Decision::Deny);
    }

    #[test]
    fn ui_mounts_paths() {
        assert_eq!(ui_mounts_target("sys/internal/ui/mounts"), Some(""));
        assert_eq!(
            ui_mounts_target("sys/internal/ui/mounts/secret/x"),
            Some("secret/x")
        );
        assert_eq!(ui_mounts_target("sys/internal/ui/mountsx"), None);
        assert_eq!(ui_mounts_target("sys/mounts"), None);
    }
}
