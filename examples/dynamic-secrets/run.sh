#!/usr/bin/env bash
# Vault's "Dynamic Secrets" getting-started guide, run against Coffer with moto standing
# in for AWS IAM. Starts both servers, runs the guide's five commands, and shows from the
# AWS side (boto3) that the IAM user existed while the lease was live and is gone after
# `lease revoke`. Everything it starts is stopped on exit. See README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
COFFER_BIN="${COFFER_BIN:-$ROOT/target/release/coffer}"

if [ -t 1 ]; then
    say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
else
    say() { printf '\n# %s\n' "$*"; }
fi

# --- prerequisites: the test venv (moto, boto3) and the coffer binary --------------
if [ ! -x "$VENV/bin/moto_server" ]; then
    say "Installing the Python tools (moto, boto3) into .venv"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        -r tests/requirements.txt
fi
if [ ! -x "$COFFER_BIN" ]; then
    say "Building coffer (cargo build --release; a few minutes the first time)"
    cargo build --release
fi
PY="$VENV/bin/python"

# --- start moto and a dev server, stop them on exit --------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/coffer-dynamic-secrets.XXXXXX")"
MOTO_PID=""
SERVER_PID=""
cleanup() {
    set +e
    trap "" INT TERM  # a second Ctrl-C must not cut the clean-up short
    for pid in $SERVER_PID $MOTO_PID; do kill "$pid" 2>/dev/null; done
    for pid in $SERVER_PID $MOTO_PID; do wait "$pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE

say "Starting moto (a local AWS IAM/STS) on a free port"
"$VENV/bin/moto_server" -H 127.0.0.1 -p 0 >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
MOTO_PORT=""
for _ in $(seq 1 200); do
    MOTO_PORT="$(sed -n 's|.*Running on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$WORK/moto.log" | head -n1)"
    [ -n "$MOTO_PORT" ] && break
    kill -0 "$MOTO_PID" 2>/dev/null || { cat "$WORK/moto.log"; echo "moto failed to start" >&2; exit 1; }
    sleep 0.1
done
[ -n "$MOTO_PORT" ] || { cat "$WORK/moto.log"; echo "moto did not report its port" >&2; exit 1; }
export MOTO="http://127.0.0.1:$MOTO_PORT"
"$PY" - <<'EOF'
import os, time, requests
for _ in range(200):
    try:
        if requests.get(os.environ["MOTO"] + "/moto-api/", timeout=1).status_code == 200:
            break
    except requests.RequestException:
        pass
    time.sleep(0.1)
else:
    raise SystemExit("moto not ready")
EOF
echo "moto is at $MOTO"

# The guide uses your AWS root credentials; here an admin IAM user in moto plays them.
# Then moto starts enforcing authentication, so a key works only while its user exists.
say "Creating an admin IAM user in moto for Coffer (the guide's AWS credentials)"
eval "$("$PY" - <<'EOF'
import json, os, boto3, requests
iam = boto3.client("iam", endpoint_url=os.environ["MOTO"], region_name="us-east-1",
                   aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="bootstrap")
iam.create_user(UserName="coffer-admin")
iam.put_user_policy(UserName="coffer-admin", PolicyName="admin", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="coffer-admin")["AccessKey"]
requests.post(os.environ["MOTO"] + "/moto-api/reset-auth", data=b"0",
              headers={"Content-Type": "text/plain"}).raise_for_status()
print(f"export AWS_ACCESS_KEY_ID={key['AccessKeyId']} AWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}")
EOF
)"
echo "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID (user coffer-admin, policy Allow *)"

say "Starting a Coffer dev server"
SERVER_PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export COFFER_ADDR="http://127.0.0.1:$SERVER_PORT"
export COFFER_TOKEN="root"
HOME="$WORK" "$COFFER_BIN" server -dev -dev-listen-address="127.0.0.1:$SERVER_PORT" \
    -dev-root-token-id="$COFFER_TOKEN" -dev-no-store-token >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
    if "$PY" -c 'import os,sys,requests; sys.exit(requests.get(os.environ["COFFER_ADDR"]+"/v1/sys/health",timeout=1).status_code!=200)' 2>/dev/null; then
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; echo "coffer failed to start" >&2; exit 1; }
    sleep 0.1
