//! Token store tests on a fake clock: no sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use super::*;
use crate::leases::{
    EngineCallError, ExpiryConfig, LeaseEngines, LeaseEntry, LeaseManager, NewLease, RenewTerms,
};
use crate::runtime::imports::ManualClock;
use crate::storage::{MemoryBackend, SharedBackend};

const NANOS: u64 = 1_000_000_000;

#[derive(Default)]
struct FakeEngines(Mutex<Vec<String>>);
impl LeaseEngines for FakeEngines {
    fn revoke<'a>(
        &'a self,
        entry: &'a LeaseEntry,
    ) -> Pin<Box<dyn Future<Output = Result<(), EngineCallError>> + Send + 'a>> {
        Box::pin(async move {
            self.0.lock().unwrap().push(entry.id.clone());
            Ok(())
        })
    }
    fn renew<'a>(
        &'a self,
        _: &'a LeaseEntry,
        _: u64,
    ) -> Pin<Box<dyn Future<Output = Result<RenewTerms, EngineCallError>> + Send + 'a>> {
        Box::pin(async move { Err(EngineCallError::Refused("no".into())) })
    }
}

struct Fixture {
    backend: SharedBackend,
    clock: Arc<ManualClock>,
    tokens: TokenStore,
    leases: LeaseManager,
}

fn fixture() -> Fixture {
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let clock = Arc::new(ManualClock::at_secs(1_000_000));
    let tokens = TokenStore::open(backend.clone(), clock.clone()).unwrap();
    let leases = LeaseManager::new(
        backend.clone(),
        Arc::new(FakeEngines::default()),
        clock.clone(),
        ExpiryConfig::default(),
    );
    Fixture {
        backend,
        clock,
        tokens,
        leases,
    }
}

fn child_of(parent: &str, ttl: u64) -> NewToken {
    NewToken {
        policies: vec!["default".into(), "dev".into()],
        display_name: "token-alice".into(),
        ttl,
        renewable: true,
        parent: parent.to_string(),
        path: "auth/token/create".into(),
        ..NewToken::default()
    }
}

impl Fixture {
    fn advance(&self, secs: u64) {
        self.clock.advance_secs(secs);
    }
    fn sweep(&self) -> usize {
        let now = self.tokens.now() / NANOS;
        let mut n = 0;
        for (secs, hash) in self.tokens.due(now, 100).unwrap() {
            if self.tokens.expire_one(secs, &hash, &self.leases).unwrap() {
                n += 1;
            }
        }
        n
    }
    fn lease_for(&self, token_hash: &str) -> String {
        self.leases
            .register(NewLease {
                path: "aws/creds/r",
                mount_path: "aws/",
                mount_uuid: "u",
                ttl: 3600,
                max_ttl: 0,
                mount_default_ttl: 3600,
                mount_max_ttl: 7200,
                renewable: true,
                internal: "{}",
                data: "{}",
                display_name: "token-alice",
                token_hash,
            })
            .unwrap()
            .0
    }
    fn lease_due_now(&self, id: &str) -> bool {
        let e = self.leases.lookup(id).unwrap().unwrap();
        e.index_secs <= self.tokens.now() / NANOS
    }
}

