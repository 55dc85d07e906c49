"""The token store (`auth/token/…`) end to end: hvac's token API, Vault's errors, tree
and orphan revocation, accessors, use limits, expiry (with the leases a token created,
against moto), persistence across restarts, and the `coffer token` CLI."""

from __future__ import annotations

import json
import re
import time

import hvac
import pytest

from conftest import (
    Cli,
    assert_204,
    assert_errors,
    assert_json,
    ok,
    parse_table,
    unique,
)

TOKEN_RE = r"hvs\.[0-9A-Za-z]{24}"

AUTH_KEYS = {
    "client_token", "accessor", "policies", "token_policies", "metadata",
    "lease_duration", "renewable", "entity_id", "token_type", "orphan", "num_uses",
}
LOOKUP_KEYS = {
    "accessor", "creation_time", "creation_ttl", "display_name", "entity_id",
    "expire_time", "explicit_max_ttl", "id", "issue_time", "meta", "num_uses", "orphan",
    "path", "policies", "renewable", "ttl", "type",
}


def wait_until(pred, timeout=15.0, what="condition", server=None):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            extra = "\n" + server.output() if server else ""
            pytest.fail(f"timed out waiting for {what}{extra}", pytrace=False)
        time.sleep(0.2)


def write_policy(client, name, rules):
    client.sys.create_or_update_policy(name=name, policy=rules)


# --- hvac: create / lookup / renew / revoke -----------------------------------------


def test_create_lookup_renew_revoke(server, client):
    resp = client.auth.token.create(
        policies=["dev", "ops", "dev"], ttl="1h", display_name="alice",
        meta={"team": "x"}, num_uses=0,
    )
    assert resp["data"] is None and resp["mount_type"] == "token", resp
    auth = resp["auth"]
    assert AUTH_KEYS <= set(auth), auth
    assert re.fullmatch(TOKEN_RE, auth["client_token"]), auth
    assert len(auth["accessor"]) == 24
    assert auth["policies"] == ["default", "dev", "ops"], "sorted, deduped, default added"
    assert auth["token_policies"] == auth["policies"]
    assert auth["metadata"] == {"team": "x"}
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True
    assert auth["entity_id"] == "" and auth["token_type"] == "service"
    assert auth["orphan"] is False and auth["num_uses"] == 0
    token = auth["client_token"]

    me = server.client(token).auth.token.lookup_self()["data"]
    assert LOOKUP_KEYS <= set(me), me
    assert me["id"] == token and me["accessor"] == auth["accessor"]
    assert me["display_name"] == "token-alice"
    assert me["path"] == "auth/token/create"
    assert me["policies"] == ["default", "dev", "ops"]
    assert me["meta"] == {"team": "x"}
    assert me["creation_ttl"] == 3600 and 3590 <= me["ttl"] <= 3600
    assert me["explicit_max_ttl"] == 0 and me["num_uses"] == 0
    assert me["orphan"] is False and me["renewable"] is True and me["type"] == "service"
    assert isinstance(me["creation_time"], int)
    assert re.match(r"\d{4}-\d\d-\d\dT", me["expire_time"]) and me["issue_time"]

    # lookup by the parent, and GET lookup-self works too
    other = client.auth.token.lookup(token)["data"]
    assert other["id"] == token and other["accessor"] == auth["accessor"]
    r = server.get("auth/token/lookup-self", token=token)
    assert assert_json(r, 200)["data"]["id"] == token

    renewed = client.auth.token.renew(token, increment="2h")["auth"]
    assert renewed["client_token"] == token and renewed["lease_duration"] == 7200
    self_renewed = server.client(token).auth.token.renew_self(increment=60)["auth"]
    assert self_renewed["lease_duration"] == 60
    assert 50 <= client.auth.token.lookup(token)["data"]["ttl"] <= 60
    assert client.auth.token.lookup(token)["data"]["last_renewal_time"] > 0

    client.auth.token.revoke(token)
    with pytest.raises(hvac.exceptions.Forbidden):
        server.client(token).auth.token.lookup_self()
    # Revoking an unknown (or already revoked) token succeeds, as in Vault.
    assert_204(server.post("auth/token/revoke", json={"token": token}))


