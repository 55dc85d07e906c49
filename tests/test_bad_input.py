"""What the HTTP layer does with bad or unusual requests (vault-spec §1)."""

import pytest
import requests

from conftest import assert_204, assert_envelope, assert_errors, assert_json, unique


@pytest.fixture(scope="module")
def kv1(server):
    server.enable("bikv1", "kv", options={"version": "1"})
    return "bikv1"


def test_malformed_json(server, kv1):
    r = server.post(f"{kv1}/bad", data=b'{"a": "b",',
                    headers={"Content-Type": "application/json"})
    errors = assert_errors(r, 400)
    assert errors, "a message saying why"
    r = server.post("secret/data/bad", data=b"not json at all")
    assert_errors(r, 400)
    r = server.post("sys/mounts/bad-json", data=b"{{{")
    assert_errors(r, 400)
    assert "bad-json/" not in server.get("sys/mounts").json()["data"]


def test_json_body_must_be_object(server, kv1):
    assert_errors(server.post(f"{kv1}/arr", data=b'["a", "b"]'), 400)


def test_wrong_method_on_raw_sys_endpoint(server):
    r = server.put("sys/seal-status", json={})
    assert assert_json(r, 405) == {"errors": []}


def test_unknown_verb(server, kv1):
    r = server.request("FROBNICATE", f"{kv1}/x")
    assert assert_json(r, 405) == {"errors": []}
    r = server.request("FROBNICATE", "sys/mounts")
    assert r.status_code == 405


def test_unsupported_operation(server):
    # kv v2's `config` has no delete
    assert_errors(server.delete("secret/config"), 405, "unsupported operation")


def test_unknown_mount(server):
    errs = assert_errors(server.get("nomount/foo/bar"), 404, "no handler for route")
    assert '"nomount/foo/bar"' in errs[0], errs


def test_path_outside_v1(server):
    for path in ("/v2/secret/data/x", "/secret/data/x", "/v1x/sys/health"):
        r = requests.get(server.addr + path, headers={"X-Vault-Token": server.token}, timeout=10)
        assert assert_json(r, 404) == {"errors": []}, path


def test_mount_conflicts(server):
    # below an existing mount
    errs = assert_errors_any(server.post("sys/mounts/secret/sub", json={"type": "kv"}))
    assert "secret/" in " ".join(errs)
    # the same path again, with and without a trailing slash
    assert_errors_any(server.post("sys/mounts/secret", json={"type": "kv"}))
    assert_errors_any(server.post("sys/mounts/secret/", json={"type": "kv"}))
    # above an existing mount
    child = unique("conf") + "/child"
    server.enable(child, "kv", options={"version": "1"})
    assert_errors_any(server.post(f"sys/mounts/{child.split('/')[0]}", json={"type": "kv"}))
    mounts = server.get("sys/mounts").json()["data"]
    assert "secret/sub/" not in mounts
    assert f"{child.split('/')[0]}/" not in mounts
    # the original mounts are untouched
    assert mounts["secret/"]["options"] == {"version": "2"}


def assert_errors_any(r):
    """Mount conflicts: 400 (older Vault) or 409, 'path is already in use' / 'existing mount'."""
    assert r.status_code in (400, 409), f"expected 400/409, got {r.status_code}: {r.text}"
    body = assert_json(r, r.status_code)
    joined = " ".join(body.get("errors", []))
    assert "path is already in use" in joined or "existing mount" in joined, body
    return body["errors"]


def test_reserved_and_invalid_mount_paths(server):
    # Vault refuses protected paths (403 `cannot mount "sys/"` in current Vault)
    for path in ("sys", "sys/foo", "auth/x"):
        r = server.post(f"sys/mounts/{path}", json={"type": "kv"})
        assert_errors(r, 403, "cannot mount")
    mounts = server.get("sys/mounts").json()["data"]
    assert "sys/foo/" not in mounts and "auth/x/" not in mounts
    assert mounts["sys/"]["type"] == "system"
    assert_errors(server.post("sys/mounts/no-type", json={}), 400)


