#!/usr/bin/env python3
"""Self-test of scripts/check-ledger: crafted input, results and ledger files, one consistent
set that must pass and one broken variant per rule that must fail with that rule's violation.

    check_ledger_test.py PATH/TO/check-ledger

Standard library only. Exit status 0 when every case behaves, 1 otherwise.
"""

import json
import os
import subprocess
import sys
import tempfile

CHECKER = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "check-ledger")


def note_line(line, candidate, marker=True, **fields):
    obj = {"candidate_id": candidate, "body": f"note {line}"}
    if marker:
        obj["passthrough"] = {"soak_line": line}
    obj.update(fields)
    return json.dumps(obj)


def sent(line, marker=True):
    """The note as the importer sends the line above."""
    note = {"content": [{"body": f"note {line}"}]}
    if marker:
        note["passthrough"] = {"soak_line": line}
    return note


def entry(entry_id, candidate, note):
    return {"id": entry_id, "remote_id": "r-" + entry_id, "candidate_id": candidate,
            "account_id": "acc-1", "note": note}


def consistent():
    """Every outcome, every way of tying an entry to a line; must give no violation."""
    inputs = [
        note_line(1, "c1"),                                  # created
        note_line(2, "c2"),                                  # failed, nothing in the ledger
        '{"candidate_id": "c3", "content": [',               # rejected (broken JSON)
        note_line(4, "c4"),                                  # unknown, no entry
        note_line(5, "c5"),                                  # unknown, one entry
        note_line(6, "c6"),                                  # created twice, possible_duplicate
        note_line(7, "c7", marker=False),                    # created, tied by id only
        note_line(8, "c8", marker=False),                    # unknown, tied by content
        "",                                                  # blank: no result needed
        note_line(10, "c10", visibility="private"),          # shorthand, created
    ]
    results = [
        {"line": 1, "outcome": "created", "id": "n1", "attempts": 1},
        {"line": 2, "outcome": "failed", "status": 500, "attempts": 1},
        {"line": 3, "outcome": "rejected", "attempts": 0},
        {"line": 4, "outcome": "unknown", "attempts": 1},
        {"line": 5, "outcome": "unknown", "attempts": 1},
        {"line": 6, "outcome": "created", "id": "n6b", "attempts": 2,
         "possible_duplicate": True},
        {"line": 7, "outcome": "created", "id": "n7", "attempts": 1},
        {"line": 8, "outcome": "unknown", "attempts": 1},
        {"line": 10, "outcome": "created", "id": "n10", "attempts": 1},
    ]
    note10 = sent(10)
    note10["visibility"] = {"value": "private"}
    ledger = [
        entry("n1", "c1", sent(1)),
        entry("n5", "c5", sent(5)),
        entry("n6a", "c6", sent(6)),
        entry("n6b", "c6", sent(6)),
        entry("n7", "c7", sent(7, marker=False)),
        entry("n8", "c8", sent(8, marker=False)),
        entry("n10", "c10", note10),
    ]
    return inputs, results, ledger


def case(name, mutate, expect):
    inputs, results, ledger = consistent()
    mutate(inputs, results, ledger)
    return name, inputs, results, ledger, expect


def drop_result(line):
    return lambda i, r, l: r.remove(next(x for x in r if x["line"] == line))


CASES = [
    case("consistent", lambda i, r, l: None, None),
    case("line without a result", drop_result(4), "input line without a result"),
    case("line with two results",
         lambda i, r, l: r.append({"line": 2, "outcome": "failed", "attempts": 1}),
         "input line with several results"),
    case("result for a line not in the input",
         lambda i, r, l: r.append({"line": 99, "outcome": "failed", "attempts": 1}),
         "result for a line not in the input"),
    case("created but not in the ledger",
         lambda i, r, l: l.remove(next(x for x in l if x["id"] == "n1")),
         "created but not in the ledger"),
    case("created id twice in the ledger",
         lambda i, r, l: l.append(entry("n1", "c1", sent(1))),
         "created id in the ledger more than once"),
    case("entry for a failed line (marker)",
         lambda i, r, l: l.append(entry("n2", "c2", sent(2))),
         "ledger entry for a failed line"),
    case("entry for a failed line (content)",
         lambda i, r, l: (i.__setitem__(1, note_line(2, "c2", marker=False)),
                          l.append(entry("n2", "c2", sent(2, marker=False)))),
         "ledger entry for a failed line"),
    case("entry for a rejected line",
         lambda i, r, l: (i.__setitem__(2, note_line(3, "c3", content=[])),
                          l.append(entry("n3", "c3", sent(3)))),
         "ledger entry for a rejected line"),
    case("duplicate for a plain created line",
         lambda i, r, l: l.append(entry("n1b", "c1", sent(1))),
         "duplicate for a line not marked possible_duplicate or unknown"),
    case("duplicate once possible_duplicate is gone",
         lambda i, r, l: r[5].pop("possible_duplicate"),
         "duplicate for a line not marked possible_duplicate or unknown"),
    case("entry of no line",
         lambda i, r, l: l.append(entry("stray", "c9", {"content": [{"body": "who?"}]})),
         "ledger entry that belongs to no input line"),
    case("entry with an unknown marker",
         lambda i, r, l: l.append(entry("n77", "c77", sent(77))),
         "ledger entry with a marker no input line has"),
    case("id reported for another line",
         lambda i, r, l: r.__setitem__(4, {"line": 5, "outcome": "created", "id": "n1",
                                           "attempts": 1}),
         "ledger entry's id reported for another line"),
    case("created with another line's entry",
         lambda i, r, l: (r.__setitem__(0, {"line": 1, "outcome": "unknown", "attempts": 1}),
                          r.__setitem__(4, {"line": 5, "outcome": "created", "id": "n1",
                                            "attempts": 1})),
         "created id's ledger entry belongs to another line"),
    case("entry for another candidate",
         lambda i, r, l: l[0].__setitem__("candidate_id", "other"),
         "ledger entry for another candidate than its line's"),
]


def write(path, lines):
    with open(path, "w", encoding="utf-8") as out:
        for line in lines:
            out.write((line if isinstance(line, str) else json.dumps(line)) + "\n")


def run(directory):
    return subprocess.run(
        [sys.executable, CHECKER, "--input", os.path.join(directory, "input.jsonl"),
         "--results", os.path.join(directory, "results.jsonl"),
         "--ledger", os.path.join(directory, "ledger.jsonl")],
        capture_output=True, text=True, timeout=60)


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as directory:
        for name, inputs, results, ledger, expect in CASES:
            write(os.path.join(directory, "input.jsonl"), inputs)
            write(os.path.join(directory, "results.jsonl"), results)
            write(os.path.join(directory, "ledger.jsonl"), ledger)
            done = run(directory)
            last = done.stdout.strip().splitlines()[-1:] or [""]
            if expect is None:
                good = done.returncode == 0 and last[0] == "violations: 0"
            else:
                # One defect may break two rules (a second entry for a created line is also
                # a duplicate); the rule named must be among them.
                good = (done.returncode == 1 and f"violation: {expect}: 1" in done.stdout
                        and last[0] != "violations: 0")
            print(f"{'ok  ' if good else 'FAIL'} {name}")
            if not good:
                failures += 1
                print(done.stdout + done.stderr)

        os.unlink(os.path.join(directory, "ledger.jsonl"))
        done = run(directory)
        good = done.returncode == 2 and "ledger.jsonl" in done.stderr
        print(f"{'ok  ' if good else 'FAIL'} a missing file is a usage error (exit 2)")
        failures += 0 if good else 1
    print(f"{len(CASES) + 1 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