def test_root_token_lookup(server, client):
    me = client.auth.token.lookup_self()["data"]
    assert me["id"] == server.token and me["policies"] == ["root"]
    assert me["path"] == "auth/token/root" and me["display_name"] == "root"
    assert me["ttl"] == 0 and me["expire_time"] is None and me["orphan"] is True
    # A root-policy token created by root without a TTL never expires.
    auth = client.auth.token.create(policies=["root"])["auth"]
    assert auth["policies"] == ["root"] and auth["lease_duration"] == 0
    assert auth["renewable"] is False
    # Anything else gets the 768h default.
    assert client.auth.token.create(policies=["dev"])["auth"]["lease_duration"] == 768 * 3600


def test_self_revoke_and_default_display_name(server, client):
    # hvac sends display_name="token" by default, which Vault stores as token-token.
    auth = client.auth.token.create(policies=["dev"])["auth"]
    c = server.client(auth["client_token"])
    assert c.auth.token.lookup_self()["data"]["display_name"] == "token-token"
    raw = assert_json(server.post("auth/token/create", json={"policies": "dev"}), 200)
    assert server.client(raw["auth"]["client_token"]).auth.token.lookup_self()[
        "data"]["display_name"] == "token"
    c.auth.token.revoke_self()
    assert_errors(server.get("auth/token/lookup-self", token=auth["client_token"]),
                  403, "permission denied")


# --- trees, orphans, accessors ---------------------------------------------------------


def test_children_are_revoked_with_their_parent(server, client):
    parent = client.auth.token.create(policies=["root"], ttl="1h")["auth"]["client_token"]
    pc = server.client(parent)
    child = pc.auth.token.create(policies=["dev"])["auth"]
    assert child["orphan"] is False
    orphan = pc.auth.token.create_orphan(policies=["dev"])["auth"]
    assert orphan["orphan"] is True
    assert client.auth.token.lookup(orphan["client_token"])["data"]["orphan"] is True
    client.auth.token.revoke(parent)
    for t in (parent, child["client_token"]):
        assert_errors(server.get("auth/token/lookup-self", token=t), 403)
    # The orphan survives its creator.
    assert server.client(orphan["client_token"]).auth.token.lookup_self()["data"]["orphan"]


def test_revoke_orphan_keeps_children(server, client):
    parent = client.auth.token.create(policies=["root"], ttl="1h")["auth"]["client_token"]
    child = server.client(parent).auth.token.create(policies=["dev"])["auth"]["client_token"]
    assert_204(server.post("auth/token/revoke-orphan", json={"token": parent}))
    assert_errors(server.get("auth/token/lookup-self", token=parent), 403)
    me = server.client(child).auth.token.lookup_self()["data"]
    assert me["orphan"] is True, "the child was re-parented to nobody"
    # revoke-orphan is sudo: a plain token may not call it.
    assert_errors(server.post("auth/token/revoke-orphan", json={"token": child},
                              token=child), 403)


def test_accessor_lookup_revoke_and_list(server, client):
    auth = client.auth.token.create(policies=["dev"], ttl="10m", display_name="acc")["auth"]
    acc = auth["accessor"]
    data = client.auth.token.lookup_accessor(acc)["data"]
    assert data["accessor"] == acc and data["id"] == "", "an accessor never reveals the id"
    assert data["display_name"] == "token-acc" and data["policies"] == ["default", "dev"]
    keys = client.auth.token.list_accessors()["data"]["keys"]
    assert acc in keys
    client.auth.token.revoke_accessor(acc)
    assert_errors(server.get("auth/token/lookup-self", token=auth["client_token"]), 403)
    assert_errors(server.post("auth/token/lookup-accessor", json={"accessor": acc}),
                  400, "invalid accessor")
    assert acc not in client.auth.token.list_accessors()["data"]["keys"]


# --- use limits and expiry -------------------------------------------------------------


def test_num_uses_two_then_forbidden(server, client):
    auth = client.auth.token.create(policies=["dev"], num_uses=2)["auth"]
    assert auth["num_uses"] == 2
    t = auth["client_token"]
    first = server.get("auth/token/lookup-self", token=t)
    assert assert_json(first, 200)["data"]["num_uses"] == 1
    assert server.get("auth/token/lookup-self", token=t).status_code == 200
    assert_errors(server.get("auth/token/lookup-self", token=t), 403, "permission denied")
    # and it is revoked for good (its accessor is gone once the worker ran)
    wait_until(lambda: server.post("auth/token/lookup-accessor",
                                   json={"accessor": auth["accessor"]}).status_code == 400,
               what="the used-up token to be revoked", server=server)