done
echo "COFFER_ADDR=$COFFER_ADDR COFFER_TOKEN=$COFFER_TOKEN"

coffer() { "$COFFER_BIN" "$@"; }
run() { printf '\n$ coffer %s\n' "$*"; coffer "$@"; }

# --- the guide ------------------------------------------------------------------------
say "1. Enable the AWS secrets engine"
run secrets enable -path=aws aws

say "2. Configure it with the AWS credentials (endpoints point at moto)"
run write aws/config/root \
    access_key="$AWS_ACCESS_KEY_ID" \
    secret_key="$AWS_SECRET_ACCESS_KEY" \
    region=us-east-1 \
    iam_endpoint="$MOTO" \
    sts_endpoint="$MOTO"

say "3. Create a role: IAM users with this inline policy"
POLICY='{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Stmt1426528957000",
      "Effect": "Allow",
      "Action": ["ec2:*", "sts:GetCallerIdentity"],
      "Resource": ["*"]
    }
  ]
}'
printf '\n$ coffer write aws/roles/my-role credential_type=iam_user policy_document=-<<EOF\n%s\nEOF\n' "$POLICY"
coffer write aws/roles/my-role credential_type=iam_user policy_document=- <<<"$POLICY"

say "4. Generate a secret: a brand-new IAM user and access key"
run read aws/creds/my-role | tee "$WORK/creds.txt"
LEASE_ID="$(awk '$1 == "lease_id" {print $2}' "$WORK/creds.txt")"
export ACCESS_KEY="$(awk '$1 == "access_key" {print $2}' "$WORK/creds.txt")"
export SECRET_KEY="$(awk '$1 == "secret_key" {print $2}' "$WORK/creds.txt")"
[ -n "$LEASE_ID" ] && [ -n "$ACCESS_KEY" ] || { echo "could not read the credentials" >&2; exit 1; }

say "On the AWS side (boto3 against moto): the user exists and the key works"
"$PY" - <<'EOF'
import os, boto3
ep = os.environ["MOTO"]
admin = dict(endpoint_url=ep, region_name="us-east-1",
             aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
             aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])
iam = boto3.client("iam", **admin)
for u in iam.list_users()["Users"]:
    if u["UserName"] == "coffer-admin":
        continue
    keys = [k["AccessKeyId"] for k in iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]]
    pols = iam.list_user_policies(UserName=u["UserName"])["PolicyNames"]
    print(f"IAM user {u['UserName']}  keys={keys}  inline policies={pols}")
sts = boto3.client("sts", endpoint_url=ep, region_name="us-east-1",
                   aws_access_key_id=os.environ["ACCESS_KEY"],
                   aws_secret_access_key=os.environ["SECRET_KEY"])
print("GetCallerIdentity with the new key:", sts.get_caller_identity()["Arn"])
EOF

say "5. Revoke the secret"
run lease revoke "$LEASE_ID"

say "On the AWS side again: the user is deleted and the key is refused"
"$PY" - <<'EOF'
import os, time, boto3
from botocore.exceptions import ClientError
ep = os.environ["MOTO"]
iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1",
                   aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                   aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])
users = lambda: [u["UserName"] for u in iam.list_users()["Users"] if u["UserName"] != "coffer-admin"]
deadline = time.time() + 15  # the revoke above was queued; it finishes in the background
while users() and time.time() < deadline:
    time.sleep(0.2)
left = users()
print("IAM users created by Coffer:", left or "none left")
sts = boto3.client("sts", endpoint_url=ep, region_name="us-east-1",
                   aws_access_key_id=os.environ["ACCESS_KEY"],
                   aws_secret_access_key=os.environ["SECRET_KEY"])
try:
    sts.get_caller_identity()
    print("GetCallerIdentity with the revoked key: still works (unexpected!)")
    raise SystemExit(1)
except ClientError as e:
    print("GetCallerIdentity with the revoked key:", e.response["Error"]["Code"])
if left:
    raise SystemExit("the IAM user was not deleted")
EOF

say "Done: the credentials lived exactly as long as their lease."
