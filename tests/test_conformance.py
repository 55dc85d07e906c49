"""The engine conformance suite (tests/conformance.py) run on every engine we ship or
show: kv v1 and v2, aws (against moto), the Python TOTP engine (examples/python-engine)
and the JavaScript password generator (examples/js-engine), plus checks specific to the
two example engines.

The example components are built into target/test-plugins by scripts/test. One server
serves the whole module, with a compiled-code cache in target/test-plugins/cache, so the
Python and JS components (18 and 12 MB) are compiled by Cranelift once per machine, not
once per run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import time
from urllib.parse import parse_qs, urlparse

import pytest

from conftest import PLUGIN_DIR, Server, assert_errors, assert_json, wait_kv_v2_ready
from conformance import CHECKS, Conformance, EngineFixture, LeaseCheck

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}]}
TOTP_KEY = "JBSWY3DPEHPK3PXP"  # base32 of b"Hello!\xde\xad\xbe\xef"
PLUGINS = ("totp", "passgen")


# --- the server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv():
    for name in PLUGINS:
        if not (PLUGIN_DIR / f"{name}.wasm").exists():
            pytest.fail(f"{PLUGIN_DIR}/{name}.wasm is missing: scripts/test builds it "
                        "(examples/python-engine, examples/js-engine)", pytrace=False)
    cache = PLUGIN_DIR / "cache"
    s = Server(f"-dev-plugin-dir={PLUGIN_DIR}", f"-cache-dir={cache}").start()
    try:
        s.enable("control", "kv", options={"version": "1"})
        r = s.post("control/probe", json={"ok": "yes"})
        assert r.status_code == 204, r.text
        yield s
    finally:
        s.stop()


# --- the fixtures: one per engine ------------------------------------------------------


def aws_setup(c: Conformance) -> None:
    cfg = c.ctx.root_config()
    r = c.server.post(f"{c.mount}/config/root", json={**cfg, "max_retries": 0})
    assert r.status_code in (200, 204), r.text
    r = c.server.post(f"{c.mount}/roles/lease", json={
        "credential_type": "iam_user", "policy_document": json.dumps(POLICY)})
    assert r.status_code in (200, 204), r.text


def aws_before_revoke(c: Conformance, body: dict) -> None:
    ak, sk = body["data"]["access_key"], body["data"]["secret_key"]
    c.state["user"] = c.ctx.user_of_key(ak)
    assert c.state["user"], "the issued key belongs to no IAM user"
    assert c.ctx.key_works(ak, sk)


def aws_after_revoke(c: Conformance, body: dict) -> None:
    assert not c.ctx.user_exists(c.state["user"]), "revoke left the IAM user behind"


def passgen_setup(c: Conformance) -> None:
    r = c.server.post(f"{c.mount}/roles/lease", json={"length": 24, "ttl": 60, "max_ttl": 120})
    assert r.status_code == 204, r.text


def passgen_issued(c: Conformance, body: dict) -> dict:
    return assert_json(c.server.get(f"{c.mount}/issued/{body['data']['id']}"), 200)["data"]


def passgen_after_renew(c: Conformance, body: dict) -> None:
    assert passgen_issued(c, body)["renewals"] == 1


def passgen_after_revoke(c: Conformance, body: dict) -> None:
    cred = body["data"]["id"]
    r = c.server.get(f"{c.mount}/issued/{cred}")
    assert r.status_code == 404, r.text
    rec = assert_json(c.server.get(f"{c.mount}/revoked/{cred}"), 200)["data"]
    assert rec["lease_id"] == body["lease_id"] and rec["role"] == "lease", rec
    keys = assert_json(c.server.list(f"{c.mount}/revoked"), 200)["data"]["keys"]
    assert cred in keys


FIXTURES = {
    "kv1": EngineFixture(
        id="kv1", type="kv", options={"version": "1"},
        item="{name}", body={"user": "app", "pass": "s3cret"}, list_path="",
        bad=[("POST", "{name}", {})],
        big_field="pass",
    ),
    "kv2": EngineFixture(
        id="kv2", type="kv", options={"version": "2"},
        setup=lambda c: wait_kv_v2_ready(c.server, c.mount),
        item="data/{name}", body={"data": {"user": "app", "pass": "s3cret"}},
        delete="metadata/{name}", list_path="metadata/",
        bad=[("POST", "data/{name}", {"data": "not an object"}),
             ("POST", "data/{name}", {}),
             ("POST", "config", {"max_versions": "abc"})],
        unsupported=[("GET", "nosuch/{name}")],
        big_field="data.pass",
    ),
    "aws": EngineFixture(
        id="aws", type="aws", setup=aws_setup,
        item="roles/{name}",
        body={"credential_type": "iam_user", "policy_document": json.dumps(POLICY)},
        expect={"credential_type": "iam_user"},
        list_path="roles/",
        bad=[("POST", "roles/{name}", {"credential_type": "bogus"})],
        unsupported=[("DELETE", "creds/{name}"), ("GET", "nosuch/{name}")],
        lease=LeaseCheck("creds/{name}", renewable=True,
                         before_revoke=aws_before_revoke, after_revoke=aws_after_revoke),
        big_field="policy_document",
    ),
    "python-totp": EngineFixture(
        id="py", type="totp",
        item="keys/{name}",
        body={"key": TOTP_KEY, "issuer": "Coffer", "account_name": "alice@example.com",
              "digits": 8, "period": "60s"},
        expect={"issuer": "Coffer", "account_name": "alice@example.com", "digits": 8,
                "period": 60, "algorithm": "SHA1"},
        list_path="keys/",
        bad=[("POST", "keys/{name}", {"key": TOTP_KEY, "digits": 7}),
             ("POST", "keys/{name}", {"key": TOTP_KEY, "algorithm": "MD5"}),
             ("POST", "keys/{name}", {"key": "not base32!"}),
             ("POST", "keys/{name}", {"generate": True, "account_name": "a"}),
             ("POST", "keys/{name}", {}),
             ("GET", "code/{name}", {})],
        unsupported=[("DELETE", "code/{name}"), ("GET", "nosuch/{name}")],
        big_field="issuer",
    ),
    "js-passgen": EngineFixture(
        id="js", type="passgen", setup=passgen_setup,
        item="roles/{name}",
        body={"length": 32, "charset": "abcdef0123456789", "ttl": 60, "max_ttl": 120},
        expect={"type": "password", "length": 32, "charset": "abcdef0123456789",
                "ttl": 60, "max_ttl": 120, "entropy_bits": 128},
        list_path="roles/",
        bad=[("POST", "roles/{name}", {"length": 3}),
             ("POST", "roles/{name}", {"type": "pin"}),
             ("POST", "roles/{name}", {"charset": "aab"}),
             ("POST", "roles/{name}", {"ttl": "1h", "max_ttl": "10m"}),
             ("POST", "roles/{name}", {"length": 8, "charset": "01"}),
             ("GET", "creds/{name}", {})],
        unsupported=[("DELETE", "creds/{name}"), ("POST", "creds/{name}"),
                     ("GET", "nosuch/{name}")],
        lease=LeaseCheck("creds/{name}", renewable=True,
                         before_revoke=lambda c, b: passgen_issued(c, b),
                         after_renew=passgen_after_renew, after_revoke=passgen_after_revoke),
        big_field="charset",
    ),
}


@pytest.fixture
def conformance(request, srv):
    fx = FIXTURES[request.param]
    ctx = request.getfixturevalue("aws") if fx.type == "aws" else None
    c = Conformance(srv, fx, "control", ctx)
    yield c
    # An engine never takes the server down: health and another mount still answer.
    c.assert_healthy()


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("conformance", list(FIXTURES), indirect=True)
def test_conformance(conformance, check):
    if check == "lease" and conformance.fx.lease is None:
        pytest.skip(f"{conformance.fx.id} issues no leases")
    getattr(conformance, f"check_{check}")()


# --- the Python TOTP engine ---------------------------------------------------------------


def totp(secret_b32: str, t: float, digits=6, period=30, algo="sha1") -> str:
    """RFC 6238 reference implementation."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(t // period)), getattr(hashlib, algo)).digest()
    o = mac[-1] & 0x0F
    return str((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10**digits).zfill(digits)


def test_rfc6238_vectors():
    # RFC 6238 appendix B, SHA1, 8 digits: the reference the engine is checked against.
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp(secret, 59, digits=8) == "94287082"
    assert totp(secret, 1111111109, digits=8) == "07081804"


@pytest.fixture(scope="module")
def totp_mount(srv):
    srv.enable("totp", "totp")
    return "totp"


def fresh_code(srv, path: str) -> tuple[str, float]:
    """Reads a code well inside its period (so the reference computes the same one)."""
    while True:
        before = time.time()
        code = assert_json(srv.get(path), 200)["data"]["code"]
        after = time.time()
        if int(before // 30) == int(after // 30):
            return code, before
        time.sleep(0.2)


@pytest.mark.parametrize("algo,digits", [("SHA1", 6), ("SHA256", 8), ("SHA512", 6)])
def test_totp_codes_match_rfc6238(srv, totp_mount, algo, digits):
    name = f"ref-{algo.lower()}"
    r = srv.post(f"{totp_mount}/keys/{name}", json={
        "key": TOTP_KEY, "account_name": "a", "algorithm": algo, "digits": digits})
    assert r.status_code == 204, r.text
    code, t = fresh_code(srv, f"{totp_mount}/code/{name}")
    assert code == totp(TOTP_KEY, t, digits=digits, algo=algo.lower())


def test_totp_generate_validate_and_no_reuse(srv, totp_mount):
    body = assert_json(srv.post(f"{totp_mount}/keys/gen", json={
        "generate": True, "issuer": "Coffer", "account_name": "bob@example.com"}), 200)
    url = urlparse(body["data"]["url"])
    assert url.scheme == "otpauth" and url.netloc == "totp", url
    assert url.path == "/Coffer:bob@example.com" or "Coffer%3Abob" in body["data"]["url"]
    q = parse_qs(url.query)
    secret = q["secret"][0]
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20
    assert q["issuer"] == ["Coffer"] and q["digits"] == ["6"] and q["period"] == ["30"]
    # the engine's code is the one an authenticator app computes from the URL
    code, t = fresh_code(srv, f"{totp_mount}/code/gen")
    assert code == totp(secret, t)
    # a wrong code is invalid; the right one valid once, then refused as reused
    wrong = str((int(code) + 1) % 10**6).zfill(6)
    r = srv.post(f"{totp_mount}/code/gen", json={"code": wrong})
    assert assert_json(r, 200)["data"] == {"valid": False}
    r = srv.post(f"{totp_mount}/code/gen", json={"code": code})
    assert assert_json(r, 200)["data"] == {"valid": True}
    assert_errors(srv.post(f"{totp_mount}/code/gen", json={"code": code}), 400, "already used")
    # the generated key is not readable back
    data = assert_json(srv.get(f"{totp_mount}/keys/gen"), 200)["data"]
    assert "key" not in data and "url" not in data and data["issuer"] == "Coffer", data
    # generating twice gives different secrets
    again = assert_json(srv.post(f"{totp_mount}/keys/gen2", json={
        "generate": True, "issuer": "Coffer", "account_name": "bob@example.com"}), 200)
    assert parse_qs(urlparse(again["data"]["url"]).query)["secret"][0] != secret


def test_totp_key_from_url(srv, totp_mount):
    url = f"otpauth://totp/ACME:carol?secret={TOTP_KEY}&issuer=ACME&digits=8&algorithm=SHA256"
    r = srv.post(f"{totp_mount}/keys/fromurl", json={"url": url})
    assert r.status_code == 204, r.text
    data = assert_json(srv.get(f"{totp_mount}/keys/fromurl"), 200)["data"]
    assert data == {"account_name": "carol", "algorithm": "SHA256", "digits": 8,
                    "issuer": "ACME", "period": 30}, data
    code, t = fresh_code(srv, f"{totp_mount}/code/fromurl")
    assert code == totp(TOTP_KEY, t, digits=8, algo="sha256")


# --- the JavaScript password generator ------------------------------------------------------


@pytest.fixture(scope="module")
def pw_mount(srv):
    srv.enable("pw", "passgen", config={"max_lease_ttl": "1h"})
    return "pw"


def test_passgen_passwords_follow_the_role(srv, pw_mount):
    r = srv.post(f"{pw_mount}/roles/hex", json={"length": 40, "charset": "0123456789abcdef"})
    assert r.status_code == 204, r.text
    seen = set()
    for _ in range(5):
        body = assert_json(srv.get(f"{pw_mount}/creds/hex"), 200)
        pw = body["data"]["password"]
        assert re.fullmatch(r"[0-9a-f]{40}", pw), pw
        seen.add(pw)
    assert len(seen) == 5
    # the default charset mixes classes; 24 characters of it is > 140 bits
    r = srv.post(f"{pw_mount}/roles/default", json={})
    assert r.status_code == 204, r.text
    role = assert_json(srv.get(f"{pw_mount}/roles/default"), 200)["data"]
    assert role["length"] == 24 and role["entropy_bits"] >= 140, role
    pw = assert_json(srv.get(f"{pw_mount}/creds/default"), 200)["data"]["password"]
    assert len(pw) == 24 and set(pw) <= set(role["charset"]), pw


def test_passgen_passphrases(srv, pw_mount):
    r = srv.post(f"{pw_mount}/roles/words", json={"type": "passphrase", "words": 8, "separator": " "})
    assert r.status_code == 204, r.text
    role = assert_json(srv.get(f"{pw_mount}/roles/words"), 200)["data"]
    assert role["entropy_bits"] == 64, role
    phrase = assert_json(srv.get(f"{pw_mount}/creds/words"), 200)["data"]["password"]
    words = phrase.split(" ")
    assert len(words) == 8 and all(re.fullmatch(r"[a-z]{4}", w) for w in words), phrase
    # too little entropy is refused with the number
    assert_errors(srv.post(f"{pw_mount}/roles/few", json={"type": "passphrase", "words": 4}),
                  400, "32 bits")


def test_passgen_renew_honours_max_ttl_and_role(srv, pw_mount):
    r = srv.post(f"{pw_mount}/roles/short", json={"ttl": "10s", "max_ttl": "20s"})
    assert r.status_code == 204, r.text
    body = assert_json(srv.get(f"{pw_mount}/creds/short"), 200)
    assert body["lease_duration"] == 10 and body["renewable"] is True, body
    lease_id = body["lease_id"]
    # asking for an hour gets what is left of max_ttl (20 s from issue)
    renewed = assert_json(srv.put("sys/leases/renew", json={"lease_id": lease_id,
                                                            "increment": 3600}), 200)
    assert 15 <= renewed["lease_duration"] <= 20, renewed
    # once the role is gone, the engine refuses to renew
    r = srv.delete(f"{pw_mount}/roles/short")
    assert r.status_code == 204, r.text
    assert_errors(srv.put("sys/leases/renew", json={"lease_id": lease_id}), 400, "no longer exists")
    # revoking still works (and is recorded), and revoking twice is harmless
    r = srv.put("sys/leases/revoke", json={"lease_id": lease_id})
    assert r.status_code == 204, r.text
    rec = assert_json(srv.get(f"{pw_mount}/revoked/{body['data']['id']}"), 200)["data"]
    assert rec["lease_id"] == lease_id and rec["renewals"] == 1, rec


def test_passgen_revoke_prefix_revokes_every_credential(srv, pw_mount):
    r = srv.post(f"{pw_mount}/roles/many", json={"length": 16})
    assert r.status_code == 204, r.text
    ids = [assert_json(srv.get(f"{pw_mount}/creds/many"), 200)["data"]["id"] for _ in range(3)]
    r = srv.put(f"sys/leases/revoke-prefix/{pw_mount}/creds/many")
    assert r.status_code == 204, r.text
    deadline = time.monotonic() + 10
    while True:
        revoked = assert_json(srv.list(f"{pw_mount}/revoked"), 200)["data"]["keys"]
        if set(ids) <= set(revoked) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert set(ids) <= set(revoked), (ids, revoked)
    for i in ids:
        assert srv.get(f"{pw_mount}/issued/{i}").status_code == 404
