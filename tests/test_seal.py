"""The production server: `coffer server -config=FILE`, init/unseal/seal, the barrier
(nothing readable on disk), key rotation, TLS, and the operator CLI.

A `ConfigServer` is a real `coffer server -config=...` process on loopback with a redb
store in a temp dir; it starts sealed and uninitialised, as in production.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import subprocess
import time
from pathlib import Path

import hvac
import pytest
import requests

from conftest import (
    BIN,
    Cli,
    Server,
    assert_errors,
    assert_json,
    free_port,
    ok,
    parse_table,
    unique,
)


class ConfigServer(Server):
    """`coffer server -config=<file>`: sealed at start; token set after init."""

    def __init__(self, tmp: Path, fmt: str = "hcl", tls: tuple[Path, Path, Path] | None = None,
                 extra: str = ""):
        super().__init__(token=None)
        self.fixed_token = "unset"  # no banner token to read
        self.token = None
        self.data_dir = tmp / "data"
        self.tls = tls
        self.ca = str(tls[0]) if tls else None
        scheme = "https" if tls else "http"
        self.addr = f"{scheme}://127.0.0.1:{self.port}"
        self.config_path = tmp / f"coffer.{fmt}"
        self.config_path.write_text(self._config(fmt) + extra)

    def _config(self, fmt: str) -> str:
        tls_lines = (
            [f'tls_cert_file = "{self.tls[1]}"', f'tls_key_file = "{self.tls[2]}"']
            if self.tls else ["tls_disable = true"]
        )
        if fmt == "toml":
            return "\n".join([
                "[storage.redb]",
                f'path = "{self.data_dir}"',
                "[listener.tcp]",
                f'address = "127.0.0.1:{self.port}"',
                *tls_lines,
                "",
            ])
        return "\n".join([
            f'storage "redb" {{ path = "{self.data_dir}" }}',
            'listener "tcp" {',
            f'  address = "127.0.0.1:{self.port}"',
            *("  " + line for line in tls_lines),
            "}",
            "",
        ])

    def argv(self) -> list[str]:
        return [str(BIN), "server", f"-config={self.config_path}"]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode}\n{self.output()}",
                            pytrace=False)
            try:
                r = requests.get(self.addr + "/v1/sys/health", timeout=2, verify=self.ca)
                if r.status_code in (200, 501, 503):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"server not answering\n{self.output()}", pytrace=False)

    def request(self, method, path, token="", **kw):
        kw.setdefault("verify", self.ca)
        return super().request(method, path, token=token, **kw)

    def client(self, token: str | None = "") -> hvac.Client:
        if token == "":
            token = self.token
        return hvac.Client(url=self.addr, token=token, timeout=30, verify=self.ca or True)

    def init(self, shares=5, threshold=3) -> dict:
        out = self.client(None).sys.initialize(shares, threshold)
        self.token = out["root_token"]
        return out

    def unseal(self, keys) -> dict:
        return self.client(None).sys.submit_unseal_keys(list(keys))


@pytest.fixture
def make_prod(tmp_path):
    started: list[ConfigServer] = []

    def make(name="s", **kw) -> ConfigServer:
        d = tmp_path / name
        d.mkdir()
        s = ConfigServer(d, **kw)
        started.append(s)
        return s.start()

    yield make
    for s in started:
        s.stop()


def write_kv(server: ConfigServer, mount: str, path: str, data: dict) -> None:
    r = server.post(f"sys/mounts/{mount}", json={"type": "kv", "options": {"version": "2"}})
    assert r.status_code in (200, 204), r.text
    r = server.post(f"{mount}/data/{path}", json={"data": data})
    assert r.status_code == 200, r.text


# --- init / unseal / seal with hvac ---------------------------------------------------


def test_hvac_init_unseal_seal_cycle(make_prod):
    s = make_prod()
    c = s.client(None)
    assert c.sys.is_initialized() is False
    status = c.sys.read_seal_status()
    assert status["sealed"] is True and status["initialized"] is False
    assert (status["t"], status["n"], status["progress"]) == (0, 0, 0)
    assert s.get("sys/health", token=None).status_code == 501
    # Sealed: everything else is 503 with Vault's error.
    assert_errors(s.get("sys/mounts", token="whatever"), 503, "Vault is sealed")

    out = s.init(5, 3)
    assert len(out["keys"]) == 5 and len(out["keys_base64"]) == 5
    assert out["root_token"].startswith("hvs.")
    assert c.sys.is_initialized() is True
    assert_errors(s.put("sys/init", token=None, json={"secret_shares": 1, "secret_threshold": 1}),
                  400, "already initialized")
    status = c.sys.read_seal_status()
    assert (status["sealed"], status["t"], status["n"]) == (True, 3, 5)
    assert s.get("sys/health", token=None).status_code == 503
    assert s.get("sys/health?sealedcode=299", token=None).status_code == 299

    # One share: progress and a nonce; then a mix of hex and base64 shares unseals.
    st = c.sys.submit_unseal_key(out["keys"][0])
    assert st["sealed"] is True and st["progress"] == 1 and st["nonce"]
    st = c.sys.submit_unseal_key(out["keys"][0])
    assert st["progress"] == 1, "a repeated share counts once"
    st = c.sys.submit_unseal_keys([out["keys_base64"][3], out["keys"][4]])
    assert st["sealed"] is False and st["progress"] == 0
    assert st["cluster_name"].startswith("coffer-cluster-")
    health = s.get("sys/health", token=None)
    assert health.status_code == 200 and health.json()["sealed"] is False

    # The initial root token works; a production server mounts nothing by default.
    mounts = s.client().sys.list_mounted_secrets_engines()["data"]
    assert "sys/" in mounts and "secret/" not in mounts

    # Seal: 204, then 503 for authenticated requests, status says sealed.
    s.client().sys.seal()
    assert c.sys.is_sealed() is True
    assert_errors(s.get("sys/mounts"), 503, "Vault is sealed")
    assert s.client().sys.read_seal_status()["progress"] == 0


def test_unseal_bad_input(make_prod):
    s = make_prod()
    assert_errors(s.put("sys/unseal", token=None, json={}), 400, "'key' must be specified")
    assert_errors(s.put("sys/init", token=None,
                        json={"secret_shares": 3, "secret_threshold": 5}),
                  400, "cannot be larger")
    assert_errors(s.put("sys/init", token=None,
                        json={"secret_shares": 3, "secret_threshold": 1}),
                  400, "greater than one")
    out = s.init(3, 2)
    assert_errors(s.put("sys/unseal", token=None, json={"key": "not a key!"}), 400,
                  "hex or base64")
    # reset forgets submitted shares
    s.put("sys/unseal", token=None, json={"key": out["keys"][0]})
    st = assert_json(s.put("sys/unseal", token=None, json={"reset": True}), 200)
    assert st["progress"] == 0 and st["nonce"] == ""
    s.unseal(out["keys"][:2])
    assert_errors(s.put("sys/unseal", token=None, json={"reset": True}), 400, "vault is unsealed")
    # Sealing needs a token (and sudo: the root token has it).
    assert s.put("sys/seal", token=None).status_code == 403
    assert s.put("sys/seal").status_code == 204


def test_restart_comes_back_sealed_and_a_wrong_share_is_rejected(make_prod, tmp_path):
    s = make_prod()
    out = s.init(5, 3)
    s.unseal(out["keys"][:3])
    write_kv(s, "kv", "app/db", {"password": "pw-restart-1"})
    s.restart()
    assert s.client(None).sys.read_seal_status()["sealed"] is True
    assert_errors(s.get("kv/data/app/db"), 503, "Vault is sealed")

    # Shares of another server's key: the threshold is reached, the key is wrong.
    other = make_prod("other")
    foreign = other.init(5, 3)["keys"]
    s.put("sys/unseal", token=None, json={"key": out["keys"][0]})
    s.put("sys/unseal", token=None, json={"key": foreign[1]})
    r = s.put("sys/unseal", token=None, json={"key": foreign[2]})
    assert_errors(r, 400, "unseal")
    st = s.client(None).sys.read_seal_status()
    assert st["sealed"] is True and st["progress"] == 0, "a failed attempt starts over"

    # Any three of the right shares unseal; the data and the root token are intact.
    s.unseal([out["keys"][4], out["keys"][1], out["keys"][2]])
    body = assert_json(s.get("kv/data/app/db"), 200)
    assert body["data"]["data"] == {"password": "pw-restart-1"}


def test_raw_store_holds_no_plaintext(make_prod):
    s = make_prod()
    out = s.init(1, 1)
    s.unseal(out["keys"])
    secret_value = "SUPERSECRETVALUE-" + unique("v")
    key_name = "prod-database-" + unique("k")
    write_kv(s, "finance", f"{key_name}/credentials", {"password": secret_value,
                                                       "username": "svc-payments"})
    # A policy and a token are stored too.
    r = s.put("sys/policy/payments-readers",
              json={"policy": 'path "finance/data/*" { capabilities = ["read"] }'})
    assert r.status_code == 204, r.text
    s.stop()
    raw = b"".join(p.read_bytes() for p in s.data_dir.rglob("*") if p.is_file())
    assert len(raw) > 10_000
    for needle in [secret_value, key_name, "svc-payments", "payments-readers",
                   "finance/data", out["root_token"], "credentials", "password"]:
        assert needle.encode() not in raw, f"{needle!r} is readable in the raw store"
    # ...and the data is all there after unseal.
    s.start()
    s.unseal(out["keys"])
    body = assert_json(s.get(f"finance/data/{key_name}/credentials"), 200)
    assert body["data"]["data"]["password"] == secret_value


def test_rotate_and_key_status(make_prod):
    s = make_prod()
    out = s.init(1, 1)
    s.unseal(out["keys"])
    write_kv(s, "kv", "before", {"v": "1"})
    st = assert_json(s.get("sys/key-status"), 200)
    assert st["term"] == 1 and st["data"]["term"] == 1
    datetime.datetime.fromisoformat(st["install_time"].replace("Z", "+00:00"))
    assert s.put("sys/rotate").status_code == 204
    assert assert_json(s.get("sys/key-status"), 200)["term"] == 2
    assert s.post("kv/data/after", json={"data": {"v": "2"}}).status_code == 200
    # Both terms stay readable, also after a restart.
    s.restart()
    s.unseal(out["keys"])
    assert assert_json(s.get("kv/data/before"), 200)["data"]["data"] == {"v": "1"}
    assert assert_json(s.get("kv/data/after"), 200)["data"]["data"] == {"v": "2"}
    assert assert_json(s.get("sys/key-status"), 200)["term"] == 2


def test_toml_config_and_bad_configs(make_prod, tmp_path):
    s = make_prod(fmt="toml")
    assert s.client(None).sys.read_seal_status()["storage_type"] == "redb"

    def start_fails(text: str, *fragments: str, name="bad.hcl"):
        path = tmp_path / name
        path.write_text(text)
        r = subprocess.run([str(BIN), "server", f"-config={path}"],
                                         capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, r
        for f in fragments:
            assert f in r.stderr, r.stderr

    start_fails('storage "redb" { path = "/tmp/x" }\nlistener "tcp" { address = "127.0.0.1:0" }',
                "tls_cert_file and tls_key_file are required")
    start_fails('storage "redb" { path = "/tmp/x" }\nlistner "tcp" {}', "listner")
    start_fails('listener "tcp" { tls_disable = true }', "storage stanza is required")
    start_fails('storage "redb" { path = "/tmp/x" }\nlistener "tcp" {\n'
                'tls_cert_file = "/nonexistent.pem"\ntls_key_file = "/nonexistent.key"\n}',
                "certificate file /nonexistent.pem")
    r = subprocess.run([str(BIN), "server"], capture_output=True, text=True)
    assert r.returncode == 1 and "-config=FILE" in r.stderr
    # -dev is plain HTTP: loopback only.
    r = subprocess.run(
        [str(BIN), "server", "-dev", f"-dev-listen-address=0.0.0.0:{free_port()}"],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "loopback only" in r.stderr, r.stderr


# --- TLS -------------------------------------------------------------------------------


def self_signed(tmp: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1/localhost signed by it:
    (ca.pem, server chain.pem, server key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject, issuer, pub, signer, ca: bool):
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
             .public_key(pub).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        return b.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coffer-test-ca")])
    ca = build(ca_name, ca_name, ca_key.public_key(), ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coffer-test")]),
                 ca_name, key.public_key(), ca_key, False)
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = tmp / "ca.pem", tmp / "tls.crt", tmp / "tls.key"
    ca_path.write_bytes(ca.public_bytes(pem))
    cert_path.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca_path, cert_path, key_path


def test_tls_listener(make_prod, tmp_path):
    s = make_prod(tls=self_signed(tmp_path))
    assert s.addr.startswith("https://")
    out = s.init(1, 1)
    s.unseal(out["keys"])
    c = s.client()
    c.sys.enable_secrets_engine("kv", path="tls-kv", options={"version": "2"})
    c.secrets.kv.v2.create_or_update_secret("x", secret={"k": "v"}, mount_point="tls-kv")
    assert c.secrets.kv.v2.read_secret_version("x", mount_point="tls-kv",
                                               raise_on_deleted_version=True)["data"]["data"] == {"k": "v"}
    # Plain HTTP to the TLS port gets no answer; an unverified certificate is refused.
    with pytest.raises(requests.RequestException):
        requests.get(f"http://127.0.0.1:{s.port}/v1/sys/health", timeout=5)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://127.0.0.1:{s.port}/v1/sys/health", timeout=5, verify=True)


# --- operator CLI ----------------------------------------------------------------------


def test_operator_cli(make_prod):
    s = make_prod()
    cli = Cli(s)
    code, out, err = cli("operator", "init", "-status", token=None)
    assert code == 2 and "not initialized" in out
    res = cli("operator", "init", "-key-shares=3", "-key-threshold=2", token=None)
    ok(res, out_has=["Unseal Key 1: ", "Unseal Key 3: ", "Initial Root Token: hvs.",
                     "initialized with 3 key shares and a key threshold of 2"])
    lines = res[1].splitlines()
    keys = [l.split(": ", 1)[1] for l in lines if l.startswith("Unseal Key ")]
    s.token = next(l.split(": ", 1)[1] for l in lines if l.startswith("Initial Root Token"))
    code, out, _ = cli("status", token=None)
    assert code == 2 and parse_table(out)["Sealed"] == "true", out
    res = cli("operator", "unseal", keys[0], token=None)
    ok(res, out_has=["Unseal Progress    1/2"])
    res = cli("operator", "unseal", token=None, input=keys[2] + "\n")  # from stdin
    ok(res)
    assert parse_table(res[1])["Sealed"] == "false", res[1]
    code, out, _ = cli("status")
    assert code == 0, out
    ok(cli("operator", "key-status"), out_has=["Key Term", "1"])
    ok(cli("operator", "rotate"), out_has=["Success! Rotated key", "Key Term"])
    res = cli("operator", "key-status", "-format=json")
    assert json.loads(res[1])["term"] == 2
    ok(cli("operator", "seal"), out_has=["Success! Vault is sealed."])
    assert s.client(None).sys.is_sealed()
    res = cli("operator", "init", "-format=json", token=None)
    assert res[0] == 2 and "already initialized" in res[2]


# --- limits from the config file, and what stops while sealed ---------------------------


def test_config_limits_request_size_and_deadline(make_prod):
    from conftest import PLUGIN_DIR

    if not (PLUGIN_DIR / "hostile.wasm").exists():
        pytest.skip("test plugins not built (scripts/test builds them)")
    s = make_prod(extra=(
        f'plugin_directory = "{PLUGIN_DIR}"\n'
        'engine_timeout = "20s"\n'
    ))
    # Outside dev mode a plugin-directory file is mountable once registered with its
    # sha256 (done before the tight limits below, which a compile could exceed).
    out = s.init(1, 1)
    s.unseal(out["keys"])
    digest = hashlib.sha256((PLUGIN_DIR / "hostile.wasm").read_bytes()).hexdigest()
    r = s.put("sys/plugins/catalog/secret/hostile",
              json={"sha256": digest, "command": "hostile.wasm"}, timeout=120)
    assert r.status_code in (200, 204), r.text
    # max_request_size / max_request_duration live in the listener stanza: rewrite it.
    text = s.config_path.read_text().replace(
        "  tls_disable = true",
        "  tls_disable = true\n  max_request_size = 2048\n  max_request_duration = \"1s\"")
    s.config_path.write_text(text)
    s.restart()
    s.unseal(out["keys"])
    assert_errors(s.post("sys/mounts/big", json={"type": "kv", "description": "x" * 4096}),
                  413)
    assert s.post("sys/mounts/hostile", json={"type": "hostile"}).status_code == 204
    # The 1 s request deadline answered, not the engine's 20 s one: the error names it.
    r = s.get("hostile/loop", timeout=30)
    assert_errors(r, 503, "max_request_duration")
    assert s.get("hostile/ok").status_code == 200


def test_leases_do_not_expire_while_sealed(make_prod, aws):
    s = make_prod()
    out = s.init(1, 1)
    s.unseal(out["keys"])
    c = s.client()
    c.sys.enable_secrets_engine("aws", path="aws")
    cfg = aws.root_config()
    c.secrets.aws.configure_root_iam_credentials(
        cfg["access_key"], cfg["secret_key"], region=cfg["region"],
        iam_endpoint=cfg["iam_endpoint"], sts_endpoint=cfg["sts_endpoint"], mount_point="aws")
    r = s.post("aws/roles/web", json={
        "credential_type": "iam_user",
        "policy_document": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]})})
    assert r.status_code in (200, 204), r.text
    assert s.post("sys/mounts/aws/tune", json={"default_lease_ttl": "2s"}).status_code == 204
    creds = assert_json(s.get("aws/creds/web"), 200)
    user = aws.user_of_key(creds["data"]["access_key"])
    assert user and creds["lease_duration"] == 2
    s.put("sys/seal")
    time.sleep(4)
    assert aws.user_exists(user), "a sealed server revoked a lease"
    s.unseal(out["keys"])
    aws.wait_user_gone(user, timeout=30, what="after unseal")


def test_cli_over_tls_with_ca_cert(make_prod, tmp_path):
    ca, cert, key = self_signed(tmp_path)
    s = make_prod(tls=(ca, cert, key))
    cli = Cli(s)
    env = cli.env(token=None)
    env["VAULT_CACERT"] = str(ca)
    code, out, err = cli("operator", "init", "-key-shares=1", "-key-threshold=1", env=env)
    assert code == 0, err
    unseal_key = next(l.split(": ", 1)[1] for l in out.splitlines() if l.startswith("Unseal Key 1"))
    ok(cli("operator", "unseal", unseal_key, env=env))
    # Without the CA the certificate is refused.
    code, _, err = cli("status", token=None)
    assert code == 1 and "invalid peer certificate" in err, err
    env["VAULT_CACERT"] = str(tmp_path / "missing.pem")
    code, _, err = cli("status", env=env)
    assert code == 1 and "error loading CA certificate" in err, err
