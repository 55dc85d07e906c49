"""ACL policies (vault-spec §2.5, §1.4, §1.6): sys/policy and sys/policies/acl through
hvac, tokens limited by policies, sys/capabilities*, and the `coffer policy` CLI.

The limited-token tests create tokens with `auth/token/create`; a token created with
policies also gets `default` (self lookup, capabilities-self) unless no_default_policy.
"""

import base64
import json

import hvac
import pytest

from conftest import assert_204, assert_envelope, assert_errors, assert_json, ok, unique

APP_READER = """
# The app may read and write its own secrets, nothing else.
path "secret/data/app/*" {
  capabilities = ["read", "create", "update"]
}
"""


def token_with(client, *policies, **kw) -> str:
    resp = client.auth.token.create(policies=list(policies), ttl="1h", **kw)
    return resp["auth"]["client_token"]


def status_of(fn, *args, **kw) -> int:
    """The HTTP status hvac saw (200/204 when it returned normally)."""
    try:
        fn(*args, **kw)
    except hvac.exceptions.VaultError as e:
        return getattr(e, "status_code", None) or {
            hvac.exceptions.Forbidden: 403,
            hvac.exceptions.InvalidPath: 404,
            hvac.exceptions.InvalidRequest: 400,
        }.get(type(e), -1)
    return 200


# --- sys/policy and sys/policies/acl ---------------------------------------------------


def test_hcl_policy_write_read_list_delete(server, client):
    name = unique("hcl")
    client.sys.create_or_update_policy(name, APP_READER)
    got = client.sys.read_policy(name)
    assert got["data"] == {"name": name, "rules": APP_READER}
    # Injected: the same keys at the top level (old hvac reads them there).
    assert got["rules"] == APP_READER
    assert client.get_policy(name) == APP_READER

    listed = client.sys.list_policies()
    keys = listed["data"]["policies"]
    assert listed["data"]["keys"] == keys and listed["policies"] == keys
    assert name in keys and "default" in keys
    # Vault appends root after the stored (sorted) names.
    assert keys[-1] == "root" and keys[:-1] == sorted(keys[:-1])

    assert_204(server.delete(f"sys/policy/{name}"))
    assert name not in client.sys.list_policies()["data"]["policies"]
    r = server.get(f"sys/policy/{name}")
    assert assert_json(r, 404) == {"errors": []}
    # Deleting again is fine.
    assert_204(server.delete(f"sys/policy/{name}"))


def test_json_policy_and_acl_api(server, client):
    name = unique("json")
    doc = {"path": {"secret/data/j/*": {"capabilities": ["read", "list"]}}}
    # hvac sends a dict as JSON text.
    client.sys.create_or_update_acl_policy(name, doc)
    got = client.sys.read_acl_policy(name)
    assert got["data"]["name"] == name
    assert json.loads(got["data"]["policy"]) == doc
    acl_keys = client.sys.list_acl_policies()["data"]["keys"]
    assert name in acl_keys and "default" in acl_keys and "root" not in acl_keys
    # The ACL list is a plain envelope, not injected.
    r = server.list("sys/policies/acl")
    body = assert_envelope(assert_json(r, 200))
    assert "keys" not in body
    # GET without list is not an operation of that path.
    assert server.get("sys/policies/acl").status_code == 405
    client.sys.delete_acl_policy(name)
    assert server.get(f"sys/policies/acl/{name}").status_code == 404


def test_rules_alias_base64_and_name_normalisation(server):
    name = unique("alias")
    r = server.put(f"sys/policy/{name}", json={"rules": APP_READER})
    body = assert_json(r, 200)
    assert any("deprecated" in w for w in body["warnings"]), body
    assert server.get(f"sys/policy/{name}").json()["data"]["rules"] == APP_READER

    upper = unique("Mixed-CASE")
    r = server.put(
        f"sys/policy/{upper}",
        json={"policy": base64.b64encode(APP_READER.encode()).decode()},
    )
    body = assert_json(r, 200)
    assert body["warnings"] == [f"policy name was converted to {upper.lower()}"]
    got = server.get(f"sys/policy/{upper.lower()}").json()["data"]
    assert got == {"name": upper.lower(), "rules": APP_READER}


def test_bad_policies_are_400_with_the_line(server, client):
    bad = 'path "secret/*" {\n  capabilities = ["read", "write"]\n}\n'
    r = server.put("sys/policy/bad", json={"policy": bad})
    errors = assert_errors(r, 400, "line 2", "invalid capability", "write")
    assert len(errors) == 1
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.create_or_update_policy("bad", 'path "a" {\n capabilites = ["read"]\n}')
    assert_errors(server.put("sys/policy/bad", json={"policy": "path {"}), 400, "line 1")
    assert_errors(server.put("sys/policy/bad", json={}), 400, "'policy' parameter")
    assert server.get("sys/policy/bad").status_code == 404


