#!/usr/bin/env python3
"""Bad input to the stackone-notes command line, checked from outside.

Usage: cli_test.py STACKONE_NOTES_BINARY STACKONE_MOCK_BINARY

1. Usage errors: for every flag of `create` and `import`, a wrong value (not a number, out of
   range, bad URL scheme, user info in the URL, missing file, unknown level, conflicting or
   missing flags, unknown flag) exits 2 with a stderr message naming the flag, and the mock
   (started here, with a ledger) received no request at all.
2. Hostile input files: binary bytes, invalid UTF-8, a line over the importer's 1 MiB limit
   (import_options::max_line_bytes; the CLI does not expose it), an empty file, no trailing
   newline, CRLF, blank lines: every non-blank line gets exactly one result line carrying its
   line number, bad lines are `rejected` with an error that says why, the good lines around
   them are created (ledger), and the exit status is the documented one.
3. TLS: without --ca-file an untrusted certificate fails the call; --insecure lets it through
   and prints a warning (needs $STACKONE_TEST_CERTS; that half is skipped without it).
4. Input from a pipe that stalls (open, silent): the lines already written are created and
   their results written meanwhile; then SIGINT ends the import within --stop-grace and a
   small margin (not through the watchdog, grace + 10 s), status 130, with a result and a
   journal record for every line taken, the call in flight cancelled as `unknown`.

The API key is made up and must appear in no output. Python 3 standard library only. Exit 0 on
success, 1 on a failed check, 77 (Meson: skipped) when a binary is missing.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

API_KEY = "sk_test_cli_made_up_0042"
FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL: " + what)
    return condition


class Mock:
    """One stackone-mock process with a ledger, on a free loopback port."""

    def __init__(self, binary, workdir, name, tls_files=None, scenario=None):
        self.ledger = os.path.join(workdir, name + ".ledger")
        port_file = os.path.join(workdir, name + ".port")
        args = [binary, "--api-key", API_KEY, "--ledger", self.ledger, "--port-file", port_file]
        if tls_files:
            args += ["--tls", "--cert", tls_files[0], "--key", tls_files[1]]
        if scenario:
            scenario_file = os.path.join(workdir, name + ".scenario.json")
            with open(scenario_file, "w") as f:
                json.dump(scenario, f)
            args += ["--scenario", scenario_file]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # The one stdout line says it is listening; the port file is written before it.
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            raise RuntimeError("stackone-mock did not start: " + line)
        with open(port_file) as f:
            self.port = int(f.read().strip())
        scheme = "https" if tls_files else "http"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)
        self.tls = bool(tls_files)

    def stats(self):
        if self.tls:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with urllib.request.urlopen(self.url + "/_mock/stats", context=ctx, timeout=10) as r:
                return json.load(r)
        with urllib.request.urlopen(self.url + "/_mock/stats", timeout=10) as r:
            return json.load(r)

    def ledger_candidates(self):
        if not os.path.exists(self.ledger):
            return []
        with open(self.ledger) as f:
            return [json.loads(line)["candidate_id"] for line in f if line.strip()]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def cli_env():
    """The environment of a CLI run: none of the caller's STACKONE_ variables, the test key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STACKONE_")}
    env["STACKONE_API_KEY"] = API_KEY
    return env


def run(binary, args, env_extra=None, drop_env=(), timeout=120):
    env = cli_env()
    for name in drop_env:
        env.pop(name, None)
    env.update(env_extra or {})
    p = subprocess.run([binary] + args, env=env, capture_output=True, timeout=timeout)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    check(API_KEY not in out and API_KEY not in err, "the API key was printed by %r" % args)
    return p.returncode, out, err