#[test]
fn create_lookup_and_nothing_plaintext_in_storage() {
    let f = fixture();
    f.tokens.add_root("dev-root");
    f.tokens.add_root("dev-root"); // idempotent (dev mode calls it every start)
    let root = f.tokens.authenticate(Some("dev-root")).unwrap();
    assert_eq!(root.policies, vec!["root"]);
    assert!(root.orphan);
    let c = f.tokens.create(child_of(&root.token_hash, 3600)).unwrap();
    assert!(c.token.starts_with("hvs.") && c.token.len() == 28);
    assert_eq!(c.lease_duration, 3600);
    assert_eq!(c.entry.accessor.len(), 24);
    let caller = f.tokens.authenticate(Some(&c.token)).unwrap();
    assert_eq!(caller.display_name, "token-alice");
    assert_eq!(caller.accessor, c.entry.accessor);
    assert!(!caller.orphan);
    let by_acc = f
        .tokens
        .lookup_accessor(&c.entry.accessor)
        .unwrap()
        .unwrap();
    assert_eq!(by_acc.hash, caller.token_hash);
    let data = by_acc.lookup_data("", f.tokens.now());
    assert_eq!(data["ttl"], 3600);
    assert_eq!(data["path"], "auth/token/create");
    assert_eq!(data["id"], "");
    assert_eq!(f.tokens.accessors().unwrap().len(), 2);
    assert_eq!(
        f.tokens.authenticate(Some("hvs.nope")).unwrap_err().status,
        403
    );
    assert_eq!(f.tokens.authenticate(None).unwrap_err().status, 403);
    // Neither token id appears in any key or value.
    for key in f.backend.scan("", None, 1000).unwrap() {
        let value = f.backend.get(&key).unwrap().unwrap_or_default();
        let value = String::from_utf8_lossy(&value);
        for secret in ["dev-root", c.token.as_str()] {
            assert!(!key.contains(secret) && !value.contains(secret), "{key}");
        }
    }
    // Root tokens never expire and cannot be renewed.
    let root_entry = f.tokens.get(&root.token_hash).unwrap().unwrap();
    assert_eq!(root_entry.expire_time, 0);
    assert!(!root_entry.renewable);
    let err = f.tokens.renew(&root.token_hash, 0).unwrap_err();
    assert_eq!(err.to_string(), "lease is not renewable");
}

#[test]
fn root_tokens_and_created_tokens_survive_reopen() {
    let f = fixture();
    f.tokens.add_root("dev-root");
    let minted = f.tokens.create_root().unwrap();
    let again = TokenStore::open(f.backend.clone(), f.clock.clone()).unwrap();
    assert!(again.authenticate(Some("dev-root")).is_ok());
    assert_eq!(
        again.authenticate(Some(&minted)).unwrap().policies,
        vec!["root"]
    );
    again.add_root("dev-root");
    assert_eq!(again.accessors().unwrap().len(), 2);
}

#[test]
fn revoke_tree_and_orphan() {
    let f = fixture();
    f.tokens.add_root("r");
    let root = f.tokens.authenticate(Some("r")).unwrap();
    let parent = f.tokens.create(child_of(&root.token_hash, 3600)).unwrap();
    let child = f.tokens.create(child_of(&parent.entry.hash, 3600)).unwrap();
    let grandchild = f.tokens.create(child_of(&child.entry.hash, 3600)).unwrap();
    let lease = f.lease_for(&grandchild.entry.hash);
    assert!(!f.lease_due_now(&lease));

    f.tokens.revoke_tree(&parent.entry.hash, &f.leases).unwrap();
    for t in [&parent, &child, &grandchild] {
        assert_eq!(
            f.tokens.authenticate(Some(&t.token)).unwrap_err().status,
            403
        );
        assert!(
            f.tokens
                .lookup_accessor(&t.entry.accessor)
                .unwrap()
                .is_none()
        );
    }
    assert!(
        f.lease_due_now(&lease),
        "the grandchild's lease is queued for revocation"
    );
    assert!(f.tokens.authenticate(Some("r")).is_ok());
    // No index debris left behind (only the root's records and the salt remain).
    assert!(
        f.backend
            .scan("sys/token/parent/", None, 10)
            .unwrap()
            .is_empty()
    );
    assert!(
        f.backend
            .scan("sys/token/expire/", None, 10)
            .unwrap()
            .is_empty()
    );

    let p = f.tokens.create(child_of(&root.token_hash, 3600)).unwrap();
    let c = f.tokens.create(child_of(&p.entry.hash, 3600)).unwrap();
    f.tokens.revoke_orphan(&p.entry.hash, &f.leases).unwrap();
    assert!(f.tokens.authenticate(Some(&p.token)).is_err());
    let kept = f.tokens.authenticate(Some(&c.token)).unwrap();
    assert!(kept.orphan, "the child became an orphan");
    // Revoking an unknown token succeeds, as in Vault.
    f.tokens.revoke_tree("0000", &f.leases).unwrap();
}