def test_root_and_default_are_protected(server, client):
    assert_errors(server.put("sys/policy/root", json={"policy": APP_READER}), 400,
                  'cannot update "root" policy')
    assert_errors(server.put("sys/policies/acl/ROOT", json={"policy": APP_READER}), 400,
                  "cannot update")
    assert_errors(server.delete("sys/policy/root"), 400, "cannot delete")
    assert_errors(server.delete("sys/policy/default"), 400, "cannot delete default policy")
    assert_errors(server.delete("sys/policies/acl/default"), 400,
                  "cannot delete default policy")
    # root reads as an empty policy, default as its built-in text.
    assert client.sys.read_policy("root")["data"] == {"name": "root", "rules": ""}
    default = client.sys.read_policy("default")["data"]["rules"]
    assert 'path "auth/token/lookup-self"' in default
    # default may be rewritten (and is restored here).
    extra = default + '\npath "secret/data/everyone" { capabilities = ["read"] }\n'
    client.sys.create_or_update_policy("default", extra)
    assert client.sys.read_policy("default")["data"]["rules"] == extra
    client.sys.create_or_update_policy("default", default)


# --- limited tokens ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_token(server, client):
    client.sys.create_or_update_policy("app-reader", APP_READER)
    client.secrets.kv.v2.create_or_update_secret("app/db", secret={"password": "hunter2"})
    client.secrets.kv.v2.create_or_update_secret("other", secret={"x": "y"})
    return token_with(client, "app-reader")


def test_limited_token(server, client, app_token):
    limited = server.client(app_token)
    got = limited.secrets.kv.v2.read_secret_version("app/db", raise_on_deleted_version=True)
    assert got["data"]["data"] == {"password": "hunter2"}
    # create and update are granted under app/.
    limited.secrets.kv.v2.create_or_update_secret("app/new", secret={"a": "1"})
    limited.secrets.kv.v2.create_or_update_secret("app/new", secret={"a": "2"})

    r = server.get("secret/data/other", token=app_token)
    assert_errors(r, 403, "permission denied")
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.secrets.kv.v2.read_secret_version("other", raise_on_deleted_version=True)
    # delete and list are not granted.
    assert server.delete("secret/data/app/db", token=app_token).status_code == 403
    assert server.list("secret/metadata/app/", token=app_token).status_code == 403
    # sys and other mounts.
    assert_errors(server.post("sys/mounts/x", token=app_token, json={"type": "kv"}), 403,
                  "permission denied")
    assert server.get("sys/mounts", token=app_token).status_code == 403
    assert server.put("sys/policy/evil", token=app_token,
                      json={"policy": APP_READER}).status_code == 403
    server.enable("aws", "aws")
    r = server.post("aws/config/root", token=app_token,
                    json={"access_key": "AKIA", "secret_key": "s", "region": "us-east-1"})
    assert_errors(r, 403, "permission denied")
    # The root token still can.
    assert client.read("secret/data/other")["data"]["data"] == {"x": "y"}
    # Self-service comes from the default policy.
    assert limited.lookup_token()["data"]["policies"] == ["app-reader", "default"]
    assert limited.is_authenticated()


def test_policy_changes_apply_at_once(server, client, app_token):
    name = unique("late")
    t = token_with(client, name)
    assert server.get("secret/data/app/db", token=t).status_code == 403
    client.sys.create_or_update_policy(name, 'path "secret/data/app/db" { capabilities = ["read"] }')
    assert server.get("secret/data/app/db", token=t).status_code == 200
    client.sys.delete_policy(name)
    assert server.get("secret/data/app/db", token=t).status_code == 403


def test_no_default_policy(server, client):
    t = token_with(client, "app-reader", no_default_policy=True)
    assert server.get("auth/token/lookup-self", token=t).status_code == 403
    assert server.get("secret/data/app/db", token=t).status_code == 200


