"""Hardening against hostile engines and plugin files (issue 13, items 15-19).

Uses the `hostile` test guest (tests/guests/hostile, built into target/test-plugins by
scripts/test; rebuild as BRIEF/README says), whose read paths misbehave on purpose:
`huge-error` (a 60 MiB error message), `deep` (JSON 100,000 levels deep),
`forever-lease` / `forever-refresh` (durations of 2^64-1 s), `log-flood` (as many 64 KiB
log lines as one call may write).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR, Server, assert_errors, assert_json, require_plugins, unique

HOSTILE = PLUGIN_DIR / "hostile.wasm"
# What an engine error can cost the client: the 4 KiB cap plus the marker and envelope.
MAX_ERROR_BODY = 16 << 10
# The log limiter's numbers (host/src/runtime/imports/log.rs): lines per mount in a
# burst, lines per second after it, and the longest line (4 KiB message plus fields).
LOG_BURST = 50
LOG_RATE = 10
LOG_LINE_MAX = 4096 + 1024


def require_hostile():
    require_plugins("hostile")


@pytest.fixture(scope="module")
def server():
    require_hostile()
    s = Server(f"-dev-plugin-dir={PLUGIN_DIR}", "-engine-timeout=30s").start()
    try:
        r = s.post("sys/mounts/hostile", json={"type": "hostile"})
        assert r.status_code in (200, 204), r.text
        yield s
    finally:
        s.stop()


def log_size(s: Server) -> int:
    return s.stdout_path.stat().st_size + s.stderr_path.stat().st_size


# --- item 15: engine errors and logs are bounded ---------------------------------------


def test_a_60_mib_engine_error_reaches_the_client_cut_to_a_few_kib(server):
    before = log_size(server)
    r = server.get("hostile/huge-error", timeout=120)
    assert r.status_code == 500, r.text[:300]
    assert len(r.content) < MAX_ERROR_BODY, f"error body of {len(r.content)} bytes"
    (err,) = r.json()["errors"]
    assert err.startswith("eeee") and "truncated" in err and str(60 << 20) in err, err[-200:]
    # Logged cut too: one 60 MiB error once made a 63 MB log line.
    assert log_size(server) - before < 64 << 10
    assert server.get("hostile/ok").status_code == 200


def test_log_growth_is_bounded_per_mount_and_suppression_is_reported(server):
    before = log_size(server)
    started = time.monotonic()
    for i in range(200):
        path = "hostile/log-flood" if i % 2 == 0 else "hostile/huge-error"
        r = server.get(path, timeout=120)
        assert r.status_code in (200, 500), r.text[:300]
    elapsed = time.monotonic() - started
    # Once the bucket refills, the next line says how many were dropped.
    time.sleep(1.5)
    assert server.get("hostile/log-flood", timeout=120).status_code == 200
    grown = log_size(server) - before
    # 100 flood calls would write 100 x 256 lines of 4 KiB (100 MiB) unlimited. The
    # limiter admits at most its burst plus its rate over the time taken; each request
    # may add one short line of the server's own.
    allowed = (LOG_BURST + LOG_RATE * (elapsed + 3) + 10) * LOG_LINE_MAX + 201 * 1024
    print(f"log grew {grown} bytes over 200 calls in {elapsed:.1f}s (bound {allowed:.0f})")
    assert grown <= allowed, f"log grew {grown} bytes in {elapsed:.1f}s"
    text = server.stderr() + server.stdout()
    assert "suppressed" in text and "from mount hostile/" in text


def test_an_oversized_response_is_a_clear_500(server):
    r = server.get("hostile/huge", timeout=120)
    assert_errors(r, 500, "response too large", "hostile")
    assert len(r.content) < MAX_ERROR_BODY


# --- item 19: engine output is validated ------------------------------------------------


def test_json_nested_100000_deep_is_refused(server):
    r = server.get("hostile/deep", timeout=120)
    assert_errors(r, 500, "hostile", "nested more than 128")
    assert len(r.content) < MAX_ERROR_BODY


def test_a_lease_of_2_64_seconds_is_capped_at_the_mount_max(server):
    p = unique("capped")
    assert server.post(f"sys/mounts/{p}", json={
        "type": "hostile", "config": {"max_lease_ttl": "1h"}}).status_code in (200, 204)
    leased = assert_json(server.get(f"{p}/forever-lease"), 200)
    assert leased["lease_id"] and 0 < leased["lease_duration"] <= 3600, leased
    cached = assert_json(server.get(f"{p}/forever-refresh"), 200)
    assert cached["lease_id"] == "" and cached["lease_duration"] == 3600, cached
    assert any("capped" in w for w in cached["warnings"] or []), cached
    # The default mount max (768h) bounds an untuned mount too.
    body = assert_json(server.get("hostile/forever-refresh"), 200)
    assert body["lease_duration"] == 768 * 3600, body


def test_impossible_plugin_limits_are_refused_at_registration(server):
    digest = hashlib.sha256(HOSTILE.read_bytes()).hexdigest()
    name = unique("greedy")
    r = server.put(f"sys/plugins/catalog/secret/{name}", json={
        "sha256": digest, "command": "hostile.wasm", "memory_limit": "64GiB"}, timeout=120)
    errs = assert_errors(r, 400, "memory_limit", "64 GiB", "1 GiB")
    assert "cap" in errs[0], errs
    r = server.put(f"sys/plugins/catalog/secret/{name}", json={
        "sha256": digest, "command": "hostile.wasm", "timeout": "1000h"}, timeout=120)
    assert_errors(r, 400, "timeout", "cap")
    assert server.get(f"sys/plugins/catalog/secret/{name}").status_code == 404
    # A limit within the cap registers.
    r = server.put(f"sys/plugins/catalog/secret/{name}", json={
        "sha256": digest, "command": "hostile.wasm", "memory_limit": "256MiB"}, timeout=120)
    assert r.status_code in (200, 204), r.text


# --- item 16: plugin-directory files cannot shadow built-ins ---------------------------


def test_a_kv_wasm_in_the_plugin_directory_does_not_replace_the_builtin(make_server, tmp_path):
    require_hostile()
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(HOSTILE, plugins / "kv.wasm")
    shutil.copy(HOSTILE, plugins / "hostile.wasm")
    s = make_server(f"-dev-plugin-dir={plugins}")
    # secret/ is the built-in kv: it stores and reads back; the hostile copy would
    # answer `unsupported path` here and `{"ok":true}` on `ok`.
    p = unique("real")
    assert s.post(f"secret/data/{p}", json={"data": {"k": "v"}}).status_code == 200
    assert assert_json(s.get(f"secret/data/{p}"), 200)["data"]["data"] == {"k": "v"}
    assert s.get("secret/ok").status_code != 200
    assert s.post("sys/mounts/kv2", json={"type": "kv"}).status_code in (200, 204)
    assert s.post("kv2/x", json={"a": "b"}).status_code in (200, 204)
    assert assert_json(s.get("kv2/x"), 200)["data"] == {"a": "b"}
    assert "named like the built-in" in s.output()
    # Other files keep the dev convenience.
    assert s.post("sys/mounts/h", json={"type": "hostile"}).status_code in (200, 204)
    assert assert_json(s.get("h/ok"), 200)["data"] == {"ok": True}


def test_outside_dev_mode_a_plugin_file_needs_registration_with_its_sha256(tmp_path):
    require_hostile()
    from test_seal import ConfigServer

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(HOSTILE, plugins / "hostile.wasm")
    shutil.copy(HOSTILE, plugins / "kv.wasm")
    s = ConfigServer(tmp_path, extra=f'plugin_directory = "{plugins}"\n').start()
    try:
        out = s.client(None).sys.initialize(1, 1)
        s.token = out["root_token"]
        s.client(None).sys.submit_unseal_keys(out["keys"])
        assert_errors(s.post("sys/mounts/h", json={"type": "hostile"}), 400, "hostile")
        digest = hashlib.sha256(HOSTILE.read_bytes()).hexdigest()
        bad = s.put("sys/plugins/catalog/secret/hostile",
                    json={"sha256": "0" * 64, "command": "hostile.wasm"}, timeout=120)
        assert_errors(bad, 400, "checksums did not match")
        r = s.put("sys/plugins/catalog/secret/hostile",
                  json={"sha256": digest, "command": "hostile.wasm"}, timeout=120)
        assert r.status_code in (200, 204), r.text
        assert s.post("sys/mounts/h", json={"type": "hostile"}).status_code == 204
        assert assert_json(s.get("h/ok"), 200)["data"] == {"ok": True}
        # kv.wasm does not stand in for the built-in kv.
        assert s.post("sys/mounts/k", json={"type": "kv"}).status_code == 204
        assert s.post("k/x", json={"a": "b"}).status_code in (200, 204)
        assert assert_json(s.get("k/x"), 200)["data"] == {"a": "b"}
    finally:
        s.stop()


# --- item 17: a failing audit sink ------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_audit_device_that_cannot_write_is_refused_at_enable(make_server):
    s = make_server()
    r = s.put("sys/audit/full", json={"type": "file", "options": {"file_path": "/dev/full"}})
    assert_errors(r, 400, "No space left on device")
    assert "full/" not in assert_json(s.get("sys/audit"), 200)["data"]
    # Nothing else is affected.
    assert s.get("sys/mounts").status_code == 200


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_device_broken_after_a_restart_can_still_be_disabled_by_sudo(make_server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    log = tmp_path / "audit.log"
    s = make_server(f"-dev-storage={data}")
    assert s.put("sys/audit/broken", json={
        "type": "file", "options": {"file_path": str(log)}}).status_code == 204
    # A token allowed to delete sys/audit/* but without sudo.
    assert s.put("sys/policies/acl/nosudo", json={"policy": (
        'path "sys/audit/*" { capabilities = ["delete", "update", "read"] }\n'
        'path "sys/mounts" { capabilities = ["read"] }')}).status_code == 204
    weak = assert_json(s.post("auth/token/create", json={"policies": ["nosudo"]}), 200)
    weak_token = weak["auth"]["client_token"]
    s.stop()
    log.unlink()
    log.symlink_to("/dev/full")  # the disk is "full" from now on
    s.start()
    assert s.get("sys/health").status_code == 200, "a broken device must not brick the server"
    # Vault's rule: no request is served unaudited ...
    assert_errors(s.get("sys/mounts"), 500, "audit logging failed")
    assert_errors(s.get("sys/mounts", token=weak_token), 500, "audit logging failed")
    # ... except disabling the device, which still needs sudo.
    assert s.delete("sys/audit/broken", token=weak_token).status_code == 403
    assert s.delete("sys/audit/broken").status_code == 204
    assert s.get("sys/mounts").status_code == 200
    assert "broken/" not in assert_json(s.get("sys/audit"), 200)["data"]
    assert "served unaudited" in s.output()
    # And it stays disabled across a restart.
    s.restart()
    assert s.get("sys/mounts").status_code == 200


# --- item 18: accessors and lease ids are not plain text on disk -----------------------


def test_token_accessors_and_lease_ids_are_hidden_on_disk(make_server, tmp_path):
    require_hostile()
    data = tmp_path / "data"
    data.mkdir()
    s = make_server(f"-dev-storage={data}", f"-dev-plugin-dir={PLUGIN_DIR}")
    mount = unique("leakymount")
    assert s.post(f"sys/mounts/{mount}", json={"type": "hostile"}).status_code in (200, 204)
    tok = assert_json(s.post("auth/token/create", json={"policies": ["default"]}), 200)
    accessor = tok["auth"]["accessor"]
    lease = assert_json(s.get(f"{mount}/forever-lease"), 200)["lease_id"]
    assert lease.startswith(f"{mount}/forever-lease/")
    # Both still work through the API, including listing leases by prefix.
    looked = assert_json(s.post("auth/token/lookup-accessor", json={"accessor": accessor}), 200)
    assert looked["data"]["accessor"] == accessor
    keys = assert_json(s.list(f"sys/leases/lookup/{mount}/forever-lease/"), 200)["data"]["keys"]
    assert lease.rsplit("/", 1)[1] in keys
    s.stop()
    raw = b"".join(p.read_bytes() for p in Path(data).rglob("*") if p.is_file())
    for needle in (accessor, lease.rsplit("/", 1)[1], mount):
        assert needle.encode() not in raw, f"{needle!r} is readable in the store"
    s.start()
    # After a restart the hidden names still resolve, and revoke-prefix finds the lease.
    assert assert_json(s.post("auth/token/lookup-accessor",
                              json={"accessor": accessor}), 200)["data"]["accessor"] == accessor
    assert s.put(f"sys/leases/revoke-prefix/{mount}/forever-lease").status_code == 204
    r = s.put("sys/leases/lookup", json={"lease_id": lease})
    assert r.status_code != 200, r.text
