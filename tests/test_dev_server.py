"""`coffer server -dev` as a user starts it (vault-spec §3.1)."""

import re
import signal
import subprocess

from conftest import BIN, Cli, assert_json, clean_env, free_port


def test_banner(make_server):
    s = make_server()
    out = s.stdout()
    assert f"Root Token: {s.token}" in out, out
    assert f"export VAULT_ADDR='http://127.0.0.1:{s.port}'" in out, out
    assert f"export COFFER_ADDR='http://127.0.0.1:{s.port}'" in out, out
    m = re.search(r"Unseal Key: (\S+)", out)
    assert m, out
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", m.group(1)), f"unseal key is base64: {m.group(1)}"
    assert re.search(r"dev(elopment)? mode", out, re.I), out
    assert re.search(r"production", out, re.I), "warning that dev mode is not for production"


def test_random_root_token(make_server):
    s = make_server(token=None)
    assert re.fullmatch(r"hvs\.[A-Za-z0-9]{24}", s.token), s.token
    assert s.client().is_authenticated()
    other = make_server(token=None)
    assert other.token != s.token


def test_secret_is_kv_v2(make_server):
    s = make_server()
    info = assert_json(s.get("sys/mounts"), 200)["data"]["secret/"]
    assert info["type"] == "kv"
    assert info["options"] == {"version": "2"}
    assert info["description"] == "key/value secret storage"
    w = s.post("secret/data/dev-check", json={"data": {"a": "1"}})
    assert assert_json(w, 200)["data"]["version"] == 1


def test_dev_kv_v1(make_server):
    s = make_server("-dev-kv-v1")
    info = assert_json(s.get("sys/mounts"), 200)["data"]["secret/"]
    assert info["type"] == "kv"
    assert info["options"] == {"version": "1"}
    r = s.put("secret/foo", json={"a": "b"})
    assert r.status_code == 204, r.text
    body = assert_json(s.get("secret/foo"), 200)
    assert body["data"] == {"a": "b"}
    assert body["lease_duration"] == 2764800


def test_default_mounts(make_server):
    s = make_server()
    mounts = assert_json(s.get("sys/mounts"), 200)["data"]
    assert mounts["sys/"]["type"] == "system"
    assert "secret/" in mounts


def test_token_file_and_cli_without_token(make_server):
    s = make_server(store_token=True)
    token_file = s.home / ".coffer-token"
    assert token_file.exists(), f"{token_file} not written"
    assert token_file.read_text().strip() == s.token
    # the CLI, with the same HOME and no COFFER_TOKEN, uses the stored token
    cli = Cli(s, home=s.home)
    r = cli("kv", "put", "secret/from-token-file", "a=1", token=None)
    assert r[0] == 0, r
    r = cli("kv", "get", "-field=a", "secret/from-token-file", token=None)
    assert r[0] == 0 and r[1].strip() == "1", r
    # COFFER_TOKEN beats the file
    r = cli("kv", "get", "secret/from-token-file", token="wrong-token")
    assert r[0] == 2 and "permission denied" in r[2], r


def test_no_store_token(make_server):
    s = make_server()  # -dev-no-store-token
    assert not (s.home / ".coffer-token").exists()


def test_sigint_exits_zero(make_server):
    s = make_server()
    rc = s.stop()
    assert rc == 0


def test_sigterm_exits(make_server):
    s = make_server()
    proc = s.proc
    s.proc = None
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=5)
    assert rc == 0, f"exit {rc} after SIGTERM\n{s.output()}"


def test_port_in_use_fails_cleanly(make_server, tmp_path):
    s = make_server()
    r = subprocess.run(
        [str(BIN), "server", "-dev", f"-dev-listen-address=127.0.0.1:{s.port}",
         "-dev-no-store-token"],
        capture_output=True, text=True, timeout=20, env=clean_env(tmp_path),
        stdin=subprocess.DEVNULL)
    assert r.returncode != 0, "a second server on the same port must fail"
    assert r.stderr.strip(), "with an error message"


def test_unknown_flag_rejected(tmp_path):
    r = subprocess.run(
        [str(BIN), "server", "-dev", f"-dev-listen-address=127.0.0.1:{free_port()}",
         "-no-such-flag"],
        capture_output=True, text=True, timeout=20, env=clean_env(tmp_path),
        stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    assert "no-such-flag" in r.stderr