def usage_cases(workdir, url):
    """(label, subcommand args, the text the message must contain, extra env, dropped env)."""
    empty_file = os.path.join(workdir, "empty.txt")
    not_pem = os.path.join(workdir, "not-a-cert.pem")
    notes = os.path.join(workdir, "notes.jsonl")
    existing = os.path.join(workdir, "existing.results.jsonl")
    for path in (empty_file, existing):
        open(path, "w").close()
    with open(not_pem, "w") as f:
        f.write("this is not a certificate\n")
    with open(notes, "w") as f:
        f.write('{"candidate_id": "c-1", "body": "never sent"}\n')

    create = ["create", "--base-url", url, "--account-id", "acc-1", "--candidate-id", "c-1",
              "--body", "never sent"]
    imp = ["import", notes, "--base-url", url, "--account-id", "acc-1",
           "--output", os.path.join(workdir, "never.results.jsonl")]

    common = [
        # flag, wrong value(s), text in the message
        ("--base-url", ["ftp://127.0.0.1/"], "--base-url"),
        ("--base-url", ["127.0.0.1:8080"], "--base-url"),
        ("--base-url", ["https://"], "--base-url"),
        ("--base-url", [url.replace("://", "://user:hunter2@")], "--base-url"),
        ("--base-url", [url + "/?q=1"], "--base-url"),
        ("--base-url", [url + "#frag"], "--base-url"),
        ("--base-url", ["http://127.0.0.1:99999"], "--base-url"),
        ("--account-id", [""], "--account-id"),
        ("--account-id", ["acc\n1"], "--account-id"),
        ("--api-key-file", [os.path.join(workdir, "missing-key")], "--api-key-file"),
        ("--api-key-file", [empty_file], "--api-key-file"),
        ("--api-key-file", [workdir], "--api-key-file"),
        ("--ca-file", [os.path.join(workdir, "missing.pem")], "--ca-file"),
        ("--ca-file", [not_pem], "--ca-file"),
        ("--ca-file", [workdir], "--ca-file"),
        ("--insecure", ["=maybe"], "--insecure"),
        ("--connections", ["many"], "--connections"),
        ("--connections", ["0"], "--connections"),
        ("--connections", ["10001"], "--connections"),
        ("--connections", ["-3"], "--connections"),
        ("--user-agent", ["agent\r\nX-Injected: 1"], "--user-agent"),
        ("--heartbeat", ["=sometimes"], "--heartbeat"),
        ("--heartbeat-gap", ["soon"], "--heartbeat-gap"),
        ("--heartbeat-gap", ["-1"], "--heartbeat-gap"),
        ("--heartbeat-gap", ["1e3"], "--heartbeat-gap"),
        ("--timeout", ["0"], "--timeout"),
        ("--timeout", ["inf"], "--timeout"),
        ("--timeout", ["-5"], "--timeout"),
        ("--timeout", ["9999999999"], "--timeout"),
        ("--deadline", ["tomorrow"], "--deadline"),
        ("--deadline", ["-1"], "--deadline"),
        ("--max-attempts", ["0"], "--max-attempts"),
        ("--max-attempts", ["101"], "--max-attempts"),
        ("--max-attempts", ["three"], "--max-attempts"),
        ("--no-retry", ["=yes please"], "--no-retry"),
        ("--at-most-once", ["=x"], "--at-most-once"),
        ("--rate", ["-1"], "--rate"),
        ("--rate", ["fast"], "--rate"),
        ("--rate", ["1e8"], "--rate"),
        ("--rate", ["10000001"], "--rate"),
        ("--rate", ["inf"], "--rate"),
        ("--rate", ["0x10"], "--rate"),
        ("--max-retry-after", ["forever"], "--max-retry-after"),
        ("--max-retry-after", ["-2"], "--max-retry-after"),
        ("--log-level", ["verbose"], "--log-level"),
        ("--log-level", ["WARN"], "--log-level"),
    ]
    cases = []
    for name, base in (("create", create), ("import", imp)):
        for flag, values, text in common:
            for value in values:
                if value.startswith("="):
                    args = base + [flag + value]
                elif flag in ("--base-url", "--account-id"):
                    # Replace the valid value already in the base command line.
                    args = list(base)
                    args[args.index(flag) + 1] = value
                else:
                    args = base + [flag, value]
                cases.append(("%s %s %r" % (name, flag, value), args, text, {}, ()))
        cases += [
            (name + " --no-retry with --max-attempts",
             base + ["--no-retry", "--max-attempts", "2"], "--no-retry", {}, ()),
            (name + " unknown flag", base + ["--frobnicate"], "--frobnicate", {}, ()),
            (name + " --api-key on the command line", base + ["--api-key", "sk_live_x"],
             "--api-key", {}, ()),
            (name + " --api-key=KEY", base + ["--api-key=sk_live_x"], "--api-key", {}, ()),
            (name + " no key anywhere", base, "STACKONE_API_KEY", {}, ("STACKONE_API_KEY",)),
            (name + " missing --account-id",
             [a for i, a in enumerate(base)
              if a != "--account-id" and (i == 0 or base[i - 1] != "--account-id")],
             "--account-id", {}, ()),
            (name + " --base-url from the environment",
             [a for i, a in enumerate(base)
              if a != "--base-url" and (i == 0 or base[i - 1] != "--base-url")],
             "STACKONE_BASE_URL", {"STACKONE_BASE_URL": "gopher://127.0.0.1/"}, ()),
        ]

    def without(args, flag):
        i = args.index(flag)
        return args[:i] + args[i + 2:]

    cases += [
        ("create missing --candidate-id", without(create, "--candidate-id"), "--candidate-id",
         {}, ()),
        ("create missing --body", without(create, "--body"), "--body", {}, ()),
        ("create --candidate-id ''", create[:6] + [""] + create[7:], "--candidate-id", {}, ()),
        ("create --candidate-id ..", create[:6] + [".."] + create[7:], "--candidate-id", {}, ()),
        ("create --author-id ''", create + ["--author-id", ""], "--author-id", {}, ()),
        ("create --visibility ''", create + ["--visibility", ""], "--visibility", {}, ()),
        ("create with a FILE argument", create + [notes], notes, {}, ()),
        ("create --concurrency (import only)", create + ["--concurrency", "2"], "--concurrency",
         {}, ()),
        ("import missing FILE", [imp[0]] + imp[2:], "FILE", {}, ()),
        ("import FILE missing", [imp[0], os.path.join(workdir, "nope.jsonl")] + imp[2:], "FILE",
         {}, ()),
        ("import FILE a directory", [imp[0], workdir] + imp[2:], "FILE", {}, ()),
        ("import --concurrency 0", imp + ["--concurrency", "0"], "--concurrency", {}, ()),
        ("import --concurrency 10001", imp + ["--concurrency", "10001"], "--concurrency", {}, ()),
        ("import --concurrency lots", imp + ["--concurrency", "lots"], "--concurrency", {}, ()),
        ("import --output exists", without(imp, "--output") + ["--output", existing],
         "--output", {}, ()),
        ("import --output is the input", without(imp, "--output") + ["--output", notes,
                                                                     "--overwrite"],
         "--output", {}, ()),
        ("import --output in a missing directory",
         without(imp, "--output") + ["--output", os.path.join(workdir, "no", "r.jsonl")],
         "--output", {}, ()),
        ("import --output a directory", without(imp, "--output") + ["--output", workdir],
         "--output", {}, ()),
        ("import --overwrite=x", imp + ["--overwrite=x"], "--overwrite", {}, ()),
        ("import --candidate-id (create only)", imp + ["--candidate-id", "c"], "--candidate-id",
         {}, ()),
        ("no subcommand", ["--account-id", "acc-1"], "subcommand", {}, ()),
        ("unknown subcommand", ["delete", "--account-id", "acc-1"], "delete", {}, ()),
    ]
    return cases


