#!/usr/bin/env bash
# Builds the TOTP engine component: `./build.sh [OUT]` (default: totp.wasm here).
# Needs componentize-py on PATH (or COMPONENTIZE_PY=/path/to/componentize-py).
#   -d ../../wit -d wit   the coffer:engine package, and wit/world.wit (the engine world
#                         without the AWS imports, which plugins are not granted)
#   --stub-wasi           no WASI imports at all: the host grants none
set -euo pipefail
OUT="$(realpath -m "${1:-$(dirname "$0")/totp.wasm}")"
cd "$(dirname "$0")"
"${COMPONENTIZE_PY:-componentize-py}" -q -d ../../wit -d wit -w example:totp/totp-engine \
    componentize app -o "$OUT" --stub-wasi
