"""`-dev-storage=DIR` keeps dev data on disk: mounts and secrets survive a clean
restart (SIGINT) and a crash (kill -9)."""

import hvac
import pytest

from conftest import assert_json, wait_kv_v2_ready


def write_set(server, tag):
    c = server.client()
    c.secrets.kv.v1.create_or_update_secret(f"{tag}/v1", {"tag": tag}, mount_point="dur1")
    w = c.secrets.kv.v2.create_or_update_secret(f"{tag}/v2", {"tag": tag, "n": 1})
    assert w["data"]["version"] == 1
    w = c.secrets.kv.v2.create_or_update_secret(f"{tag}/v2", {"tag": tag, "n": 2})
    assert w["data"]["version"] == 2
    c.secrets.kv.v2.create_or_update_secret(f"{tag}/v2", {"tag": tag, "n": 3}, mount_point="dur2")


def check_set(server, tag):
    c = server.client()
    assert c.secrets.kv.v1.read_secret(f"{tag}/v1", mount_point="dur1")["data"] == {"tag": tag}
    cur = c.secrets.kv.v2.read_secret_version(f"{tag}/v2", raise_on_deleted_version=True)
    assert cur["data"]["data"] == {"tag": tag, "n": 2}
    assert cur["data"]["metadata"]["version"] == 2
    old = c.secrets.kv.v2.read_secret_version(f"{tag}/v2", version=1, raise_on_deleted_version=True)
    assert old["data"]["data"] == {"tag": tag, "n": 1}
    got = c.secrets.kv.v2.read_secret_version(f"{tag}/v2", mount_point="dur2",
                                              raise_on_deleted_version=True)
    assert got["data"]["data"] == {"tag": tag, "n": 3}


@pytest.fixture
def durable(make_server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    s = make_server(f"-dev-storage={data}")
    c = s.client()
    c.sys.enable_secrets_engine("kv", path="dur1", options={"version": "1"},
                                description="durable v1")
    c.sys.enable_secrets_engine("kv", path="dur2", options={"version": "2"})
    wait_kv_v2_ready(s, "dur2")
    c.sys.tune_mount_configuration("dur1", default_lease_ttl="1h")
    return s


def check_mounts(server):
    mounts = server.client().sys.list_mounted_secrets_engines()["data"]
    assert mounts["dur1/"]["type"] == "kv"
    assert mounts["dur1/"]["options"] == {"version": "1"}
    assert mounts["dur1/"]["description"] == "durable v1"
    assert mounts["dur1/"]["config"]["default_lease_ttl"] == 3600
    assert mounts["dur2/"]["options"] == {"version": "2"}
    assert mounts["secret/"]["options"] == {"version": "2"}
    return mounts


def test_clean_restart_keeps_everything(durable):
    s = durable
    write_set(s, "clean")
    before = check_mounts(s)
    s.stop()  # SIGINT, asserts exit 0
    s.start()
    after = check_mounts(s)
    # same mounts, same identities
    for m in ("dur1/", "dur2/", "secret/"):
        assert after[m]["uuid"] == before[m]["uuid"], m
        assert after[m]["accessor"] == before[m]["accessor"], m
    check_set(s, "clean")
    assert s.client().secrets.kv.v1.read_secret("clean/v1", mount_point="dur1")["lease_duration"] == 3600
    # and the restarted server keeps accepting writes that survive the next restart
    write_set(s, "second")
    s.restart()
    check_set(s, "clean")
    check_set(s, "second")


def test_kill9_keeps_acknowledged_writes(durable):
    s = durable
    write_set(s, "crash")
    s.kill()  # kill -9 right after the writes were acknowledged
    s.start()
    check_mounts(s)
    check_set(s, "crash")


def test_deletes_are_durable(durable):
    s = durable
    c = s.client()
    write_set(s, "del")
    c.secrets.kv.v1.delete_secret("del/v1", mount_point="dur1")
    c.secrets.kv.v2.destroy_secret_versions("del/v2", versions=[1])
    c.sys.disable_secrets_engine("dur2")
    s.kill()
    s.start()
    c = s.client()
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.secrets.kv.v1.read_secret("del/v1", mount_point="dur1")
    md = c.secrets.kv.v2.read_secret_metadata("del/v2")["data"]
    assert md["versions"]["1"]["destroyed"] is True
    assert "dur2/" not in c.sys.list_mounted_secrets_engines()["data"]
    assert_json(s.get("dur2/config"), 404)


def test_without_storage_dir_nothing_survives(make_server):
    s = make_server()
    s.client().secrets.kv.v2.create_or_update_secret("ephemeral", {"a": "1"})
    s.restart()
    with pytest.raises(hvac.exceptions.InvalidPath):
        s.client().secrets.kv.v2.read_secret_version("ephemeral", raise_on_deleted_version=True)


def test_compiled_engine_code_is_cached_across_restarts(make_server, tmp_path):
    """The first start compiles the kv component; a restart loads it from the cache."""
    cache = tmp_path / "code-cache"
    s = make_server(f"-cache-dir={cache}")
    assert "cached=false" in s.stderr()
    assert any(cache.glob("*.cwasm")), "compiled code was written to the cache"
    s.restart()
    assert "cached=true" in s.stderr(), s.output()
    assert_json(s.get("secret/config"), 200)