#[test]
fn expiry_rejects_at_once_and_the_worker_revokes_children_and_leases() {
    let f = fixture();
    let parent = f.tokens.create(child_of("", 60)).unwrap();
    let child = f.tokens.create(child_of(&parent.entry.hash, 3600)).unwrap();
    let lease = f.lease_for(&child.entry.hash);
    assert_eq!(f.sweep(), 0, "nothing due yet");
    f.advance(61);
    // Rejected before any worker ran.
    assert_eq!(
        f.tokens
            .authenticate(Some(&parent.token))
            .unwrap_err()
            .status,
        403
    );
    assert!(f.tokens.lookup(&parent.token).unwrap().is_none());
    assert!(
        f.tokens.authenticate(Some(&child.token)).is_ok(),
        "child not expired itself"
    );
    assert_eq!(f.sweep(), 1);
    assert!(
        f.tokens.authenticate(Some(&child.token)).is_err(),
        "revoked with its parent"
    );
    assert!(f.tokens.get(&child.entry.hash).unwrap().is_none());
    assert!(f.lease_due_now(&lease));
    assert_eq!(f.sweep(), 0);
}

#[test]
fn renewal_extends_up_to_the_explicit_max() {
    let f = fixture();
    let mut spec = child_of("", 60);
    spec.explicit_max_ttl = 100;
    let t = f.tokens.create(spec).unwrap();
    f.advance(50);
    let (_, ttl, _) = f.tokens.renew(&t.entry.hash, 0).unwrap();
    assert_eq!(ttl, 50, "original TTL capped by explicit max");
    f.advance(40);
    let (e, ttl, _) = f.tokens.renew(&t.entry.hash, 5).unwrap();
    assert_eq!(ttl, 5);
    assert!(e.last_renewal.is_some());
    // The old expiry slot moved: nothing due at the first expiry time.
    f.advance(1);
    assert_eq!(f.sweep(), 0);
    f.advance(10);
    assert!(f.tokens.renew(&t.entry.hash, 0).is_err(), "expired");
    assert_eq!(f.sweep(), 1);

    let mut spec = child_of("", 60);
    spec.renewable = false;
    let fixed = f.tokens.create(spec).unwrap();
    assert_eq!(
        f.tokens
            .renew(&fixed.entry.hash, 0)
            .unwrap_err()
            .to_string(),
        "lease is not renewable"
    );
}

#[test]
fn use_limits_count_down_and_revoke_after_the_last_request() {
    let f = fixture();
    let mut spec = child_of("", 3600);
    spec.num_uses = 2;
    let t = f.tokens.create(spec).unwrap();
    let first = f.tokens.authenticate(Some(&t.token)).unwrap();
    assert_eq!(first.num_uses, 1);
    let lease = f.lease_for(&first.token_hash);
    let last = f.tokens.authenticate(Some(&t.token)).unwrap();
    assert_eq!(
        f.tokens.authenticate(Some(&t.token)).unwrap_err().status,
        403
    );
    // A peek (sys/capabilities) does not count and does not see a spent token.
    assert!(f.tokens.peek(Some(&t.token)).is_err());
    // While the last request runs, the worker leaves the token alone.
    assert_eq!(f.sweep(), 0);
    assert!(f.tokens.get(&last.token_hash).unwrap().is_some());
    drop(last);
    assert_eq!(f.sweep(), 1);
    assert!(f.tokens.get(&first.token_hash).unwrap().is_none());
    assert!(f.lease_due_now(&lease));
}

#[test]
fn custom_ids_must_be_unique() {
    let f = fixture();
    let mut spec = child_of("", 60);
    spec.id = Some(zeroize::Zeroizing::new("my-id".into()));
    f.tokens.create(spec.clone()).unwrap();
    assert_eq!(
        f.tokens.create(spec).unwrap_err().to_string(),
        "cannot create a token with a duplicate ID"
    );
    assert!(f.tokens.authenticate(Some("my-id")).is_ok());
}

#[test]
fn cached_entries_never_outlive_a_revocation_or_renewal() {
    let f = fixture();
    let t = f.tokens.create(child_of("", 60)).unwrap();
    let token = t.token.to_string();
    // Twice: the second authentication is served from the cache.
    for _ in 0..2 {
        assert!(f.tokens.authenticate(Some(&token)).is_ok());
    }
    // A renewal is visible at once (the cached copy is dropped on write).
    f.advance(30);
    f.tokens.renew(&t.entry.hash, 60).unwrap();
    f.advance(45);
    assert!(
        f.tokens.authenticate(Some(&token)).is_ok(),
        "renewed expiry must be used, not the cached one"
    );
    // A revocation too.
    f.tokens.revoke_tree(&t.entry.hash, &f.leases).unwrap();
    assert_eq!(f.tokens.authenticate(Some(&token)).unwrap_err().status, 403);
}
