"""Issue 13 item 3: `allowed_parameters`, `denied_parameters` and `required_parameters`
are enforced as Vault enforces them (through the real server), and policy fields this
server cannot enforce (`min_wrapping_ttl`, `max_wrapping_ttl`, `mfa_methods`,
`control_group`) are refused when the policy is written, not accepted and ignored.
"""

import pytest

from conftest import assert_errors, unique


def policy(server, text: str) -> str:
    name = unique("params")
    r = server.put(f"sys/policy/{name}", json={"policy": text})
    assert r.status_code == 204, f"policy write: {r.status_code} {r.text}"
    return name


def token(server, *policies: str) -> str:
    r = server.post("auth/token/create", json={"policies": list(policies), "ttl": "1h"})
    assert r.status_code == 200, r.text
    return r.json()["auth"]["client_token"]


def write(server, tok: str, path: str, body: dict):
    return server.post(path, token=tok, json=body)


def test_denied_data_parameter_refused(server):
    # kv v2's body is {"data": {...}, "options": {...}}: the parameters are those keys.
    tok = token(
        server,
        policy(
            server,
            """
path "secret/data/denied/*" {
  capabilities = ["create", "update", "read"]
  denied_parameters = { "data" = [] }
}
""",
        ),
    )
    r = write(server, tok, "secret/data/denied/x", {"data": {"k": "v"}})
    assert_errors(r, 403, "permission denied")
    # Nothing was written.
    assert server.get("secret/data/denied/x").status_code == 404
    # Other parameters still pass the parameter check (kv itself then decides).
    r = write(server, tok, "secret/data/denied/x", {"options": {"cas": 0}})
    assert r.status_code != 403, r.text


def test_allowed_object_value_and_unlisted_parameter(server):
    tok = token(
        server,
        policy(
            server,
            """
path "secret/data/paint" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "data" = [{"color" = "blue"}]
  }
}
""",
        ),
    )
    r = write(server, tok, "secret/data/paint", {"data": {"color": "red"}})
    assert_errors(r, 403, "permission denied")
    r = write(server, tok, "secret/data/paint", {"data": {"color": "blue"}})
    assert r.status_code == 200, r.text
    # An unlisted parameter is refused.
    r = write(server, tok, "secret/data/paint", {"data": {"color": "blue"}, "options": {}})
    assert_errors(r, 403, "permission denied")


def test_color_blue_only_on_kv_v1(server):
    mount = unique("colors")
    server.enable(mount, "kv", options={"version": "1"})
    tok = token(
        server,
        policy(
            server,
            f"""
path "{mount}/*" {{
  capabilities = ["create", "update", "read"]
  allowed_parameters = {{
    "color" = ["blue", "light*"]
    "*" = []
  }}
}}
""",
        ),
    )
    r = write(server, tok, f"{mount}/car", {"color": "red"})
    assert_errors(r, 403, "permission denied")
    assert server.get(f"{mount}/car").status_code == 404
    for ok_color in ("blue", "lightgreen"):
        r = write(server, tok, f"{mount}/car", {"color": ok_color, "size": "big"})
        assert r.status_code == 204, (ok_color, r.status_code, r.text)
    assert server.get(f"{mount}/car").json()["data"] == {"color": "lightgreen", "size": "big"}
    # Form bodies are checked the same way.
    r = server.post(
        f"{mount}/car",
        token=tok,
        data="color=red",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_errors(r, 403, "permission denied")


def test_required_parameter_missing_refused(server):
    mount = unique("req")
    server.enable(mount, "kv", options={"version": "1"})
    tok = token(
        server,
        policy(
            server,
            f"""
path "{mount}/*" {{
  capabilities = ["create", "update"]
  required_parameters = ["owner"]
}}
""",
        ),
    )
    r = write(server, tok, f"{mount}/a", {"value": "x"})
    assert_errors(r, 403, "permission denied")
    r = write(server, tok, f"{mount}/a", {"value": "x", "owner": "me"})
    assert r.status_code == 204, r.text


def test_token_create_ttl_restricted(server):
    tok = token(
        server,
        policy(
            server,
            """
path "auth/token/create" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "ttl" = ["1h", "2h"]
    "*" = []
  }
}
""",
        ),
    )
    r = server.post("auth/token/create", token=tok, json={"ttl": "700h"})
    assert_errors(r, 403, "permission denied")
    r = server.post("auth/token/create", token=tok, json={"ttl": "1h"})
    assert r.status_code == 200, r.text
    assert r.json()["auth"]["lease_duration"] == 3600


def test_constraints_merge_across_policies(server):
    mount = unique("merge")
    server.enable(mount, "kv", options={"version": "1"})

    def colors(*values: str) -> str:
        listed = ", ".join(f'"{v}"' for v in values)
        return policy(
            server,
            f"""
path "{mount}/*" {{
  capabilities = ["create", "update"]
  allowed_parameters = {{ "color" = [{listed}] }}
}}
""",
        )

    blue, red, anything = colors("blue"), colors("red"), colors()
    both = token(server, blue, red)
    assert write(server, both, f"{mount}/x", {"color": "red"}).status_code == 204
    assert write(server, both, f"{mount}/x", {"color": "blue"}).status_code == 204
    assert_errors(write(server, both, f"{mount}/x", {"color": "green"}), 403, "permission denied")
    # An empty list in any of the policies means any value.
    wide = token(server, blue, anything)
    assert write(server, wide, f"{mount}/x", {"color": "green"}).status_code == 204


@pytest.mark.parametrize(
    "field,value",
    [
        ("min_wrapping_ttl", '"1m"'),
        ("max_wrapping_ttl", '"1h"'),
        ("mfa_methods", '["totp"]'),
        ("control_group", "{ max_approvals = 2 }"),
    ],
)
def test_unenforceable_fields_refused_at_write(server, field, value):
    name = unique("unenforceable")
    text = f'path "secret/data/x" {{\n  capabilities = ["read"]\n  {field} = {value}\n}}\n'
    r = server.put(f"sys/policy/{name}", json={"policy": text})
    assert_errors(r, 400, "failed to parse policy", field, "not supported")
    assert server.get(f"sys/policy/{name}").status_code == 404
    # The sys/policies/acl form too.
    r = server.put(f"sys/policies/acl/{name}", json={"policy": text})
    assert_errors(r, 400, field)