def test_expired_token_is_rejected_at_once(server, client):
    auth = client.auth.token.create(policies=["dev"], ttl="1s")["auth"]
    assert auth["lease_duration"] == 1
    t = auth["client_token"]
    assert server.get("auth/token/lookup-self", token=t).status_code == 200
    time.sleep(1.3)
    assert_errors(server.get("auth/token/lookup-self", token=t), 403, "permission denied")


def test_expiry_revokes_the_tokens_leases(make_server, aws, tmp_path):
    from test_aws import iam_role, mount_aws

    s = make_server()
    c = s.client()
    m = mount_aws(s, aws)
    iam_role(s, m, "web")
    auth = c.auth.token.create(policies=["root"], ttl="3s", display_name="alice")["auth"]
    t = auth["client_token"]
    creds = s.client(t).read(f"{m}/creds/web")
    lease_id = creds["lease_id"]
    user = aws.user_of_key(creds["data"]["access_key"])
    # The display name reaches the engine's default username template.
    assert user and user.startswith("vault-token-alice-web-"), user
    assert aws.user_exists(user)
    # A lease created by a token that outlives it is not touched.
    keeper = c.read(f"{m}/creds/web")
    keeper_user = aws.user_of_key(keeper["data"]["access_key"])

    wait_until(lambda: s.get("auth/token/lookup-self", token=t).status_code == 403,
               timeout=10, what="the token to expire", server=s)
    aws.wait_user_gone(user, timeout=30, what="after its token expired")
    r = s.put("sys/leases/lookup", json={"lease_id": lease_id})
    assert_errors(r, 400, "invalid lease")
    assert aws.user_exists(keeper_user)


def test_revoking_a_token_revokes_its_leases(make_server, aws):
    from test_aws import iam_role, mount_aws

    s = make_server()
    c = s.client()
    m = mount_aws(s, aws)
    iam_role(s, m, "web")
    t = c.auth.token.create(policies=["root"], ttl="1h")["auth"]["client_token"]
    child = s.client(t).auth.token.create(policies=["root"])["auth"]["client_token"]
    creds = s.client(child).read(f"{m}/creds/web")
    user = aws.user_of_key(creds["data"]["access_key"])
    c.auth.token.revoke(t)  # the parent: the child and the child's lease go too
    aws.wait_user_gone(user, timeout=30, what="after its token's parent was revoked")


# --- persistence ---------------------------------------------------------------------


