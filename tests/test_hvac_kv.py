"""KV v1 and v2 through hvac (vault-spec §7, §7.3, §8), checked against raw HTTP where
clients look at status codes and body shapes."""

import re

import hvac
import pytest

from conftest import (
    ENVELOPE_KEYS,
    assert_204,
    assert_envelope,
    assert_errors,
    assert_json,
    unique,
    wait_kv_v2_ready,
)

RFC3339_NANO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


@pytest.fixture(scope="module")
def kv1(server, client):
    r = client.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    assert r.status_code in (200, 204), r.text
    return "kv1"


@pytest.fixture(scope="module")
def kv2(server, client):
    """A fresh kv v2 mount (configure changes mount-wide settings, so not secret/)."""
    r = client.sys.enable_secrets_engine("kv", path="kv2", options={"version": "2"})
    assert r.status_code in (200, 204), r.text
    wait_kv_v2_ready(server, "kv2")
    return "kv2"


# --- KV v1 ------------------------------------------------------------------


def test_v1_create_read(server, client, kv1):
    v1 = client.secrets.kv.v1
    # create: hvac probes with GET (404) and then POSTs
    r = v1.create_or_update_secret("app/db", {"user": "alice", "pass": "s3cret"}, mount_point=kv1)
    assert r.status_code == 204, r.text
    got = v1.read_secret("app/db", mount_point=kv1)
    assert set(got) >= ENVELOPE_KEYS
    assert got["data"] == {"user": "alice", "pass": "s3cret"}
    assert got["lease_id"] == ""
    assert got["renewable"] is False
    assert got["lease_duration"] == 2764800
    assert got["mount_type"] == "kv"
    assert got["wrap_info"] is None and got["auth"] is None


def test_v1_update_replaces_all_keys(server, client, kv1):
    v1 = client.secrets.kv.v1
    v1.create_or_update_secret("upd", {"a": "1", "b": "2"}, mount_point=kv1)
    # second call: GET probe finds it, so hvac PUTs
    r = v1.create_or_update_secret("upd", {"c": "3"}, mount_point=kv1)
    assert r.status_code == 204
    assert v1.read_secret("upd", mount_point=kv1)["data"] == {"c": "3"}


def test_v1_raw_envelope(server, kv1):
    assert_204(server.put(f"{kv1}/raw", json={"n": 1, "nested": {"x": [1, 2]}, "t": True}))
    body = assert_envelope(assert_json(server.get(f"{kv1}/raw"), 200))
    assert body["data"] == {"n": 1, "nested": {"x": [1, 2]}, "t": True}, "JSON types preserved"
    assert body["lease_duration"] == 2764800
    assert body["warnings"] is None


def test_v1_ttl_key_sets_lease_duration(server, client, kv1):
    client.secrets.kv.v1.create_or_update_secret("withttl", {"ttl": "1h", "v": "x"}, mount_point=kv1)
    got = client.secrets.kv.v1.read_secret("withttl", mount_point=kv1)
    assert got["lease_duration"] == 3600
    assert got["lease_id"] == ""
    assert got["data"]["v"] == "x"


def test_v1_list(server, client, kv1):
    v1 = client.secrets.kv.v1
    for p in ("ls/a", "ls/b", "ls/sub/c"):
        v1.create_or_update_secret(p, {"k": "v"}, mount_point=kv1)
    got = v1.list_secrets("ls", mount_point=kv1)
    assert got["data"]["keys"] == ["a", "b", "sub/"]
    got = v1.list_secrets("ls/sub/", mount_point=kv1)
    assert got["data"]["keys"] == ["c"]
    # GET ?list=true is the same operation
    body = assert_json(server.get(f"{kv1}/ls", params={"list": "true"}), 200)
    assert body["data"]["keys"] == ["a", "b", "sub/"]
    # empty / missing folder -> 404 {"errors":[]}
    r = server.list(f"{kv1}/no-such-folder/")
    assert assert_json(r, 404) == {"errors": []}
    with pytest.raises(hvac.exceptions.InvalidPath):
        v1.list_secrets("no-such-folder", mount_point=kv1)


def test_v1_missing(server, client, kv1):
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v1.read_secret("does/not/exist", mount_point=kv1)
    assert client.read(f"{kv1}/does/not/exist") is None
    assert assert_json(server.get(f"{kv1}/does/not/exist"), 404) == {"errors": []}


def test_v1_empty_write_rejected(server, kv1):
    assert_errors(server.post(f"{kv1}/empty", data=b""), 400, "missing data fields")