def check_usage_errors(notes_bin, mock, workdir):
    for label, args, text, env_extra, dropped in usage_cases(workdir, mock.url):
        rc, out, err = run(notes_bin, args, env_extra, dropped)
        check(rc == 2, "%s: exit %d, expected 2 (stderr: %s)" % (label, rc, err.strip()))
        check(text in err, "%s: stderr does not name %r: %s" % (label, text, err.strip()))
        check("usage error" in err, "%s: not reported as a usage error: %s" % (label, err))
        check("hunter2" not in err, "%s: the URL's password was echoed: %s" % (label, err))
        check(out == "", "%s: printed a result on stdout: %s" % (label, out))
        requests = mock.stats()["requests"]
        if not check(requests == 0, "%s: the mock received %d request(s)" % (label, requests)):
            return
    check(not os.path.exists(os.path.join(workdir, "never.results.jsonl")),
          "a usage error left a results file behind")


def results_of(path):
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def import_file(notes_bin, mock, workdir, name, content):
    path = os.path.join(workdir, name + ".jsonl")
    with open(path, "wb") as f:
        f.write(content)
    out_path = os.path.join(workdir, name + ".results.jsonl")
    rc, _, err = run(notes_bin, ["import", path, "--base-url", mock.url, "--account-id", "acc-1",
                                 "--output", out_path, "--concurrency", "4"])
    check(os.path.exists(out_path), name + ": no results file")
    return rc, (results_of(out_path) if os.path.exists(out_path) else []), err


