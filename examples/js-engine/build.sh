#!/usr/bin/env bash
# Builds the password generator component: `./build.sh [OUT]` (default: passgen.wasm
# here). Run `npm ci` first (it installs the pinned componentize-js into node_modules).
#   wit/world.wit   the engine world without the AWS imports (plugins are not granted
#                   them); componentize-js takes one WIT directory, so this script
#                   assembles it with ../../wit as a dependency
#   -d ...          disables every WASI feature: the component imports only the world
set -euo pipefail
OUT="$(realpath -m "${1:-$(dirname "$0")/passgen.wasm}")"
cd "$(dirname "$0")"
WIT="$(mktemp -d)"
trap 'rm -rf "$WIT"' EXIT
mkdir -p "$WIT/deps/coffer-engine"
cp ../../wit/*.wit "$WIT/deps/coffer-engine/"
cp wit/world.wit "$WIT/"
./node_modules/.bin/componentize-js app.js --wit "$WIT" -n passgen-engine \
    -d stdio random clocks http fetch-event -o "$OUT"
