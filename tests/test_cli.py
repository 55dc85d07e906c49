"""The `coffer` CLI as a Vault CLI user sees it (vault-spec §3.2, §3.3, §7.2).

Vault's CLI takes Go-style single-dash flags before the positional arguments
(`coffer secrets enable -path=kv1 -version=1 kv`), reads COFFER_ADDR / COFFER_TOKEN,
prints results on stdout, errors on stderr, and exits 2 for "No value found" and API errors.
"""

import json
import re

import pytest

from conftest import ok, parse_table, sections, unique


def fails(res, code=2, *, err_has=()):
    c, out, err = res
    assert c == code, f"expected exit {code}, got {c}\nstdout:\n{out}\nstderr:\n{err}"
    for s in err_has:
        assert s in err, f"stderr lacks {s!r}:\n{err}\nstdout:\n{out}"
    return err


@pytest.fixture(scope="module")
def kv1(cli):
    ok(cli("secrets", "enable", "-path=kv1", "-version=1", "kv"),
       out_has=["Success! Enabled the kv secrets engine at: kv1/"])
    return "kv1"


# --- status ------------------------------------------------------------------


def test_status(cli):
    out = ok(cli("status"))
    rows = parse_table(out)
    assert rows.get("Seal Type") == "shamir", out
    assert rows.get("Initialized") == "true", out
    assert rows.get("Sealed") == "false", out
    assert rows.get("Total Shares") == "1", out
    assert rows.get("Threshold") == "1", out
    assert "Version" in rows, out


def test_status_unreachable_server(cli, server):
    env = cli.env()
    env["COFFER_ADDR"] = "http://127.0.0.1:1"
    code, out, err = cli("status", env=env)
    assert code not in (0, 2), f"unreachable server must be an error (exit 1), got {code}\n{out}{err}"
    assert err.strip(), "an error message on stderr"


# --- secrets enable / list / tune / disable --------------------------------------


def test_secrets_enable_list_tune_disable(cli):
    p = unique("clim")
    ok(cli("secrets", "enable", f"-path={p}", "-version=1", "kv"),
       out_has=[f"Success! Enabled the kv secrets engine at: {p}/"])

    out = ok(cli("secrets", "list"))
    lines = out.splitlines()
    assert re.match(r"Path\s+Type\s+Accessor\s+Description$", lines[0]), out
    assert re.match(r"----\s+----\s+--------\s+-----------$", lines[1]), out
    row = [l for l in lines if l.startswith(f"{p}/ ")]
    assert row, f"no row for {p}/:\n{out}"
    assert row[0].split()[1] == "kv", row[0]
    assert row[0].split()[2].startswith("kv_"), row[0]
    assert any(l.startswith("secret/ ") for l in lines), out

    js = json.loads(ok(cli("secrets", "list", "-format=json")))
    assert js[f"{p}/"]["type"] == "kv"
    assert js[f"{p}/"]["options"] == {"version": "1"}

    ok(cli("secrets", "tune", "-default-lease-ttl=1h", f"{p}/"),
       out_has=[f"Success! Tuned the secrets engine at: {p}/"])
    ok(cli("write", f"{p}/t", "a=b"))
    rows = parse_table(ok(cli("read", f"{p}/t")))
    assert rows["refresh_interval"] == "1h"

    ok(cli("secrets", "disable", p),
       out_has=[f"Success! Disabled the secrets engine (if it existed) at: {p}/"])
    out = ok(cli("secrets", "list"))
    assert not any(l.startswith(f"{p}/ ") for l in out.splitlines()), out


def test_secrets_enable_kv_v2_alias(cli, server):
    p = unique("cliv2")
    ok(cli("secrets", "enable", f"-path={p}", "kv-v2"),
       out_has=[f"Success! Enabled the kv-v2 secrets engine at: {p}/"])
    info = server.get(f"sys/mounts/{p}").json()["data"]
    assert info["type"] == "kv" and info["options"] == {"version": "2"}


def test_secrets_enable_conflict(cli):
    code, out, err = cli("secrets", "enable", "-path=secret", "kv")
    assert code == 2, f"exit {code}\n{out}{err}"
    assert "Error enabling: Error making API request." in err, err
    assert re.search(r"Code: 40[09]\. Errors:", err), err
    assert "already in use" in err or "existing mount" in err, err


# --- write / read / list / delete (generic, kv v1) --------------------------------------


def test_write_read_table(cli, kv1):
    ok(cli("write", f"{kv1}/foo", "zeta=last", "alpha=first"),
       out_has=[f"Success! Data written to: {kv1}/foo"])
    out = ok(cli("read", f"{kv1}/foo"))
    assert out.splitlines() == [
        "Key                 Value",
        "---                 -----",
        "refresh_interval    768h",
        "alpha               first",
        "zeta                last",
    ], out