def test_v1_delete(server, client, kv1):
    v1 = client.secrets.kv.v1
    v1.create_or_update_secret("del/me", {"a": "b"}, mount_point=kv1)
    r = v1.delete_secret("del/me", mount_point=kv1)
    assert r.status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath):
        v1.read_secret("del/me", mount_point=kv1)
    # idempotent
    assert v1.delete_secret("del/me", mount_point=kv1).status_code == 204


def test_generic_client_calls(server, client, kv1):
    r = client.write(f"{kv1}/generic", foo="bar")  # POST
    assert r.status_code == 204
    assert client.read(f"{kv1}/generic")["data"] == {"foo": "bar"}
    assert "generic" in client.list(f"{kv1}/")["data"]["keys"]  # GET ?list=True
    client.delete(f"{kv1}/generic")  # hvac returns nothing for DELETE
    assert client.read(f"{kv1}/generic") is None


# --- KV v2 ------------------------------------------------------------------


def test_v2_configure(server, client, kv2):
    cfg = client.secrets.kv.v2.read_configuration(mount_point=kv2)
    assert cfg["data"] == {"cas_required": False, "delete_version_after": "0s", "max_versions": 0}
    r = client.secrets.kv.v2.configure(max_versions=7, mount_point=kv2)
    assert r.status_code == 204
    cfg = client.secrets.kv.v2.read_configuration(mount_point=kv2)
    assert cfg["data"]["max_versions"] == 7
    assert cfg["data"]["cas_required"] is False
    client.secrets.kv.v2.configure(max_versions=0, mount_point=kv2)


def test_v2_cas_required(server, client):
    mount = unique("kv2cas")
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    wait_kv_v2_ready(server, mount)
    v2 = client.secrets.kv.v2
    v2.configure(cas_required=True, mount_point=mount)
    assert v2.read_configuration(mount_point=mount)["data"]["cas_required"] is True
    with pytest.raises(hvac.exceptions.InvalidRequest, match="check-and-set parameter required"):
        v2.create_or_update_secret("p", {"a": "1"}, mount_point=mount)
    assert v2.create_or_update_secret("p", {"a": "1"}, cas=0, mount_point=mount)["data"]["version"] == 1
    assert v2.create_or_update_secret("p", {"a": "2"}, cas=1, mount_point=mount)["data"]["version"] == 2


def test_v2_write_and_read_versions(server, client):
    v2 = client.secrets.kv.v2
    path = unique("v2/rw")
    w = v2.create_or_update_secret(path, {"a": "1"})
    assert set(w) >= ENVELOPE_KEYS
    meta = w["data"]
    assert meta["version"] == 1
    assert meta["deletion_time"] == ""
    assert meta["destroyed"] is False
    assert meta["custom_metadata"] is None
    assert RFC3339_NANO.fullmatch(meta["created_time"]), meta["created_time"]
    assert w["mount_type"] == "kv"

    assert v2.create_or_update_secret(path, {"a": "2"})["data"]["version"] == 2
    assert v2.create_or_update_secret(path, {"a": "3"}, cas=2)["data"]["version"] == 3

    cur = v2.read_secret_version(path, raise_on_deleted_version=True)
    assert cur["data"]["data"] == {"a": "3"}
    assert cur["data"]["metadata"]["version"] == 3
    assert cur["lease_duration"] == 0 and cur["lease_id"] == ""
    old = v2.read_secret_version(path, version=1, raise_on_deleted_version=True)
    assert old["data"]["data"] == {"a": "1"}
    assert old["data"]["metadata"]["version"] == 1
    # version=0 means current
    assert server.get(f"secret/data/{path}", params={"version": 0}).json()["data"]["metadata"]["version"] == 3

    with pytest.raises(hvac.exceptions.InvalidPath):
        v2.read_secret_version(path, version=99, raise_on_deleted_version=True)
    assert assert_json(server.get(f"secret/data/{path}", params={"version": 99}), 404) == {"errors": []}


def test_v2_cas_mismatch(server, client):
    v2 = client.secrets.kv.v2
    path = unique("v2/cas")
    v2.create_or_update_secret(path, {"a": "1"})
    with pytest.raises(hvac.exceptions.InvalidRequest, match="check-and-set parameter did not match"):
        v2.create_or_update_secret(path, {"a": "x"}, cas=5)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        v2.create_or_update_secret(path, {"a": "x"}, cas=0)  # 0 = only if absent
    # new path with cas=0 is fine
    assert v2.create_or_update_secret(unique("v2/cas0"), {"a": "1"}, cas=0)["data"]["version"] == 1
    assert v2.read_secret_version(path, raise_on_deleted_version=True)["data"]["data"] == {"a": "1"}


def test_v2_write_without_data(server):
    assert_errors(server.post(f"secret/data/{unique('nodata')}", json={"options": {}}), 400,
                  "no data provided")


