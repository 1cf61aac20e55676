"""Live output through the real services: the sandbox streams, the orchestrator
relays over HTTP (GET /api/tasks/{id}/stream, SSE) and over the submit socket
(cleudo run / logs -f). What a client sees while the task runs is, joined with
the rest, byte for byte the final record's output.

Run: CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q test/e2e/test_live_output.py
"""
import base64
import json
import os
import select
import signal
import socket
import subprocess
import time

from conftest import SAN_ENV, System, bin_path, sanitizer_reports

TICKER = "for i in 1 2 3 4 5 6 7 8 9 10; do echo line-$i; sleep 0.1; done"


class SSE:
    """A raw text/event-stream reader: (name, data, arrival time) per event."""

    def __init__(self, orch, path, token=True, timeout=30):
        host, port = orch.http_addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        auth = f"Authorization: Bearer {orch.token}\r\n" if token else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{auth}"
                          "Accept: text/event-stream\r\n\r\n".encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1])
        self.headers = head.decode("latin-1").lower()
        self.chunked = "transfer-encoding: chunked" in self.headers
        self.text = b""
        self.ended = False

    def _until(self, marker):
        while marker not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            self.buf += data
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _more(self):
        """Append the next piece of body to self.text (dechunked)."""
        if not self.chunked:
            data = self.buf or self.sock.recv(65536)
            self.buf = b""
            if not data:
                self.ended = True
            self.text += data
            return
        size = int(self._until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            self.ended = True
            return
        while len(self.buf) < size + 2:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed inside a chunk")
            self.buf += data
        self.text += self.buf[:size]
        self.buf = self.buf[size + 2:]

    def events(self, until=None, deadline=30):
        """Events until one named `until` (included) or the end."""
        out = []
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            while b"\n\n" in self.text:
                block, self.text = self.text.split(b"\n\n", 1)
                fields = {}
                for line in block.decode().split("\n"):
                    if line.startswith(":") or ":" not in line:
                        continue
                    key, value = line.split(":", 1)
                    fields[key] = value[1:] if value.startswith(" ") else value
                if "event" in fields:
                    out.append((fields["event"], fields.get("data", ""), time.monotonic(),
                                fields.get("id")))
                    if fields["event"] == until:
                        return out
            if self.ended:
                return out
            self._more()
        raise TimeoutError(f"no '{until}' event within {deadline} s: {out}")

    def close(self):
        self.sock.close()


def chunk_bytes(data):
    doc = json.loads(data)
    return doc["offset"], (base64.b64decode(doc["data_b64"]) if "data_b64" in doc
                           else doc["data"].encode())


def joined(events, name):
    """The bytes of one stream's chunks, checking they follow each other."""
    out = b""
    for ev, data, _, _ in events:
        if ev == "restart":
            out = b""
        if ev == name:
            offset, raw = chunk_bytes(data)
            assert offset == len(out), (offset, len(out))
            out += raw
    return out


def submit(system, spec):
    status, _, body = system.http("POST", "/api/tasks", spec)
    assert status == 201, body
    return body["id"]


def record(system, tid):
    status, _, body = system.http("GET", f"/api/tasks/{tid}?wait=30")
    assert status == 200, body
    return body


def raw(body, name):
    return base64.b64decode(body[name + "_b64"]) if name + "_b64" in body else body[name].encode()


def test_http_stream_shows_lines_as_they_come(system):
    tid = submit(system, {"lang": "sh", "code": TICKER + "; echo done >&2"})
    sse = SSE(system.orch, f"/api/tasks/{tid}/stream")
    assert sse.status == 200 and "content-type: text/event-stream" in sse.headers
    events = sse.events(until="result")
    sse.close()
    result_at = events[-1][2]
    out_times = [t for ev, _, t, _ in events if ev == "stdout"]
    # Several chunks, the first well before the end: live, not replayed.
    assert len(out_times) >= 4, events
    assert result_at - out_times[0] > 0.5
    assert out_times[-2] - out_times[0] > 0.3
    body = record(system, tid)
    assert joined(events, "stdout") == raw(body, "stdout") == b"".join(
        b"line-%d\n" % i for i in range(1, 11))
    assert joined(events, "stderr") == b"done\n"
    final = json.loads(events[-1][1])
    assert final["id"] == tid and final["status"] == "succeeded"


def test_late_subscriber_gets_everything_so_far(system):
    tid = submit(system, {"lang": "sh", "code": TICKER})
    time.sleep(0.6)
    sse = SSE(system.orch, f"/api/tasks/{tid}/stream")
    events = sse.events(until="result")
    sse.close()
    first = [chunk_bytes(d) for ev, d, _, _ in events if ev == "stdout"][0]
    assert first[0] == 0 and first[1].startswith(b"line-1\nline-2\n")
    assert joined(events, "stdout") == raw(record(system, tid), "stdout")
    # After the end, a subscriber gets the whole output from the record.
    sse = SSE(system.orch, f"/api/tasks/{tid}/stream")
    again = sse.events(until="result")
    sse.close()
    assert joined(again, "stdout") == joined(events, "stdout")


def test_binary_output_and_output_over_the_cap_match_the_record(system):
    code = ("import os,sys,time\n"
            "for i in range(4):\n"
            "    os.write(1, bytes(range(256)) * 64); time.sleep(0.08)\n"
            "os.write(2, b'\\xff\\xfe err'); time.sleep(0.1)\n"
            "os.write(1, b'x' * 200000)\n")
    tid = submit(system, {"lang": "python3", "code": code,
                          "limits": {"output_bytes": 100000}})
    sse = SSE(system.orch, f"/api/tasks/{tid}/stream")
    events = sse.events(until="result")
    sse.close()
    body = record(system, tid)
    assert body["stdout_truncated"] is True
    out = raw(body, "stdout")
    assert len(out) == 100000 and out.startswith(bytes(range(256)) * 64)
    assert joined(events, "stdout") == out
    assert joined(events, "stderr") == raw(body, "stderr") == b"\xff\xfe err"
    assert any("data_b64" in d for ev, d, _, _ in events if ev == "stdout")


def test_stream_of_unknown_task_is_404_and_needs_the_token(system):
    sse = SSE(system.orch, "/api/tasks/no-such-task/stream")
    assert sse.status == 404
    sse.close()
    sse = SSE(system.orch, "/api/tasks/x/stream", token=False)
    assert sse.status == 401
    sse.close()


def test_output_of_a_task_whose_worker_dies_is_kept(tmp_path):
    system = System(tmp_path, orch_env={"ORCH_MAX_ATTEMPTS": "1", "ORCH_WORKER_TIMEOUT": "1s"})
    try:
        tid = submit(system, {"lang": "sh",
                              "code": "for i in $(seq 1 100); do echo tick-$i; sleep 0.1; done"})
        sse = SSE(system.orch, f"/api/tasks/{tid}/stream")
        seen = b""
        while seen.count(b"\n") < 3:
            events = sse.events(until="stdout", deadline=10)
            seen += joined(events, "stdout") if not seen else chunk_bytes(events[-1][1])[1]
        system.sandboxes[0].kill9()
        events = sse.events(until="result", deadline=20)
        sse.close()
        body = record(system, tid)
        assert body["status"] == "lost", body
        kept = raw(body, "stdout")
        assert kept.startswith(seen) and kept.startswith(b"tick-1\ntick-2\n")
        assert json.loads(events[-1][1])["status"] == "lost"
    finally:
        system.stop()


# --- cleudo ---------------------------------------------------------------------

def cleudo_popen(system, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEUDO_", "ORCH_"))}
    env.update(SAN_ENV)
    env["CLEUDO_ENDPOINT"] = system.orch.submit
    env["CLEUDO_TOKEN"] = system.orch.token
    return subprocess.Popen([bin_path("cleudo"), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=str(system.tmp_path))


def read_lines_with_times(proc, fd_name="stdout", deadline=30):
    stream = getattr(proc, fd_name)
    os.set_blocking(stream.fileno(), False)
    got, times = b"", []
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        ready, _, _ = select.select([stream], [], [], 0.5)
        if ready:
            data = stream.read()
            if not data:
                break
            got += data
            times.append((time.monotonic(), data.count(b"\n")))
        elif proc.poll() is not None:
            rest = stream.read() or b""
            got += rest
            break
    return got, times


def test_cleudo_run_streams_line_by_line(system):
    start = time.monotonic()
    proc = cleudo_popen(system, "run", "--", "sh", "-c", TICKER + "; echo bye >&2; exit 4")
    got, times = read_lines_with_times(proc)
    rc = proc.wait(timeout=30)
    err = proc.stderr.read()
    assert not sanitizer_reports(err.decode("utf-8", "replace"))
    assert rc == 4
    assert got == b"".join(b"line-%d\n" % i for i in range(1, 11))
    assert err.endswith(b"bye\n")
    # Lines arrived over time, not all at the end.
    assert len(times) >= 4, times
    assert times[-1][0] - times[0][0] > 0.4
    assert times[0][0] - start < times[-1][0] - start - 0.4


def test_cleudo_ctrl_c_cancels_the_task(system):
    proc = cleudo_popen(system, "run", "--", "sh", "-c", "echo started; sleep 30")
    got = b""
    end = time.monotonic() + 20
    os.set_blocking(proc.stdout.fileno(), False)
    while b"started" not in got and time.monotonic() < end:
        select.select([proc.stdout], [], [], 0.5)
        got += proc.stdout.read() or b""
    assert b"started" in got
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 130
    status, _, body = system.http("GET", "/api/tasks?limit=1")
    tid = body["items"][0]["id"]
    final = record(system, tid)
    assert final["status"] == "cancelled", final


def test_cleudo_logs_follow_and_exit_codes(system):
    tid = submit(system, {"lang": "sh", "code": TICKER})
    proc = cleudo_popen(system, "logs", "-f", tid)
    got, times = read_lines_with_times(proc)
    assert proc.wait(timeout=30) == 0
    assert got == raw(record(system, tid), "stdout")
    assert len(times) >= 3
    for argv, code in ((["sh", "-c", "exit 0"], 0), (["sh", "-c", "exit 7"], 7),
                       # The task is PID 1 of its namespace (signals it sends
                       # itself are ignored): a child dies, the shell passes it on.
                       (["sh", "-c", "sh -c 'kill -TERM $$'"], 128 + signal.SIGTERM)):
        assert system.cleudo("run", "--", *argv).returncode == code
    assert system.cleudo("run", "--timeout", "300ms", "--", "sleep", "5").returncode == 124
    doc = json.loads(system.cleudo("run", "--json", "--", "sh", "-c", "echo hi").stdout)
    assert doc["status"] == "succeeded" and doc["stdout"] == "hi\n"
    assert {"id", "status", "exit_code", "signal", "stdout", "stderr", "timeline"} - set(doc) \
        <= {"timeline"}