def check_hostile_files(notes_bin, mock, workdir):
    limit = 1024 * 1024  # import_options::max_line_bytes; the CLI has no flag for it
    good = lambda cand: ('{"candidate_id": "%s", "body": "fine"}' % cand).encode()
    lines = [
        good("f-1"),                                                   # 1
        b"\x00\x01\x02\x7f\xff\xfe binary \x00 bytes",                   # 2
        b'{"candidate_id": "f-bad-utf8", "body": "caf\xe9 \xc3\x28"}',   # 3 invalid UTF-8
        b"",                                                           # 4 blank: no result
        b'{"candidate_id": "f-long", "body": "' + b"a" * limit + b'"}',  # 5 over the limit
        good("f-2") + b"\r",                                           # 6 CRLF
        b"   \t ",                                                     # 7 blank: no result
        b'\xef\xbb\xbf' + good("f-bom"),                                # 8 BOM: not JSON
        b'["an", "array"]',                                            # 9
        b'{"candidate_id": 42, "body": "x"}',                          # 10
        b'{"candidate_id": "f-3", "body": "caf\xc3\xa9 \xe2\x82\xac"}',  # 11 valid UTF-8
        b'{"candidate_id": "f-4", "body": "x"} trailing',              # 12
        good("f-5"),                                                   # 13, no newline at end
    ]
    rc, results, err = import_file(notes_bin, mock, workdir, "hostile", b"\n".join(lines))
    check(rc == 1, "hostile file: exit %d, expected 1 (some lines rejected): %s" % (rc, err))
    by_line = {}
    for r in results:
        check(r["line"] not in by_line, "hostile file: line %d has two results" % r["line"])
        by_line[r["line"]] = r
    expected_created = {1: "f-1", 6: "f-2", 11: "f-3", 13: "f-5"}
    expected_rejected = {2, 3, 5, 8, 9, 10, 12}
    check(set(by_line) == set(expected_created) | expected_rejected,
          "hostile file: results for lines %s" % sorted(by_line))
    for line, cand in expected_created.items():
        r = by_line.get(line, {})
        check(r.get("outcome") == "created" and r.get("candidate_id") == cand,
              "hostile file: line %d not created: %s" % (line, r))
    for line in expected_rejected:
        r = by_line.get(line, {})
        check(r.get("outcome") == "rejected", "hostile file: line %d not rejected: %s" % (line, r))
        check(("line %d" % line) in r.get("error", ""),
              "hostile file: line %d's error does not name its line: %s" % (line, r))
    for line, why in ((2, "binary data"), (3, "not valid UTF-8 at column 44"),
                      (8, "byte order mark"), (9, "not a JSON object"),
                      (10, "candidate_id"), (12, "not valid JSON")):
        check(why in by_line.get(line, {}).get("error", ""),
              "hostile file: line %d's error does not say %r: %s" % (line, why, by_line.get(line)))
    check(str(limit) in by_line.get(5, {}).get("error", ""),
          "hostile file: the long line's error does not state the limit: %s" % by_line.get(5))
    check(len(json.dumps(by_line.get(5, {}))) < 4096,
          "hostile file: the long line's result echoes the line")
    ledger = [c for c in mock.ledger_candidates() if c.startswith("f-")]
    check(sorted(ledger) == sorted(expected_created.values()),
          "hostile file: ledger holds %s" % ledger)

    # Empty input, blank lines only, and one line without a newline.
    for name, content, expected_rc, expected_results in [
        ("empty", b"", 0, 0),
        ("blank-only", b"\n\n   \n\r\n", 0, 0),
        ("no-newline", good("f-6"), 0, 1),
        ("only-bad", b"\xff\xff\xff", 1, 1),
    ]:
        rc, results, err = import_file(notes_bin, mock, workdir, name, content)
        check(rc == expected_rc, "%s file: exit %d, expected %d: %s" % (name, rc, expected_rc,
                                                                       err))
        check(len(results) == expected_results,
              "%s file: %d result lines, expected %d" % (name, len(results), expected_results))
        check("Traceback" not in err and "terminate" not in err,
              "%s file: crashed: %s" % (name, err))
    check(mock.ledger_candidates().count("f-6") == 1, "no-newline file: f-6 not created once")


