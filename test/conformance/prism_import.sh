#!/usr/bin/env bash
# Conformance against an independent validator: Stoplight Prism serves the OpenAPI contract
# (../shared/spec) with request validation on (--errors), and stackone-notes imports 50 notes
# into it. Prism answers a request that breaks the contract with 422 and an sl-violations
# header, so 50 "created" results mean 50 conforming requests.
#
# Usage: prism_import.sh STACKONE_NOTES_BINARY NOTES_JSONL
# Exit 77 (Meson: skipped) when the shared tools or npm are not available.
set -euo pipefail
NOTES_BIN=$1
INPUT=$2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PRISM=${PRISM_MOCK_SCRIPT:-$ROOT/../shared/tools/prism-mock.sh}

[ -x "$PRISM" ] || [ -f "$PRISM" ] || { echo "skip: $PRISM not found"; exit 77; }
command -v npm >/dev/null || { echo "skip: npm not installed"; exit 77; }

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
    bash "$PRISM" stop "$PORT" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

bash "$PRISM" start "$PORT" >"$WORK/prism.out"
head -n 50 "$INPUT" >"$WORK/notes.jsonl"

status=0
STACKONE_API_KEY=sk_test_conformance "$NOTES_BIN" import "$WORK/notes.jsonl" \
    --base-url "http://127.0.0.1:$PORT" --account-id acc-conformance \
    --concurrency 4 --output "$WORK/results.jsonl" 2>"$WORK/import.err" || status=$?

created=$(grep -c '"outcome":"created"' "$WORK/results.jsonl" || true)
echo "created: $created of 50 (import exit $status)"
if [ "$created" != 50 ] || [ "$status" != 0 ]; then
    grep -v '"outcome":"created"' "$WORK/results.jsonl" | head -5
    cat "$WORK/import.err" | tail -5
    exit 1
fi