def test_capabilities_self_and_of_token(server, client, app_token):
    r = server.post("sys/capabilities-self", token=app_token,
                    json={"paths": ["secret/data/app/db", "secret/data/other"]})
    body = assert_json(r, 200)
    assert body["data"]["secret/data/app/db"] == ["create", "read", "update"]
    assert body["data"]["secret/data/other"] == ["deny"]
    # Injected, and no `capabilities` key for several paths.
    assert body["secret/data/app/db"] == ["create", "read", "update"]
    assert "capabilities" not in body["data"]

    r = server.post("sys/capabilities-self", token=app_token, json={"path": "secret/data/app/x"})
    body = assert_json(r, 200)
    assert body["data"]["capabilities"] == ["create", "read", "update"]
    assert body["capabilities"] == ["create", "read", "update"]

    root = assert_json(server.post("sys/capabilities-self", json={"paths": "a,b"}), 200)
    assert root["data"] == {"a": ["root"], "b": ["root"]}

    r = server.post("sys/capabilities", json={"token": app_token, "paths": ["secret/data/app/db"]})
    assert assert_json(r, 200)["data"]["capabilities"] == ["create", "read", "update"]
    assert_errors(server.post("sys/capabilities", json={"token": "hvs.nope", "paths": ["a"]}),
                  400, "invalid token")
    accessor = client.auth.token.lookup(app_token)["data"]["accessor"]
    r = server.post("sys/capabilities-accessor",
                    json={"accessor": accessor, "paths": ["secret/data/app/db", "sys/mounts"]})
    data = assert_json(r, 200)["data"]
    assert data == {"secret/data/app/db": ["create", "read", "update"], "sys/mounts": ["deny"]}
    assert_errors(server.post("sys/capabilities-accessor", json={"accessor": "nope", "paths": "a"}),
                  400, "invalid accessor")
    assert_errors(server.post("sys/capabilities-self", json={}), 400, "paths must be supplied")
    # sys/capabilities is not in the default policy.
    r = server.post("sys/capabilities", token=app_token,
                    json={"token": app_token, "paths": ["x"]})
    assert r.status_code == 403


def test_globs_and_deny(server, client):
    client.sys.create_or_update_policy("globs", """
path "secret/data/team/+/config" { capabilities = ["read"] }
path "secret/data/pub*" { capabilities = ["read"] }
path "secret/data/pub-locked" { capabilities = ["deny"] }
path "secret/data/shared" { capabilities = ["read"] }
""")
    client.sys.create_or_update_policy("deny-shared",
                                       'path "secret/data/shared" { capabilities = ["deny"] }')
    for p in ["team/a/config", "team/b/config", "team/a/other", "team/a/b/config",
              "pub", "public/x", "pub-locked", "shared"]:
        client.secrets.kv.v2.create_or_update_secret(p, secret={"p": p})
    t = token_with(client, "globs")
    code = lambda p: server.get(f"secret/data/{p}", token=t).status_code  # noqa: E731
    assert code("team/a/config") == 200 and code("team/b/config") == 200
    assert code("team/a/other") == 403 and code("team/a/b/config") == 403
    assert code("pub") == 200 and code("public/x") == 200
    assert code("pub-locked") == 403
    assert code("shared") == 200
    # deny in any policy wins over a grant for the same path in another.
    both = token_with(client, "globs", "deny-shared")
    assert server.get("secret/data/shared", token=both).status_code == 403
    assert server.get("secret/data/pub", token=both).status_code == 200
    caps = server.post("sys/capabilities-self", token=both,
                       json={"paths": ["secret/data/shared"]}).json()["data"]
    assert caps["capabilities"] == ["deny"]


def test_create_versus_update(server, client):
    client.sys.create_or_update_policy("cr-up", """
path "secret/data/cr/*" { capabilities = ["create", "read"] }
path "secret/data/up/*" { capabilities = ["update", "read"] }
path "secret/delete/*" { capabilities = ["update"] }
""")
    t = token_with(client, "cr-up")
    body = {"data": {"v": "1"}}
    # create only: a new secret may be written, an existing one not.
    assert server.post("secret/data/cr/x", token=t, json=body).status_code == 200
    assert server.post("secret/data/cr/x", token=t, json=body).status_code == 403
    # update only: the other way round.
    assert server.post("secret/data/up/x", token=t, json=body).status_code == 403
    client.secrets.kv.v2.create_or_update_secret("up/x", secret={"v": "0"})
    assert server.post("secret/data/up/x", token=t, json=body).status_code == 200
    # A path that cannot be read has no existence check: `update` is enough (Vault's
    # documented policy for kv v2 soft deletes).
    assert_204(server.post("secret/delete/up/x", token=t, json={"versions": [1]}))


def test_sudo_paths_need_sudo(server, client):
    client.sys.create_or_update_policy("no-sudo", """
path "sys/leases/lookup/*" { capabilities = ["list", "read", "update"] }
path "sys/audit*" { capabilities = ["read", "update", "create"] }
""")
    client.sys.create_or_update_policy("with-sudo",
                                       'path "sys/leases/lookup/*" { capabilities = ["list", "sudo"] }')
    t = token_with(client, "no-sudo")
    assert_errors(server.list("sys/leases/lookup/secret/", token=t), 403, "permission denied")
    assert server.get("sys/audit", token=t).status_code == 403
    s = token_with(client, "with-sudo")
    # Allowed through: whatever the handler answers, it is not a refusal.
    assert server.list("sys/leases/lookup/secret/", token=s).status_code != 403