def check_unwritable_results(notes_bin, mock, workdir):
    """Results on stdout that cannot be written (a full disk, a closed pipe) stop the import
    with a message and exit 1; lines after the first result are not sent."""
    path = os.path.join(workdir, "unwritable.jsonl")
    with open(path, "w") as f:
        for i in range(200):
            f.write('{"candidate_id": "w-%d", "body": "x"}\n' % i)
    def closed_pipe():
        read_end, write_end = os.pipe()
        os.close(read_end)
        return os.fdopen(write_end, "wb")

    def run_into(stdout, args):
        with stdout:
            p = subprocess.run([notes_bin] + args, env=cli_env(), stdout=stdout,
                               stderr=subprocess.PIPE, timeout=60)
        return p.returncode, p.stderr.decode("utf-8", "replace")

    args = ["import", path, "--base-url", mock.url, "--account-id", "acc-1", "--output", "-",
            "--concurrency", "2"]
    for kind in ("full disk", "closed pipe"):
        before = mock.stats()["requests"]
        rc, err = run_into(open("/dev/full", "wb") if kind == "full disk" else closed_pipe(), args)
        sent = mock.stats()["requests"] - before
        check(rc == 1, "%s: exit %d, want 1: %s" % (kind, rc, err))
        check("could not write all results to" in err and "--resume" not in err,
              "%s: no clear message: %s" % (kind, err))
        check(sent <= 2, "%s: %d lines sent after the results failed" % (kind, sent))

    # create: a result that cannot be printed is an error even when the note was created.
    rc, err = run_into(closed_pipe(), ["create", "--base-url", mock.url, "--account-id", "acc-1",
                                       "--candidate-id", "w-create", "--body", "x"])
    check(rc == 1 and "could not be written" in err,
          "create to a closed pipe: exit %d: %s" % (rc, err))


def check_insecure(notes_bin, mock_bin, workdir):
    certs = os.environ.get("STACKONE_TEST_CERTS")
    if not certs or not os.path.exists(os.path.join(certs, "server.pem")):
        print("skip: TLS half (STACKONE_TEST_CERTS not set)")
        return
    mock = Mock(mock_bin, workdir, "tls",
                (os.path.join(certs, "server.pem"), os.path.join(certs, "server.key")))
    try:
        base = ["create", "--base-url", mock.url, "--account-id", "acc-1", "--body", "x",
                "--max-attempts", "1"]
        rc, out, err = run(notes_bin, base + ["--candidate-id", "tls-verified"])
        check(rc == 1, "untrusted certificate without --insecure: exit %d: %s" % (rc, err))
        check('"outcome":"failed"' in out, "untrusted certificate: result %s" % out)
        check("WARNING" not in err, "a warning without --insecure: %s" % err)
        check(mock.stats()["requests"] == 0, "untrusted certificate: a request was sent")

        rc, out, err = run(notes_bin, base + ["--candidate-id", "tls-insecure", "--insecure"])
        check(rc == 0, "--insecure: exit %d: %s" % (rc, err))
        check("WARNING: --insecure" in err and "NOT checked" in err,
              "--insecure printed no warning: %r" % err)
        check(mock.ledger_candidates() == ["tls-insecure"], "--insecure: note not created")

        rc, out, err = run(notes_bin, base + ["--candidate-id", "tls-ca",
                                              "--ca-file", os.path.join(certs, "ca.pem")])
        check(rc == 0 and "WARNING" not in err, "--ca-file: exit %d: %s" % (rc, err))
    finally:
        mock.stop()