def test_v2_missing(server, client):
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_version("no/such/key", raise_on_deleted_version=False)
    assert assert_json(server.get("secret/data/no/such/key"), 404) == {"errors": []}
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_metadata("no/such/key")


def test_v2_patch(server, client):
    v2 = client.secrets.kv.v2
    path = unique("v2/patch")
    v2.create_or_update_secret(path, {"a": "1", "b": "2"})
    # hvac's patch = read + write with cas
    r = v2.patch(path, {"b": "20", "c": "30"})
    assert r["data"]["version"] == 2
    assert v2.read_secret_version(path, raise_on_deleted_version=True)["data"]["data"] == {
        "a": "1", "b": "20", "c": "30"}
    # the real PATCH verb with JSON merge-patch: null removes a key
    r = server.request("PATCH", f"secret/data/{path}",
                       headers={"Content-Type": "application/merge-patch+json"},
                       json={"data": {"a": None, "d": "4"}, "options": {}})
    body = assert_json(r, 200)
    assert body["data"]["version"] == 3
    assert v2.read_secret_version(path, raise_on_deleted_version=True)["data"]["data"] == {
        "b": "20", "c": "30", "d": "4"}
    # patching a missing secret -> 404
    with pytest.raises(hvac.exceptions.InvalidPath):
        v2.patch(unique("v2/nopatch"), {"a": "1"})
    r = server.request("PATCH", f"secret/data/{unique('v2/nopatch')}",
                       headers={"Content-Type": "application/merge-patch+json"},
                       json={"data": {"a": "1"}})
    assert r.status_code == 404, r.text