def test_kv_cli_works_for_a_limited_token(server, client, app_token, cli):
    # `kv get` asks sys/internal/ui/mounts first; Vault serves that to any token.
    out = ok(cli("kv", "get", "-field=password", "secret/app/db", token=app_token))
    assert out.strip() == "hunter2"
    c, _, err = cli("kv", "get", "secret/other", token=app_token)
    assert c == 2 and "permission denied" in err


def test_policies_survive_a_restart(make_server, tmp_path):
    s = make_server(f"-dev-storage={tmp_path / 'data'}")
    c = s.client()
    c.sys.create_or_update_policy("kept", APP_READER)
    c.sys.create_or_update_policy("default", 'path "secret/data/d" { capabilities = ["read"] }')
    t = token_with(c, "kept")
    s.restart()
    c = s.client()
    assert c.sys.read_policy("kept")["data"]["rules"] == APP_READER
    assert "secret/data/d" in c.sys.read_policy("default")["data"]["rules"]
    assert "kept" in c.sys.list_policies()["data"]["policies"]
    c.secrets.kv.v2.create_or_update_secret("app/x", secret={"k": "v"})
    assert s.get("secret/data/app/x", token=t).status_code == 200
    assert s.get("secret/data/d", token=t).status_code == 404


# --- CLI ----------------------------------------------------------------------------------


def test_cli_policy_write_read_list_delete(server, cli, tmp_path):
    name = unique("cli")
    f = tmp_path / "p.hcl"
    f.write_text(APP_READER)
    ok(cli("policy", "write", name, str(f)), out_has=[f"Success! Uploaded policy: {name}"])
    out = ok(cli("policy", "read", name))
    assert out.strip() == APP_READER.strip()
    as_json = json.loads(ok(cli("policy", "read", "-format=json", name)))
    assert as_json == {"policy": APP_READER}
    names = ok(cli("policy", "list")).split()
    assert name in names and "default" in names and "root" not in names

    # From stdin, as JSON.
    other = unique("cli-stdin")
    doc = json.dumps({"path": {"secret/data/x": {"capabilities": ["read"]}}})
    ok(cli("policy", "write", other, "-", input=doc),
       out_has=[f"Success! Uploaded policy: {other}"])
    assert ok(cli("policy", "read", other)).strip() == doc

    ok(cli("policy", "delete", name), out_has=[f"Success! Deleted policy: {name}"])
    c, _, err = cli("policy", "read", name)
    assert c == 2 and f"No policy named: {name}" in err

    # Errors: a bad policy, a protected one.
    f.write_text('path "a" {\n  capabilities = ["nope"]\n}\n')
    c, _, err = cli("policy", "write", "bad", str(f))
    assert c == 2 and "Error uploading policy" in err and "line 2" in err, err
    c, _, err = cli("policy", "delete", "default")
    assert c == 2 and "cannot delete default policy" in err, err


def test_ui_mounts_listing_shows_only_usable_mounts(server, client, app_token):
    server.enable(unique("hidden"), "kv")
    listing = assert_json(server.get("sys/internal/ui/mounts", token=app_token), 200)
    assert set(listing["data"]["secret"]) == {"secret/"}, listing["data"]["secret"]
    full = assert_json(server.get("sys/internal/ui/mounts"), 200)["data"]["secret"]
    assert "secret/" in full and len(full) > 1


def test_write_on_a_non_kv_engine_is_an_update_and_issues_nothing(server, client, aws):
    # A policy granting only `create` on aws/creds/: the authorisation check must not
    # read aws/creds/<role> (that would create an IAM user) to tell create from update.
    mount = unique("aws")
    client.sys.enable_secrets_engine("aws", path=mount)
    cfg = aws.root_config()
    client.secrets.aws.configure_root_iam_credentials(
        cfg["access_key"], cfg["secret_key"], region=cfg["region"],
        iam_endpoint=cfg["iam_endpoint"], sts_endpoint=cfg["sts_endpoint"], mount_point=mount)
    r = server.post(f"{mount}/roles/web", json={
        "credential_type": "iam_user",
        "policy_document": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]})})
    assert r.status_code in (200, 204), r.text
    client.sys.create_or_update_policy(
        "aws-create-only", f'path "{mount}/creds/*" {{ capabilities = ["create"] }}')
    token = token_with(client, "aws-create-only")
    before = aws.users()
    assert server.post(f"{mount}/creds/web", token=token).status_code == 403
    assert aws.users() == before, "the authorisation check issued credentials"