def test_read_json(cli, kv1):
    ok(cli("write", f"{kv1}/js", "a=1", "b=two"))
    env = json.loads(ok(cli("read", "-format=json", f"{kv1}/js")))
    assert env["data"] == {"a": "1", "b": "two"}
    assert env["lease_duration"] == 2764800
    assert env["lease_id"] == ""
    assert env["renewable"] is False
    assert re.fullmatch(r"[0-9a-f-]{36}", env["request_id"])


def test_read_field(cli, kv1):
    ok(cli("write", f"{kv1}/fld", "user=alice", "pass=p@ss word"))
    out = ok(cli("read", "-field=pass", f"{kv1}/fld"))
    assert out.rstrip("\n") == "p@ss word"
    code, out, err = cli("read", "-field=nope", f"{kv1}/fld")
    assert code == 1, f"unknown field: exit {code}\n{out}{err}"
    assert 'Field "nope" not present in secret' in err, err


def test_write_value_types_and_table_format(cli, kv1, server):
    ok(cli("write", f"{kv1}/types", "empty=", "n=5"))
    assert server.get(f"{kv1}/types").json()["data"] == {"empty": "", "n": "5"}
    rows = parse_table(ok(cli("read", f"{kv1}/types")))
    assert rows["empty"] == "n/a", "empty strings print as n/a"
    # JSON body with typed values, null, list and map (written through the API)
    server.put(f"{kv1}/typed", json={"nil": None, "lst": ["a", "b"], "flag": True, "ttl_x": 1})
    rows = parse_table(ok(cli("read", f"{kv1}/typed")))
    assert rows["nil"] == "<nil>"
    assert rows["lst"] == "[a b]"
    assert rows["flag"] == "true"


def test_write_from_stdin(cli, kv1, server):
    ok(cli("write", f"{kv1}/stdin", "-", input='{"from": "stdin", "n": 3}'),
       out_has=[f"Success! Data written to: {kv1}/stdin"])
    assert server.get(f"{kv1}/stdin").json()["data"] == {"from": "stdin", "n": 3}


def test_write_from_file(cli, kv1, server, tmp_path):
    f = tmp_path / "body.json"
    f.write_text('{"from": "file", "list": [1, 2]}')
    ok(cli("write", f"{kv1}/file", f"@{f}"),
       out_has=[f"Success! Data written to: {kv1}/file"])
    assert server.get(f"{kv1}/file").json()["data"] == {"from": "file", "list": [1, 2]}
    # k=@file reads one value from a file
    v = tmp_path / "value.txt"
    v.write_text("file-content")
    ok(cli("write", f"{kv1}/fileval", f"v=@{v}"))
    assert server.get(f"{kv1}/fileval").json()["data"] == {"v": "file-content"}


def test_list(cli, kv1):
    base = unique("lst")
    for p in ("b", "a", "sub/c"):
        ok(cli("write", f"{kv1}/{base}/{p}", "x=y"))
    out = ok(cli("list", f"{kv1}/{base}"))
    assert out.splitlines() == ["Keys", "----", "a", "b", "sub/"], out
    js = json.loads(ok(cli("list", "-format=json", f"{kv1}/{base}/")))
    assert js == ["a", "b", "sub/"]
    fails(cli("list", f"{kv1}/{base}/nothing/"), 2,
          err_has=[f"No value found at {kv1}/{base}/nothing/"])


def test_read_missing(cli, kv1):
    err = fails(cli("read", f"{kv1}/does-not-exist"), 2,
                err_has=[f"No value found at {kv1}/does-not-exist"])
    assert "Error" not in err


def test_delete(cli, kv1):
    ok(cli("write", f"{kv1}/gone", "a=b"))
    ok(cli("delete", f"{kv1}/gone"),
       out_has=[f"Success! Data deleted (if it existed) at: {kv1}/gone"])
    fails(cli("read", f"{kv1}/gone"), 2, err_has=[f"No value found at {kv1}/gone"])
    ok(cli("delete", f"{kv1}/gone"),
       out_has=[f"Success! Data deleted (if it existed) at: {kv1}/gone"])


def test_api_error_block(cli, server):
    # 400 from sys/mounts/<path> for a path with no mount
    code, out, err = cli("read", "sys/mounts/no-such-mount")
    assert code == 2, f"exit {code}\n{out}{err}"
    assert "Error reading sys/mounts/no-such-mount: Error making API request." in err, err
    assert f"URL: GET {server.addr}/v1/sys/mounts/no-such-mount" in err, err
    assert "Code: 400. Errors:" in err, err
    assert "* No secret engine mount at no-such-mount/" in err, err


