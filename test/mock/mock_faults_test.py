#!/usr/bin/env python3
# Copyright (c) 2026 The stackone-notes-cpp authors
#
# Distributed under the Boost Software License, Version 1.0. (See accompanying
# file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
"""End-to-end checks of the mock server's scripted heartbeats, framings and mid-answer faults.

Usage: mock_faults_test.py STACKONE_MOCK_BINARY

Runs the program over plain HTTP and TLS and talks to it through raw sockets, because the
checks are about bytes and timing that an HTTP client library hides: chunk boundaries and
extensions, when each heartbeat arrives, and whether a TLS connection ends with close_notify.
TLS uses $STACKONE_TEST_CERTS/server.{pem,key} when set, else a throw-away certificate made with
openssl; without either, the TLS half is skipped. Exit 0 on success, 1 on a failed check,
77 (Meson: skipped) when the binary or python's ssl module is missing.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    import ssl
except ImportError:  # pragma: no cover
    print("skip: python has no ssl module")
    sys.exit(77)

API_KEY = "sk_test_mock"
NOTE = b'{"content":[{"body":"hello"}]}'

SCENARIO = {"rules": [
    {"candidate_id": "^hb-", "steps": [
        {"status_line": 200, "status": 201, "times": 0,
         "heartbeats": {"count": 3, "interval_ms": 200}}]},
    {"candidate_id": "^hbforce-", "steps": [
        {"times": 0, "heartbeats": {"count": 2, "interval_ms": 50, "bytes": "\r\n",
                                    "force": True}}]},
    {"candidate_id": "^sl429-", "steps": [{"status_line": 200, "status": 429, "times": 0}]},
    {"candidate_id": "^sl422-", "steps": [
        {"status_line": 200, "status": 422, "times": 0,
         "provider_errors": [{"status": 422, "url": "https://provider.invalid/n",
                              "raw": {"e": 1}}]}]},
    {"candidate_id": "^cl-", "steps": [
        {"framing": "content-length", "times": 0,
         "heartbeats": {"count": 2, "interval_ms": 50, "bytes": " "}}]},
    {"candidate_id": "^eof-", "steps": [
        {"framing": "close", "times": 0,
         "heartbeats": {"count": 2, "interval_ms": 50, "bytes": "\t"}}]},
    {"candidate_id": "^split-", "steps": [{"framing": "chunked", "chunk_size": 16, "times": 0}]},
    {"candidate_id": "^mix-", "steps": [
        {"mix_heartbeats": True, "times": 0, "heartbeats": {"count": 2, "interval_ms": 50}}]},
    {"candidate_id": "^stall-", "steps": [
        {"stall_after_heartbeats": 2, "times": 0,
         "heartbeats": {"count": 3, "interval_ms": 50}}]},
    {"candidate_id": "^cut-", "steps": [
        {"close_after_heartbeats": 2, "times": 0,
         "heartbeats": {"count": 3, "interval_ms": 50}}]},
    {"candidate_id": "^cutn-", "steps": [
        {"close_after_heartbeats": 2, "close_notify": True, "times": 0,
         "heartbeats": {"count": 3, "interval_ms": 50}}]},
    {"candidate_id": "^half-", "steps": [{"close_mid_body": True, "times": 0}]},
    {"candidate_id": "^halfhb-", "steps": [
        {"close_mid_body": True, "times": 0, "heartbeats": {"count": 1, "interval_ms": 50}}]},
    {"candidate_id": "^stale-", "steps": [{"close_after_response": True, "times": 0}]},
    {"candidate_id": "^stalen-", "steps": [
        {"close_after_response": True, "close_notify": True, "times": 0}]},
    {"candidate_id": "^nocontent-", "steps": [{"status": 204, "times": 0}]},
]}

failures = []


def check(condition, what):
    """Records a failed check instead of stopping, so one run reports every problem."""
    if not condition:
        failures.append(what)
        print("FAIL: " + what)
    return condition


class Mock:
    """One stackone-mock process, started with a scenario and a ledger in a temp dir."""

    def __init__(self, binary, workdir, name, tls_files=None, extra=()):
        self.workdir = workdir
        self.tls = tls_files is not None
        self.ledger = os.path.join(workdir, name + ".ledger")
        scenario = os.path.join(workdir, "scenario.json")
        with open(scenario, "w") as f:
            json.dump(SCENARIO, f)
        port_file = os.path.join(workdir, name + ".port")
        args = [binary, "--scenario", scenario, "--ledger", self.ledger, "--port-file", port_file]
        if self.tls:
            args += ["--tls", "--cert", tls_files[0], "--key", tls_files[1]]
        args += list(extra)
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not os.path.exists(port_file):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("stackone-mock did not start: " +
                                   self.process.stderr.read().decode(errors="replace"))
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())

    def connect(self, timeout=5.0):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if not self.tls:
            return raw
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        # Ragged EOFs must raise: they are how a close without close_notify shows.
        return ctx.wrap_socket(raw, suppress_ragged_eofs=False)

    def stats(self):
        s = self.connect()
        s.sendall(b"GET /_mock/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            try:
                d = s.recv(65536)
            except ssl.SSLError:
                break
            if not d:
                break
            data += d
        s.close()
        return json.loads(data.partition(b"\r\n\r\n")[2])

    def ledger_ids(self):
        if not os.path.exists(self.ledger):
            return []
        with open(self.ledger) as f:
            return [json.loads(line)["candidate_id"] for line in f if line.strip()]

    def stop(self, limit=10.0):
        """SIGTERM, and the seconds it took to exit."""
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
        return time.monotonic() - start


class Exchange:
    """One request and what came back: each read with its time, and how the stream ended."""

    def __init__(self):
        self.reads = []     # (seconds since the request was sent, bytes)
        self.end = None     # "complete", "eof" (FIN / close_notify), "ragged", "reset", "timeout"
        self.end_time = None

    @property
    def raw(self):
        return b"".join(d for _, d in self.reads)

    @property
    def head(self):
        return self.raw.partition(b"\r\n\r\n")[0].decode()

    @property
    def status_line(self):
        return int(self.head.split(" ")[1])

    def header(self, name):
        for line in self.head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    @property
    def payload(self):
        return self.raw.partition(b"\r\n\r\n")[2]


def request_bytes(candidate, prefer=False):
    auth = base64.b64encode((API_KEY + ":").encode()).decode()
    head = ("POST /unified/ats/candidates/%s/notes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Authorization: Basic %s\r\nx-account-id: acc-1\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n"
            % (candidate, auth, len(NOTE)))
    if prefer:
        head += "Prefer: respond-async, heartbeat\r\n"
    return head.encode() + b"\r\n" + NOTE


def looks_complete(data):
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    lower = head.lower()
    if lower.startswith((b"http/1.1 204", b"http/1.1 304")):
        return True
    if b"transfer-encoding: chunked" in lower:
        chunks, _ = dechunk(rest)
        return chunks is not None
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(rest) >= int(line.split(b":")[1])
    return False


def read_exchange(sock, ex, sent_at, stop_when_complete, quiet_for):
    """Reads into `ex` until the answer is complete (if asked), the stream ends, or nothing
    arrives for `quiet_for` seconds."""
    sock.settimeout(quiet_for)
    while True:
        try:
            data = sock.recv(65536)
        except ssl.SSLEOFError:
            ex.end = "ragged"
        except (ConnectionResetError, BrokenPipeError):
            ex.end = "reset"
        except socket.timeout:
            ex.end = "timeout"
        else:
            if data:
                ex.reads.append((time.monotonic() - sent_at, data))
                if stop_when_complete and looks_complete(ex.raw):
                    ex.end = "complete"
                    ex.end_time = time.monotonic() - sent_at
                    return
                continue
            ex.end = "eof"
        ex.end_time = time.monotonic() - sent_at
        return


def exchange(mock, candidate, prefer=False, quiet_for=3.0, sock=None):
    own = sock is None
    if own:
        sock = mock.connect()
    ex = Exchange()
    sock.sendall(request_bytes(candidate, prefer))
    read_exchange(sock, ex, time.monotonic(), True, quiet_for)
    if own:
        sock.close()
    return ex


def after(sock, quiet_for):
    """What the server does once an answer is complete: "timeout" means it kept the connection."""
    ex = Exchange()
    read_exchange(sock, ex, time.monotonic(), False, quiet_for)
    return ex


def dechunk(body):
    """Parses a chunked body: ([(size, extension, data)], trailer) or (None, None) if partial."""
    chunks = []
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return None, None
        size_text, _, extension = body[pos:eol].partition(b";")
        size = int(size_text, 16)
        pos = eol + 2
        if size == 0:
            end = body.find(b"\r\n\r\n", pos - 2)
            if end < 0:
                return None, None
            return chunks, body[pos:end + 2]
        if len(body) < pos + size + 2:
            return None, None
        chunks.append((size, extension, body[pos:pos + size]))
        pos += size + 2


def json_of(ex):
    """The JSON of a complete answer, heartbeat whitespace stripped."""
    if ex.header("Transfer-Encoding") == "chunked":
        chunks, _ = dechunk(ex.payload)
        return json.loads(b"".join(c[2] for c in chunks))
    return json.loads(ex.payload)


def run_suite(mock, label):
    tag = label + "-" + str(os.getpid())
    clean_end = "eof"
    print("== %s (port %d)" % (label, mock.port))

    # Heartbeats: head first, then one chunk each 200 ms, the body one interval later.
    ex = exchange(mock, "hb-" + tag, prefer=True)
    check(ex.end == "complete", label + " heartbeats: answer complete")
    check(ex.status_line == 200, label + " heartbeats: status line 200")
    check(ex.header("Preference-Applied") == "heartbeat",
          label + " heartbeats: Preference-Applied with Prefer: heartbeat")
    chunks, _ = dechunk(ex.payload)
    check([c[2] for c in chunks[:3]] == [b"\n"] * 3, label + " heartbeats: three \\n chunks")
    check(json_of(ex)["statusCode"] == 201, label + " heartbeats: body statusCode 201")
    beat_times = [t for t, d in ex.reads if d.endswith(b"1\r\n\n\r\n")]
    if check(len(beat_times) == 3, label + " heartbeats: arrive in separate reads"):
        gaps = [b - a for a, b in zip(beat_times, beat_times[1:])]
        # Generous upper bounds: a loaded machine runs timers late, never early.
        check(all(0.15 <= g <= 0.5 for g in gaps), label + " heartbeats: 200 ms apart %r" % gaps)
    check(0.55 <= ex.end_time <= 1.5, label + " heartbeats: body after ~600 ms")

    ex = exchange(mock, "hb-noprefer-" + tag)
    check(ex.header("Preference-Applied") is None,
          label + " heartbeats: no Preference-Applied without Prefer")
    ex = exchange(mock, "hbforce-" + tag)
    check(ex.header("Preference-Applied") == "heartbeat", label + " heartbeats: force")
    chunks, _ = dechunk(ex.payload)
    check(chunks[0][2] == b"\r\n" and chunks[1][2] == b"\r\n", label + " heartbeats: \\r\\n bytes")

    # Status line against body status.
    ex = exchange(mock, "sl429-" + tag)
    check(ex.status_line == 200 and json_of(ex)["statusCode"] == 429,
          label + " status_line 200 over a 429 body")
    ex = exchange(mock, "sl422-" + tag)
    body = json_of(ex)
    check(ex.status_line == 200 and body["statusCode"] == 422 and "provider_errors" in body,
          label + " status_line 200 over a 422 body with provider_errors")

    # Framings.
    ex = exchange(mock, "cl-" + tag)
    length = int(ex.header("Content-Length") or -1)
    check(ex.payload.startswith(b"  {") and length == len(ex.payload),
          label + " content-length framing counts the heartbeat bytes")
    sock = mock.connect()
    ex = exchange(mock, "eof-" + tag, sock=sock, quiet_for=3.0)
    if ex.end != "eof":
        ex_after = after(sock, 3.0)
        ex.reads += ex_after.reads
        ex.end = ex_after.end
    sock.close()
    check(ex.header("Content-Length") is None and ex.header("Transfer-Encoding") is None and
          ex.header("Connection") == "close",
          label + " close framing: no length, Connection: close")
    check(ex.end == clean_end and ex.payload.startswith(b"\t\t{") and
          json.loads(ex.payload)["statusCode"] == 201,
          label + " close framing: heartbeats, JSON, clean close (%s)" % ex.end)
    ex = exchange(mock, "split-" + tag)
    chunks, _ = dechunk(ex.payload)
    check(len(chunks) > 2 and all(c[0] == 16 for c in chunks[:-1]),
          label + " chunk_size 16")

    # Mixed heartbeats: extensions, leading bytes in the first data chunk only, a trailer.
    ex = exchange(mock, "mix-" + tag)
    chunks, trailer = dechunk(ex.payload)
    data_chunks = chunks[2:]
    check(chunks[0][2] == b"\n" and chunks[1][2] == b"\n", label + " mix: heartbeat chunks")
    check(data_chunks[0][2].startswith(b"\n{"), label + " mix: first data chunk \\n then {")
    check(all(not c[2].startswith(b"\n") for c in data_chunks[1:]),
          label + " mix: no heartbeat bytes after the first JSON byte")
    check(any(c[1] == b"x=1" for c in chunks), label + " mix: chunk extensions")
    check(len(data_chunks) >= 2, label + " mix: JSON in several chunks")
    check(trailer == b"X-Trailer: 1\r\n", label + " mix: trailer")
    check(ex.header("Trailer") == "X-Trailer", label + " mix: Trailer announced")

    # Stall: two heartbeats, then silence on an open connection; no note.
    ex = exchange(mock, "stall-" + tag, quiet_for=1.0)
    chunks = ex.payload.count(b"1\r\n\n\r\n")
    check(ex.end == "timeout" and chunks == 2, label + " stall after 2 heartbeats (%s)" % ex.end)

    # Close after heartbeats: on TLS without close_notify unless asked.
    ex = exchange(mock, "cut-" + tag)
    check(ex.payload.count(b"1\r\n\n\r\n") == 2, label + " close_after_heartbeats: 2 heartbeats")
    check(ex.end == ("ragged" if mock.tls else "eof"),
          label + " close_after_heartbeats: abrupt close (%s)" % ex.end)
    ex = exchange(mock, "cutn-" + tag)
    check(ex.end == clean_end, label + " close_after_heartbeats + close_notify (%s)" % ex.end)

    # Close mid-body: half the JSON, abrupt close, but the note exists.
    ex = exchange(mock, "half-" + tag)
    length = int(ex.header("Content-Length") or 0)
    check(length > 0 and len(ex.payload) == length // 2,
          label + " close_mid_body: half of the JSON")
    check(ex.end == ("ragged" if mock.tls else "eof"), label + " close_mid_body: abrupt close")
    ex = exchange(mock, "halfhb-" + tag)
    check(ex.end == ("ragged" if mock.tls else "eof") and b"\r\n0\r\n" not in ex.payload,
          label + " close_mid_body with heartbeats: chunked body cut")

    # Close after response: complete, no Connection: close, then closed.
    for candidate, expected in (("stale-", "ragged" if mock.tls else "eof"), ("stalen-", "eof")):
        sock = mock.connect()
        ex = exchange(mock, candidate + tag, sock=sock)
        then = after(sock, 2.0)
        sock.close()
        check(ex.end == "complete" and ex.header("Connection") is None,
              label + " %s: complete answer without Connection: close" % candidate)
        check(then.end == expected, label + " %s: then %s (%s)" % (candidate, expected, then.end))

    # A 204 step: no body and no length, and the connection still carries the next request.
    sock = mock.connect()
    ex = exchange(mock, "nocontent-" + tag, sock=sock)
    check(ex.status_line == 204 and ex.header("Content-Length") is None and ex.payload == b"",
          label + " status 204: no body, no Content-Length")
    ex = exchange(mock, "nocontent-again-" + tag, sock=sock)
    check(ex.end == "complete" and ex.status_line == 204, label + " status 204: connection reused")
    sock.close()

    ids = mock.ledger_ids()
    for candidate, count in (("hb-", 1), ("sl429-", 0), ("sl422-", 0), ("stall-", 0),
                             ("cut-", 0), ("cutn-", 0), ("half-", 1), ("halfhb-", 1),
                             ("stale-", 1), ("mix-", 1)):
        check(ids.count(candidate + tag) == count,
              label + " ledger: %d note(s) for %s" % (count, candidate))

    stats = mock.stats()
    # 3 + 3 + 2 (force) + 2 (cl) + 2 (eof) + 2 (mix) + 2 (stall) + 2 + 2 (cut) + 1 (halfhb)
    check(stats["heartbeats_sent"] == 21,
          label + " stats: heartbeats_sent %d == 21" % stats["heartbeats_sent"])


def run_idle(binary, workdir, tls_files, label):
    mock = Mock(binary, workdir, label + "-idle", tls_files,
                ["--idle-close-ms", "300", "--keep-alive-timeout", "7"])
    try:
        sock = mock.connect()
        ex = exchange(mock, "idle-" + label, sock=sock)
        check(ex.header("Keep-Alive") == "timeout=7", label + " Keep-Alive: timeout=7")
        # A second request inside the window keeps the connection.
        time.sleep(0.1)
        ex = exchange(mock, "idle2-" + label, sock=sock)
        check(ex.end == "complete", label + " idle: reused within the window")
        then = after(sock, 3.0)
        sock.close()
        check(then.end == "eof" and 0.2 <= then.end_time <= 2.0,
              label + " idle: closed after ~300 ms with %s (%s at %.3f)"
              % ("close_notify" if mock.tls else "FIN", then.end, then.end_time or -1))
        check(mock.stats()["connections_closed_idle"] >= 1,
              label + " stats: connections_closed_idle")
    finally:
        mock.stop()


def run_stop(binary, workdir, tls_files, label):
    mock = Mock(binary, workdir, label + "-stop", tls_files)
    sock = mock.connect()
    ex = exchange(mock, "stall-stop-" + label, sock=sock, quiet_for=0.5)
    check(ex.end == "timeout", label + " stop: the connection stalls")
    took = mock.stop()
    check(took is not None and took < 8.0 and mock.process.returncode == 0,
          label + " stop: a stalled connection does not hold stop() (%r s)" % took)
    sock.close()


def tls_files_for(workdir):
    certs = os.environ.get("STACKONE_TEST_CERTS")
    if certs and os.path.exists(os.path.join(certs, "server.pem")):
        return os.path.join(certs, "server.pem"), os.path.join(certs, "server.key")
    if not shutil.which("openssl"):
        return None
    cert = os.path.join(workdir, "cert.pem")
    key = os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def main():
    if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
        print("skip: usage: mock_faults_test.py STACKONE_MOCK_BINARY")
        return 77
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as workdir:
        tls_files = tls_files_for(workdir)
        setups = [("plain", None)]
        if tls_files:
            setups.append(("tls", tls_files))
        else:
            print("note: no certificate and no openssl; TLS checks skipped")
        for label, files in setups:
            mock = Mock(binary, workdir, label, files)
            try:
                run_suite(mock, label)
            finally:
                mock.stop()
            run_idle(binary, workdir, files, label)
            run_stop(binary, workdir, files, label)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
