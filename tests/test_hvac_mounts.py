"""hvac's sys calls (vault-spec §2.1, §2.3, §8): mounts, health, seal status, auth check."""

import hvac
import pytest
import requests

from conftest import assert_envelope, assert_errors, assert_json, unique

MOUNT_INFO_KEYS = {
    "accessor",
    "config",
    "description",
    "external_entropy_access",
    "local",
    "options",
    "plugin_version",
    "running_plugin_version",
    "running_sha256",
    "seal_wrap",
    "type",
    "uuid",
}


def test_enable_with_hvac_null_fields(server, client):
    path = unique("hvm")
    # hvac sends description/config/options/plugin_name as JSON null.
    r = client.sys.enable_secrets_engine("kv", path=path, options={"version": "1"})
    assert r.status_code in (200, 204), r.text
    mounts = client.sys.list_mounted_secrets_engines()
    assert f"{path}/" in mounts["data"]
    info = mounts["data"][f"{path}/"]
    assert info["type"] == "kv"
    assert info["options"] == {"version": "1"}
    assert info["description"] == ""


def test_list_mounted_secrets_engines(server, client):
    r = server.get("sys/mounts")
    body = assert_envelope(assert_json(r, 200))
    assert body["mount_type"] == "system"
    data = body["data"]
    # §1.4: sys/mounts is an "injected" response: data copied to the top level too.
    assert "secret/" in data and "sys/" in data
    assert body["secret/"] == data["secret/"], "sys/mounts data must also be at the top level"
    secret = data["secret/"]
    missing = MOUNT_INFO_KEYS - set(secret)
    assert not missing, f"mount info lacks {sorted(missing)}: {secret}"
    assert secret["type"] == "kv"
    assert secret["options"] == {"version": "2"}
    assert secret["accessor"].startswith("kv_"), secret["accessor"]
    assert secret["config"]["default_lease_ttl"] == 0
    assert secret["config"]["max_lease_ttl"] == 0
    assert secret["config"]["force_no_cache"] is False
    assert secret["local"] is False and secret["seal_wrap"] is False
    assert data["sys/"]["type"] == "system"
    # hvac's own accessor returns the same dict
    assert client.sys.list_mounted_secrets_engines()["data"]["secret/"]["type"] == "kv"


def test_read_mount_and_tune(server, client):
    path = unique("hvt")
    client.sys.enable_secrets_engine("kv", path=path, options={"version": "1"})

    # GET sys/mounts/<path>: injected mount info
    body = assert_envelope(assert_json(server.get(f"sys/mounts/{path}"), 200))
    assert body["data"]["type"] == "kv"
    assert body["type"] == "kv", "sys/mounts/<path> data must also be at the top level"

    cfg = client.sys.read_mount_configuration(path)
    assert cfg["data"]["default_lease_ttl"] == 2764800, cfg
    assert cfg["data"]["max_lease_ttl"] == 2764800, cfg
    assert cfg["data"]["force_no_cache"] is False
    assert cfg["data"]["description"] == ""
    assert cfg["default_lease_ttl"] == 2764800, "tune response must be injected at the top level"

    r = client.sys.tune_mount_configuration(
        path, default_lease_ttl="1h", max_lease_ttl=7200, description="tuned by hvac"
    )
    assert r.status_code == 204, r.text
    cfg = client.sys.read_mount_configuration(path)
    assert cfg["data"]["default_lease_ttl"] == 3600
    assert cfg["data"]["max_lease_ttl"] == 7200
    assert cfg["data"]["description"] == "tuned by hvac"

    info = client.sys.list_mounted_secrets_engines()["data"][f"{path}/"]
    assert info["config"]["default_lease_ttl"] == 3600
    assert info["config"]["max_lease_ttl"] == 7200
    assert info["description"] == "tuned by hvac"

    # kv v1 reads report the mount's default TTL as lease_duration
    client.secrets.kv.v1.create_or_update_secret("x", {"a": "b"}, mount_point=path)
    assert client.secrets.kv.v1.read_secret("x", mount_point=path)["lease_duration"] == 3600

    # "system" / 0 reset to the system default
    r = client.sys.tune_mount_configuration(path, default_lease_ttl="system", max_lease_ttl=0)
    assert r.status_code == 204, r.text
    cfg = client.sys.read_mount_configuration(path)
    assert cfg["data"]["default_lease_ttl"] == 2764800
    assert cfg["data"]["max_lease_ttl"] == 2764800


def test_tune_default_above_max_rejected(server, client):
    path = unique("hvx")
    client.sys.enable_secrets_engine("kv", path=path, options={"version": "1"})
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.tune_mount_configuration(path, default_lease_ttl="2h", max_lease_ttl="1h")


def test_enable_default_above_max_rejected(server, client):
    path = unique("hvy")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.enable_secrets_engine(
            "kv", path=path, config={"default_lease_ttl": "2h", "max_lease_ttl": "1h"}
        )
    assert f"{path}/" not in client.sys.list_mounted_secrets_engines()["data"]