def wait_for(condition, what, timeout=30):
    """Polls @p condition (an observable state, not a time) until true; a failed check after
    @p timeout seconds, which only guards against a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return check(False, "stalled input: timed out waiting for " + what)


def check_stalled_input(notes_bin, mock_bin, workdir):
    # Quick answers, except for candidates "slow-*": 60 s, so that one call is in flight.
    mock = Mock(mock_bin, workdir, "stall", scenario={"rules": [
        {"candidate_id": "^slow-", "steps": [{"status": 201, "delay_ms": 60000, "times": 0}]}]})
    results = os.path.join(workdir, "stalled.results.jsonl")
    journal = os.path.join(workdir, "stalled.results.journal")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STACKONE_")}
    env["STACKONE_API_KEY"] = API_KEY
    grace = 1.0
    proc = subprocess.Popen(
        [notes_bin, "import", "-", "--base-url", mock.url, "--account-id", "acc-1",
         "--output", results, "--journal", journal, "--stop-grace", str(grace),
         "--concurrency", "4"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)

    def result_lines():
        if not os.path.exists(results):
            return []
        with open(results) as f:
            return [json.loads(line) for line in f.read().splitlines()]

    def journal_text():
        return open(journal).read() if os.path.exists(journal) else ""

    try:
        # Three quick lines and a slow one; then the pipe stays open and silent.
        lines = ['{"candidate_id": "stalled-%d", "key": %d, "body": "x"}' % (i, i)
                 for i in (1, 2, 3)]
        lines.append('{"candidate_id": "slow-4", "key": 4, "body": "x"}')
        proc.stdin.write(("\n".join(lines) + "\n").encode())
        proc.stdin.flush()

        # (a) While the pipe stalls, the quick lines are created and their results written.
        wait_for(lambda: len(result_lines()) >= 3, "the results of the lines written")
        wait_for(lambda: "\nS 4\n" in journal_text(), "the slow line to be sent")
        check(proc.poll() is None, "stalled input: the import ended before its input did")
        check(sorted(r["line"] for r in result_lines()) == [1, 2, 3],
              "stalled input: results while stalled: %s" % result_lines())
        check(all(r["outcome"] == "created" for r in result_lines()),
              "stalled input: not created: %s" % result_lines())

        # (b) SIGINT ends it within the grace and a margin, long before the watchdog would.
        stopped = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            check(False, "stalled input: SIGINT did not end the import within 60 s")
        took = time.monotonic() - stopped
        err = proc.stderr.read().decode("utf-8", "replace")
        check(took < grace + 5, "stalled input: SIGINT took %.1f s to end the import" % took)
        check("did not end in time" not in err, "stalled input: the watchdog ended it: %s" % err)
        check(rc == 130, "stalled input: exit %d after SIGINT, expected 130: %s" % (rc, err))
        check("SIGINT" in err, "stalled input: the signal was not acknowledged: %r" % err)

        # No line lost: each has one result and both journal records; the slow one is unknown.
        by_line = {r["line"]: r for r in result_lines()}
        check(sorted(by_line) == [1, 2, 3, 4] and len(result_lines()) == 4,
              "stalled input: results for lines %s" % [r["line"] for r in result_lines()])
        check(by_line.get(4, {}).get("outcome") == "unknown" and by_line[4].get("key") == 4,
              "stalled input: the call in flight: %s" % by_line.get(4))
        records = journal_text().splitlines()[1:]
        for line in (1, 2, 3, 4):
            check("S %d" % line in records and
                  any(r.startswith("R %d " % line) for r in records),
                  "stalled input: journal lacks line %d: %s" % (line, records))
        check(sorted(mock.ledger_candidates()) == ["stalled-1", "stalled-2", "stalled-3"],
              "stalled input: ledger holds %s" % mock.ledger_candidates())
    finally:
        proc.stdin.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        mock.stop()


def main():
    if len(sys.argv) != 3 or not all(os.access(p, os.X_OK) for p in sys.argv[1:]):
        print("usage: cli_test.py STACKONE_NOTES_BINARY STACKONE_MOCK_BINARY (skipping)")
        return 77
    notes_bin, mock_bin = sys.argv[1], sys.argv[2]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        mock = Mock(mock_bin, workdir, "plain")
        try:
            check_usage_errors(notes_bin, mock, workdir)
            # A valid value for every flag does reach this mock: the zeros above are not
            # vacuous, and the validators do not refuse good values.
            rc, out, err = run(notes_bin, [
                "create", "--base-url", mock.url, "--account-id", "acc-1",
                "--candidate-id", "control", "--body", "x", "--author-id", "author-1",
                "--visibility", "private", "--connections", "2", "--heartbeat",
                "--heartbeat-gap", "30", "--timeout", "10.5", "--deadline", "60",
                "--max-attempts", "2", "--at-most-once", "--rate", "60000.5",
                "--max-retry-after", "0.5", "--log-level", "error", "--user-agent", "cli-test/1"])
            check(rc == 0 and mock.stats()["requests"] == 1, "control call: %d %s" % (rc, err))
            check_hostile_files(notes_bin, mock, workdir)
            check_unwritable_results(notes_bin, mock, workdir)
        finally:
            mock.stop()
        check_stalled_input(notes_bin, mock_bin, workdir)
        check_insecure(notes_bin, mock_bin, workdir)
    print("%d check(s) failed; %.1f s" % (len(FAILURES), time.monotonic() - started))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