def test_v2_list(server, client):
    v2 = client.secrets.kv.v2
    base = unique("v2list")
    for p in ("x", "y", "dir/z"):
        v2.create_or_update_secret(f"{base}/{p}", {"k": "v"})
    assert v2.list_secrets(base)["data"]["keys"] == ["dir/", "x", "y"]
    assert v2.list_secrets(f"{base}/dir")["data"]["keys"] == ["z"]
    assert f"{base}/" in v2.list_secrets("")["data"]["keys"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        v2.list_secrets(unique("v2list-none"))


def test_v2_metadata(server, client):
    v2 = client.secrets.kv.v2
    path = unique("v2/meta")
    for i in range(3):
        v2.create_or_update_secret(path, {"i": str(i)})
    md = v2.read_secret_metadata(path)["data"]
    for key in ("cas_required", "created_time", "current_version", "custom_metadata",
                "delete_version_after", "max_versions", "oldest_version", "updated_time",
                "versions"):
        assert key in md, f"metadata lacks {key}: {md}"
    assert md["current_version"] == 3
    assert md["oldest_version"] == 0
    assert md["max_versions"] == 0
    assert md["cas_required"] is False
    assert md["delete_version_after"] == "0s"
    assert md["custom_metadata"] is None
    assert sorted(md["versions"]) == ["1", "2", "3"]
    for v in md["versions"].values():
        assert v["deletion_time"] == "" and v["destroyed"] is False
        assert RFC3339_NANO.fullmatch(v["created_time"])
    assert md["created_time"] == md["versions"]["1"]["created_time"]
    assert md["updated_time"] == md["versions"]["3"]["created_time"]


def test_v2_update_metadata_and_prune(server, client):
    v2 = client.secrets.kv.v2
    path = unique("v2/prune")
    v2.create_or_update_secret(path, {"i": "1"})
    r = v2.update_metadata(path, max_versions=2, custom_metadata={"owner": "ops", "tier": "1"})
    assert r.status_code == 204
    md = v2.read_secret_metadata(path)["data"]
    assert md["max_versions"] == 2
    assert md["custom_metadata"] == {"owner": "ops", "tier": "1"}
    for i in range(2, 5):
        v2.create_or_update_secret(path, {"i": str(i)})
    md = v2.read_secret_metadata(path)["data"]
    assert md["current_version"] == 4
    assert sorted(md["versions"]) == ["3", "4"], "versions beyond max_versions are pruned"
    assert md["oldest_version"] == 3
    with pytest.raises(hvac.exceptions.InvalidPath):
        v2.read_secret_version(path, version=1, raise_on_deleted_version=True)
    cur = v2.read_secret_version(path, raise_on_deleted_version=True)
    assert cur["data"]["metadata"]["custom_metadata"] == {"owner": "ops", "tier": "1"}


def test_v2_delete_latest_shows_deletion(server, client):
    v2 = client.secrets.kv.v2
    path = unique("v2/dl")
    v2.create_or_update_secret(path, {"a": "1"})
    v2.create_or_update_secret(path, {"a": "2"})
    r = v2.delete_latest_version_of_secret(path)
    assert r.status_code == 204

    got = v2.read_secret_version(path, raise_on_deleted_version=False)
    assert got["data"]["data"] is None
    assert got["data"]["metadata"]["version"] == 2
    assert got["data"]["metadata"]["deletion_time"] != ""
    assert RFC3339_NANO.fullmatch(got["data"]["metadata"]["deletion_time"])
    with pytest.raises(hvac.exceptions.InvalidPath):
        v2.read_secret_version(path, raise_on_deleted_version=True)

    # raw: 404 with the full envelope and no "errors" key
    body = assert_json(server.get(f"secret/data/{path}"), 404)
    assert "errors" not in body, body
    assert_envelope(body)
    assert body["data"]["data"] is None
    assert body["data"]["metadata"]["deletion_time"] != ""
    assert body["data"]["metadata"]["destroyed"] is False

    # older version still readable
    assert v2.read_secret_version(path, version=1, raise_on_deleted_version=True)["data"]["data"] == {"a": "1"}
    md = v2.read_secret_metadata(path)["data"]
    assert md["versions"]["2"]["deletion_time"] != ""
    assert md["current_version"] == 2


def test_v2_delete_undelete_destroy_versions(server, client):
    v2 = client.secrets.kv.v2
    path = unique("v2/dud")
    for i in (1, 2, 3):
        v2.create_or_update_secret(path, {"i": str(i)})

    assert v2.delete_secret_versions(path, versions=[1, 2]).status_code == 204
    md = v2.read_secret_metadata(path)["data"]["versions"]
    assert md["1"]["deletion_time"] != "" and md["2"]["deletion_time"] != ""
    assert md["3"]["deletion_time"] == ""
    assert server.get(f"secret/data/{path}", params={"version": 1}).status_code == 404

    assert v2.undelete_secret_versions(path, versions=[1]).status_code == 204
    got = v2.read_secret_version(path, version=1, raise_on_deleted_version=True)
    assert got["data"]["data"] == {"i": "1"}
    assert got["data"]["metadata"]["deletion_time"] == ""

    assert v2.destroy_secret_versions(path, versions=[2]).status_code == 204
    md = v2.read_secret_metadata(path)["data"]["versions"]
    assert md["2"]["destroyed"] is True
    body = assert_json(server.get(f"secret/data/{path}", params={"version": 2}), 404)
    assert "errors" not in body, body
    assert body["data"]["data"] is None
    assert body["data"]["metadata"]["destroyed"] is True
    # a destroyed version cannot be undeleted
    v2.undelete_secret_versions(path, versions=[2])
    assert v2.read_secret_metadata(path)["data"]["versions"]["2"]["destroyed"] is True
    assert server.get(f"secret/data/{path}", params={"version": 2}).status_code == 404


def test_v2_delete_metadata_and_all_versions(server, client):
    v2 = client.secrets.kv.v2
    base = unique("v2dm")
    v2.create_or_update_secret(f"{base}/gone", {"a": "1"})
    v2.create_or_update_secret(f"{base}/gone", {"a": "2"})
    v2.create_or_update_secret(f"{base}/stays", {"a": "1"})
    r = v2.delete_metadata_and_all_versions(f"{base}/gone")
    assert r.status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath):
        v2.read_secret_metadata(f"{base}/gone")
    assert assert_json(server.get(f"secret/data/{base}/gone"), 404) == {"errors": []}
    assert v2.list_secrets(base)["data"]["keys"] == ["stays"]
    # writing again starts from version 1
    assert v2.create_or_update_secret(f"{base}/gone", {"a": "3"})["data"]["version"] == 1


def test_v2_subkeys(server, client):
    path = unique("v2/sub")
    client.secrets.kv.v2.create_or_update_secret(
        path, {"a": "1", "nested": {"x": "2", "deeper": {"y": 3}}, "list": [1, 2]})
    body = assert_envelope(assert_json(server.get(f"secret/subkeys/{path}"), 200))
    assert body["data"]["subkeys"] == {
        "a": None, "nested": {"x": None, "deeper": {"y": None}}, "list": None}
    assert body["data"]["metadata"]["version"] == 1
    body = assert_json(server.get(f"secret/subkeys/{path}", params={"depth": 1}), 200)
    assert body["data"]["subkeys"] == {"a": None, "nested": None, "list": None}
    assert client.read(f"secret/subkeys/{path}")["data"]["subkeys"]["a"] is None
    assert server.get(f"secret/subkeys/{unique('nosub')}").status_code == 404


def test_v2_unsupported_path(server):
    assert_errors(server.get("secret/bogus-endpoint/x"), 404, "unsupported path")