def test_kv_version_aliases(server, client):
    v2 = unique("alias2")
    v1 = unique("alias1")
    client.sys.enable_secrets_engine("kv-v2", path=v2)
    client.sys.enable_secrets_engine("kv-v1", path=v1)
    data = client.sys.list_mounted_secrets_engines()["data"]
    assert data[f"{v2}/"]["type"] == "kv"
    assert data[f"{v2}/"]["options"] == {"version": "2"}
    assert data[f"{v1}/"]["type"] == "kv"
    assert data[f"{v1}/"]["options"] == {"version": "1"}


def test_unknown_engine_type_rejected(server, client):
    path = unique("nosuch")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.enable_secrets_engine("no-such-engine", path=path)
    assert f"{path}/" not in client.sys.list_mounted_secrets_engines()["data"]


def test_disable(server, client):
    path = unique("hvd")
    client.sys.enable_secrets_engine("kv", path=path, options={"version": "1"})
    client.secrets.kv.v1.create_or_update_secret("k", {"v": "1"}, mount_point=path)
    r = client.sys.disable_secrets_engine(path)
    assert r.status_code == 204, r.text
    assert f"{path}/" not in client.sys.list_mounted_secrets_engines()["data"]
    # disabling again is not an error
    assert client.sys.disable_secrets_engine(path).status_code == 204
    assert_errors(server.get(f"sys/mounts/{path}"), 400, "no secret engine mount at")
    assert_errors(server.get(f"{path}/k"), 404, "no handler for route")
    # re-enabling gives a fresh, empty mount
    client.sys.enable_secrets_engine("kv", path=path, options={"version": "1"})
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v1.read_secret("k", mount_point=path)


def test_health_get(server, client):
    h = client.sys.read_health_status(method="GET")
    assert isinstance(h, dict), f"health must answer 200 with JSON, got {h}"
    assert h["initialized"] is True
    assert h["sealed"] is False
    assert h["standby"] is False
    assert h["performance_standby"] is False
    assert h["replication_performance_mode"] == "disabled"
    assert h["replication_dr_mode"] == "disabled"
    assert isinstance(h["server_time_utc"], int)
    assert isinstance(h["version"], str) and h["version"]
    assert "cluster_name" in h and "cluster_id" in h
    # bare object, no envelope
    r = requests.get(server.url("sys/health"), timeout=10)
    body = assert_json(r, 200)
    assert "request_id" not in body and "data" not in body


def test_health_head(server):
    r = requests.head(server.url("sys/health"), timeout=10)
    assert r.status_code == 200
    assert r.content == b""


def test_seal_status(server, client):
    s = client.sys.read_seal_status()
    assert s["type"] == "shamir"
    assert s["initialized"] is True
    assert s["sealed"] is False
    assert s["t"] == 1 and s["n"] == 1
    assert s["progress"] == 0
    assert isinstance(s["version"], str)
    assert "storage_type" in s
    assert "request_id" not in s, "sys/seal-status is a bare object"
    assert client.sys.is_sealed() is False
    assert client.sys.is_initialized() is True
    # unauthenticated paths
    body = assert_json(requests.get(server.url("sys/seal-status"), timeout=10), 200)
    assert body["sealed"] is False
    body = assert_json(requests.get(server.url("sys/init"), timeout=10), 200)
    assert body == {"initialized": True}


def test_is_authenticated(server):
    assert server.client().is_authenticated() is True
    assert server.client(token="not-a-real-token").is_authenticated() is False


def test_lookup_self_root(server, client):
    data = client.auth.token.lookup_self()["data"]
    assert data["id"] == server.token
    assert data["policies"] == ["root"]
    assert data["ttl"] == 0
    assert data["expire_time"] is None
    assert data["display_name"] == "root"


def test_internal_ui_mounts(server):
    body = assert_envelope(assert_json(server.get("sys/internal/ui/mounts/secret"), 200))
    assert body["data"]["type"] == "kv"
    assert body["data"]["options"]["version"] == "2"
    assert body["data"]["path"] == "secret/"
    # a path below the mount resolves to the mount (the CLI asks for the full path)
    body = assert_json(server.get("sys/internal/ui/mounts/secret/some/key"), 200)
    assert body["data"]["path"] == "secret/"
    # v1 mount
    path = unique("uiv1")
    server.enable(path, "kv", options={"version": "1"})
    body = assert_json(server.get(f"sys/internal/ui/mounts/{path}"), 200)
    assert body["data"]["options"]["version"] == "1"
    assert body["data"]["path"] == f"{path}/"


def test_internal_ui_mounts_needs_a_token(server):
    # The path skips the HTTP-layer token check but is ACL-filtered: with no (or a bad)
    # token Vault's pathInternalUIMountRead answers 403 permission denied.
    assert_errors(server.get("sys/internal/ui/mounts/secret", token=None), 403, "permission denied")
    assert_errors(server.get("sys/internal/ui/mounts/secret", token="bogus"), 403)


def test_internal_ui_mounts_unknown_mount(server):
    # Vault answers 403 rather than 404 so the path cannot be used to probe mounts.
    assert_errors(server.get("sys/internal/ui/mounts/no-such-mount-here"), 403)