def test_tokens_survive_restart(make_server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    s = make_server(f"-dev-storage={data}")
    c = s.client()
    parent = c.auth.token.create(policies=["root"], ttl="1h", display_name="p")["auth"]
    child = s.client(parent["client_token"]).auth.token.create(
        policies=["dev"], ttl="30m", meta={"k": "v"})["auth"]
    s.restart()
    c = s.client()
    assert c.auth.token.lookup_self()["data"]["policies"] == ["root"], "root token kept"
    got = s.client(child["client_token"]).auth.token.lookup_self()["data"]
    assert got["accessor"] == child["accessor"] and got["meta"] == {"k": "v"}
    assert got["policies"] == ["default", "dev"] and 0 < got["ttl"] <= 1800
    assert c.auth.token.lookup_accessor(parent["accessor"])["data"]["display_name"] == "token-p"
    # the tree survived too
    c.auth.token.revoke(parent["client_token"])
    assert_errors(s.get("auth/token/lookup-self", token=child["client_token"]), 403)
    s.restart()
    assert_errors(s.get("auth/token/lookup-self", token=child["client_token"]), 403)


# --- Vault's errors --------------------------------------------------------------------


def test_bad_input_gives_vaults_errors(server, client):
    # unknown token: Vault answers 403 "bad token" (hvac: Forbidden)
    assert_errors(server.post("auth/token/lookup", json={"token": "hvs.nope"}),
                  403, "bad token")
    with pytest.raises(hvac.exceptions.Forbidden):
        client.auth.token.lookup("hvs.nope")
    # a bad token on any request
    assert_errors(server.get("auth/token/lookup-self", token="hvs.nope"), 403,
                  "permission denied")
    assert_errors(server.get("auth/token/lookup-self", token=None), 403)
    # renew of a non-renewable token
    fixed = client.auth.token.create(policies=["dev"], renewable=False)["auth"]
    assert fixed["renewable"] is False
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        client.auth.token.renew(fixed["client_token"])
    assert "not renewable" in str(e.value)
    assert_errors(server.post("auth/token/renew", json={"token": "hvs.nope"}), 400)
    # unknown accessor
    assert_errors(server.post("auth/token/lookup-accessor", json={"accessor": "x" * 24}),
                  400, "invalid accessor")
    # malformed parameters
    assert_errors(server.post("auth/token/create", json={"ttl": "soon"}), 400, "ttl")
    assert_errors(server.post("auth/token/create", json={"num_uses": -1}), 400, "negative")
    # wrong method / unknown path
    assert server.delete("auth/token/create").status_code == 405
    assert server.get("auth/token/nope").status_code == 404


def test_child_policies_must_be_subset(server, client):
    name = unique("creator")
    write_policy(client, name, """
path "auth/token/create" { capabilities = ["create", "update"] }
path "auth/token/create-orphan" { capabilities = ["create", "update"] }
""")
    parent = client.auth.token.create(policies=[name, "dev"])["auth"]["client_token"]
    pc = server.client(parent)
    with pytest.raises(hvac.exceptions.InvalidRequest) as e:
        pc.auth.token.create(policies=["admin"])
    assert "child policies must be subset of parent" in str(e.value)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        pc.auth.token.create(policies=["root"])
    ok_child = pc.auth.token.create(policies=["dev"])["auth"]
    assert ok_child["policies"] == ["default", "dev"]
    inherit = pc.auth.token.create(no_default_policy=True)["auth"]
    assert inherit["policies"] == sorted([name, "dev"])
    # Only root may choose an id or make an orphan through no_parent.
    assert_errors(server.post("auth/token/create", json={"id": "mine"}, token=parent),
                  400, "root or sudo")
    assert_errors(server.post("auth/token/create", json={"no_parent": True}, token=parent),
                  400, "root or sudo")
    # Root may choose the id.
    custom = unique("custom-id")
    assert client.auth.token.create(id=custom, policies=["dev"])["auth"]["client_token"] == custom
    assert_errors(server.post("auth/token/create", json={"id": custom}), 400, "duplicate")


# --- CLI ---------------------------------------------------------------------------


def test_cli_token_create_lookup_renew_revoke(server, cli):
    out = ok(cli("token", "create", "-policy=dev", "-policy=ops", "-ttl=1h",
                 "-display-name=bob", "-metadata=team=x"))
    rows = parse_table(out)
    assert re.fullmatch(TOKEN_RE, rows["token"]), out
    assert len(rows["token_accessor"]) == 24
    assert rows["token_duration"] == "1h"
    assert rows["token_renewable"] == "true"
    assert rows["token_policies"] == '["default" "dev" "ops"]'
    assert rows["identity_policies"] == "[]"
    assert rows["policies"] == '["default" "dev" "ops"]'
    assert rows["token_meta_team"] == "x"
    lines = out.splitlines()
    assert lines[0].split() == ["Key", "Value"] and lines[1].split() == ["---", "-----"]
    token = rows["token"]

    root_tok = ok(cli("token", "create", "-policy=root", "-field=token"))
    assert re.fullmatch(TOKEN_RE, root_tok.strip())
    assert "∞" in ok(cli("token", "create", "-policy=root"))

    look = parse_table(ok(cli("token", "lookup", token)))
    assert look["display_name"] == "token-bob" and look["id"] == token
    by_acc = parse_table(ok(cli("token", "lookup", "-accessor", rows["token_accessor"])))
    assert by_acc["display_name"] == "token-bob"
    self_look = json.loads(ok(cli("token", "lookup", "-format=json", token=token)))
    assert self_look["data"]["id"] == token

    renewed = parse_table(ok(cli("token", "renew", "-increment=2h", token)))
    assert renewed["token_duration"] == "2h"

    ok(cli("token", "revoke", token), out_has=["Success! Revoked token (if it existed)"])
    code, _, err = cli("token", "lookup", token)
    assert code == 2 and "bad token" in err, err

    other = ok(cli("token", "create", "-field=token", "-policy=dev")).strip()
    ok(cli("token", "revoke", "-self", token=other),
       out_has=["Success! Revoked token (if it existed)"])
    code, _, err = cli("token", "revoke", "-self", "x")
    assert code == 1 and "Too many arguments" in err
    orphan = json.loads(ok(cli("token", "create", "-format=json", "-orphan", "-policy=dev")))
    assert orphan["auth"]["orphan"] is True
    acc = orphan["auth"]["accessor"]
    ok(cli("token", "revoke", "-accessor", acc), out_has=["Success! Revoked token"])
    code, _, err = cli("token", "create", "-policy=dev", "-use-limit=1", "-ttl=bogus")
    assert code == 2 and "ttl" in err, err
