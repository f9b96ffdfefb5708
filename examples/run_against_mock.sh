#!/usr/bin/env bash
# Runs one example program against the StackOne mock server on a free loopback port.
#
# Usage: run_against_mock.sh MOCK_BIN EXAMPLE_BIN [ARGS...]
#
# The example must exit 0 and print a created note id (`mock-note-...`), and a line matching the
# extended regex EXAMPLE_EXPECT when that is set. With EXAMPLE_MODE=server
# in the environment the example is an HTTP server instead (embedded_server): it is started and
# sent a note with curl (201 with a created id expected); then a second note is sent that the mock
# holds for 1.5 s, and SIGTERM arrives while it is in flight: the server must refuse new
# connections, still answer that request with 201, and exit 0.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 MOCK_BIN EXAMPLE_BIN [ARGS...]" >&2
    exit 2
fi
mock_bin=$1
example_bin=$2
shift 2

work=$(mktemp -d)
mock_pid=
example_pid=

# Both servers are stopped by PID, whatever happens; nothing else is touched.
cleanup()
{
    if [[ -n $example_pid ]]; then
        kill "$example_pid" 2>/dev/null || true
        wait "$example_pid" 2>/dev/null || true
    fi
    if [[ -n $mock_pid ]]; then
        kill "$mock_pid" 2>/dev/null || true
        wait "$mock_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Waits up to 10 s for FILE to exist and be non-empty.
wait_for_file()
{
    local file=$1
    for _ in $(seq 100); do
        [[ -s $file ]] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $file" >&2
    return 1
}

# A made-up key: the mock accepts only this one, so a test cannot pass with a stray real key.
api_key=sk_test_examples

# Notes for candidates `cand-slow-*` (server mode only) are answered after 1.5 s.
echo '{"rules": [{"candidate_id": "^cand-slow-", "steps": [{"delay_ms": 1500, "times": 0}]}]}' \
    >"$work/scenario.json"
"$mock_bin" --port 0 --port-file "$work/mock.port" --api-key "$api_key" \
    --scenario "$work/scenario.json" >"$work/mock.log" 2>&1 &
mock_pid=$!
wait_for_file "$work/mock.port" || { cat "$work/mock.log" >&2; exit 1; }
mock_port=$(head -n 1 "$work/mock.port")

export STACKONE_API_KEY=$api_key
export STACKONE_BASE_URL="http://127.0.0.1:$mock_port"
export STACKONE_ACCOUNT_ID=acct-examples
unset STACKONE_CA_FILE

if [[ ${EXAMPLE_MODE:-} != server ]]; then
    status=0
    "$example_bin" "$@" >"$work/out.txt" 2>&1 || status=$?
    cat "$work/out.txt"
    if [[ $status -ne 0 ]]; then
        echo "FAIL: $example_bin exited with $status" >&2
        exit 1
    fi
    if ! grep -q 'mock-note-' "$work/out.txt"; then
        echo "FAIL: no created note id (mock-note-...) in the output" >&2
        exit 1
    fi
    # EXAMPLE_EXPECT: an extended regex the output must also match (one line at least).
    if [[ -n ${EXAMPLE_EXPECT:-} ]] && ! grep -Eq "$EXAMPLE_EXPECT" "$work/out.txt"; then
        echo "FAIL: no output line matches: $EXAMPLE_EXPECT" >&2
        exit 1
    fi
    echo "PASS"
    exit 0
fi

if ! command -v curl >/dev/null; then
    echo "SKIP: curl is not installed" >&2
    exit 77
fi
mock_url=$STACKONE_BASE_URL

# Waits up to 10 s for a line matching PATTERN in FILE.
wait_for_line()
{
    local pattern=$1 file=$2
    for _ in $(seq 100); do
        grep -q "$pattern" "$file" && return 0
        sleep 0.1
    done
    echo "timed out waiting for '$pattern' in $file" >&2
    return 1
}

# POSTs a note for CANDIDATE to the example; writes the body to FILE, prints the status.
post_note()
{
    local candidate=$1 file=$2
    curl -sS -o "$file" -w '%{http_code}' --max-time 30 -H 'Content-Type: text/plain' \
        --data-binary 'Phone screen went well.' "$url/candidates/$candidate/notes" || true
}

fail()
{
    echo "server log:" >&2
    cat "$work/server.log" >&2
    echo "FAIL: $*" >&2
    exit 1
}

# The server prints its URL once listening; port 0 lets the kernel pick a free port.
"$example_bin" 0 "$@" >"$work/server.log" 2>&1 &
example_pid=$!
wait_for_line 'listening on http://' "$work/server.log" || fail "the server did not start"
url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/server.log" | head -n 1)

# A plain request: 201 with the id the mock created.
code=$(post_note cand-embedded-1 "$work/fast.json")
echo "fast request: HTTP $code $(cat "$work/fast.json")"
[[ $code == 201 ]] || fail "expected HTTP 201, got $code"
grep -q 'mock-note-' "$work/fast.json" || fail "no created note id (mock-note-...) in the response"

# A request the mock holds for 1.5 s (scenario rule ^cand-slow-), in flight during SIGTERM.
post_note cand-slow-1 "$work/slow.json" >"$work/slow.code" &
slow_pid=$!
for _ in $(seq 100); do
    curl -s "$mock_url/_mock/stats" | grep -q '"scripted":1' && break
    sleep 0.1
done
curl -s "$mock_url/_mock/stats" | grep -q '"scripted":1' || fail "the slow request never reached the mock"

# SIGTERM: no new connections, the request in flight still answered, then exit 0.
kill -TERM "$example_pid"
wait_for_line 'stopping' "$work/server.log" || fail "no shutdown message after SIGTERM"
late=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "$url/candidates/x/notes" ||
    true)
[[ $late == 000 ]] || fail "a new request was answered ($late) after SIGTERM"
wait "$slow_pid"
slow_code=$(cat "$work/slow.code")
echo "in-flight request: HTTP $slow_code $(cat "$work/slow.json")"
[[ $slow_code == 201 ]] || fail "the request in flight got $slow_code, not 201"
grep -q 'mock-note-' "$work/slow.json" || fail "no created note id in the in-flight response"

for _ in $(seq 100); do
    kill -0 "$example_pid" 2>/dev/null || break
    sleep 0.1
done
server_status=0
if kill -0 "$example_pid" 2>/dev/null; then
    fail "the server was still running 10 s after SIGTERM"
fi
wait "$example_pid" || server_status=$?
example_pid=
cat "$work/server.log"
[[ $server_status -eq 0 ]] || fail "the server exited with $server_status after SIGTERM"
echo "PASS"
