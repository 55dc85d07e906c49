"""The AWS secrets engine against moto (IAM/STS), through the CLI, hvac and raw HTTP,
checked from the AWS side with boto3 (vault-spec §2.2, §3.3, §4, §5, §8).

Every test gets a freshly reset moto with an admin user and moto's auth enforcement
on (`aws` fixture, conftest.AwsAccount): a generated key works only while its IAM
user exists, so "revoked" is checked both as "user gone" and "key rejected".

Servers share one compiled-engine cache (`-cache-dir`) so a new server mounts `aws`
in milliseconds instead of recompiling the engine.
"""

from __future__ import annotations

import json
import os
import re
import time

import hvac
import pytest
import requests

from conftest import (
    Cli,
    Server,
    TcpProxy,
    assert_204,
    assert_envelope,
    assert_errors,
    assert_json,
    ok,
    parse_table,
    unique,
)

LEASE_SUFFIX = r"[A-Za-z0-9]{24}"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["iam:GetUser", "sts:GetCallerIdentity"], "Resource": "*"}
    ],
}
POLICY_TEXT = json.dumps(POLICY, indent=2)
MISSING_POLICY_ARN = "arn:aws:iam::123456789012:policy/DoesNotExist"


# --- fixtures and helpers ----------------------------------------------------------


@pytest.fixture(scope="session")
def engine_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("coffer-engine-cache")


@pytest.fixture
def mk(make_server, engine_cache):
    """make_server with the shared compiled-engine cache."""

    def make(*flags, **kw):
        return make_server(f"-cache-dir={engine_cache}", *flags, **kw)

    return make


@pytest.fixture(scope="module")
def srv(engine_cache):
    """One server for the tests that only need their own mount."""
    s = Server(f"-cache-dir={engine_cache}").start()
    try:
        yield s
    finally:
        s.stop()


def mount_aws(server, aws, path=None, endpoint=None, lease=None, max_retries=None) -> str:
    """Enables an aws mount (unique path unless given) configured for `aws`.
    max_retries=0 makes calls to a dead upstream fail at once (the SDK default
    retries 3 times with up to 5 s of backoff)."""
    path = path or unique("aws")
    c = server.client()
    c.sys.enable_secrets_engine("aws", path=path)
    cfg = aws.root_config(endpoint)
    c.secrets.aws.configure_root_iam_credentials(
        cfg["access_key"], cfg["secret_key"], region=cfg["region"],
        iam_endpoint=cfg["iam_endpoint"], sts_endpoint=cfg["sts_endpoint"],
        max_retries=max_retries, mount_point=path,
    )
    if lease:
        c.secrets.aws.configure_lease(lease[0], lease[1], mount_point=path)
    return path


def iam_role(server, mount, name="web", **extra):
    body = {"credential_type": "iam_user", "policy_document": json.dumps(POLICY)}
    body.update(extra)
    r = server.post(f"{mount}/roles/{name}", json=body)
    assert r.status_code in (200, 204), f"role {name}: {r.status_code} {r.text}"
    return name


def issue(server, mount, role="web") -> dict:
    """GET creds; returns the envelope."""
    body = assert_envelope(assert_json(server.get(f"{mount}/creds/{role}"), 200))
    assert body["lease_id"].startswith(f"{mount}/creds/{role}/"), body
    return body


def lookup(server, lease_id) -> requests.Response:
    return server.put("sys/leases/lookup", json={"lease_id": lease_id})


