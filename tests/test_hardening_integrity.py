"""Integrity of engine storage (issue 13, items 12–14).

* A failed engine call applies none of its writes, however much it wrote and whatever
  it called in between (the `hostile` guest's `big-then-trap` and `write-list-trap`).
* Each mount's stored bytes are capped by a quota set at plugin registration, shown in
  `sys/mounts`, and reclaimed on unmount (`hostile`'s `fill`).
* `kill -9` at random moments during concurrent `aws/creds` issuance leaves no IAM user
  that neither a write-ahead entry nor a lease covers: after restart, the WAL rollback
  and a prefix revocation, moto holds no user but the admin.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import time

import pytest
import requests

from conftest import PLUGIN_DIR, Server, assert_errors, assert_json, require_plugins, unique
from test_aws import engine_cache, iam_role, mk, mount_aws  # noqa: F401 (fixtures)

HOSTILE = PLUGIN_DIR / "hostile.wasm"


def require_hostile():
    require_plugins("hostile")


@pytest.fixture(scope="module")
def server():
    require_hostile()
    s = Server(f"-dev-plugin-dir={PLUGIN_DIR}").start()
    try:
        yield s
    finally:
        s.stop()


def enable(server, path, type_):
    r = server.post(f"sys/mounts/{path}", json={"type": type_})
    assert r.status_code in (200, 204), f"mounting {type_} at {path}: {r.status_code} {r.text}"


def mount_row(server, path):
    return assert_json(server.get("sys/mounts"), 200)["data"][f"{path}/"]


# --- item 13: a failed call applies nothing ---------------------------------------------


def test_a_trap_after_9_mib_of_writes_stores_nothing(server):
    m = unique("hostile")
    enable(server, m, "hostile")
    assert_errors(server.get(f"{m}/big-then-trap", timeout=60), 500, "panicked")
    left = assert_json(server.get(f"{m}/trapped"), 200)["data"]
    assert left == {"trap": [], "big": []}, f"a trapped call's writes were stored: {left}"
    assert mount_row(server, m)["storage_bytes"] == 0


def test_a_trap_after_a_write_and_a_listing_stores_nothing(server):
    m = unique("hostile")
    enable(server, m, "hostile")
    # The guest checks that its listing shows its own pending write before it panics;
    # a 500 naming that check instead of the panic would mean the merge is missing.
    errs = assert_errors(server.get(f"{m}/write-list-trap"), 500, "panicked")
    assert not any("missing from its listing" in e for e in errs), errs
    left = assert_json(server.get(f"{m}/trapped"), 200)["data"]
    assert left == {"trap": [], "big": []}, f"a trapped call's writes were stored: {left}"


def test_the_old_half_write_still_leaves_nothing(server):
    m = unique("hostile")
    enable(server, m, "hostile")
    assert server.put(f"{m}/half", json={}).status_code == 500
    assert assert_json(server.get(f"{m}/half"), 200)["data"] == {"present": False}


# --- item 14: per-mount storage quota ----------------------------------------------------


def test_storage_quota_set_at_registration_is_enforced_reported_and_reclaimed(server):
    require_hostile()
    name = unique("quota-plugin")
    body = {
        "sha256": hashlib.sha256(HOSTILE.read_bytes()).hexdigest(),
        "component": base64.b64encode(HOSTILE.read_bytes()).decode(),
        "storage_quota": "1MiB",
    }
    r = server.put(f"sys/plugins/catalog/secret/{name}", json=body, timeout=120)
    assert r.status_code in (200, 204), r.text
    rec = assert_json(server.get(f"sys/plugins/catalog/secret/{name}"), 200)["data"]
    assert rec["storage_quota"] == 1 << 20, rec

    m = unique("quota")
    enable(server, m, name)
    row = mount_row(server, m)
    assert row["storage_bytes"] == 0 and row["storage_quota"] == 1 << 20, row

    first = assert_json(server.get(f"{m}/fill", timeout=60), 200)["data"]
    assert 0 < first["written"] < 16, first  # 16 × 64 KiB would be the whole quota
    assert "storage quota exceeded" in first["refusal"], first
    used = mount_row(server, m)["storage_bytes"]
    assert first["written"] * (64 << 10) <= used <= 1 << 20, (used, first)

    # Full: the next call's first write is refused, and the client is told why.
    assert_errors(server.get(f"{m}/fill"), 500, "storage quota exceeded", "1048576")
    assert mount_row(server, m)["storage_bytes"] == used, "a refused call stored nothing"

    # Unmounting deletes the data and its count; a new mount starts empty.
    assert server.delete(f"sys/mounts/{m}").status_code == 204
    enable(server, m, name)
    assert mount_row(server, m)["storage_bytes"] == 0
    again = assert_json(server.get(f"{m}/fill", timeout=60), 200)["data"]
    assert again["written"] == first["written"], (first, again)


def test_built_in_mounts_report_usage_without_a_quota(server):
    r = server.post("secret/data/usage", json={"data": {"v": "x" * 1000}})
    assert r.status_code == 200, r.text
    row = mount_row(server, "secret")
    assert row["storage_quota"] is None, row
    assert row["storage_bytes"] > 1000, row


# --- item 12: no orphaned IAM users after kill -9 -------------------------------------------


def _issue_until(server: Server, mount: str, stop: threading.Event, issued: list):
    while not stop.is_set():
        try:
            r = server.get(f"{mount}/creds/web", timeout=10)
        except requests.RequestException:
            return  # the server was killed
        if r.status_code == 200:
            issued.append(r.json()["lease_id"])


def test_kill9_during_concurrent_issuance_leaves_no_orphaned_users(mk, aws, tmp_path):  # noqa: F811
    data = tmp_path / "data"
    data.mkdir()
    s = mk(f"-dev-storage={data}", "-periodic-interval=1s")
    m = mount_aws(s, aws, path="aws")
    iam_role(s, m)
    rng = random.Random(13)
    issued: list[str] = []
    kills = 14
    for _ in range(kills):
        stop = threading.Event()
        workers = [threading.Thread(target=_issue_until, args=(s, m, stop, issued))
                   for _ in range(6)]
        for w in workers:
            w.start()
        time.sleep(rng.uniform(0.2, 1.2))
        s.kill()  # kill -9, mid-issuance
        stop.set()
        for w in workers:
            w.join(timeout=15)
        s.start()
    assert issued, "no credentials were issued at all"
    made = len(aws.users())
    assert made >= len(issued), (made, len(issued))
    print(f"{kills} kills: {len(issued)} credentials issued, {made} IAM users in moto")

    # WAL entries are rolled back once 5 minutes old: run the engine clock ahead.
    s.stop()
    s.flags.append("-dev-clock-offset=10m")
    s.start()
    r = s.put(f"sys/leases/revoke-prefix/{m}/", timeout=120)
    assert r.status_code == 204, r.text
    deadline = time.monotonic() + 60
    while aws.users() and time.monotonic() < deadline:
        time.sleep(0.5)
    left = aws.users()
    print(f"after restart, rollback and revoke-prefix: {len(left)} IAM users left")
    assert not left, (
        f"{len(left)} IAM user(s) of {made} survived restart, WAL rollback and revoke-prefix "
        f"(covered by neither a WAL entry nor a lease): {sorted(left)[:5]}\n" + s.output()
    )