def test_read_unknown_mount_is_no_value(cli):
    # the Go client turns any 404 without data (even one with errors) into "no value"
    fails(cli("read", "no-such-mount/x"), 2, err_has=["No value found at no-such-mount/x"])


def test_bad_token(cli, kv1):
    code, out, err = cli("read", f"{kv1}/foo", token="wrong-token")
    assert code == 2, f"exit {code}\n{out}{err}"
    assert "Code: 403. Errors:" in err, err
    assert "permission denied" in err, err


# --- kv (v2 through secret/) ----------------------------------------------------------


def kv_meta_rows(out):
    secs = sections(out)
    assert "Metadata" in secs, f"no Metadata section:\n{out}"
    return parse_table(secs["Metadata"])


def test_kv_put_get(cli):
    p = unique("clikv")
    out = ok(cli("kv", "put", f"secret/{p}", "b=2", "a=1"))
    secs = sections(out)
    assert secs.get("Secret Path") == f"secret/data/{p}", out
    rows = kv_meta_rows(out)
    assert rows["version"] == "1"
    assert rows["deletion_time"] == "n/a"
    assert rows["destroyed"] == "false"
    assert rows["custom_metadata"] == "<nil>"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", rows["created_time"]), rows
    assert "Data" not in secs

    out = ok(cli("kv", "get", f"secret/{p}"))
    secs = sections(out)
    assert secs.get("Secret Path") == f"secret/data/{p}", out
    assert kv_meta_rows(out)["version"] == "1"
    assert "Data" in secs, out
    assert secs["Data"].splitlines() == [
        "Key    Value",
        "---    -----",
        "a      1",
        "b      2",
    ], out

    assert ok(cli("kv", "get", "-field=b", f"secret/{p}")).rstrip("\n") == "2"
    js = json.loads(ok(cli("kv", "get", "-format=json", f"secret/{p}")))
    assert js["data"]["data"] == {"a": "1", "b": "2"}
    assert js["data"]["metadata"]["version"] == 1


def test_kv_put_cas_error_block(cli, server):
    p = unique("clicas")
    ok(cli("kv", "put", f"secret/{p}", "a=1"))
    code, out, err = cli("kv", "put", "-cas=5", f"secret/{p}", "a=2")
    assert code == 2, f"exit {code}\n{out}{err}"
    assert f"Error writing data to secret/data/{p}: Error making API request." in err, err
    assert f"URL: PUT {server.addr}/v1/secret/data/{p}" in err, err
    assert "Code: 400. Errors:" in err, err
    assert "* check-and-set parameter did not match the current version" in err, err
    ok(cli("kv", "put", "-cas=1", f"secret/{p}", "a=2"))


def test_kv_patch(cli):
    p = unique("clipatch")
    ok(cli("kv", "put", f"secret/{p}", "a=1", "b=2"))
    out = ok(cli("kv", "patch", f"secret/{p}", "b=3", "c=4"))
    assert kv_meta_rows(out)["version"] == "2"
    js = json.loads(ok(cli("kv", "get", "-format=json", f"secret/{p}")))
    assert js["data"]["data"] == {"a": "1", "b": "3", "c": "4"}
    code, out, err = cli("kv", "patch", f"secret/{unique('nopatch')}", "a=1")
    assert code == 2, f"patching a missing secret must fail: exit {code}\n{out}{err}"


def test_kv_delete_undelete_destroy(cli):
    p = unique("clidud")
    ok(cli("kv", "put", f"secret/{p}", "a=1"))
    ok(cli("kv", "put", f"secret/{p}", "a=2"))

    ok(cli("kv", "delete", f"secret/{p}"),
       out_has=[f"Success! Data deleted (if it existed) at: secret/data/{p}"])
    # the CLI still prints the metadata of the deleted version (404 with envelope), exit 0
    out = ok(cli("kv", "get", f"secret/{p}"))
    rows = kv_meta_rows(out)
    assert rows["version"] == "2"
    assert rows["deletion_time"] != "n/a", out
    assert "Data" not in sections(out), out

    ok(cli("kv", "undelete", "-versions=2", f"secret/{p}"),
       out_has=[f"Success! Data written to: secret/undelete/{p}"])
    out = ok(cli("kv", "get", f"secret/{p}"))
    assert parse_table(sections(out)["Data"])["a"] == "2"

    ok(cli("kv", "destroy", "-versions=1", f"secret/{p}"),
       out_has=[f"Success! Data written to: secret/destroy/{p}"])
    out = ok(cli("kv", "get", "-version=1", f"secret/{p}"))
    assert kv_meta_rows(out)["destroyed"] == "true", out

    # -versions soft-deletes specific versions (POST secret/delete/p); Vault's
    # message still names the data path
    ok(cli("kv", "delete", "-versions=2", f"secret/{p}"),
       out_has=[f"Success! Data deleted (if it existed) at: secret/data/{p}"])
    out = ok(cli("kv", "get", f"secret/{p}"))
    assert kv_meta_rows(out)["deletion_time"] != "n/a", out