def wait_lease_gone(server, lease_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        r = lookup(server, lease_id)
        if r.status_code == 400 and "invalid lease" in r.text:
            return
        assert r.status_code == 200, f"lookup {lease_id}: {r.status_code} {r.text}"
        if time.monotonic() > deadline:
            pytest.fail(f"lease {lease_id} still present after {timeout}s: {r.text}\n"
                        + server.output(), pytrace=False)
        time.sleep(0.25)


def users_with_prefix(aws, prefix) -> list[str]:
    return sorted(u for u in aws.users() if u.startswith(prefix))


# --- the Dynamic Secrets walk-through, through the CLI -----------------------------


def test_cli_walkthrough(mk, aws, tmp_path):
    s = mk()
    cli = Cli(s)
    ok(cli("secrets", "enable", "-path=aws", "aws"),
       out_has=["Success! Enabled the aws secrets engine at: aws/"])
    cfg = aws.root_config()
    ok(cli("write", "aws/config/root", *(f"{k}={v}" for k, v in cfg.items())),
       out_has=["Success! Data written to: aws/config/root"])
    # the policy from stdin, as the guide's heredoc does
    ok(cli("write", "aws/roles/my-role", "credential_type=iam_user", "policy_document=-",
           input=POLICY_TEXT),
       out_has=["Success! Data written to: aws/roles/my-role"])
    # ... and from a file
    pfile = tmp_path / "policy.json"
    pfile.write_text(POLICY_TEXT)
    ok(cli("write", "aws/roles/file-role", "credential_type=iam_user",
           f"policy_document=@{pfile}"),
       out_has=["Success! Data written to: aws/roles/file-role"])
    for role in ("my-role", "file-role"):
        got = json.loads(s.client().secrets.aws.read_role(role)["data"]["policy_document"])
        assert got == POLICY, got

    out = ok(cli("read", "aws/creds/my-role"))
    lines = out.splitlines()
    assert re.match(r"Key\s+Value$", lines[0]) and re.match(r"---\s+-----$", lines[1]), out
    assert [l.split()[0] for l in lines[2:] if l.strip()] == [
        "lease_id", "lease_duration", "lease_renewable",
        "access_key", "secret_key", "security_token", "session_token",
    ], out
    rows = parse_table(out)
    lease_id = rows["lease_id"]
    assert re.fullmatch(rf"aws/creds/my-role/{LEASE_SUFFIX}", lease_id), out
    assert rows["lease_duration"] == "768h", out
    assert rows["lease_renewable"] == "true", out
    assert rows["security_token"] == "<nil>" and rows["session_token"] == "<nil>", out
    ak, sk = rows["access_key"], rows["secret_key"]
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", ak), out
    assert len(sk) == 40, out

    # the IAM user exists, named as Vault names it, with the role's inline policy
    user = aws.user_of_key(ak)
    assert user, f"no IAM user owns {ak}: {aws.users()}"
    assert re.fullmatch(r"vault-root-my-role-\d{10}-[A-Za-z0-9]{20}", user), user
    assert aws.iam.list_user_policies(UserName=user)["PolicyNames"] == ["my-role"]
    doc = aws.iam.get_user_policy(UserName=user, PolicyName="my-role")["PolicyDocument"]
    assert (json.loads(doc) if isinstance(doc, str) else doc) == POLICY
    # the generated key authenticates (moto enforces auth) and the policy applies
    assert aws.key_works(ak, sk)
    me = aws.moto.client("iam", ak, sk).get_user()["User"]["UserName"]
    assert me == user

    # lease lookup through the CLI
    out = ok(cli("lease", "lookup", lease_id))
    rows = parse_table(out)
    assert set(rows) >= {"expire_time", "id", "issue_time", "last_renewal", "renewable", "ttl"}, out
    assert rows["id"] == lease_id and rows["renewable"] == "true", out

    # revoke -sync: gone when the command returns
    ok(cli("lease", "revoke", "-sync", lease_id),
       out_has=[f"Success! Revoked lease: {lease_id}"])
    assert not aws.user_exists(user), f"{user} still exists after lease revoke -sync"
    assert not aws.key_works(ak, sk), "revoked key still authenticates"
    assert_errors(lookup(s, lease_id), 400, "invalid lease")

    # plain revoke: queued, done in the background
    out = ok(cli("read", "-format=json", "aws/creds/my-role"))
    sec = json.loads(out)
    lease2, ak2, sk2 = sec["lease_id"], sec["data"]["access_key"], sec["data"]["secret_key"]
    user2 = aws.user_of_key(ak2)
    assert user2 and user2 != user
    assert aws.key_works(ak2, sk2)
    ok(cli("lease", "revoke", lease2), out_has=["All revocation operations queued successfully!"])
    aws.wait_user_gone(user2, timeout=20, what="after a queued lease revoke")
    assert not aws.key_works(ak2, sk2)
    wait_lease_gone(s, lease2, timeout=10)

    # revoke -prefix (sync) takes every lease of the role
    a = json.loads(ok(cli("read", "-format=json", "aws/creds/file-role")))
    b = json.loads(ok(cli("read", "-format=json", "aws/creds/file-role")))
    ua, ub = aws.user_of_key(a["data"]["access_key"]), aws.user_of_key(b["data"]["access_key"])
    assert ua and ub and ua != ub
    ok(cli("lease", "revoke", "-prefix", "-sync", "aws/creds/file-role"),
       out_has=["Success! Revoked any leases with prefix: aws/creds/file-role"])
    assert not aws.user_exists(ua) and not aws.user_exists(ub)
    assert aws.users() == set(), aws.users()


# --- hvac ---------------------------------------------------------------------------------


def test_hvac_config_roles_and_iam_user_leases(srv, aws):
    c = srv.client()
    m = mount_aws(srv, aws)
    cfg = c.read(f"{m}/config/root")["data"]
    assert cfg["access_key"] == aws.access_key and "secret_key" not in cfg, cfg
    assert cfg["iam_endpoint"] == aws.endpoint and cfg["region"] == "us-east-1", cfg

    with pytest.raises(hvac.exceptions.InvalidPath):
        c.secrets.aws.read_lease_config(mount_point=m)
    c.secrets.aws.configure_lease("30m", "12h", mount_point=m)
    assert c.secrets.aws.read_lease_config(mount_point=m)["data"] == {
        "lease": "30m0s", "lease_max": "12h0m0s"}

    # roles
    c.secrets.aws.create_or_update_role("web", "iam_user", policy_document=POLICY, mount_point=m)
    c.secrets.aws.create_or_update_role("tmp", "iam_user", policy_document=POLICY, mount_point=m)
    role = c.secrets.aws.read_role("web", mount_point=m)["data"]
    assert role["credential_type"] == "iam_user", role
    assert role["policy_document"] == json.dumps(POLICY, separators=(",", ":"),
                                                 sort_keys=True), role
    assert sorted(c.secrets.aws.list_roles(mount_point=m)["data"]["keys"]) == ["tmp", "web"]
    c.secrets.aws.delete_role("tmp", mount_point=m)
    assert c.secrets.aws.list_roles(mount_point=m)["data"]["keys"] == ["web"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.secrets.aws.read_role("tmp", mount_point=m)

    # credentials with the configured lease
    sec = c.secrets.aws.generate_credentials("web", mount_point=m)
    lease_id = sec["lease_id"]
    assert re.fullmatch(rf"{m}/creds/web/{LEASE_SUFFIX}", lease_id), sec
    assert sec["renewable"] is True and sec["lease_duration"] == 1800, sec
    assert sec["data"]["security_token"] is None and sec["data"]["session_token"] is None
    assert sec["mount_type"] == "aws", sec
    ak, sk = sec["data"]["access_key"], sec["data"]["secret_key"]
    user = aws.user_of_key(ak)
    assert user and aws.key_works(ak, sk)

    info = c.sys.read_lease(lease_id)["data"]
    assert info["id"] == lease_id and info["renewable"] is True, info
    assert 1790 <= info["ttl"] <= 1800, info
    assert info["last_renewal"] is None and info["expire_time"] and info["issue_time"], info

    assert c.sys.list_leases(m)["data"]["keys"] == ["creds/"]
    assert c.sys.list_leases(f"{m}/creds/web")["data"]["keys"] == [lease_id.rsplit("/", 1)[1]]

    renewed = c.sys.renew_lease(lease_id, increment=600)
    assert renewed["lease_id"] == lease_id and renewed["lease_duration"] == 600, renewed
    assert renewed["renewable"] is True, renewed
    info = c.sys.read_lease(lease_id)["data"]
    assert info["last_renewal"] is not None and 590 <= info["ttl"] <= 600, info
    assert aws.key_works(ak, sk), "renewing must not touch the key"

    # revoke (sync by default) -> 204, user gone
    r = c.sys.revoke_lease(lease_id)
    assert r.status_code == 204, r
    assert not aws.user_exists(user) and not aws.key_works(ak, sk)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid lease"):
        c.sys.read_lease(lease_id)

    # revoke_prefix: all leases under the role
    secs = [c.secrets.aws.generate_credentials("web", mount_point=m) for _ in range(3)]
    users = [aws.user_of_key(x["data"]["access_key"]) for x in secs]
    assert all(users) and len(set(users)) == 3
    assert len(c.sys.list_leases(f"{m}/creds/web")["data"]["keys"]) == 3
    r = c.sys.revoke_prefix(f"{m}/creds/web")
    assert r.status_code == 204, r
    assert not any(aws.user_exists(u) for u in users)
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.sys.list_leases(f"{m}/creds/web")

    # the CLI's async revoke: 202
    x = c.secrets.aws.generate_credentials("web", mount_point=m)
    ux = aws.user_of_key(x["data"]["access_key"])
    r = srv.put(f"sys/leases/revoke/{x['lease_id']}", json={"sync": False})
    assert r.status_code == 202, r.text
    aws.wait_user_gone(ux, timeout=20, what="after sync=false revoke")

    # the legacy un-prefixed paths
    y = c.secrets.aws.generate_credentials("web", mount_point=m)
    uy = aws.user_of_key(y["data"]["access_key"])
    body = assert_json(srv.put("sys/renew", json={"lease_id": y["lease_id"], "increment": 60}), 200)
    assert body["lease_duration"] == 60, body
    assert_204(srv.put(f"sys/revoke/{y['lease_id']}"))
    assert not aws.user_exists(uy)
    z = c.secrets.aws.generate_credentials("web", mount_point=m)
    uz = aws.user_of_key(z["data"]["access_key"])
    assert_204(srv.put(f"sys/revoke-prefix/{m}/creds"))
    assert not aws.user_exists(uz)
    assert aws.users() == set(), aws.users()


def test_hvac_revoke_force_when_upstream_refuses(srv, aws):
    """revoke-prefix stops at the engine's failure and keeps the lease; revoke-force
    deletes the lease anyway (and the IAM user is left behind)."""
    c = srv.client()
    m = mount_aws(srv, aws)
    c.secrets.aws.create_or_update_role("web", "iam_user", policy_document=POLICY, mount_point=m)
    sec = c.secrets.aws.generate_credentials("web", mount_point=m)
    user = aws.user_of_key(sec["data"]["access_key"])
    # break the engine's credentials (moto enforces auth: InvalidClientTokenId)
    c.secrets.aws.configure_root_iam_credentials(
        "AKIAIOSFODNN7EXAMPLE", "wrong", region="us-east-1",
        iam_endpoint=aws.endpoint, sts_endpoint=aws.endpoint, mount_point=m)
    r = srv.put(f"sys/leases/revoke-prefix/{m}/creds/web")
    assert_errors(r, 400, "failed to revoke")
    assert c.sys.read_lease(sec["lease_id"])["data"]["id"] == sec["lease_id"]
    r = srv.put("sys/leases/revoke", json={"lease_id": sec["lease_id"]})
    assert_errors(r, 400, "failed to revoke")
    assert aws.user_exists(user)

    r = c.sys.revoke_force(f"{m}/creds/web")
    assert r.status_code == 204, r
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid lease"):
        c.sys.read_lease(sec["lease_id"])
    assert aws.user_exists(user), "revoke-force cannot have deleted the user with a bad key"


def test_revoke_of_young_lease_whose_user_vanished_fails(srv, aws):
    """NoSuchEntity for a lease younger than 5 minutes is an error (IAM's eventual
    consistency could be hiding a fresh user), as in Vault §4.7: the lease stays
    until revoke-force."""
    c = srv.client()
    m = mount_aws(srv, aws)
    iam_role(srv, m)
    sec = issue(srv, m)
    user = aws.user_of_key(sec["data"]["access_key"])
    # someone deletes the user behind the server's back
    aws.iam.delete_access_key(UserName=user, AccessKeyId=sec["data"]["access_key"])
    aws.iam.delete_user_policy(UserName=user, PolicyName="web")
    aws.iam.delete_user(UserName=user)
    assert_errors(srv.put("sys/leases/revoke", json={"lease_id": sec["lease_id"]}), 400,
                  "failed to revoke")
    assert c.sys.read_lease(sec["lease_id"])["data"]["id"] == sec["lease_id"]
    assert c.sys.revoke_force(sec["lease_id"]).status_code == 204
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid lease"):
        c.sys.read_lease(sec["lease_id"])


def test_hvac_sts_credentials(srv, aws):
    c = srv.client()
    m = mount_aws(srv, aws)
    role_arn = "arn:aws:iam::123456789012:role/coffer-test"
    c.secrets.aws.create_or_update_role("assumed", "assumed_role", role_arns=[role_arn],
                                        mount_point=m)
    c.secrets.aws.create_or_update_role("fed", "federation_token", policy_document=POLICY,
                                        mount_point=m)
    r = srv.post(f"{m}/roles/session", json={"credential_type": "session_token"})
    assert r.status_code in (200, 204), r.text
    role = c.secrets.aws.read_role("assumed", mount_point=m)["data"]
    assert role["credential_type"] == "assumed_role" and role["role_arns"] == [role_arn], role

    for name in ("assumed", "fed", "session"):
        sec = c.secrets.aws.generate_credentials(name, endpoint="sts", ttl="900s", mount_point=m)
        assert re.fullmatch(rf"{m}/sts/{name}/{LEASE_SUFFIX}", sec["lease_id"]), sec
        assert sec["renewable"] is False, sec
        assert 880 <= sec["lease_duration"] <= 900, sec
        d = sec["data"]
        assert d["access_key"] and d["secret_key"], d
        assert d["security_token"] and d["session_token"] == d["security_token"], d
        assert 880 <= d["ttl"] <= 900, d
        if name == "assumed":
            assert d["arn"].startswith("arn:aws:sts::123456789012:assumed-role/coffer-test/"), d
        # STS leases are not renewable
        with pytest.raises(hvac.exceptions.InvalidRequest, match="not renewable"):
            c.sys.renew_lease(sec["lease_id"], increment=60)
        assert c.sys.read_lease(sec["lease_id"])["data"]["renewable"] is False
        # revoking is a no-op upstream but deletes the lease
        assert c.sys.revoke_lease(sec["lease_id"]).status_code == 204
        with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid lease"):
            c.sys.read_lease(sec["lease_id"])

    # creds/ and sts/ are interchangeable for current roles: GET creds gives STS creds
    sec = c.secrets.aws.generate_credentials("assumed", mount_point=m)
    assert sec["lease_id"].startswith(f"{m}/creds/assumed/") and sec["renewable"] is False
    assert sec["data"]["session_token"], sec
    # ... and no IAM user was ever created
    assert aws.users() == set(), aws.users()


# --- expiry and renewal -----------------------------------------------------------------


def test_lease_expiry_deletes_user(srv, aws):
    c = srv.client()
    m = mount_aws(srv, aws, lease=("5s", "1m"))
    iam_role(srv, m)
    sec = issue(srv, m)
    assert sec["lease_duration"] == 5, sec
    ak, sk = sec["data"]["access_key"], sec["data"]["secret_key"]
    user = aws.user_of_key(ak)
    assert user and aws.key_works(ak, sk)
    took = aws.wait_user_gone(user, timeout=30, what="after its 5s lease expired")
    assert took > 2, f"user deleted after {took:.1f}s, before its 5s lease expired"
    assert not aws.key_works(ak, sk)
    wait_lease_gone(srv, sec["lease_id"], timeout=5)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid lease"):
        c.sys.read_lease(sec["lease_id"])


def test_renew_is_capped_by_max_ttl(srv, aws):
    c = srv.client()
    m = mount_aws(srv, aws, lease=("4s", "10s"))
    iam_role(srv, m)
    t0 = time.monotonic()
    sec = issue(srv, m)
    assert sec["lease_duration"] == 4, sec
    lease_id = sec["lease_id"]

    # no increment: the engine's TTL again
    r = c.sys.renew_lease(lease_id)
    assert r["lease_duration"] == 4 and not r["warnings"], r
    # within max: granted as asked
    r = c.sys.renew_lease(lease_id, increment=7)
    assert 6 <= r["lease_duration"] <= 7 and not r["warnings"], r
    # beyond max: capped to what remains of the 10s, with Vault's warning
    r = c.sys.renew_lease(lease_id, increment=3600)
    left = 10 - (time.monotonic() - t0)
    assert left - 2 <= r["lease_duration"] <= 10, (r, left)
    assert r["warnings"] and "max_ttl" in r["warnings"][0], r
    info = c.sys.read_lease(lease_id)["data"]
    assert info["ttl"] <= 10, info

    # the CLI shows the renewed lease and the warning
    cli = Cli(srv)
    code, out, err = cli("lease", "renew", "-increment=1h", lease_id)
    assert code == 0, (out, err)
    rows = parse_table(out)
    assert rows["lease_id"] == lease_id and rows["lease_renewable"] == "true", out
    assert "WARNING!" in err and "max_ttl" in err, err

    # renewals never push expiry past issue + max: the user goes at ~10s
    user = aws.user_of_key(sec["data"]["access_key"])
    aws.wait_user_gone(user, timeout=30, what="after its lease reached max TTL")
    assert time.monotonic() - t0 >= 8
    # and once expired, the lease is gone: renewing it is refused
    wait_lease_gone(srv, lease_id, timeout=5)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        c.sys.renew_lease(lease_id, increment=60)


def test_sts_leases_refuse_renewal_raw(srv, aws):
    m = mount_aws(srv, aws)
    r = srv.post(f"{m}/roles/fed", json={"credential_type": "federation_token",
                                         "policy_document": json.dumps(POLICY)})
    assert r.status_code in (200, 204), r.text
    sec = assert_json(srv.post(f"{m}/sts/fed", json={"ttl": "15m"}), 200)
    assert sec["renewable"] is False
    assert_errors(srv.put("sys/leases/renew", json={"lease_id": sec["lease_id"]}), 400,
                  "not renewable")


# --- rollback of a half-made user ------------------------------------------------------------


def test_failed_issue_leaves_wal_and_rollback_deletes_user(mk, aws, tmp_path):
    """CreateUser succeeds, AttachUserPolicy (Vault's next step) fails: 400, and the
    half-made user stays (its WAL entry is younger than Vault's 5-minute
    WALRollbackMinAge, so the periodic rollback must leave it alone).

    The rollback itself needs the WAL entry to be 5 minutes old: the test restarts the
    same (-dev-storage) server with its engine clock ten minutes ahead
    (-dev-clock-offset=10m), and the periodic rollback must then delete the user."""
    data = tmp_path / "data"
    data.mkdir()
    s = mk(f"-dev-storage={data}", "-periodic-interval=1s")
    m = mount_aws(s, aws, path="aws")
    iam_role(s, m, "broken", policy_arns=[MISSING_POLICY_ARN])
    r = s.get(f"{m}/creds/broken")
    assert_errors(r, 400, "Error attaching user policy")
    half = users_with_prefix(aws, "vault-root-broken-")
    assert len(half) == 1, f"expected the half-made user in moto, got {aws.users()}"
    user = half[0]
    # Vault's order: AttachUserPolicy comes before PutUserPolicy and CreateAccessKey
    assert aws.iam.list_user_policies(UserName=user)["PolicyNames"] == []
    assert aws.iam.list_access_keys(UserName=user)["AccessKeyMetadata"] == []
    assert s.list("sys/leases/lookup/aws/creds/").status_code == 404, "no lease for a failure"
    # a few periodic runs: the young WAL entry is not rolled back yet (as in Vault)
    time.sleep(3)
    assert aws.user_exists(user), "rolled back before WALRollbackMinAge (5 min)"

    s.stop()
    s.flags.append("-dev-clock-offset=10m")
    s.start()
    # no lease was ever created, so only the WAL rollback can delete it
    aws.wait_user_gone(user, timeout=20, what="after the WAL entry aged past 5 minutes")


# --- crash and restart -----------------------------------------------------------------------


def test_kill9_then_revoke_and_expire_after_restart(mk, aws, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    s = mk(f"-dev-storage={data}")
    c = s.client()
    m = mount_aws(s, aws, path="aws")
    iam_role(s, m)
    long_ = issue(s, m)  # 768h
    c.secrets.aws.configure_lease("4s", "1m", mount_point=m)
    short = issue(s, m)
    assert short["lease_duration"] == 4, short
    u_long = aws.user_of_key(long_["data"]["access_key"])
    u_short = aws.user_of_key(short["data"]["access_key"])
    assert u_long and u_short
    issued = time.monotonic()
    s.kill()  # kill -9
    # the short lease expires while the server is down
    time.sleep(max(0.0, 6 - (time.monotonic() - issued)))
    assert aws.user_exists(u_short), "nobody could have deleted it while the server was down"
    s.start()
    aws.wait_user_gone(u_short, timeout=20, what="(lease expired while the server was down)")
    wait_lease_gone(s, short["lease_id"], timeout=5)
    # the long lease survived the crash and can be revoked
    c = s.client()
    assert c.sys.read_lease(long_["lease_id"])["data"]["id"] == long_["lease_id"]
    assert aws.user_exists(u_long)
    assert c.sys.revoke_lease(long_["lease_id"]).status_code == 204
    assert not aws.user_exists(u_long)
    assert not aws.key_works(long_["data"]["access_key"], long_["data"]["secret_key"])


# --- upstream down ----------------------------------------------------------------------------


def test_expired_lease_is_retried_until_upstream_is_back(mk, aws):
    proxy = TcpProxy(aws.moto.port)
    try:
        s = mk("-lease-retry-base=1s")
        m = mount_aws(s, aws, endpoint=proxy.endpoint, lease=("2s", "1m"), max_retries=0)
        iam_role(s, m)
        sec = issue(s, m)
        ak, sk = sec["data"]["access_key"], sec["data"]["secret_key"]
        user = aws.user_of_key(ak)
        assert user
        proxy.close()
        time.sleep(6)  # expiry at 2s, then failed attempts at ~2, ~3, ~5 s
        assert aws.user_exists(user)
        info = assert_json(lookup(s, sec["lease_id"]), 200)["data"]
        assert info["id"] == sec["lease_id"] and info["ttl"] == 0, info
        # while it cannot be revoked, a sync revoke reports the engine's failure
        assert_errors(s.put("sys/leases/revoke", json={"lease_id": sec["lease_id"]}), 400,
                      "failed to revoke")
        proxy.open()
        aws.wait_user_gone(user, timeout=30, what="after the upstream came back")
        wait_lease_gone(s, sec["lease_id"], timeout=5)
        assert not aws.key_works(ak, sk)
        # not irrevocable: it was revoked, nothing is left
        body = assert_json(s.get("sys/leases/count", params={"type": "irrevocable"}), 200)
        assert body["data"]["lease_count"] == 0, body
    finally:
        proxy.close()


def test_lease_becomes_irrevocable_when_retries_run_out(mk, aws):
    """Six failed attempts (-lease-retry-base=100ms: about a second apart, the lease
    manager schedules in whole seconds) make the lease irrevocable:
    listed and counted, not renewable; once the upstream is back, a sync revoke
    still works."""
    proxy = TcpProxy(aws.moto.port)
    try:
        s = mk("-lease-retry-base=100ms")
        m = mount_aws(s, aws, endpoint=proxy.endpoint, lease=("1s", "1m"), max_retries=0)
        iam_role(s, m)
        sec = issue(s, m)
        lease_id = sec["lease_id"]
        user = aws.user_of_key(sec["data"]["access_key"])
        assert user
        proxy.close()
        deadline = time.monotonic() + 30
        while True:
            body = assert_json(s.get("sys/leases/count", params={"type": "irrevocable"}), 200)
            if body["data"]["lease_count"] == 1:
                break
            assert time.monotonic() < deadline, f"not irrevocable after 30s: {body}\n{s.output()}"
            time.sleep(0.25)
        assert body["data"]["counts"] == {f"{m}/": 1}, body
        listed = assert_json(s.get("sys/leases", params={"type": "irrevocable"}), 200)["data"]
        assert [x["lease_id"] for x in listed["leases"]] == [lease_id], listed
        assert listed["leases"][0]["error"], listed
        info = assert_json(lookup(s, lease_id), 200)["data"]
        assert info["renewable"] is False, info
        assert_errors(s.put("sys/leases/renew", json={"lease_id": lease_id}), 400)
        assert aws.user_exists(user)

        proxy.open()
        assert_204(s.put("sys/leases/revoke", json={"lease_id": lease_id}))
        assert not aws.user_exists(user)
        body = assert_json(s.get("sys/leases/count", params={"type": "irrevocable"}), 200)
        assert body["data"]["lease_count"] == 0, body
    finally:
        proxy.close()


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input(srv, aws):
    m = mount_aws(srv, aws)
    assert_errors(srv.get(f"{m}/creds/nope"), 400, 'Role "nope" not found')
    assert_errors(srv.post(f"{m}/sts/nope", json={}), 400, 'Role "nope" not found')
    assert_errors(srv.post(f"{m}/roles/bad", json={"credential_type": "root_user"}), 400)
    assert_errors(srv.post(f"{m}/roles/bad", json={"policy_document": "{}"}), 400,
                  "credential_type")
    assert_errors(srv.post(f"{m}/roles/bad", json={"credential_type": "iam_user",
                                                   "policy_document": "{not json"}), 400,
                  "cannot parse policy document")
    assert_json(srv.get(f"{m}/roles/bad"), 404)
    assert_errors(lookup(srv, f"{m}/creds/web/" + "A" * 24), 400, "invalid lease")
    assert_errors(srv.put("sys/leases/lookup", json={}), 400, "lease_id must be specified")
    assert_204(srv.put("sys/leases/revoke", json={"lease_id": f"{m}/creds/web/nope"}))
    assert_204(srv.put(f"sys/leases/revoke/{m}/creds/web/nope"))
    assert_errors(srv.put("sys/leases/renew", json={"lease_id": f"{m}/creds/web/nope"}), 400)
    assert srv.list(f"sys/leases/lookup/{m}/").status_code == 404
    # CLI: unknown role is an API error (exit 2) with Vault's message
    code, out, err = Cli(srv)("read", f"{m}/creds/nope")
    assert code == 2 and 'Role "nope" not found' in err, (code, out, err)
    assert aws.users() == set()


# --- unmount ----------------------------------------------------------------------------------


def test_disable_mount_revokes_its_leases(srv, aws):
    m = mount_aws(srv, aws)
    iam_role(srv, m)
    secs = [issue(srv, m) for _ in range(2)]
    users = [aws.user_of_key(x["data"]["access_key"]) for x in secs]
    assert all(users)
    ok(Cli(srv)("secrets", "disable", m),
       out_has=[f"Success! Disabled the secrets engine (if it existed) at: {m}/"])
    for u in users:
        assert not aws.user_exists(u), f"{u} still exists after the mount was disabled"
    for x in secs:
        assert_errors(lookup(srv, x["lease_id"]), 400, "invalid lease")
    assert aws.users() == set()


def test_rotate_root_replaces_the_engine_credentials(srv, aws):
    """config/rotate-root: GetUser, CreateAccessKey, store, DeleteAccessKey(old). The old
    key is gone, the engine keeps issuing with the new one, and the secret key is never
    read back."""
    m = mount_aws(srv, aws)
    c = srv.client()
    r = c.secrets.aws.rotate_root_iam_credentials(mount_point=m)
    new_key = r["data"]["access_key"]
    assert new_key and new_key != aws.access_key
    cfg = c.read(f"{m}/config/root")["data"]
    assert cfg["access_key"] == new_key
    assert "secret_key" not in cfg
    # Only the engine knows the new secret: look at moto with its auth checks off.
    aws.moto.reset_auth("inf")
    admin = aws.moto.client("iam")
    keys = [k["AccessKeyId"] for k in
            admin.list_access_keys(UserName=aws.admin_user)["AccessKeyMetadata"]]
    assert keys == [new_key], "the old root key was deleted, the new one is the only key"
    aws.moto.reset_auth("0")
    # the engine still works with the rotated credentials (moto checks them again)
    iam_role(srv, m)
    body = issue(srv, m)
    assert body["data"]["access_key"].startswith("AKIA")
    assert_204(srv.put("sys/leases/revoke", json={"lease_id": body["lease_id"]}))
