#!/usr/bin/env python3
"""Crash-safe resume, end to end: a 20,000-note import killed and resumed until it is done.

    kill_resume_test.py STACKONE_NOTES STACKONE_MOCK GEN_NOTES CHECK_LEDGER

Starts the mock (plain HTTP on 127.0.0.1, with a ledger), then runs `stackone-notes import`
into it and interrupts it several times at random points: SIGKILL mostly, one SIGTERM (the
Ctrl-C path, which must exit 130 on its own). Each interruption waits until the journal has
grown past a random size, so the kills land at random places of the import without timed
sleeps. After each interruption the import is resumed with --resume (once with
--resend-unknown); once the kills are used up a last resume runs to the end. Once, a torn
record and a torn results line are appended by hand, as a kill in the middle of a write
would leave them.

Then: every non-blank input line has exactly one result line, the results file has no torn
line, and scripts/check-ledger finds no loss and no unmarked duplicate (violations: 0).
Finally --resume with another input, and without a journal, must be usage errors (exit 2)
that send nothing.

The random points come from STACKONE_KILL_SEED when set, else from the clock; the seed is
printed so that a failure can be replayed. Standard library only. Takes a few seconds.
"""

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

NOTES = 20000
KILLS = 5
API_KEY = "sk_test_kill_resume_made_up"


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def wait_for(condition, what, timeout=30.0):
    """Polls @p condition until it holds; fails after @p timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            fail(f"timed out waiting for {what}")
        time.sleep(0.002)


def size_of(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def count_lines(path):
    try:
        with open(path, "rb") as file:
            return sum(1 for _ in file)
    except FileNotFoundError:
        return 0


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    notes_exe, mock_exe, gen_notes, check_ledger = sys.argv[1:]
    seed = int(os.environ.get("STACKONE_KILL_SEED", time.time_ns() % 1_000_000_007))
    rng = random.Random(seed)
    print(f"seed {seed} (set STACKONE_KILL_SEED to replay)", flush=True)
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="stackone-kill-") as work:
        path = lambda name: os.path.join(work, name)  # noqa: E731
        notes, results, journal = path("notes.jsonl"), path("results.jsonl"), path("results.journal")
        ledger = path("ledger.jsonl")
        subprocess.run([sys.executable, gen_notes, "--count", str(NOTES), "--seed", str(seed),
                        "--output", notes], check=True)

        # Some answers take a moment, so that calls are in flight whenever a kill lands.
        scenario = path("scenario.json")
        with open(scenario, "w") as file:
            json.dump({"rules": [{"candidate_id": "[37]$",
                                  "steps": [{"status": 201, "delay_ms": 15, "times": 0}]}]}, file)

        env = dict(os.environ, STACKONE_MOCK_API_KEY=API_KEY, STACKONE_API_KEY=API_KEY)
        mock = subprocess.Popen([mock_exe, "--port", "0", "--port-file", path("port"),
                                 "--ledger", ledger, "--scenario", scenario, "--threads", "2"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: size_of(path("port")) > 0 or mock.poll() is not None, "the mock")
            if mock.poll() is not None:
                fail(f"the mock did not start: {mock.stderr.read().decode()}")
            with open(path("port")) as file:
                port = int(file.read())

            base = [notes_exe, "import", notes, "--base-url", f"http://127.0.0.1:{port}",
                    "--account-id", "acc-kill-1", "--concurrency", "32", "--output", results]

            def run(extra, stop_at=None, signo=None):
                """One run; interrupted with @p signo once the journal passes @p stop_at."""
                proc = subprocess.Popen(base + extra, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
                if stop_at is not None:
                    wait_for(lambda: size_of(journal) > stop_at or proc.poll() is not None,
                             "the journal to grow", timeout=120)
                    if proc.poll() is None:
                        proc.send_signal(signo)
                try:
                    _, err = proc.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    fail(f"{' '.join(extra)}: did not exit within 30 s of the signal")
                return proc.returncode, err.decode(errors="replace")

            # The interruptions: SIGKILL, and once SIGTERM, at random journal sizes.
            signals = [signal.SIGKILL] * (KILLS - 1) + [signal.SIGTERM]
            rng.shuffle(signals)
            resend_at = rng.randrange(1, KILLS)
            torn_at = rng.randrange(KILLS)
            for i, signo in enumerate(signals):
                extra = [] if i == 0 else ["--resume"]
                if i == resend_at:
                    extra.append("--resend-unknown")
                stop_at = size_of(journal) + rng.randint(100_000, 900_000)
                status, err = run(extra, stop_at, signo)
                print(f"run {i + 1} {' '.join(extra) or '(fresh)'}: {signo.name} at journal "
                      f">{stop_at} bytes, exit {status}, results {count_lines(results)}",
                      flush=True)
                if status in (0, 1):
                    break  # it finished before the kill point
                expected = -signal.SIGKILL if signo == signal.SIGKILL else 130
                if status != expected:
                    fail(f"run {i + 1}: exit {status}, expected {expected}\n{err}")

                # A kill in the middle of both writes would leave these behind.
                if i == torn_at:
                    with open(journal, "ab") as file:
                        file.write(b'R 1 created {"line":1,"outc')
                    with open(results, "ab") as file:
                        file.write(b'{"line":1,"outcome":"cre')

            status, err = run(["--resume"])
            print(f"last run --resume: exit {status}, results {count_lines(results)}", flush=True)
            if status not in (0, 1):
                fail(f"the last resume exited {status}\n{err}")

            # Every non-blank input line has exactly one result; no torn line is left.
            with open(notes, "rb") as file:
                wanted = {n for n, raw in enumerate(file, start=1) if raw.strip()}
            seen = {}
            with open(results, "rb") as file:
                raw_results = file.read()
            if not raw_results.endswith(b"\n"):
                fail("the results file ends with a torn line")
            for raw in raw_results.splitlines():
                line = json.loads(raw)["line"]
                seen[line] = seen.get(line, 0) + 1
            missing = sorted(wanted - seen.keys())
            several = sorted(n for n, times in seen.items() if times > 1)
            if missing or several or seen.keys() - wanted:
                fail(f"lines without a result: {missing[:10]}; with several: {several[:10]}")

            # Notes beyond the created results can only come from lines marked unknown or
            # possible_duplicate: at most one extra note each (a resend of an unknown line).
            outcomes = [json.loads(raw) for raw in raw_results.splitlines()]
            created = sum(1 for r in outcomes if r["outcome"] == "created")
            excused = sum(1 for r in outcomes
                          if r["outcome"] == "unknown" or r.get("possible_duplicate"))
            extra = count_lines(ledger) - created
            if not 0 <= extra <= excused:
                fail(f"{extra} notes in the ledger beyond the {created} created results, but "
                     f"only {excused} lines are unknown or possible_duplicate")

            check = subprocess.run([sys.executable, check_ledger, "--input", notes,
                                    "--results", results, "--ledger", ledger],
                                   capture_output=True, text=True)
            print(check.stdout, end="", flush=True)
            if check.returncode != 0 or "violations: 0" not in check.stdout:
                fail(f"check-ledger exited {check.returncode}\n{check.stderr}")

            # --resume with another input, or with no journal: usage errors, nothing sent.
            entries = count_lines(ledger)
            other = path("other.jsonl")
            with open(notes, "rb") as src, open(other, "wb") as dst:
                dst.write(src.read().replace(b"cand-", b"cand-x-", 1))
            bad = [
                (["--resume"], lambda cmd: [other if a == notes else a for a in cmd]),
                (["--resume", "--journal", path("absent.journal")], lambda cmd: cmd),
                ([], lambda cmd: cmd),  # a fresh run over an existing journal
            ]
            for extra, change in bad:
                proc = subprocess.run(change(base) + extra, env=env, capture_output=True,
                                      text=True)
                if proc.returncode != 2:
                    fail(f"{extra}: exit {proc.returncode}, expected 2\n{proc.stderr}")
            if count_lines(ledger) != entries:
                fail("a refused --resume sent requests")
        finally:
            mock.send_signal(signal.SIGTERM)
            mock.wait(timeout=30)

    print(f"ok: {NOTES} notes, {KILLS} interruptions, "
          f"{time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
