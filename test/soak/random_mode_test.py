#!/usr/bin/env python3
"""The mock's random-fault mode and `creates` step field, seen from outside.

    random_mode_test.py STACKONE_MOCK_BINARY

Checks that a bad `random` object is refused naming the field; that the answers are a
function of (seed, candidate id, request number) only, whatever the order of the requests;
that another seed gives other answers; that /_mock/stats counts each kind; and that
`creates: true` records the note of a 408 while `creates: false` records none for a 201.
Plain HTTP on 127.0.0.1, standard library only. Exit status 0 when all pass.
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

MOCK = sys.argv[1]
KEY = "sk_test_random_mode"
AUTH = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
failures = []


def check(condition, what):
    print(f"{'ok  ' if condition else 'FAIL'} {what}")
    if not condition:
        failures.append(what)


class Mock:
    def __init__(self, directory, name, scenario, *flags):
        self.ledger = os.path.join(directory, name + ".ledger")
        scenario_path = os.path.join(directory, name + ".json")
        port_path = os.path.join(directory, name + ".port")
        with open(scenario_path, "w") as out:
            json.dump(scenario, out)
        env = dict(os.environ, STACKONE_MOCK_API_KEY=KEY)
        self.process = subprocess.Popen(
            [MOCK, "--port-file", port_path, "--ledger", self.ledger,
             "--scenario", scenario_path, *flags],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not (os.path.exists(port_path) and os.path.getsize(port_path)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.port = None
                return
            time.sleep(0.02)
        with open(port_path) as f:
            self.port = int(f.read())

    def post(self, candidate):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("POST", f"/unified/ats/candidates/{candidate}/notes",
                               body=json.dumps({"content": [{"body": candidate}]}),
                               headers={"Authorization": AUTH, "x-account-id": "acc-1",
                                        "Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def stats(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", "/_mock/stats")
        return json.loads(connection.getresponse().read())

    def stop(self):
        self.process.terminate()
        self.process.communicate(timeout=20)
        with open(self.ledger) as f:
            return [json.loads(line) for line in f if line.strip()]


def refused(directory, scenario, field):
    mock = Mock(directory, "bad", scenario)
    _, err = mock.process.communicate(timeout=20)
    return mock.process.returncode == 2 and field in err, err


def main():
    with tempfile.TemporaryDirectory() as directory:
        good, err = refused(directory, {"random": {"mix": {"nope": 1}}}, "random.mix.nope")
        check(good, "an unknown kind in random.mix is refused, naming it")
        names = err.split("is not a kind of answer (")[1].split(")")[0].split(", ")
        for scenario, field in [
            ({"random": {"seed": -1}}, "random.seed"),
            ({"random": {"retry_after": ""}}, "random.retry_after"),
            ({"random": {"mix": {"reset": "10"}}}, "random.mix.reset"),
            ({"random": {"mix": {name: 0 for name in names}}}, "random.mix"),
            ({"random": {"speed": 1}}, "random.speed"),
            ({"random": []}, "random"),
            ({"rules": [{"steps": [{"action": "reset", "creates": True}]}]},
             "rules[0].steps[0].creates"),
        ]:
            good, _ = refused(directory, scenario, field)
            text = json.dumps(scenario)
            text = text if len(text) < 60 else text[:56] + " ..."
            check(good, f"{text} is refused, naming {field}")

        # Only kinds a plain HTTP client can tell apart by status.
        mix = {name: 0 for name in names}
        mix.update({"created": 1, "rate_limited": 1, "server_error": 1, "request_timeout": 1})
        scenario = {"random": {"seed": 999, "mix": mix}}
        candidates = [f"c-{n}" for n in range(40)]
        first = Mock(directory, "first", scenario, "--chaos-seed", "5")
        second = Mock(directory, "second", scenario, "--chaos-seed", "5")
        other = Mock(directory, "other", scenario, "--chaos-seed", "6")
        answers = {}
        for mock, order in [(first, candidates), (second, candidates[::-1]), (other, candidates)]:
            # Three requests per id, ids interleaved differently on each server.
            got = {candidate: [] for candidate in candidates}
            for _ in range(3):
                for candidate in order:
                    got[candidate].append(mock.post(candidate))
            answers[mock] = got
        check(answers[first] == answers[second],
              "the same seed gives each (candidate, request number) the same answer")
        check(answers[first] != answers[other], "another seed gives other answers")
        statuses = [s for got in answers[first].values() for s in got]
        check(set(statuses) == {201, 429, 500, 408}, "every kind of the mix occurs")
        counts = first.stats().get("random", {})
        check(counts.get("created") == statuses.count(201)
              and counts.get("rate_limited") == statuses.count(429)
              and sum(counts.values()) == len(statuses),
              "/_mock/stats counts the requests of each kind")
        ledger = first.stop()
        second.stop()
        other.stop()
        check(len(ledger) == statuses.count(201), "only the 201s are in the ledger")

        mock = Mock(directory, "creates", {"rules": [
            {"candidate_id": "^late-", "steps": [{"status": 408, "creates": True}]},
            {"candidate_id": "^lie-", "steps": [{"status": 201, "creates": False}]},
        ]})
        late, lie = mock.post("late-1"), mock.post("lie-1")
        ledger = mock.stop()
        check(late == 408 and lie == 201, "creates keeps the scripted status")
        check([entry["candidate_id"] for entry in ledger] == ["late-1"],
              "creates: true records the 408's note, creates: false none for the 201")
    print(f"{'all passed' if not failures else f'{len(failures)} failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