def test_oversize_body(make_server):
    s = make_server("-max-request-size=1024")
    s.enable("small", "kv", options={"version": "1"})
    # just under the limit is fine
    body = '{"v": "' + "x" * 900 + '"}'
    assert_204(s.put("small/ok", data=body, headers={"Content-Type": "application/json"}))
    big = '{"v": "' + "x" * 4000 + '"}'
    r = s.put("small/big", data=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, f"expected 413, got {r.status_code}: {r.text[:300]}"
    assert r.headers.get("Content-Type") == "application/json"
    assert "errors" in r.json()
    assert s.get("small/big").status_code == 404
    # the server keeps working
    assert s.get("small/ok").status_code == 200


def test_default_size_limit_accepts_large_body(server, kv1):
    body = {"blob": "y" * (256 * 1024)}
    assert_204(server.put(f"{kv1}/onemeg", json=body))
    assert server.get(f"{kv1}/onemeg").json()["data"] == body


def test_missing_token(server, kv1):
    assert_errors(server.get(f"{kv1}/x", token=None), 403, "permission denied")
    assert_errors(server.get("sys/mounts", token=None), 403, "permission denied")
    assert_errors(server.put(f"{kv1}/x", token=None, json={"a": "b"}), 403, "permission denied")
    assert server.get(f"{kv1}/x").status_code == 404, "nothing was written"


def test_bad_token(server, kv1):
    assert_errors(server.get(f"{kv1}/x", token="bogus-token"), 403, "permission denied")
    assert_errors(server.get("secret/config", token="hvs.AAAAAAAAAAAAAAAAAAAAAAAA"), 403)


def test_bearer_token(server):
    r = server.get("secret/config", token=None,
                   headers={"Authorization": f"Bearer {server.token}"})
    assert_envelope(assert_json(r, 200))
    # X-Vault-Token wins over Authorization
    r = server.get("secret/config", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 200, r.text
    r = server.get("secret/config", token="wrong",
                   headers={"Authorization": f"Bearer {server.token}"})
    assert r.status_code == 403, r.text


def test_list_query_parsing(server, kv1):
    assert_204(server.put(f"{kv1}/lq/a", json={"x": "1"}))
    for v in ("1", "t", "T", "TRUE", "true", "True"):
        body = assert_json(server.get(f"{kv1}/lq", params={"list": v}), 200)
        assert body["data"]["keys"] == ["a"], v
    for v in ("0", "f", "false", "False"):
        # not a list: a read of the path `lq`, which holds nothing
        r = server.get(f"{kv1}/lq", params={"list": v})
        assert assert_json(r, 404) == {"errors": []}, v
    # Go's strconv.ParseBool rejects anything else -> 400 (an empty value means "not a list")
    for v in ("maybe", "yes", "2"):
        r = server.get(f"{kv1}/lq", params={"list": v})
        assert r.status_code == 400, f"list={v!r}: {r.status_code} {r.text}"
        assert_errors(r, 400)


def test_patch_requires_merge_patch_content_type(server):
    p = unique("pt")
    server.post(f"secret/data/{p}", json={"data": {"a": "1"}})
    for ct in ("application/json", "text/plain"):
        r = server.request("PATCH", f"secret/data/{p}", headers={"Content-Type": ct},
                           data=b'{"data": {"a": "2"}}')
        assert r.status_code == 415, f"Content-Type {ct}: {r.status_code} {r.text}"
        assert_errors(r, 415)
    r = server.request("PATCH", f"secret/data/{p}",
                       headers={"Content-Type": "application/merge-patch+json"},
                       data=b'{"data": {"a": "2"}}')
    assert assert_json(r, 200)["data"]["version"] == 2


def test_null_fields_tolerated(server):
    p = unique("nulls")
    # exactly what hvac's enable_secrets_engine sends
    r = server.post(f"sys/mounts/{p}", json={
        "type": "kv", "description": None, "config": None, "options": None,
        "plugin_name": None, "local": False, "seal_wrap": False})
    assert r.status_code in (200, 204), r.text
    info = server.get(f"sys/mounts/{p}").json()["data"]
    assert info["description"] == ""
    r = server.post(f"sys/mounts/{p}/tune", json={
        "default_lease_ttl": None, "max_lease_ttl": None, "description": None,
        "options": None})
    assert_204(r)
    # kv v2 write with null options
    w = server.post(f"secret/data/{p}", json={"data": {"a": "1"}, "options": None})
    assert assert_json(w, 200)["data"]["version"] == 1


def test_unknown_fields_ignored(server):
    p = unique("unk")
    # node-vault sends mount_point inside the body
    r = server.post(f"sys/mounts/{p}", json={
        "type": "kv", "mount_point": p, "totally_unknown": {"x": 1}, "options": {"version": "1"}})
    assert r.status_code in (200, 204), r.text
    assert server.get(f"sys/mounts/{p}").json()["data"]["type"] == "kv"
    r = server.post("secret/config", json={"max_versions": 0, "bogus_field": "x"})
    assert r.status_code in (200, 204), r.text


def test_form_urlencoded_body(server, kv1):
    r = server.put(f"{kv1}/form", data="a=1&b=two&a=3",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_204(r)
    assert server.get(f"{kv1}/form").json()["data"] == {"a": "1,3", "b": "two"}


def test_empty_body_is_valid(server):
    # secret/config POST with no body: all fields optional
    r = server.post("secret/config", data=b"")
    assert r.status_code in (200, 204), r.text


def test_response_headers(server, kv1):
    r = server.get("secret/config")
    assert r.headers.get("Content-Type") == "application/json"
    assert r.headers.get("Cache-Control") == "no-store"
    r = server.get("nomount/x")
    assert r.headers.get("Content-Type") == "application/json"
    assert r.headers.get("Cache-Control") == "no-store"


def test_request_headers_accepted(server, kv1):
    r = server.get("secret/config", headers={
        "X-Vault-Request": "true", "X-Vault-No-Request-Forwarding": "true",
        "X-Vault-Inconsistent": "forward-active-node"})
    assert r.status_code == 200, r.text


def test_wrap_ttl_not_silently_ignored(server, kv1):
    assert_204(server.put(f"{kv1}/wrapme", json={"s": "v"}))
    r = server.get(f"{kv1}/wrapme", headers={"X-Vault-Wrap-TTL": "60"})
    if r.status_code == 200:
        body = r.json()
        assert body["wrap_info"] is not None and body["data"] is None, (
            "with X-Vault-Wrap-TTL the data must be wrapped, or the request refused (400)")
    else:
        assert_errors(r, 400)


def test_query_params_on_read(server):
    p = unique("qp")
    for i in range(2):
        server.post(f"secret/data/{p}", json={"data": {"i": i}})
    body = assert_json(server.get(f"secret/data/{p}?version=1"), 200)
    assert body["data"]["data"] == {"i": 0}


def test_trailing_slash_and_double_slash(server, kv1):
    assert_204(server.put(f"{kv1}/ts/a", json={"x": "1"}))
    # LIST appends the trailing slash when missing
    assert assert_json(server.list(f"{kv1}/ts"), 200)["data"]["keys"] == ["a"]
    assert assert_json(server.list(f"{kv1}/ts/"), 200)["data"]["keys"] == ["a"]
    # Doubled slashes name the same path (normalised once, for the ACL and the handler
    # alike), not another key or another mount.
    for path in (f"{kv1}//ts/a", f"{kv1}/ts//a"):
        assert assert_json(server.get(path), 200)["data"] == {"x": "1"}, path
    assert assert_json(server.list(f"{kv1}//ts//"), 200)["data"]["keys"] == ["a"]
