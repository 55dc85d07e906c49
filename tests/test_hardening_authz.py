"""Authorisation holes of issue 13 (items 1, 2, 4, 5, 21), closed:

* a path has one spelling: `sys/seal/`, `sys//seal` are authorised as `sys/seal`, so a
  trailing or doubled slash no longer skips `sudo` (or a `deny` rule);
* a prefix revocation addressed in the body is authorised as its path form;
* a use-limited token creates no child tokens;
* a kv v2 secret whose current version is deleted or destroyed still exists for the
  create-versus-update decision;
* `-dev-*` flags are refused without `-dev`.

Each test talks to a real `coffer server` over HTTP with tokens made through the API.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from conftest import BIN, assert_204, assert_errors, assert_json, free_port, unique

# Everything under sys/ except sudo.
SYS_NO_SUDO = """
path "sys/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
"""

SYS_WITH_SUDO = """
path "sys/*" {
  capabilities = ["create", "read", "update", "delete", "list", "sudo"]
}
"""


def make_token(server, policy_name: str, policy: str | None = None, **body) -> str:
    if policy is not None:
        assert_204(server.put(f"sys/policies/acl/{policy_name}", json={"policy": policy}))
    body.setdefault("ttl", "1h")
    r = server.post("auth/token/create", json={"policies": [policy_name], **body})
    return assert_json(r, 200)["auth"]["client_token"]


def raw(server, method: str, path_after_host: str, token: str, **kw) -> requests.Response:
    """A request whose path is sent exactly as given (Server.url strips leading '/')."""
    headers = {"X-Vault-Token": token}
    return requests.request(method, server.addr + path_after_host, headers=headers,
                            timeout=60, **kw)


def sealed(server) -> bool:
    return assert_json(server.get("sys/seal-status", token=None), 200)["sealed"]


# --- 1. one spelling per path --------------------------------------------------------


def test_slashes_do_not_skip_sudo_on_seal(make_server):
    # Its own server: on the old code this test seals it.
    s = make_server()
    token = make_token(s, "sys-no-sudo", SYS_NO_SUDO)
    for path in ("/v1/sys/seal", "/v1/sys/seal/", "/v1/sys//seal", "/v1//sys/seal",
                 "/v1/sys/seal//", "/v1/sys/%2Fseal"):
        r = raw(s, "PUT", path, token)
        assert_errors(r, 403, "permission denied")
        assert not sealed(s), f"PUT {path} without sudo sealed the server"
    # The same spellings still reach the handler for a token that has sudo.
    sudo = make_token(s, "sys-sudo", SYS_WITH_SUDO)
    for path in ("/v1/sys/key-status/", "/v1/sys//key-status"):
        assert assert_json(raw(s, "GET", path, sudo), 200)["data"]["term"] >= 1, path
    assert raw(s, "PUT", "/v1/sys/seal/", sudo).status_code == 204
    assert sealed(s)


def test_slashes_do_not_skip_sudo_on_other_sudo_paths(server):
    token = make_token(server, "sys-no-sudo", SYS_NO_SUDO)
    term = assert_json(server.get("sys/key-status"), 200)["data"]["term"]
    for method, path in [
        ("GET", "/v1/sys/key-status"),
        ("GET", "/v1/sys/key-status/"),
        ("GET", "/v1/sys//key-status"),
        ("GET", "/v1/sys/leases?type=irrevocable"),
        ("GET", "/v1/sys/leases/?type=irrevocable"),
        ("GET", "/v1/sys//leases/?type=irrevocable"),
        ("PUT", "/v1/sys/rotate/"),
        ("PUT", "/v1/sys//rotate"),
        ("GET", "/v1/sys/audit/"),
        ("LIST", "/v1/sys/leases/lookup/"),
        ("LIST", "/v1/sys/leases//lookup"),
    ]:
        assert_errors(raw(server, method, path, token), 403, "permission denied")
    assert assert_json(server.get("sys/key-status"), 200)["data"]["term"] == term, (
        "sys/rotate ran without sudo")
    # Root still reaches every one of them.
    assert assert_json(raw(server, "GET", "/v1/sys/leases/?type=irrevocable", server.token),
                       200)["data"]["lease_count"] == 0


def test_trailing_slash_does_not_skip_a_deny_rule(server):
    mount = unique("locked")
    server.enable(mount, "kv", options={"version": "1"})
    policy = SYS_NO_SUDO + f'path "sys/mounts/{mount}" {{ capabilities = ["deny"] }}\n'
    token = make_token(server, "sys-deny-mount", policy)
    for path in (f"/v1/sys/mounts/{mount}/", f"/v1/sys/mounts//{mount}",
                 f"/v1/sys/mounts/{mount}//"):
        assert_errors(raw(server, "DELETE", path, token), 403, "permission denied")
    assert f"{mount}/" in assert_json(server.get("sys/mounts"), 200)["data"], (
        "the denied mount was disabled")


def test_double_slash_in_an_engine_path_is_the_same_secret(server):
    mount = unique("kvs")
    server.enable(mount, "kv", options={"version": "1"})
    assert_204(server.put(f"{mount}/a//b", json={"v": "1"}))
    assert assert_json(server.get(f"{mount}/a/b"), 200)["data"] == {"v": "1"}
    # A policy on the clean spelling governs the doubled one.
    policy = f'path "{mount}/a/*" {{ capabilities = ["deny"] }}\npath "{mount}/*" {{ capabilities = ["read"] }}\n'
    token = make_token(server, unique("kv-deny"), policy)
    for path in (f"{mount}/a//b", f"{mount}//a/b"):
        assert_errors(server.get(path, token=token), 403)
    # LIST keeps its trailing-slash semantics.
    assert assert_json(server.list(f"{mount}//a"), 200)["data"]["keys"] == ["b"]


# --- 2. a prefix in the body -----------------------------------------------------------

AWS_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]})


@pytest.fixture
def aws_leases(server, aws):
    """An aws mount at a unique path with two IAM-user leases issued by root."""
    mount = unique("aws")
    c = server.client()
    c.sys.enable_secrets_engine("aws", path=mount)
    cfg = aws.root_config()
    c.secrets.aws.configure_root_iam_credentials(
        cfg["access_key"], cfg["secret_key"], region=cfg["region"],
        iam_endpoint=cfg["iam_endpoint"], sts_endpoint=cfg["sts_endpoint"], mount_point=mount)
    r = server.post(f"{mount}/roles/web",
                    json={"credential_type": "iam_user", "policy_document": AWS_POLICY})
    assert r.status_code in (200, 204), r.text
    leases = []
    for _ in range(2):
        body = assert_json(server.get(f"{mount}/creds/web"), 200)
        assert body["lease_id"].startswith(f"{mount}/creds/web/"), body
        leases.append(body["lease_id"])
    return mount, leases


def lease_alive(server, lease_id) -> bool:
    r = server.put("sys/leases/lookup", json={"lease_id": lease_id})
    if r.status_code == 400 and "invalid lease" in r.text:
        return False
    assert_json(r, 200)
    return True


PREFIX_ENDPOINTS = ("sys/leases/revoke-force", "sys/leases/revoke-prefix",
                    "sys/revoke-prefix", "sys/revoke-force")


def test_prefix_in_the_body_needs_sudo(server, aws, aws_leases):
    mount, leases = aws_leases
    users = aws.users()
    assert len(users) >= 2
    token = make_token(server, "sys-no-sudo", SYS_NO_SUDO)
    for endpoint in PREFIX_ENDPOINTS:
        for path in (endpoint, endpoint + "/"):
            r = server.put(path, json={"prefix": f"{mount}/"}, token=token)
            assert_errors(r, 403, "permission denied")
        # The path form, as before.
        assert_errors(server.put(f"{endpoint}/{mount}/", token=token), 403)
    for lease in leases:
        assert lease_alive(server, lease), f"{lease} was revoked without sudo"
    assert aws.users() == users, "IAM users were deleted without sudo"

    # With sudo the body form still works, as its path form.
    sudo = make_token(server, "sys-sudo", SYS_WITH_SUDO)
    assert_204(server.put("sys/leases/revoke-prefix", json={"prefix": f"{mount}/creds/"},
                          token=sudo))
    for lease in leases:
        assert not lease_alive(server, lease)


def test_lease_id_in_the_body_is_vaults_form(server, aws_leases):
    # Not rewritten: `default` grants sys/leases/lookup and sys/leases/renew on their
    # bare paths, where Vault authorises a lease_id given in the body.
    _, leases = aws_leases
    token = make_token(server, "default")
    r = server.put("sys/leases/lookup", json={"lease_id": leases[0]}, token=token)
    assert assert_json(r, 200)["data"]["id"] == leases[0]
    # Revoking by id is not granted by default, in either form.
    assert_errors(server.put("sys/leases/revoke", json={"lease_id": leases[0]}, token=token), 403)
    assert_errors(server.put(f"sys/leases/revoke/{leases[0]}", token=token), 403)
    assert lease_alive(server, leases[0])


# --- 4. use-limited tokens ----------------------------------------------------------------

TOKEN_CREATOR = """
path "auth/token/create" {
  capabilities = ["create", "update"]
}
"""


@pytest.mark.parametrize("uses", [1, 2, 5])
def test_use_limited_token_cannot_create_children(server, uses):
    # 1: the request is the token's last use; otherwise uses are left after it.
    for child in ({"policies": ["token-creator"]},
                  {"policies": ["token-creator"], "num_uses": 0}):
        limited = make_token(server, "token-creator", TOKEN_CREATOR, num_uses=uses)
        r = server.post("auth/token/create", json=child, token=limited)
        assert_errors(r, 400, "restricted use token cannot generate child tokens")


def test_use_limited_root_token_cannot_create_children(server):
    r = server.post("auth/token/create", json={"policies": ["root"], "num_uses": 3})
    limited_root = assert_json(r, 200)["auth"]["client_token"]
    for endpoint in ("auth/token/create", "auth/token/create-orphan"):
        assert_errors(server.post(endpoint, json={}, token=limited_root), 400,
                      "restricted use token cannot generate child tokens")


def test_unlimited_token_still_creates_children(server):
    token = make_token(server, "token-creator", TOKEN_CREATOR)
    r = server.post("auth/token/create", json={"policies": ["token-creator"]}, token=token)
    assert assert_json(r, 200)["auth"]["client_token"]


# --- 5. create-only over a deleted kv v2 secret -----------------------------------------


def test_create_only_cannot_write_over_a_deleted_or_destroyed_kv2_secret(server):
    mount = unique("kv2")
    server.enable(mount, "kv", options={"version": "2"})
    assert_json(server.post(f"{mount}/data/app/soft", json={"data": {"v": "1"}}), 200)
    assert_204(server.delete(f"{mount}/data/app/soft"))
    assert_json(server.post(f"{mount}/data/app/gone", json={"data": {"v": "1"}}), 200)
    assert_204(server.put(f"{mount}/destroy/app/gone", json={"versions": [1]}))
    token = make_token(
        server, unique("create-only"),
        f'path "{mount}/data/app/*" {{ capabilities = ["create"] }}\n')

    for name in ("soft", "gone"):
        r = server.post(f"{mount}/data/app/{name}", json={"data": {"v": "evil"}}, token=token)
        assert_errors(r, 403, "permission denied")
        meta = assert_json(server.get(f"{mount}/metadata/app/{name}"), 200)["data"]
        assert meta["current_version"] == 1, f"{name}: a version was written: {meta}"

    # A brand-new secret is a create; writing it again is an update.
    assert_json(server.post(f"{mount}/data/app/new", json={"data": {"v": "1"}}, token=token),
                200)
    assert_errors(server.post(f"{mount}/data/app/new", json={"data": {"v": "2"}}, token=token),
                  403)

    # An update-only policy may write over the deleted version (it is an update).
    updater = make_token(
        server, unique("update-only"),
        f'path "{mount}/data/app/*" {{ capabilities = ["update"] }}\n')
    assert_json(server.post(f"{mount}/data/app/soft", json={"data": {"v": "2"}}, token=updater),
                200)
    assert_errors(server.post(f"{mount}/data/app/other", json={"data": {"v": "1"}},
                              token=updater), 403)


# --- 21. dev-only flags -------------------------------------------------------------------


def run_server(argv: list[str], tmp_path) -> subprocess.CompletedProcess | None:
    """Runs `coffer server ...`; None (after killing it) if it was still running after
    15 s, i.e. it accepted the flags and served."""
    proc = subprocess.Popen([str(BIN), "server", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("flag", ["-dev-clock-offset=1h", "-dev-storage={tmp}/dev",
                                  "-dev-plugin-dir={tmp}", "-dev-root-token-id=abc",
                                  "-dev-kv-v1", "-bench-native-kv"])
def test_dev_flags_are_refused_without_dev(tmp_path, flag):
    port = free_port()
    config = tmp_path / "coffer.hcl"
    config.write_text(
        f'storage "redb" {{ path = "{tmp_path / "data"}" }}\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\n')
    flag = flag.format(tmp=tmp_path)
    name = flag.split("=")[0]
    for argv in ([f"-config={config}", flag], [flag, f"-config={config}"], [flag]):
        r = run_server(argv, tmp_path)
        assert r is not None, f"coffer server {' '.join(argv)} started and served"
        assert r.returncode != 0, r
        assert f"{name} only allowed with -dev" in r.stderr, r.stderr
    assert not (tmp_path / "data").exists(), "the server opened its storage"
