"""Audit devices (`sys/audit`, the file device, `sys/audit-hash`, `coffer audit`).

Every request and response is written as one JSON line to each enabled device before
the client gets the response, with secret values and tokens HMAC'd with the device's
key; when no enabled device can write, the request fails instead of going unaudited.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

import hvac
import pytest

from conftest import Cli, assert_204, assert_errors, assert_json, ok, unique

HMAC_RE = re.compile(r"hmac-sha256:[0-9a-f]{64}")
TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")


def read_log(path: Path) -> list[dict]:
    """Every line of an audit log, parsed (each must be one complete JSON object)."""
    entries = []
    for line in path.read_text().splitlines():
        assert line.strip(), f"blank line in {path}"
        entries.append(json.loads(line))
    return entries


def find(entries, kind, path, operation=None):
    """Entries of one type for one request path (and operation)."""
    return [
        e for e in entries
        if e["type"] == kind and e["request"]["path"] == path
        and (operation is None or e["request"]["operation"] == operation)
    ]


def calc_hash(client: hvac.Client, device: str, value: str) -> str:
    r = client.sys.calculate_hash(device, value)
    h = r["data"]["hash"]
    assert HMAC_RE.fullmatch(h), h
    return h


def enable_file(client: hvac.Client, path: str, log: Path, **options) -> None:
    opts = {"file_path": str(log), **{k: str(v) for k, v in options.items()}}
    r = client.sys.enable_audit_device("file", path=path, options=opts)
    assert r.status_code == 204, r.text


# --- the file device ------------------------------------------------------------------


def test_file_device_logs_hashed_pairs(server, client, tmp_path):
    log = tmp_path / "audit.log"
    dev = unique("file")
    enable_file(client, dev, log)
    try:
        assert log.exists()
        assert oct(log.stat().st_mode & 0o777) == oct(0o600)
        value = "plaintext-" + secrets.token_hex(8)
        secret_path = unique("audited")
        client.secrets.kv.v2.create_or_update_secret(secret_path, {"password": value, "n": 7})
        got = client.secrets.kv.v2.read_secret_version(secret_path, raise_on_deleted_version=True)
        assert got["data"]["data"]["password"] == value
        # A request with a bad token is audited too (request and response, error set).
        bad = server.get(f"secret/data/{secret_path}", token="hvs.not-a-real-token")
        assert bad.status_code == 403

        entries = read_log(log)
        text = log.read_text()
        assert value not in text, "plaintext secret value in the audit log"
        assert server.token not in text, "root token in the audit log"
        assert "hvs.not-a-real-token" not in text

        # Every line is a request or a response; each response follows its request.
        seen_requests = set()
        for e in entries:
            assert e["type"] in ("request", "response"), e
            assert TIME_RE.fullmatch(e["time"]), e["time"]
            if e["type"] == "request":
                seen_requests.add(e["request"]["id"])
            else:
                assert e["request"]["id"] in seen_requests, f"response without request: {e}"

        api = f"secret/data/{secret_path}"
        value_hash = calc_hash(client, dev, value)
        write_req = find(entries, "request", api, "update")
        write_resp = find(entries, "response", api, "update")
        assert len(write_req) == 1 and len(write_resp) == 1, entries
        data = write_req[0]["request"]["data"]["data"]
        assert data["password"] == value_hash
        assert data["n"] == 7, "non-string values are kept"
        # The client's address is recorded (loopback, with its port).
        assert re.fullmatch(r"127\.0\.0\.1:\d+", write_req[0]["request"]["remote_address"])

        reads = [e for e in find(entries, "response", api, "read") if "response" in e]
        assert reads, entries
        assert reads[0]["response"]["data"]["data"]["password"] == value_hash
        assert reads[0]["response"]["mount_type"] == "kv"

        # Tokens and accessors are HMAC'd with the same key.
        token_hash = calc_hash(client, dev, server.token)
        req = write_req[0]
        assert req["auth"]["client_token"] == token_hash
        assert req["request"]["client_token"] == token_hash
        assert HMAC_RE.fullmatch(req["auth"]["accessor"])
        assert req["request"]["client_token_accessor"] == req["auth"]["accessor"]
        assert req["auth"]["display_name"] == "root"
        assert req["auth"]["policies"] == ["root"]
        assert req["auth"]["token_type"] == "service"
        assert req["request"]["namespace"] == {"id": "root"}
        assert re.fullmatch(r"[0-9a-f-]{36}", req["request"]["id"])

        denied = find(entries, "request", api, "read")
        denied = [e for e in denied if e.get("error")]
        assert denied and denied[0]["error"] == "permission denied"
        assert denied[0]["request"]["client_token"] == calc_hash(
            client, dev, "hvs.not-a-real-token")

        # Hashing via sys/audit-hash is itself audited without the plaintext.
        assert value not in log.read_text()
        hash_reqs = find(read_log(log), "request", f"sys/audit-hash/{dev}")
        assert hash_reqs and HMAC_RE.fullmatch(hash_reqs[0]["request"]["data"]["input"])
    finally:
        client.sys.disable_audit_device(dev)


def test_log_raw_and_options(server, client, tmp_path):
    log = tmp_path / "raw.log"
    dev = unique("raw")
    enable_file(client, dev, log, log_raw="true", prefix="AUDIT: ", mode="0640",
                hmac_accessor="false")
    try:
        assert oct(log.stat().st_mode & 0o777) == oct(0o640)
        value = "visible-" + secrets.token_hex(6)
        p = unique("raw")
        client.secrets.kv.v2.create_or_update_secret(p, {"v": value})
        lines = log.read_text().splitlines()
        assert lines and all(l.startswith("AUDIT: {") for l in lines), lines
        entries = [json.loads(l[len("AUDIT: "):]) for l in lines]
        req = find(entries, "request", f"secret/data/{p}", "update")[0]
        assert req["request"]["data"]["data"]["v"] == value
        assert req["request"]["client_token"] == server.token
        # The device listing echoes the options as given.
        listed = client.sys.list_enabled_audit_devices()["data"][f"{dev}/"]
        assert listed["options"]["log_raw"] == "true"
        assert listed["options"]["prefix"] == "AUDIT: "
    finally:
        client.sys.disable_audit_device(dev)


def test_list_and_disable(server, client, tmp_path):
    log = tmp_path / "list.log"
    dev = unique("listed")
    r = client.sys.enable_audit_device("file", path=dev, description="for listing",
                                       options={"file_path": str(log)}, local=True)
    assert r.status_code == 204
    body = assert_json(server.get("sys/audit"), 200)
    entry = body["data"][f"{dev}/"]
    assert entry == {"type": "file", "description": "for listing", "local": True,
                     "options": {"file_path": str(log)}, "path": f"{dev}/"}
    assert body[f"{dev}/"] == entry, "listing is also at the top level (Vault's injected form)"

    client.sys.list_mounted_secrets_engines()
    before = log.read_text()
    assert before
    assert_204(server.delete(f"sys/audit/{dev}"))
    client.sys.list_mounted_secrets_engines()
    client.secrets.kv.v2.create_or_update_secret(unique("after"), {"a": "b"})
    after = log.read_text()
    # The disable request itself was logged (its request entry), nothing after it.
    tail = [json.loads(l) for l in after[len(before):].splitlines()]
    assert [e["request"]["path"] for e in tail] == [f"sys/audit/{dev}"], tail
    assert f"{dev}/" not in client.sys.list_enabled_audit_devices()["data"]
    # Disabling what is not there is not an error (Vault).
    assert_204(server.delete(f"sys/audit/{dev}"))


def test_bad_input(server, client, tmp_path):
    log = str(tmp_path / "bad.log")
    dev = unique("bad")
    assert_errors(server.put(f"sys/audit/{dev}", json={"type": "socket",
                                                       "options": {"file_path": log}}),
                  400, "unknown backend type")
    assert_errors(server.put(f"sys/audit/{dev}", json={"options": {"file_path": log}}),
                  400, "type")
    assert_errors(server.put(f"sys/audit/{dev}", json={"type": "file"}),
                  400, "file_path is required")
    assert_errors(server.put(f"sys/audit/{dev}", json={"type": "file", "options": {
        "file_path": str(tmp_path / "missing-dir" / "a.log")}}), 400, "No such file or directory")
    assert_errors(server.put(f"sys/audit/{dev}", json={"type": "file", "options": {
        "file_path": log, "format": "jsonx"}}), 400, "format")
    assert_errors(server.put(f"sys/audit/{dev}", json={"type": "file", "options": {
        "file_path": log, "log_raw": "maybe"}}), 400, "log_raw")
    assert_errors(server.post(f"sys/audit-hash/{dev}", json={"input": "x"}),
                  400, "unknown audit backend")
    assert dev + "/" not in client.sys.list_enabled_audit_devices()["data"]

    assert_204(server.put(f"sys/audit/{dev}", json={"type": "file",
                                                    "options": {"file_path": log}}))
    try:
        assert_errors(server.put(f"sys/audit/{dev}", json={"type": "file",
                                                           "options": {"file_path": log}}),
                      400, "path already in use")
        assert_errors(server.put(f"sys/audit/{dev}/nested", json={
            "type": "file", "options": {"file_path": log}}), 400, "path already in use")
        assert_errors(server.post(f"sys/audit-hash/{dev}", json={}), 400, "input")
        with pytest.raises(hvac.exceptions.InvalidRequest):
            client.sys.calculate_hash("no-such-device", "x")
    finally:
        client.sys.disable_audit_device(dev)


# --- persistence and failure semantics ----------------------------------------------------


def test_devices_survive_restart(make_server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    log = tmp_path / "durable.log"
    s = make_server(f"-dev-storage={data}")
    c = s.client()
    enable_file(c, "durable", log)
    h = calc_hash(c, "durable", "some value")
    s.restart()
    c = s.client()
    listed = c.sys.list_enabled_audit_devices()["data"]
    assert listed["durable/"]["options"] == {"file_path": str(log)}
    assert calc_hash(c, "durable", "some value") == h, "the HMAC key survived the restart"
    n = len(read_log(log))
    c.secrets.kv.v2.create_or_update_secret("after-restart", {"k": "v"})
    assert len(read_log(log)) > n, "the restored device keeps writing"


def enable_then_fill(s, c, name: str, link: Path) -> None:
    """Enables device `name` on the file `link`, then restarts the server with `link` a
    symlink to /dev/full: a disk that filled up after the device was enabled (enabling on
    /dev/full itself is refused, since the device's test write fails)."""
    enable_file(c, name, link)
    s.stop()
    link.unlink()
    link.symlink_to("/dev/full")
    s.start()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_dev_full_alone_fails_requests(make_server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    s = make_server(f"-dev-storage={data}")
    enable_then_fill(s, s.client(), "full", tmp_path / "audit.log")
    # Every write fails with ENOSPC: no request is served unaudited.
    assert_errors(s.get("sys/mounts"), 500, "audit logging failed")
    assert_errors(s.post("secret/data/x", json={"data": {"a": "b"}}), 500, "audit logging failed")
    assert_errors(s.get("sys/audit"), 500, "audit logging failed")
    # A bad token is refused with the audit failure too (it could not be recorded).
    assert s.get("sys/mounts", token="hvs.bogus").status_code == 500
    # Unauthenticated status endpoints still answer.
    assert s.get("sys/health").status_code == 200
    assert "audit device failed" in s.output()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_failed_request_is_not_applied(make_server, tmp_path):
    """The write refused for want of an audit record does not happen: checked after a
    restart in which the device's path (a symlink to /dev/full) is a regular file."""
    data = tmp_path / "data"
    data.mkdir()
    link = tmp_path / "audit.log"
    s = make_server(f"-dev-storage={data}")
    enable_then_fill(s, s.client(), "full", link)
    assert_errors(s.post("secret/data/never", json={"data": {"a": "b"}}),
                  500, "audit logging failed")
    s.stop()
    link.unlink()
    s.start()
    r = s.get("secret/data/never")
    assert r.status_code == 404, r.text
    entries = read_log(link)
    assert find(entries, "request", "secret/data/never", "read")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_failing_device_beside_a_good_one(make_server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    s = make_server(f"-dev-storage={data}")
    c = s.client()
    good = tmp_path / "good.log"
    enable_file(c, "good", good)
    enable_then_fill(s, c, "full", tmp_path / "full.log")
    c = s.client()
    c.secrets.kv.v2.create_or_update_secret("both", {"k": "secret-value"})
    assert c.secrets.kv.v2.read_secret_version("both", raise_on_deleted_version=True)
    entries = read_log(good)
    assert find(entries, "request", "secret/data/both", "update")
    assert find(entries, "response", "secret/data/both", "read")
    assert "secret-value" not in good.read_text()
    assert "audit device failed" in s.output()
    assert_204(s.delete("sys/audit/full"))


# --- CLI ----------------------------------------------------------------------------------


def test_cli_enable_list_disable(make_server, tmp_path):
    s = make_server()
    cli = Cli(s)
    log = tmp_path / "cli.log"
    code, out, _ = cli("audit", "list")
    assert code == 2 and "No audit devices are enabled." in out

    ok(cli("audit", "enable", "file", f"file_path={log}"),
       out_has=["Success! Enabled the file audit device at: file/"])
    ok(cli("audit", "enable", "-path=team/raw", "-description=raw copy", "-local",
           "file", f"file_path={log}.raw", "log_raw=true"),
       out_has=["Success! Enabled the file audit device at: team/raw/"])

    out = ok(cli("audit", "list"))
    lines = out.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["Path", "Type", "Description"]
    assert re.split(r"\s{2,}", lines[2].strip()) == ["file/", "file", "n/a"]
    assert re.split(r"\s{2,}", lines[3].strip()) == ["team/raw/", "file", "raw copy"]

    out = ok(cli("audit", "list", "-detailed"))
    lines = out.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == [
        "Path", "Type", "Description", "Replication", "Options"]
    assert re.split(r"\s{2,}", lines[2].strip()) == [
        "file/", "file", "n/a", "replicated", f"map[file_path:{log}]"]
    assert re.split(r"\s{2,}", lines[3].strip()) == [
        "team/raw/", "file", "raw copy", "local", f"map[file_path:{log}.raw log_raw:true]"]

    listed = json.loads(ok(cli("audit", "list", "-format=json")))
    assert set(listed) == {"file/", "team/raw/"}

    code, _, err = cli("audit", "enable", "file", f"file_path={log}")
    assert code == 2 and "Error enabling audit device" in err and "path already in use" in err
    code, _, err = cli("audit", "enable")
    assert code == 1 and "audit type missing" in err

    ok(cli("audit", "disable", "team/raw"),
       out_has=["Success! Disabled audit device (if it was enabled) at: team/raw/"])
    ok(cli("audit", "disable", "file/"),
       out_has=["Success! Disabled audit device (if it was enabled) at: file/"])
    code, out, _ = cli("audit", "list")
    assert code == 2 and "No audit devices are enabled." in out
    assert read_log(log), "the CLI's own requests were audited"
