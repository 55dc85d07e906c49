use std::sync::Arc;

use super::*;
use crate::seal::is_sealed_error;
use crate::storage::{MemoryBackend, RedbBackend};

const UUID: &str = "6f1c2a9e-3b7d-4c1e-9a55-0c8f2d4b7e11";

fn unsealed_over(inner: SharedBackend, barrier: Barrier) -> (SharedBackend, Barrier, UnsealKey) {
    let key = UnsealKey::generate();
    barrier.initialize(&key).unwrap();
    barrier.unseal(&key).unwrap();
    (inner, barrier, key)
}

fn unsealed() -> (SharedBackend, Barrier, UnsealKey) {
    let inner: SharedBackend = Arc::new(MemoryBackend::new());
    unsealed_over(inner.clone(), Barrier::new(inner))
}

fn err_text(r: Result<impl std::fmt::Debug, StorageError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn a_sealed_barrier_refuses_every_operation() {
    let inner: SharedBackend = Arc::new(MemoryBackend::new());
    let barrier = Barrier::new(inner);
    assert!(barrier.is_sealed());
    let check = |e: StorageError| {
        assert!(is_sealed_error(&e), "{e}");
        assert!(e.to_string().contains("Vault is sealed"));
    };
    check(barrier.get("a").unwrap_err());
    check(barrier.put("a", b"x").unwrap_err());
    check(barrier.delete("a").unwrap_err());
    check(barrier.list("").unwrap_err());
    check(barrier.delete_prefix("a/").unwrap_err());
    check(barrier.scan("", None, 10).unwrap_err());
    check(barrier.batch(&[BatchOp::Delete("a".into())]).unwrap_err());
    assert!(matches!(barrier.rotate(), Err(SealError::Sealed)));
    assert!(matches!(barrier.key_status(), Err(SealError::Sealed)));

    // Sealing again after use shuts it just the same.
    let (_, barrier, _) = unsealed();
    barrier.put("a", b"x").unwrap();
    barrier.seal();
    assert!(barrier.is_sealed());
    check(barrier.get("a").unwrap_err());
}

#[test]
fn initialize_then_unseal_with_the_right_key_only() {
    let inner: SharedBackend = Arc::new(MemoryBackend::new());
    let barrier = Barrier::new(inner.clone());
    assert!(!barrier.is_initialized().unwrap());
    let key = UnsealKey::generate();
    assert!(matches!(
        barrier.unseal(&key),
        Err(SealError::NotInitialized)
    ));
    barrier.initialize(&key).unwrap();
    assert!(barrier.is_initialized().unwrap());
    assert!(barrier.is_sealed(), "initialize leaves it sealed");
    assert!(matches!(
        barrier.initialize(&key),
        Err(SealError::AlreadyInitialized)
    ));

    let wrong = barrier.unseal(&UnsealKey::generate()).unwrap_err();
    assert!(matches!(wrong, SealError::InvalidKey));
    assert_eq!(wrong.to_string(), "invalid key");
    assert!(barrier.is_sealed());

    barrier.unseal(&key).unwrap();
    assert!(!barrier.is_sealed());
    assert_eq!(barrier.key_status().unwrap().term, 1);
    barrier.put("core/mounts", b"table").unwrap();

    // A fresh barrier over the same storage (a restart) unseals with the same key.
    let again = Barrier::new(inner);
    again.unseal(&key).unwrap();
    assert_eq!(
        again.get("core/mounts").unwrap().as_deref(),
        Some(&b"table"[..])
    );
}

#[test]
fn unseals_from_shares_and_rejects_a_corrupted_share() {
    let inner: SharedBackend = Arc::new(MemoryBackend::new());
    let barrier = Barrier::new(inner);
    let key = UnsealKey::generate();
    barrier.initialize(&key).unwrap();
    let shares = key.split(5, 3).unwrap();

    let mut bad = shares[4].as_bytes().to_vec();
    bad[0] ^= 1;
    let wrong =
        UnsealKey::from_shares(&[shares[0].as_bytes(), shares[2].as_bytes(), &bad]).unwrap();
    assert!(matches!(barrier.unseal(&wrong), Err(SealError::InvalidKey)));
    let too_few = UnsealKey::from_shares(&shares[..2]).unwrap();
    assert!(matches!(
        barrier.unseal(&too_few),
        Err(SealError::InvalidKey)
    ));
    assert!(barrier.is_sealed());

    barrier
        .unseal(&UnsealKey::from_shares(&shares[2..]).unwrap())
        .unwrap();
    assert!(!barrier.is_sealed());
}

#[test]
fn values_are_stored_encrypted_in_the_documented_format() {
    let (inner, barrier, _) = unsealed();
    barrier
        .put("core/mounts", b"plaintext mount table")
        .unwrap();
    assert_eq!(
        barrier.get("core/mounts").unwrap().as_deref(),
        Some(&b"plaintext mount table"[..])
    );
    let raw = inner.get("core/mounts").unwrap().unwrap();
    assert_eq!(raw.len(), VALUE_OVERHEAD + 21);
    assert_eq!(raw[0], VALUE_VERSION);
    assert_eq!(&raw[1..5], &1u32.to_be_bytes());
    assert!(!raw.windows(9).any(|w| w == b"plaintext"));

    // A fresh nonce each write: the same value twice gives different bytes.
    barrier
        .put("core/mounts", b"plaintext mount table")
        .unwrap();
    let raw2 = inner.get("core/mounts").unwrap().unwrap();
    assert_ne!(raw[5..17], raw2[5..17]);
    assert_ne!(raw, raw2);

    // Empty values (index markers) round-trip too.
    barrier.put("sys/expire/index/1/x", b"").unwrap();
    assert_eq!(
        barrier.get("sys/expire/index/1/x").unwrap(),
        Some(Vec::new())
    );
    assert_eq!(barrier.get("missing").unwrap(), None);
}

#[test]
fn rotation_keeps_old_data_readable_and_writes_with_the_new_term() {
    let (inner, barrier, key) = unsealed();
    barrier.put("core/old", b"written under term 1").unwrap();
    assert_eq!(barrier.rotate().unwrap(), 2);
    assert_eq!(barrier.key_status().unwrap().term, 2);
    barrier.put("core/new", b"written under term 2").unwrap();

    let term_of = |k: &str| {
        let raw = inner.get(k).unwrap().unwrap();
        u32::from_be_bytes(raw[1..5].try_into().unwrap())
    };
    assert_eq!(term_of("core/old"), 1);
    assert_eq!(term_of("core/new"), 2);
    assert_eq!(
        barrier.get("core/old").unwrap().as_deref(),
        Some(&b"written under term 1"[..])
    );

    // The rotated keyring was persisted: after a reseal both terms are still there.
    barrier.seal();
    barrier.unseal(&key).unwrap();
    assert_eq!(barrier.key_status().unwrap().term, 2);
    assert_eq!(
        barrier.get("core/old").unwrap().as_deref(),
        Some(&b"written under term 1"[..])
    );
    assert_eq!(
        barrier.get("core/new").unwrap().as_deref(),
        Some(&b"written under term 2"[..])
    );
    assert_eq!(barrier.rotate().unwrap(), 3);

    // Names in protected regions do not depend on the term: still found after rotation.
    let k = format!("logical/{UUID}/secret");
    barrier.put(&k, b"v").unwrap();
    barrier.rotate().unwrap();
    assert_eq!(barrier.get(&k).unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(
        barrier.list(&format!("logical/{UUID}/")).unwrap(),
        vec!["secret"]
    );
}

#[test]
fn tampered_or_moved_ciphertext_fails_with_a_clear_error() {
    let (inner, barrier, _) = unsealed();
    barrier.put("core/a", b"value a").unwrap();
    barrier.put("core/b", b"value b").unwrap();

    // A flipped ciphertext bit.
    let mut raw = inner.get("core/a").unwrap().unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    inner.put("core/a", &raw).unwrap();
    let e = err_text(barrier.get("core/a"));
    assert!(
        e.contains("failed authentication") && e.contains("core/a"),
        "{e}"
    );

    // A valid ciphertext moved to another key.
    let raw_b = inner.get("core/b").unwrap().unwrap();
    inner.put("core/c", &raw_b).unwrap();
    let e = err_text(barrier.get("core/c"));
    assert!(e.contains("moved from another key"), "{e}");

    // Headers are authenticated and checked.
    let mut bumped = raw_b.clone();
    bumped[4] = 9;
    inner.put("core/d", &bumped).unwrap();
    assert!(err_text(barrier.get("core/d")).contains("key term 9"));
    let mut versioned = raw_b.clone();
    versioned[0] = 7;
    inner.put("core/d", &versioned).unwrap();
    assert!(err_text(barrier.get("core/d")).contains("version 7"));
    inner.put("core/d", b"plain").unwrap();
    assert!(err_text(barrier.get("core/d")).contains("too short"));

    // The same inside a protected region: swap two engine records on disk.
    let k1 = format!("logical/{UUID}/v2/data/one");
    let k2 = format!("logical/{UUID}/v2/data/two");
    barrier.put(&k1, b"one").unwrap();
    barrier.put(&k2, b"two").unwrap();
    let s = barrier.unsealed().unwrap();
    let (s1, s2) = (barrier.stored_key(&s, &k1), barrier.stored_key(&s, &k2));
    let raw1 = inner.get(&s1).unwrap().unwrap();
    inner.put(&s2, &raw1).unwrap();
    let e = err_text(barrier.get(&k2));
    assert!(e.contains("failed authentication"), "{e}");
    assert_eq!(barrier.get(&k1).unwrap().as_deref(), Some(&b"one"[..]));

    // A stored name that was altered no longer decodes: listing says so.
    inner.put(&format!("logical/{UUID}X"), b"junk").unwrap();
    let e = err_text(barrier.list("logical/"));
    assert!(e.contains("cannot be decoded"), "{e}");
}

#[test]
fn the_seal_records_are_reserved_and_hidden() {
    let (inner, barrier, key) = unsealed();
    for k in RESERVED_PATHS {
        assert!(matches!(
            barrier.get(k),
            Err(StorageError::InvalidKey { .. })
        ));
        assert!(barrier.put(k, b"x").is_err());
        assert!(barrier.delete(k).is_err());
        assert!(barrier.batch(&[BatchOp::Delete(k.to_string())]).is_err());
    }
    // Only the seal's records under core/: the folder does not show.
    assert!(barrier.list("").unwrap().is_empty());
    assert!(barrier.list("core/").unwrap().is_empty());
    assert!(barrier.scan("", None, 10).unwrap().is_empty());
    barrier.put("core/mounts", b"m").unwrap();
    assert_eq!(barrier.list("").unwrap(), vec!["core/"]);
    assert_eq!(barrier.list("core/").unwrap(), vec!["mounts"]);
    assert_eq!(
        barrier.scan("core/", None, 10).unwrap(),
        vec!["core/mounts"]
    );

    // Wiping everything spares the seal: it still unseals afterwards.
    barrier.put(&format!("logical/{UUID}/x"), b"x").unwrap();
    barrier.delete_prefix("").unwrap();
    assert!(barrier.scan("", None, 10).unwrap().is_empty());
    assert_eq!(
        inner.scan("", None, 10).unwrap(),
        vec!["core/keyring", "core/root-key"]
    );
    barrier.seal();
    barrier.unseal(&key).unwrap();
}

#[test]
fn protected_prefixes_are_validated() {
    let inner: SharedBackend = Arc::new(MemoryBackend::new());
    for bad in [
        vec![""],
        vec!["logical"],
        vec!["/logical/"],
        vec!["core/"],
        vec!["c"],
        vec!["a~/"],
        vec!["logical/", "logical/x/"],
    ] {
        assert!(
            matches!(
                Barrier::with_protected_prefixes(inner.clone(), bad.clone()),
                Err(SealError::InvalidProtectedPrefix { .. })
            ),
            "{bad:?}"
        );
    }
    let b = Barrier::with_protected_prefixes(inner, ["logical/", "sys/expire/"]).unwrap();
    assert_eq!(b.protected_prefixes(), ["logical/", "sys/expire/"]);
}

#[test]
fn protected_names_never_reach_the_inner_backend() {
    let (inner, barrier, _) = unsealed();
    let keys = [
        format!("logical/{UUID}/v2/metadata/prod-db-password"),
        format!("logical/{UUID}/v2/data/prod-db-password"),
        format!("logical/{UUID}/v2/data/team/payments/stripe-api-key"),
    ];
    for k in &keys {
        barrier.put(k, b"v").unwrap();
    }
    let stored = inner.scan("", None, 100).unwrap();
    let visible: Vec<_> = stored.iter().filter(|k| !is_reserved(k)).collect();
    assert_eq!(visible.len(), keys.len());
    for k in visible {
        assert!(k.starts_with("logical/"), "{k}");
        for needle in [
            UUID,
            "prod-db-password",
            "stripe-api-key",
            "metadata",
            "payments",
            "v2/",
        ] {
            assert!(!k.contains(needle), "{k} leaks {needle}");
        }
    }
    // Structure is kept: same depth, shared folders share a stored prefix.
    let s = barrier.unsealed().unwrap();
    let (a, b) = (
        barrier.stored_key(&s, &keys[0]),
        barrier.stored_key(&s, &keys[1]),
    );
    assert_eq!(a.matches('/').count(), 4);
    let mount_dir = s.names.encode_dir("logical/", &format!("{UUID}/v2/"));
    assert!(a.starts_with(&mount_dir) && b.starts_with(&mount_dir));
}

/// Every operation through the barrier must answer exactly as a plain backend holding the
/// same keys would, whatever mixes of plain and protected keys, odd names and partial
/// prefixes are involved.
fn assert_behaves_like_plain_backend(barrier: Barrier) {
    let reference = MemoryBackend::new();
    let long = format!("logical/{UUID}/{}", "n".repeat(40));
    let mut keys: Vec<String> = [
        "logical/u1/a",
        "logical/u1/a/b",
        "logical/u1/a-c",
        "logical/u1/a/",
        "logical/u1/a//b",
        "logical/u1/ab",
        "logical/u1/ab/c/d",
        "logical/u1/ключ/x",
        "logical/u1/v2/metadata/prod-db-password",
        "logical/u1/v2/data/prod-db-password",
        "logical/u2/config",
        "logical/",
        "logical",
        "logical0",
        "logicalx/y",
        "core/mounts",
        "sys/expire/id/aws/creds/r/1",
        "sys/expire/id/aws/creds/r/2",
        "sys/expire/index/000000000099/aws/creds/r/1",
        "sys/expire/index/000000001000/aws/creds/r/2",
        "a",
        "z/y",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    keys.push(long);
    for k in &keys {
        barrier.put(k, k.as_bytes()).unwrap();
        reference.put(k, k.as_bytes()).unwrap();
    }

    let compare_all = |keys: &[String]| {
        for k in keys {
            assert_eq!(
                barrier.get(k).unwrap(),
                reference.get(k).unwrap(),
                "get {k}"
            );
        }
        // Every prefix of every key: folders, partial names, and shorter than a region.
        let mut prefixes: Vec<String> = keys
            .iter()
            .flat_map(|k| {
                k.char_indices()
                    .map(|(i, _)| k[..i].to_string())
                    .chain([k.clone()])
                    .collect::<Vec<_>>()
            })
            .collect();
        prefixes.extend(["zzz".to_string(), "logical/nope/".to_string()]);
        prefixes.sort();
        prefixes.dedup();
        for p in &prefixes {
            assert_eq!(
                barrier.list(p).unwrap(),
                reference.list(p).unwrap(),
                "list {p:?}"
            );
            let full = reference.scan(p, None, 1000).unwrap();
            assert_eq!(barrier.scan(p, None, 1000).unwrap(), full, "scan {p:?}");
            // Paged, from every possible cursor, at several page sizes.
            for limit in [1, 2, 3] {
                let mut after: Option<String> = None;
                let mut paged = Vec::new();
                loop {
                    let page = barrier.scan(p, after.as_deref(), limit).unwrap();
                    assert_eq!(
                        page,
                        reference.scan(p, after.as_deref(), limit).unwrap(),
                        "scan {p:?} after {after:?} limit {limit}"
                    );
                    let Some(last) = page.last().cloned() else {
                        break;
                    };
                    paged.extend(page);
                    after = Some(last);
                }
                assert_eq!(paged, full, "paged scan {p:?} limit {limit}");
            }
        }
        // Cursors that are not keys, inside and outside regions.
        // Expected answers come from the contract (keys under `p` strictly after `a`),
        // since the plain backends assume a cursor at or after the prefix.
        for p in ["", "logical/", "logical/u1/", "sys/"] {
            let all = reference.scan(p, None, usize::MAX).unwrap();
            for a in &prefixes {
                let expected: Vec<String> = all
                    .iter()
                    .filter(|k| k.as_str() > a.as_str())
                    .take(5)
                    .cloned()
                    .collect();
                assert_eq!(
                    barrier.scan(p, Some(a), 5).unwrap(),
                    expected,
                    "scan {p:?} after {a:?}"
                );
            }
        }
    };
    compare_all(&keys);

    // Atomic batches mixing regions.
    let ops = vec![
        BatchOp::Put("logical/u1/new/leaf".into(), b"n".to_vec()),
        BatchOp::Delete("logical/u1/a".into()),
        BatchOp::Put("core/other".into(), b"o".to_vec()),
        BatchOp::Delete("z/y".into()),
        BatchOp::Put("sys/expire/id/aws/creds/r/3".into(), b"3".to_vec()),
    ];
    barrier.batch(&ops).unwrap();
    reference.batch(&ops).unwrap();
    keys.extend(
        [
            "logical/u1/new/leaf",
            "core/other",
            "sys/expire/id/aws/creds/r/3",
        ]
        .map(String::from),
    );
    compare_all(&keys);

    barrier.delete("logical/u1/ab").unwrap();
    reference.delete("logical/u1/ab").unwrap();
    // Prefix deletes: mid-name inside a region, a folder, across a region, everything.
    for p in ["logical/u1/a", "logical/u2/", "sys/expire/id/", "logi", ""] {
        barrier.delete_prefix(p).unwrap();
        reference.delete_prefix(p).unwrap();
        compare_all(&keys);
    }
    assert!(barrier.scan("", None, 10).unwrap().is_empty());
}

#[test]
fn behaves_like_a_plain_backend_with_default_prefixes() {
    let (_, barrier, _) = unsealed();
    assert_behaves_like_plain_backend(barrier);
}

#[test]
fn behaves_like_a_plain_backend_with_leases_protected_too() {
    let inner: SharedBackend = Arc::new(MemoryBackend::new());
    let barrier =
        Barrier::with_protected_prefixes(inner.clone(), ["logical/", "sys/expire/"]).unwrap();
    let (inner, barrier, _) = unsealed_over(inner, barrier);
    barrier
        .put("sys/expire/id/aws/creds/deploy-role/abc", b"lease")
        .unwrap();
    assert!(
        inner
            .scan("", None, 100)
            .unwrap()
            .iter()
            .all(|k| !k.contains("deploy-role"))
    );
    barrier.delete_prefix("sys/").unwrap();
    assert_behaves_like_plain_backend(barrier);
}

#[test]
fn the_raw_redb_file_holds_no_plaintext_secret_name_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "hunter2-correct-horse-battery";
    let data_key = format!("logical/{UUID}/v2/data/prod-db-password");
    let meta_key = format!("logical/{UUID}/v2/metadata/prod-db-password");
    let unseal_key;
    let key_material: Vec<[u8; 32]>;
    {
        let inner: SharedBackend = Arc::new(RedbBackend::open(dir.path()).unwrap());
        let barrier = Barrier::new(inner.clone());
        unseal_key = UnsealKey::generate();
        barrier.initialize(&unseal_key).unwrap();
        barrier.unseal(&unseal_key).unwrap();
        barrier
            .put(
                &data_key,
                format!(r#"{{"data":{{"password":"{secret}"}}}}"#).as_bytes(),
            )
            .unwrap();
        barrier
            .put(&meta_key, br#"{"max_versions":0,"cas_required":false}"#)
            .unwrap();
        barrier
            .put(
                "core/mounts",
                br#"{"secret/":{"type":"kv","options":{"version":"2"}}}"#,
            )
            .unwrap();
        barrier.rotate().unwrap();
        barrier
            .batch(&[BatchOp::Put(
                format!("logical/{UUID}/v2/data/team/stripe-api-key"),
                b"sk_live_0123456789abcdef".to_vec(),
            )])
            .unwrap();
        let s = barrier.unsealed().unwrap();
        key_material = s
            .keyring
            .keys()
            .map(|k| *k.key().expose())
            .chain([*s.root_key.key().expose(), *s.keyring.path_key().expose()])
            .collect();
    }

    let bytes = std::fs::read(dir.path().join("coffer.redb")).unwrap();
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for needle in [
        secret,
        "prod-db-password",
        "stripe-api-key",
        "sk_live_",
        "cas_required",
        "max_versions",
        r#""type":"kv""#,
        UUID,
        "v2/data",
        "v2/metadata",
    ] {
        assert!(!contains(needle.as_bytes()), "raw file contains {needle:?}");
    }
    for key in &key_material {
        assert!(!contains(key), "raw file contains key material");
    }
    assert!(!contains(unseal_key.as_bytes()));
    // The file is not simply empty: the encrypted records are in it.
    assert!(contains(b"logical/") && contains(b"core/keyring"));

    // And it all reads back after reopening.
    let inner: SharedBackend = Arc::new(RedbBackend::open(dir.path()).unwrap());
    let barrier = Barrier::new(inner);
    barrier.unseal(&unseal_key).unwrap();
    let value = barrier.get(&data_key).unwrap().unwrap();
    assert!(String::from_utf8(value).unwrap().contains(secret));
    assert_eq!(
        barrier.list(&format!("logical/{UUID}/v2/data/")).unwrap(),
        vec!["prod-db-password", "team/"]
    );
    assert_eq!(barrier.key_status().unwrap().term, 2);
}

#[test]
fn writes_racing_rotations_all_stay_readable() {
    let (_, barrier, _) = unsealed();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let barrier = &barrier;
            scope.spawn(move || {
                for i in 0..50 {
                    let k = format!("logical/{UUID}/{t}/{i}");
                    barrier.put(&k, k.as_bytes()).unwrap();
                }
            });
        }
        scope.spawn(|| {
            for _ in 0..5 {
                barrier.rotate().unwrap();
            }
        });
    });
    assert_eq!(barrier.key_status().unwrap().term, 6);
    for t in 0..4 {
        for i in 0..50 {
            let k = format!("logical/{UUID}/{t}/{i}");
            assert_eq!(barrier.get(&k).unwrap().as_deref(), Some(k.as_bytes()));
        }
    }
    assert_eq!(
        barrier
            .scan(&format!("logical/{UUID}/"), None, 1000)
            .unwrap()
            .len(),
        200
    );
}

/// A store written when only `logical/` and `sys/policy/` were protected (accessors and
/// lease ids stored as plain key names) opens through today's barrier: unseal renames
/// those keys to their hidden form, values stay readable, and listing accessors and
/// lease ids by prefix (revoke-prefix) and scanning the expiry index in time order
/// still work.
#[test]
fn an_old_layout_store_is_converted_on_unseal_and_lists_by_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let accessor = "4Xq9ZkLmN0pQrStUvWxYz123";
    let lease_a = "aws/creds/deploy-role/AbCdEfGhIjKlMnOpQrStUvWx";
    let lease_b = "aws/creds/deploy-role/ZyXwVuTsRqPoNmLkJiHgFeDc";
    let lease_c = "aws/creds/other/QqQqQqQqQqQqQqQqQqQqQqQq";
    let old_keys: Vec<(String, String)> = vec![
        (
            format!("sys/token/accessor/{accessor}"),
            "token-hash".into(),
        ),
        (format!("sys/expire/id/{lease_a}"), "lease a".into()),
        (format!("sys/expire/id/{lease_b}"), "lease b".into()),
        (format!("sys/expire/id/{lease_c}"), "lease c".into()),
        (
            format!("sys/expire/index/000000000099/{lease_a}"),
            String::new(),
        ),
        (
            format!("sys/expire/index/000000000100/{lease_b}"),
            String::new(),
        ),
        (
            format!("sys/expire/index/000000000100/{lease_c}"),
            String::new(),
        ),
        (
            format!("sys/expire/token/tokenhash/{lease_a}"),
            String::new(),
        ),
        (format!("sys/expire/irrevocable/{lease_c}"), "why".into()),
        ("sys/token/id/tokenhash".into(), "entry".into()),
    ];
    let key = UnsealKey::generate();
    {
        let inner: SharedBackend = Arc::new(RedbBackend::open(dir.path()).unwrap());
        let old =
            Barrier::with_protected_prefixes(inner.clone(), ["logical/", "sys/policy/"]).unwrap();
        old.initialize(&key).unwrap();
        old.unseal(&key).unwrap();
        for (k, v) in &old_keys {
            old.put(k, v.as_bytes()).unwrap();
        }
        // The old layout: lease ids and the accessor are plain key names on disk.
        let raw = inner.scan("sys/", None, 100).unwrap();
        assert!(raw.iter().any(|k| k.contains("deploy-role")), "{raw:?}");
    }
    let inner: SharedBackend = Arc::new(RedbBackend::open(dir.path()).unwrap());
    let barrier = Barrier::new(inner.clone());
    barrier.unseal(&key).unwrap();
    let raw = inner.scan("", None, 1000).unwrap();
    for needle in [accessor, "deploy-role", "AbCdEfGh", "other/"] {
        assert!(
            raw.iter().all(|k| !k.contains(needle)),
            "{needle} still in a stored key: {raw:?}"
        );
    }
    for (k, v) in &old_keys {
        assert_eq!(
            barrier.get(k).unwrap().as_deref(),
            Some(v.as_bytes()),
            "{k}"
        );
    }
    assert_eq!(
        barrier.list("sys/expire/id/aws/creds/").unwrap(),
        ["deploy-role/", "other/"]
    );
    assert_eq!(
        barrier
            .scan("sys/expire/id/aws/creds/deploy-role/", None, 10)
            .unwrap(),
        [
            format!("sys/expire/id/{lease_a}"),
            format!("sys/expire/id/{lease_b}")
        ]
    );
    assert_eq!(
        barrier.scan("sys/token/accessor/", None, 10).unwrap(),
        [format!("sys/token/accessor/{accessor}")]
    );
    // The expiry index still comes out in time order, then id order.
    assert_eq!(
        barrier.scan("sys/expire/index/", None, 10).unwrap(),
        [
            format!("sys/expire/index/000000000099/{lease_a}"),
            format!("sys/expire/index/000000000100/{lease_b}"),
            format!("sys/expire/index/000000000100/{lease_c}"),
        ]
    );
    // The time segment stays plain: a due scan need not decode what is not due.
    assert!(
        raw.iter()
            .any(|k| k.starts_with("sys/expire/index/000000000099/"))
    );
    // Converting is done once: a second unseal finds nothing to move.
    let moved = barrier
        .hide_plain_names(&barrier.unsealed().unwrap().names)
        .unwrap();
    assert_eq!(moved, 0);
    assert_eq!(inner.scan("", None, 1000).unwrap(), raw);
    // New writes land hidden too, and the store still behaves like a plain one.
    barrier
        .put(&format!("sys/expire/id/{lease_a}x"), b"new")
        .unwrap();
    assert!(
        inner
            .scan("sys/expire/id/", None, 100)
            .unwrap()
            .iter()
            .all(|k| !k.contains("deploy-role"))
    );
}

#[test]
fn a_plain_segment_prefix_keeps_one_segment_and_hides_the_rest() {
    assert_eq!(
        split_at_region("ix/*/", "ix/0099/a/b"),
        Some(("ix/0099/", "a/b"))
    );
    assert_eq!(split_at_region("ix/*/", "ix/0099"), None);
    assert_eq!(split_at_region("ix/*/", "ix//a"), None);
    assert_eq!(split_at_region("ix/", "ix/0099/a"), Some(("ix/", "0099/a")));
    assert_eq!(split_at_region("ix/", "iy/a"), None);
}