def test_kv_metadata_get_put_delete(cli):
    p = unique("climeta")
    ok(cli("kv", "put", f"secret/{p}", "a=1"))
    ok(cli("kv", "put", f"secret/{p}", "a=2"))
    out = ok(cli("kv", "metadata", "get", f"secret/{p}"))
    secs = sections(out)
    assert secs.get("Metadata Path") == f"secret/metadata/{p}", out
    rows = parse_table(secs["Metadata"])
    assert rows["current_version"] == "2"
    assert rows["oldest_version"] == "0"
    assert rows["max_versions"] == "0"
    assert rows["cas_required"] == "false"
    assert rows["delete_version_after"] == "0s"
    assert "Version 1" in secs and "Version 2" in secs, out
    v1 = parse_table(secs["Version 1"])
    assert v1["destroyed"] == "false" and v1["deletion_time"] == "n/a"

    ok(cli("kv", "metadata", "put", "-max-versions=3", "-custom-metadata=owner=ops",
           f"secret/{p}"),
       out_has=[f"Success! Data written to: secret/metadata/{p}"])
    rows = parse_table(sections(ok(cli("kv", "metadata", "get", f"secret/{p}")))["Metadata"])
    assert rows["max_versions"] == "3"
    assert rows["custom_metadata"] == "map[owner:ops]"

    ok(cli("kv", "metadata", "delete", f"secret/{p}"),
       out_has=[f"Success! Data deleted (if it existed) at: secret/metadata/{p}"])
    fails(cli("kv", "get", f"secret/{p}"), 2, err_has=[f"No value found at secret/data/{p}"])


def test_kv_list(cli):
    base = unique("clikvl")
    for k in ("y", "x", "d/z"):
        ok(cli("kv", "put", f"secret/{base}/{k}", "a=1"))
    out = ok(cli("kv", "list", f"secret/{base}"))
    assert out.splitlines() == ["Keys", "----", "d/", "x", "y"], out
    fails(cli("kv", "list", f"secret/{base}/none"), 2,
          err_has=[f"No value found at secret/metadata/{base}/none"])


def test_kv_get_missing(cli):
    p = unique("nokv")
    fails(cli("kv", "get", f"secret/{p}"), 2, err_has=[f"No value found at secret/data/{p}"])


def test_kv_on_v1_mount(cli, kv1):
    ok(cli("kv", "put", f"{kv1}/kvv1", "a=b"),
       out_has=[f"Success! Data written to: {kv1}/kvv1"])
    out = ok(cli("kv", "get", f"{kv1}/kvv1"))
    # Vault's `kv get` on v1: no Secret Path, no Metadata, just the Data table
    secs = sections(out)
    assert list(secs) == ["Data"], out
    assert secs["Data"].splitlines() == ["Key    Value", "---    -----", "a      b"], out
    assert ok(cli("kv", "get", "-field=a", f"{kv1}/kvv1")).rstrip("\n") == "b"
    out = ok(cli("kv", "list", f"{kv1}/"))
    assert "kvv1" in out.splitlines()


def test_write_with_response_prints_table(cli):
    # a write answered with 200 + data prints the table instead of "Success!"
    p = unique("cliw200")
    out = ok(cli("write", f"secret/data/{p}", "-", input='{"data": {"a": "1"}}'))
    assert "Success!" not in out
    rows = parse_table(out)
    assert rows["version"] == "1", out
    assert rows["destroyed"] == "false"
    assert rows["deletion_time"] == "n/a"


def test_read_with_query_params(cli):
    p = unique("cliq")
    ok(cli("kv", "put", f"secret/{p}", "v=one"))
    ok(cli("kv", "put", f"secret/{p}", "v=two"))
    # `read path k=v` sends k=v as query parameters
    js = json.loads(ok(cli("read", "-format=json", f"secret/data/{p}", "version=1")))
    assert js["data"]["data"] == {"v": "one"}
    assert js["data"]["metadata"]["version"] == 1


def test_vault_env_vars_and_address_flag(cli, server, kv1):
    ok(cli("write", f"{kv1}/envvars", "a=b"))
    env = cli.env(token=None)
    del env["COFFER_ADDR"]
    env["VAULT_ADDR"] = server.addr
    env["VAULT_TOKEN"] = server.token
    assert ok(cli("read", "-field=a", f"{kv1}/envvars", env=env)).rstrip("\n") == "b"
    env = cli.env()
    env["COFFER_ADDR"] = "http://127.0.0.1:1"
    assert ok(cli("read", f"-address={server.addr}", "-field=a", f"{kv1}/envvars",
                  env=env)).rstrip("\n") == "b"
