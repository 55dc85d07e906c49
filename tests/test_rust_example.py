"""The Rust SDK walk-through engine (examples/rust-engine, built by scripts/test into
target/test-plugins/apikey.wasm), mounted from a plugin directory exactly as its README
says: roles, keys issued under leases, verification, renew and revoke."""

import re

import pytest

from conftest import PLUGIN_DIR, Server, assert_errors, assert_json


@pytest.fixture(scope="module")
def srv():
    if not (PLUGIN_DIR / "apikey.wasm").exists():
        pytest.fail(f"{PLUGIN_DIR}/apikey.wasm is missing: scripts/test builds it",
                    pytrace=False)
    s = Server(f"-dev-plugin-dir={PLUGIN_DIR}").start()
    try:
        r = s.post("sys/mounts/apikey", json={"type": "apikey"})
        assert r.status_code in (200, 204), r.text
        yield s
    finally:
        s.stop()


def test_issue_verify_renew_revoke(srv):
    r = srv.post("apikey/roles/shop", json={"ttl": "1h", "max_ttl": "2h",
                                            "scopes": "orders:read,orders:write",
                                            "prefix": "shop_"})
    assert r.status_code == 204, r.text
    role = assert_json(srv.get("apikey/roles/shop"), 200)["data"]
    assert role == {"ttl": 3600, "max_ttl": 7200, "scopes": ["orders:read", "orders:write"],
                    "prefix": "shop_"}, role
    assert assert_json(srv.list("apikey/roles"), 200)["data"]["keys"] == ["shop"]

    body = assert_json(srv.get("apikey/creds/shop"), 200)
    key, key_id = body["data"]["key"], body["data"]["key_id"]
    assert re.fullmatch(r"shop_[0-9a-f]{16}\.[0-9a-f]{64}", key), key
    assert body["lease_id"].startswith("apikey/creds/shop/"), body
    assert body["renewable"] is True and body["lease_duration"] == 3600, body

    valid = assert_json(srv.post("apikey/verify", json={"key": key}), 200)["data"]
    assert valid == {"valid": True, "key_id": key_id, "role": "shop",
                     "scopes": ["orders:read", "orders:write"]}, valid
    forged = key[:-1] + ("0" if key[-1] != "0" else "1")
    assert assert_json(srv.post("apikey/verify", json={"key": forged}), 200)["data"] == {"valid": False}
    assert key_id in assert_json(srv.list("apikey/keys"), 200)["data"]["keys"]
    record = assert_json(srv.get(f"apikey/keys/{key_id}"), 200)["data"]
    assert key[-64:] not in str(record), "the key itself is never readable back"

    renewed = assert_json(srv.put("sys/leases/renew", json={"lease_id": body["lease_id"],
                                                            "increment": 600}), 200)
    assert renewed["renewable"] is True and renewed["lease_duration"] > 0, renewed

    r = srv.put("sys/leases/revoke", json={"lease_id": body["lease_id"], "sync": True})
    assert r.status_code == 204, r.text
    assert assert_json(srv.post("apikey/verify", json={"key": key}), 200)["data"] == {"valid": False}
    assert srv.get(f"apikey/keys/{key_id}").status_code == 404


def test_errors_map_to_statuses(srv):
    assert_errors(srv.post("apikey/roles/bad", json={"ttl": 10, "max_ttl": 5}), 400, "max_ttl")
    assert_errors(srv.get("apikey/creds/nobody"), 400, "unknown role")
    assert srv.get("apikey/roles/nobody").status_code == 404
    assert_errors(srv.get("apikey/nowhere"), 404, "unsupported path")
    assert_errors(srv.delete("apikey/creds/shop"), 405, "unsupported operation")
    assert_errors(srv.post("apikey/verify", json={}), 400, "key")
