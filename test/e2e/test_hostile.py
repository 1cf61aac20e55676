"""Hostile clients against the running services (issue 8, "Hostile input").

Every test plays an attacker on a real orchestrator (most with a real
agent-sandbox): garbage, forged and oversized frames on the ZeroMQ sockets,
10,000 malformed HTTP requests, a slowloris, connection floods. After each
attack the same proof:

  * the services still answer /healthz and a normal task runs to the end;
  * no stored task changed (every record's status, attempt, exit code and
    output compared with a snapshot taken before the attack);
  * /metrics counted what was turned away (cleudo_http_rejected_total,
    cleudo_frames_dropped_total), by reason;
  * at teardown: no sanitizer report in any service log, exit 0 on
    SIGTERM, and the API token never appears in full in a log.

Run: CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q test/e2e/test_hostile.py
(-s prints the measured latencies.)
"""
import json
import os
import random
import re
import resource
import socket
import statistics
import subprocess
import threading
import time
import urllib.request

import msgpack
import pytest
import zmq

from conftest import (TOKEN, Orchestrator, System, _check_logs, bin_path, curve_client,
                      orch_curve_env)

# Small caps make the edges cheap to reach: a 64 KiB frame, a 1 MiB body.
# A short header deadline lets the slowloris test see it act.
HOSTILE_ENV = {
    "ORCH_MAX_FRAME": "64K",
    "ORCH_MAX_BODY": "1M",
    "ORCH_HTTP_HEADER_TIMEOUT": "3s",
    "ORCH_WORKER_TIMEOUT": "5s",
}
FRAME_CAP = 64 * 1024
MAX_LATENCY_S = 2.0             # a normal request under attack, at most


def pack(msg):
    return msgpack.packb(msg, use_bin_type=True)


def pack_exactly(size, build):
    """build(n) -> a message with an n-byte blob; packed to exactly size bytes."""
    n = size - len(pack(build(0)))
    for _ in range(4):
        frame = pack(build(n))
        if len(frame) == size:
            return frame
        n += size - len(frame)
    raise AssertionError(f"cannot pack to {size} bytes")


def _raise_fd_limit(want=4096):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


# --- helpers ---------------------------------------------------------------

def metrics(orch):
    """The /metrics samples as {"name{labels}": value}."""
    status, _, raw = orch.http("GET", "/metrics")
    assert status == 200, raw
    out = {}
    for line in raw.decode().splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def rejected(m, reason):
    return m.get(f'cleudo_http_rejected_total{{reason="{reason}"}}', 0)


def dropped(m, socket_name, reason):
    return m.get(f'cleudo_frames_dropped_total{{socket="{socket_name}",reason="{reason}"}}', 0)


def snapshot(orch):
    """Every stored task: id -> what must not change."""
    status, _, page = orch.http("GET", "/api/tasks?limit=1000")
    assert status == 200, page
    snap = {}
    for item in page["items"]:
        status, _, rec = orch.http("GET", f"/api/tasks/{item['id']}")
        assert status == 200, rec
        snap[rec["id"]] = {k: rec.get(k) for k in (
            "status", "attempt", "worker", "exit_code", "signal", "stdout", "stderr",
            "stdout_b64", "stderr_b64", "finished_ms", "files", "task")}
    return snap


def assert_unchanged(before, after, allow_new=()):
    for task_id, rec in before.items():
        assert task_id in after, f"task {task_id} vanished"
        assert after[task_id] == rec, (task_id, rec, after[task_id])
    extra = set(after) - set(before) - set(allow_new)
    assert not extra, f"tasks appeared: {sorted(extra)}"


def still_serving(system, before, marker):
    """/healthz answers, a normal task runs, no stored task changed."""
    status, _, body = system.http("GET", "/healthz", token=False)
    assert status == 200 and body == {"status": "ok"}
    rec = system.run_task({"argv": ["echo", marker]})
    assert rec["status"] == "succeeded" and rec["stdout"] == marker + "\n", rec
    assert_unchanged(before, snapshot(system.orch), allow_new=[rec["id"]])
    return rec


class Pinger(threading.Thread):
    """A normal client: GET /healthz on a fresh connection every `every`
    seconds; keeps the latency of each answer (None: no answer)."""

    def __init__(self, orch, every=0.05):
        super().__init__(daemon=True)
        host, port = orch.http_addr.rsplit(":", 1)
        self.addr = (host, int(port))
        self.every = every
        self.latencies = []
        self.failures = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                with socket.create_connection(self.addr, timeout=10) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                assert data.startswith(b"HTTP/1.1 200"), data[:100]
                self.latencies.append(time.monotonic() - t0)
            except (OSError, AssertionError) as e:
                self.failures.append(repr(e))
            self.stop.wait(self.every)

    def finish(self):
        self.stop.set()
        self.join(15)
        assert not self.failures, self.failures[:5]
        assert self.latencies, "the normal client got no answer at all"
        lat = sorted(self.latencies)
        return {"n": len(lat), "p50_ms": round(statistics.median(lat) * 1000, 1),
                "max_ms": round(lat[-1] * 1000, 1)}


@pytest.fixture
def hostile(tmp_path):
    """An orchestrator with small caps, one sandbox, and two finished tasks
    to keep an eye on. Teardown: sanitizer check, exit codes, no token."""
    _raise_fd_limit()
    s = System(tmp_path, orch_env=HOSTILE_ENV)
    s.run_task({"argv": ["echo", "before-1"]})
    s.run_task({"lang": "sh", "code": "echo before-2 >&2; exit 3"})
    yield s
    codes = s.stop()
    services = s.services() + s.old_orchs
    _check_logs(services)
    for svc in services:
        assert TOKEN not in svc.read_log(), f"{svc.name} logged the API token in full"
    assert all(c == 0 for c in codes.values()), f"exit codes on SIGTERM: {codes}"


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_running(system, task_id):
    def running():
        status, _, rec = system.http("GET", f"/api/tasks/{task_id}")
        return rec["status"] == "running"
    wait_until(running, 15, f"task {task_id} running")
    return system.http("GET", f"/api/tasks/{task_id}")[2]


# --- ZeroMQ: the results socket ----------------------------------------------

WRONG_SHAPES = [
    pack([1, 2, 3]), pack("a string"), pack(None), pack(12345), pack({}),
    pack({"v": 1}), pack({"v": 2, "type": "heartbeat", "worker": "w", "free": 1}),
    pack({"v": 1, "type": "nonsense"}),
    pack({"v": 1, "type": "result", "id": "x y", "attempt": 1}),
    pack({"v": 1, "type": "hello", "worker": "w", "slots": "two", "version": "1"}),
    pack({"v": 1, "type": "heartbeat", "worker": "w", "free": -1}),
    pack({"v": 1, "type": "heartbeat", "worker": "w" * 5000, "free": 1}),
    pack({"v": 1, "type": "started", "id": "a" * 500, "attempt": 1, "worker": "w"}),
    pack({"v": 1, "type": "result", "id": "0123456789ab-00000000", "attempt": 1 << 40,
          "worker": "w", "status": "succeeded"}),
    pack({"v": 1, "type": "output", "id": "x", "attempt": 1, "stream": "stdin", "seq": 0,
          "data": b"x"}),
    b"\xdf\xff\xff\xff\xff", b"\xc1", b"\x92\x01", b"\x81\xa1v",
]


def test_results_socket_garbage_forgeries_and_a_heartbeat_flood(hostile):
    system = hostile
    orch = system.orch
    finished_id = next(iter(snapshot(orch)))
    status, _, victim = system.http("POST", "/api/tasks",
                                    {"lang": "sh", "code": "sleep 2; echo real-result"})
    assert status == 201, victim
    victim = wait_running(system, victim["id"])
    before = {k: v for k, v in snapshot(orch).items() if k != victim["id"]}
    m0 = metrics(orch)

    ctx = zmq.Context()
    bad = curve_client(ctx.socket(zmq.PUSH))
    bad.setsockopt(zmq.LINGER, 2000)
    bad.connect(orch.results)
    rng = random.Random(8)
    pinger = Pinger(orch, every=0.01)
    pinger.start()
    try:
        for _ in range(200):
            bad.send(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
        for _ in range(50):
            bad.send_multipart([pack({"v": 1, "type": "bye", "worker": "x"}), b"second part"])
        for frame in WRONG_SHAPES:
            bad.send(frame)

        def forged(**msg):
            bad.send(pack({"v": 1, **msg}))
        result = dict(type="result", status="succeeded", exit_code=0, signal=None,
                      stdout=b"forged!", stderr=b"", stdout_truncated=False,
                      stderr_truncated=False, wall_ms=1, cpu_ms=1, max_rss_kb=1)
        # Another worker's running task: neither claimed nor ended by a stranger.
        forged(type="started", id=victim["id"], attempt=victim["attempt"], worker="evil")
        forged(**result, id=victim["id"], attempt=victim["attempt"], worker="evil")
        forged(type="output", id=victim["id"], attempt=victim["attempt"] + 1, stream="stdout",
               seq=0, data=b"forged output")
        # Unknown, stale, finished.
        forged(**result, id="0123456789ab-deadbeef", attempt=1, worker="evil")
        forged(**result, id=victim["id"], attempt=victim["attempt"] + 1, worker="evil")
        forged(**result, id=finished_id, attempt=1, worker="evil")
        # 10,000 heartbeats from one worker, as fast as libzmq takes them.
        t0 = time.monotonic()
        hb = pack({"v": 1, "type": "heartbeat", "worker": "flooder", "free": 0, "running": []})
        for _ in range(10000):
            bad.send(hb)
        flood_s = time.monotonic() - t0

        def all_counted():
            m = metrics(orch)
            return (dropped(m, "results", "heartbeat_flood")
                    - dropped(m0, "results", "heartbeat_flood") >= 9000)
        wait_until(all_counted, 30, "the heartbeat flood counted")
    finally:
        lat = pinger.finish()
        bad.close()
        ctx.destroy(linger=0)
    print(f"\nheartbeat flood: 10000 frames sent in {flood_s:.2f}s; "
          f"/healthz meanwhile: {lat}")
    assert lat["max_ms"] < MAX_LATENCY_S * 1000, lat

    m1 = metrics(orch)
    delta = {r: dropped(m1, "results", r) - dropped(m0, "results", r) for r in (
        "undecodable", "multipart", "wrong_worker", "unknown_task", "stale_attempt",
        "already_terminal", "not_running", "heartbeat_flood")}
    print("dropped on results:", delta)
    assert delta["undecodable"] >= 200 + len(WRONG_SHAPES) - 2, delta
    assert delta["multipart"] >= 50, delta
    assert delta["wrong_worker"] >= 2, delta
    assert delta["unknown_task"] >= 1, delta
    assert delta["stale_attempt"] >= 1, delta
    assert delta["already_terminal"] >= 1, delta
    assert delta["not_running"] >= 1, delta
    assert 9000 <= delta["heartbeat_flood"] <= 10000, delta
    # All counted, a sample logged (20 lines a second at most).
    lines = orch.read_log().count("event=frame_dropped")
    assert lines <= 20 * (flood_s + 10), f"{lines} frame_dropped lines for ~300 frames"

    # The real run was left alone and ends with its own result.
    status, _, rec = system.http("GET", f"/api/tasks/{victim['id']}?wait=20")
    assert status == 200, rec
    assert rec["status"] == "succeeded" and rec["stdout"] == "real-result\n", rec
    assert rec["worker"] == victim["worker"] and rec["attempt"] == victim["attempt"], rec
    assert "forged" not in json.dumps(rec)
    still_serving(system, {**before, victim["id"]: snapshot(orch)[victim["id"]]}, "after-zmq")


def test_frame_of_exactly_the_cap_and_one_byte_over(hostile):
    system = hostile
    orch = system.orch
    before = snapshot(orch)
    m0 = metrics(orch)
    # An "output" frame for a task that is not running, padded to exactly
    # FRAME_CAP bytes: decoded (counted as not_running, not undecodable).
    exact = pack_exactly(FRAME_CAP, lambda n: {
        "v": 1, "type": "output", "id": "0123456789ab-00000000", "attempt": 1,
        "stream": "stdout", "seq": 0, "data": b"z" * n})
    assert len(exact) == FRAME_CAP
    over = exact + b"z"

    ctx = zmq.Context()
    try:
        ok = curve_client(ctx.socket(zmq.PUSH))
        ok.setsockopt(zmq.LINGER, 2000)
        ok.connect(orch.results)
        ok.send(exact)
        wait_until(lambda: dropped(metrics(orch), "results", "not_running")
                   > dropped(m0, "results", "not_running"), 10, "the frame at the cap decoded")
        ok.close()
        # One byte over: libzmq drops the link before the frame reaches us;
        # what follows on the same link is lost too.
        big = curve_client(ctx.socket(zmq.PUSH))
        big.setsockopt(zmq.LINGER, 0)
        big.connect(orch.results)
        big.send(over)
        big.send(b"after the oversized frame")
        time.sleep(1.0)
        big.close()
        m1 = metrics(orch)
        # Never handled as a frame: only the one at the cap was decoded.
        assert dropped(m1, "results", "not_running") == dropped(m0, "results", "not_running") + 1
        # Usually libzmq drops the link first (ZMQ_MAXMSGSIZE); when the
        # frame does get through (seen once under load with CURVE), the
        # decoder refuses it by the same cap: counted as undecodable, along
        # with the garbage that followed it on the same link.
        assert dropped(m1, "results", "undecodable") - dropped(m0, "results", "undecodable") <= 2

        # The submit socket: the same edge. A request of exactly the cap
        # with a wrong token is decoded (answered "unauthorized").
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(orch.submit)
        frame = pack_exactly(FRAME_CAP, lambda n: {
            "v": 1, "type": "submit", "req": 1, "token": "wrong",
            "task": {"lang": "sh", "code": b"#" * n}})
        assert len(frame) == FRAME_CAP
        dealer.send(frame)
        assert dealer.poll(10000), "no reply to a request of exactly the cap"
        reply = msgpack.unpackb(dealer.recv(), raw=False)
        assert reply["type"] == "error" and reply["code"] == "unauthorized", reply
        dealer.send(frame + b"x")
        assert not dealer.poll(1500), "a request over the cap was answered"
        dealer.close()
        # The control PUB reads subscriptions: one over the cap costs the
        # sender its connection, nobody else (the sandbox still gets acks).
        sub = curve_client(ctx.socket(zmq.SUB))
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"s" * (FRAME_CAP + 10))
        sub.connect(orch.control)
        time.sleep(0.5)
        sub.close()
    finally:
        ctx.destroy(linger=0)
    still_serving(system, before, "after-cap")


# --- ZeroMQ: the submit socket -------------------------------------------------

def test_submit_socket_garbage_envelopes_and_wrong_tokens(hostile):
    system = hostile
    orch = system.orch
    before = snapshot(orch)
    m0 = metrics(orch)
    ctx = zmq.Context()
    try:
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.LINGER, 0)
        d.connect(orch.submit)
        rng = random.Random(5)
        garbage = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
                   for _ in range(100)] + WRONG_SHAPES
        for g in garbage:
            d.send(g)
        replies = 0
        while d.poll(2000) and replies < len(garbage):
            reply = msgpack.unpackb(d.recv(), raw=False)
            assert reply["type"] == "error" and reply["code"] == "bad_request", reply
            replies += 1
        assert replies == len(garbage)
        # Envelopes we cannot route back: too many parts, a huge part.
        d.send_multipart([b"a", b"b", b"c", b"d", b"e", pack({"v": 1})])
        d.send_multipart([b"x" * 1000, pack({"v": 1})])
        # Valid requests with a wrong or missing token: nothing done.
        for token in ("wrong", "", TOKEN[:-1], TOKEN + "x"):
            d.send(pack({"v": 1, "type": "submit", "req": 7, "token": token,
                         "task": {"argv": ["echo", "must-not-run"]}}))
            reply = msgpack.unpackb(d.recv(), raw=False) if d.poll(5000) else None
            assert reply and reply["code"] == "unauthorized", reply
        d.close()
    finally:
        ctx.destroy(linger=0)
    m1 = metrics(orch)
    assert dropped(m1, "submit", "undecodable") - dropped(m0, "submit", "undecodable") >= 100
    assert dropped(m1, "submit", "bad_envelope") - dropped(m0, "submit", "bad_envelope") >= 2
    assert dropped(m1, "submit", "unauthorized") - dropped(m0, "submit", "unauthorized") == 4
    still_serving(system, before, "after-submit")


# --- HTTP: 10,000 malformed requests ---------------------------------------------

class Raw:
    """One raw HTTP/1.1 connection: any bytes out, one response in."""

    def __init__(self, addr):
        self.addr = addr
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def send_only(self, data):
        """Send and hang up without waiting (truncated requests)."""
        self.close()
        with socket.create_connection(self.addr, timeout=10) as s:
            try:
                s.sendall(data)
            except OSError:
                pass

    def exchange(self, data, head=False):
        """Status, headers, body; None when the server closed unanswered.
        head: the answer to a HEAD has no body, whatever Content-Length says."""
        if self.sock is None:
            self.sock = socket.create_connection(self.addr, timeout=5)
        try:
            self.sock.sendall(data)
        except OSError:
            pass                        # answered early and closed: read it
        try:
            return self._response(head)
        except OSError:
            self.close()
            return None

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def _response(self, head):
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        top, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = top.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = 0 if head else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._recv()
        body, self.buf = self.buf[:n], self.buf[n:]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body


def http_req(method, path, headers=(), body=None, token=None):
    if isinstance(path, str):
        path = path.encode()
    lines = [method.encode() + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1"]
    if token:
        lines.append(b"Authorization: Bearer " + token.encode())
    lines += [h if isinstance(h, bytes) else h.encode("latin-1") for h in headers]
    if body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def malformed_kinds(task_id, cookie, csrf):
    """(name, request bytes, allowed statuses; None: no answer is fine, or
    'truncated': sent and hung up)."""
    T = TOKEN
    post = lambda body, **kw: http_req("POST", "/api/tasks", body=body, token=T, **kw)
    deep = b"[" * 100 + b"]" * 100
    kinds = [
        ("bad_json", post(b'{"argv": ['), {400}),
        ("not_json", post(b"argv=ls&x=1"), {400}),
        ("bad_json_trailing", post(b'{"argv": ["true"]} {}'), {400}),
        ("duplicate_keys", post(b'{"argv": ["true"], "argv": ["ls"]}'), {400}),
        ("deep_array", post(deep), {400}),
        ("deep_object", post(b'{"a":' * 40 + b"1" + b"}" * 40), {400}),
        ("deep_unclosed", post(b"[" * 20000), {400}),
        ("deep_in_known_field", post(b'{"argv": ["true"], "limits": ' + b"[" * 64 + b"]" * 64
                                     + b"}"), {400}),
        ("invalid_utf8", post(b'{"argv": ["\xff\xfe\xfd"]}'), {400}),
        ("invalid_utf8_key", post(b'{"\xc0\xaf": 1}'), {400}),
        ("surrogate_escape", post(b'{"argv": ["\\ud800"]}'), {400}),
        ("nul_in_argv", post(b'{"argv": ["a\\u0000b"]}'), {400}),
        ("unknown_huge_field", post(b'{"argv": ["true"], "zzz": "' + b"A" * 60000 + b'"}'),
         {400}),
        ("unknown_huge_limit", post(b'{"argv": ["true"], "limits": {"' + b"k" * 20000
                                    + b'": 1}}'), {400}),
        ("absurd_limit", post(b'{"argv": ["true"], "limits": {"wall_ms": 1e300}}'), {400}),
        ("huge_int", post(b'{"argv": ["true"], "limits": {"wall_ms": ' + b"9" * 5000 + b"}}"),
         {400}),
        ("wrong_type", post(b'{"argv": "rm -rf /"}'), {400}),
        ("empty_body", post(b""), {400}),
        ("bad_idempotency_key", post(b'{"argv": ["x"]', headers=[b"Idempotency-Key: \xff\xfe"]),
         {400}),
        ("xml", post(b"<task/>", headers=["Content-Type: application/xml"]), {415}),
        ("too_large", http_req("POST", "/api/tasks", token=T,
                               headers=["Content-Length: 2000000"]), {413}),
        ("too_large_session", http_req("POST", "/api/session",
                                       headers=["Content-Length: 99999999"]), {413}),
        ("truncated_body", http_req("POST", "/api/tasks", token=T,
                                    headers=["Content-Length: 100"]) + b'{"argv"', "truncated"),
        ("truncated_headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ab", "truncated"),
        ("truncated_line", b"GET /api/tas", "truncated"),
        ("traversal_id", http_req("GET", "/api/tasks/../../etc/passwd", token=T), {400, 404}),
        ("traversal_id_escaped", http_req("GET", "/api/tasks/..%2F..%2Fetc%2Fpasswd", token=T),
         {400, 404}),
        ("traversal_id_double", http_req("GET", "/api/tasks/%252e%252e%252f", token=T),
         {400, 404}),
        ("id_too_long", http_req("GET", "/api/tasks/" + "a" * 65, token=T), {400}),
        ("id_bad_chars", http_req("GET", "/api/tasks/a;b'--", token=T), {400}),
        ("id_nonascii", http_req("GET", "/api/tasks/%C3%A9t%C3%A9", token=T), {400}),
        ("cancel_bad_id", http_req("POST", "/api/tasks/..%2f/cancel", token=T, body=b""),
         {400, 404}),
        ("traversal_file", http_req("GET", f"/api/tasks/{task_id}/files/..%2F..%2Fetc%2Fpasswd",
                                    token=T), {400}),
        ("traversal_file_abs", http_req("GET", f"/api/tasks/{task_id}/files/%2Fetc%2Fpasswd",
                                        token=T), {400}),
        ("traversal_file_dots", http_req("GET", f"/api/tasks/{task_id}/files/a/../../b",
                                         token=T), {400}),
        ("traversal_file_double", http_req("GET", f"/api/tasks/{task_id}/files/%252e%252e"
                                           "%252fetc%252fpasswd", token=T), {400}),
        # MHD ends the decoded path at the NUL: "a", no such file.
        ("traversal_file_nul", http_req("GET", f"/api/tasks/{task_id}/files/a%00b", token=T),
         {400, 404}),
        ("traversal_file_backslash", http_req("GET", f"/api/tasks/{task_id}/files/..%5C..%5Cx",
                                              token=T), {400, 404}),
        ("traversal_asset", http_req("GET", "/assets/../../../etc/passwd"), {400, 404}),
        ("traversal_asset_escaped", http_req("GET", "/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
         {400, 404}),
        ("put_tasks", http_req("PUT", "/api/tasks", token=T, body=b"{}"), {405}),
        ("delete_task", http_req("DELETE", f"/api/tasks/{task_id}", token=T), {405}),
        ("patch_healthz", http_req("PATCH", "/healthz", body=b"x"), {405}),
        ("post_metrics", http_req("POST", "/metrics", token=T, body=b""), {405}),
        ("get_cancel", http_req("GET", f"/api/tasks/{task_id}/cancel", token=T), {405}),
        ("post_file", http_req("POST", f"/api/tasks/{task_id}/files/x", token=T, body=b""),
         {405}),
        ("brew_root", http_req("BREW", "/"), {405}),
        ("options_session", http_req("OPTIONS", "/api/session"), {405}),
        ("trace_workers", http_req("TRACE", "/api/workers", token=T), {405}),
        ("delete_openapi", http_req("DELETE", "/api/openapi.json"), {405}),
        ("no_token", http_req("GET", "/api/tasks"), {401}),
        ("no_token_post", http_req("POST", "/api/tasks", body=b'{"argv": ["true"]}'), {401}),
        ("no_token_metrics", http_req("GET", "/metrics"), {401}),
        ("wrong_token", http_req("GET", "/api/tasks", token="wrong-token-0123456789"), {401}),
        ("token_prefix", http_req("GET", "/api/tasks", token=T[:-1]), {401}),
        ("basic_auth", http_req("GET", "/api/stats", headers=["Authorization: Basic YTpi"]),
         {401}),
        ("huge_token", http_req("GET", "/api/workers", token="x" * 6000), {401}),
        ("wrong_login", http_req("POST", "/api/session", body=b'{"token": "nope"}'), {401}),
        ("deep_login", http_req("POST", "/api/session", body=b"[" * 100), {400}),
        ("forged_cookie", http_req("GET", "/api/tasks",
                                   headers=["Cookie: cleudo_session=forged"]), {401}),
        ("cookie_junk", http_req("GET", "/api/tasks",
                                 headers=[b"Cookie: \xff\xfe=;;;==cleudo_session"]), {401}),
        ("cookie_no_csrf", http_req("POST", f"/api/tasks/{task_id}/cancel", body=b"",
                                    headers=[f"Cookie: cleudo_session={cookie}"]), {403}),
        ("cookie_wrong_csrf", http_req("POST", "/api/tasks", body=b'{"argv": ["true"]}',
                                       headers=[f"Cookie: cleudo_session={cookie}",
                                                "X-CSRF-Token: " + csrf[::-1]]), {403}),
        ("logout_no_csrf", http_req("DELETE", "/api/session",
                                    headers=[f"Cookie: cleudo_session={cookie}"]), {403}),
        ("header_40k", http_req("GET", "/healthz", headers=["X-Big: " + "a" * 40000]), {431}),
        ("header_70k", http_req("GET", "/healthz", headers=["X-Big: " + "a" * 70000]), {431}),
        ("headers_many", http_req("GET", "/healthz",
                                  headers=[f"X-H{i}: {'v' * 20}" for i in range(2000)]), {431}),
        ("url_9k", http_req("GET", "/healthz?x=" + "a" * 9000), {414}),
        ("url_70k", http_req("GET", "/api/tasks/" + "a" * 70000, token=T), {414}),
        ("query_huge_q", http_req("GET", "/api/tasks?q=" + "a" * 5000, token=T), {400}),
        ("query_bad_limit", http_req("GET", "/api/tasks?limit=-1&limit=99999", token=T), {400}),
        ("query_bad_status", http_req("GET", "/api/tasks?status=%ff%fe", token=T), {400}),
        ("query_bad_wait", http_req("GET", f"/api/tasks/{task_id}?wait=nan", token=T), {400}),
        ("bad_version", b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", {400, 505, None}),
        # MHD waits for more after a binary request line: hang up.
        ("garbage_binary", b"\x00\x01\x02 \xff\xfe garbage\r\n\r\n", "truncated"),
        ("garbage_line", b"GARBAGE\r\n\r\n", {400, None}),
        ("no_host", b"GET /healthz HTTP/1.1\r\n\r\n", {200, 400}),
        ("bad_content_length", b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: -5"
                               b"\r\n\r\n", {400, 401, 413, None}),
        ("two_content_lengths", b"POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Length: 2"
                                b"\r\nContent-Length: 30\r\n\r\n{}", {400, 401, None}),
        ("header_no_colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
         {200, 400, None}),
        ("bad_chunk", b"POST /api/session HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                      b"\r\n\r\nzz\r\nxx\r\n0\r\n\r\n", {400, None}),
    ]
    return kinds


def test_ten_thousand_malformed_http_requests(hostile):
    system = hostile
    orch = system.orch
    before = snapshot(orch)
    task_id = next(iter(before))
    host, port = orch.http_addr.rsplit(":", 1)
    addr = (host, int(port))
    status, headers, body = orch.http("POST", "/api/session", {"token": TOKEN}, token=False)
    assert status == 200, body
    cookie = re.search(r"cleudo_session=([^;]+)", headers["Set-Cookie"]).group(1)
    kinds = malformed_kinds(task_id, cookie, body["csrf"])
    total = 10000
    threads = 4
    failures = []
    seen = {}
    lock = threading.Lock()

    def worker(start):
        raw = Raw(addr)
        for i in range(start, total, threads):
            name, data, allowed = kinds[i % len(kinds)]
            if allowed == "truncated":
                raw.send_only(data)
                got = "truncated"
            else:
                resp = raw.exchange(data)
                got = resp[0] if resp else None
                if got not in allowed:
                    with lock:
                        failures.append((name, got, resp[2][:200] if resp else None))
                if resp and got >= 400 and got != 505:
                    ctype = resp[1].get("content-type", "")
                    if not ctype.startswith("application/json") and got not in (414, 431, 400):
                        with lock:
                            failures.append((name, got, "not JSON: " + ctype))
            with lock:
                seen.setdefault(name, set()).add(got)
        raw.close()

    m0 = metrics(orch)
    pinger = Pinger(orch, every=0.1)
    pinger.start()
    t0 = time.monotonic()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(max(1, 120 - (time.monotonic() - t0)))
    took = time.monotonic() - t0
    assert not any(t.is_alive() for t in pool), f"the flood did not end in {took:.0f}s"
    lat = pinger.finish()
    print(f"\n{total} malformed requests ({len(kinds)} kinds, {threads} threads) in {took:.1f}s;"
          f" /healthz meanwhile: {lat}")
    assert not failures, failures[:20]
    assert lat["max_ms"] < MAX_LATENCY_S * 1000, lat
    # The HTTP library's messages: 10 lines a second at most.
    lines = orch.read_log().count("event=http_error")
    assert lines <= 10 * (took + 5), f"{lines} http_error lines in {took:.1f}s"

    m1 = metrics(orch)
    delta = {r: rejected(m1, r) - rejected(m0, r) for r in (
        "too_large", "uri_too_long", "headers_too_large", "malformed", "invalid_json",
        "invalid_utf8", "json_too_deep", "method_not_allowed", "unauthorized", "csrf",
        "bad_id", "bad_path")}
    print("rejected:", delta)
    per_kind = total // len(kinds)
    for reason, at_least in (("too_large", 2), ("uri_too_long", 2), ("headers_too_large", 3),
                             ("invalid_json", 4), ("invalid_utf8", 2), ("json_too_deep", 5),
                             ("method_not_allowed", 10), ("unauthorized", 8), ("csrf", 3),
                             ("bad_id", 5), ("bad_path", 4), ("malformed", 1)):
        assert delta[reason] >= at_least * per_kind, (reason, delta)
    # Our own 414/431 answers are JSON; MHD's own (beyond its memory pool)
    # are not, but the status is right either way (checked per request).
    still_serving(system, before, "after-http")


def test_oversized_http_answers_are_json_below_the_pool(hostile):
    orch = hostile.orch
    host, port = orch.http_addr.rsplit(":", 1)
    raw = Raw((host, int(port)))
    status, headers, body = raw.exchange(http_req("GET", "/healthz?x=" + "a" * 9000))
    assert status == 414 and json.loads(body)["error"]["code"] == "uri_too_long"
    raw.close()
    status, headers, body = raw.exchange(http_req("GET", "/healthz",
                                                  headers=["X-Big: " + "a" * 40000]))
    assert status == 431 and json.loads(body)["error"]["code"] == "headers_too_large"
    assert headers["x-content-type-options"] == "nosniff"
    raw.close()
    status, _, body = raw.exchange(http_req("POST", "/api/tasks", token=TOKEN,
                                            body=b"[" * 33 + b"]" * 33))
    err = json.loads(body)["error"]
    assert status == 400 and "deeper than 32" in err["message"], err
    status, _, body = raw.exchange(http_req("POST", "/api/tasks", token=TOKEN,
                                            body=b'{"argv": ["\xff"]}'))
    err = json.loads(body)["error"]
    assert status == 400 and "UTF-8" in err["message"], err
    raw.close()


ROUTES = {                      # path -> the methods routes.c allows
    "/": "GET, HEAD", "/healthz": "GET, HEAD", "/readyz": "GET, HEAD",
    "/metrics": "GET, HEAD", "/api/openapi.json": "GET, HEAD",
    "/api/session": "GET, HEAD, POST, DELETE", "/api/workers": "GET, HEAD",
    "/api/stats": "GET, HEAD", "/api/events": "GET, HEAD", "/api/tasks": "GET, HEAD, POST",
    "/api/tasks/": "GET, HEAD, POST", "/api/tasks/{id}": "GET, HEAD",
    "/api/tasks/{id}/cancel": "POST", "/api/tasks/{id}/rerun": "POST",
    "/api/tasks/{id}/stream": "GET, HEAD", "/api/tasks/{id}/files/out.txt": "GET, HEAD",
    "/assets/app.js": "GET, HEAD",
}
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
           "PROPFIND", "get")


def test_every_route_allows_only_its_methods(hostile):
    """Every method a route does not allow gets 405 with the right Allow
    header, with or without a token, and changes nothing."""
    orch = hostile.orch
    before = snapshot(orch)
    task_id = next(iter(before))
    host, port = orch.http_addr.rsplit(":", 1)
    raw = Raw((host, int(port)))
    checked = 0
    for route, allow in ROUTES.items():
        path = route.replace("{id}", task_id)
        allowed = allow.split(", ")
        for method in METHODS:
            if method in allowed:
                continue
            resp = raw.exchange(http_req(method, path, token=TOKEN, body=b""),
                                head=method == "HEAD")
            assert resp, (method, path)
            status, headers, body = resp
            assert status == 405, (method, path, status, body[:200])
            assert headers.get("allow") == allow, (method, path, headers)
            checked += 1
    raw.close()
    assert checked > 100
    still_serving(hostile, before, "after-methods")


# --- HTTP: slowloris and connection limits ------------------------------------------

def test_slowloris_does_not_stop_a_normal_client(hostile):
    system = hostile
    orch = system.orch
    before = snapshot(orch)
    host, port = orch.http_addr.rsplit(":", 1)
    m0 = metrics(orch)
    pinger = Pinger(orch, every=0.05)
    socks = []
    t0 = time.monotonic()
    try:
        for i in range(500):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow-%d: " % i)
            socks.append(s)
        opened = time.monotonic() - t0
        pinger.start()
        # A header byte from every connection every half second: each is
        # never idle long enough for the idle timeout.
        closed = set()
        deadline = time.monotonic() + 6.0
        while time.monotonic() < deadline:
            for n, s in enumerate(socks):
                if n in closed:
                    continue
                try:
                    s.sendall(b"a")
                except OSError:
                    closed.add(n)
            time.sleep(0.5)
        lat = pinger.finish()
        # The header deadline (3 s here) has shut every one of them.
        for n, s in enumerate(socks):
            if n in closed:
                continue
            s.settimeout(2)
            try:
                if s.recv(100) == b"":
                    closed.add(n)
            except OSError:
                closed.add(n)
    finally:
        pinger.stop.set()
        for s in socks:
            s.close()
    print(f"\nslowloris: 500 connections opened in {opened:.2f}s; normal client meanwhile:"
          f" {lat}; closed by the header deadline: {len(closed)}")
    assert lat["n"] >= 20 and lat["max_ms"] < MAX_LATENCY_S * 1000, lat
    assert len(closed) == 500, f"only {len(closed)} of 500 slow connections were closed"
    m1 = metrics(orch)
    assert rejected(m1, "header_timeout") - rejected(m0, "header_timeout") >= 500
    still_serving(system, before, "after-slowloris")


def _connect_idle(addr, n):
    return [socket.create_connection(addr, timeout=5) for _ in range(n)]


def _closed_at_once(addr):
    """True when the server hangs up a new connection without a word."""
    with socket.create_connection(addr, timeout=5) as s:
        s.settimeout(3)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            return s.recv(100) == b""
        except OSError:
            return True


def test_connection_limit_in_total(tmp_path):
    _raise_fd_limit()
    o = Orchestrator(tmp_path, {"ORCH_HTTP_MAX_CONNECTIONS": "16"})
    try:
        host, port = o.http_addr.rsplit(":", 1)
        addr = (host, int(port))
        held = _connect_idle(addr, 16)
        time.sleep(0.3)
        assert _closed_at_once(addr)
        for s in held:
            s.close()
        time.sleep(0.3)
        status, _, _ = o.http("GET", "/healthz", token=False)
        assert status == 200
        m = metrics(o)
        assert rejected(m, "connection_limit") >= 1, m
        assert m["cleudo_http_connections"] >= 1
    finally:
        assert o.stop() == 0
        _check_logs([o])


def _start_with_nofile(tmp_path, name, soft, hard, env=None):
    """An orchestrator started under RLIMIT_NOFILE soft/hard; (proc, log)."""
    log_path = tmp_path / (name + ".log")
    full = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    full.update({"ORCH_HTTP_ADDR": "127.0.0.1:0", "ORCH_SUBMIT_ENDPOINT": "tcp://127.0.0.1:*",
                 "ORCH_TASKS_ENDPOINT": "tcp://127.0.0.1:*",
                 "ORCH_RESULTS_ENDPOINT": "tcp://127.0.0.1:*",
                 "ORCH_CONTROL_ENDPOINT": "tcp://127.0.0.1:*",
                 "ORCH_DATA_DIR": str(tmp_path / (name + "-data")), "ORCH_API_TOKEN": TOKEN,
                 **orch_curve_env(), **(env or {})})
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [bin_path("orchestrator")], env=full, stdout=log, stderr=log,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))
    deadline = time.monotonic() + 15
    while "event=ready" not in log_path.read_text() and time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()
        time.sleep(0.05)
    return proc, log_path


def _soft_nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        line = next(l for l in f if l.startswith("Max open files"))
    return int(line.split()[3])


def test_file_descriptors_fit_the_connection_limit(tmp_path):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096 + 256:
        pytest.skip(f"hard RLIMIT_NOFILE {hard} is below 4352")
    # A low soft limit is raised to fit ORCH_HTTP_MAX_CONNECTIONS (4096).
    proc, log = _start_with_nofile(tmp_path, "raised", 512, hard)
    try:
        assert _soft_nofile(proc.pid) >= 4096 + 256
        assert "http_connections_clamped" not in log.read_text()
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    # A hard limit too low for it: the limit is lowered to fit, and said so.
    proc, log = _start_with_nofile(tmp_path, "clamped", 300, 300)
    try:
        text = log.read_text()
        assert re.search(r"event=http_connections_clamped wanted=4096 allowed=44 ", text), text
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    for name in ("raised", "clamped"):
        text = (tmp_path / (name + ".log")).read_text()
        assert not [l for l in text.splitlines() if "Sanitizer" in l or "runtime error" in l]


def _public_ipv4():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.123", 9))
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def test_connection_limit_per_address_spares_loopback(tmp_path):
    ip = _public_ipv4()
    if not ip:
        pytest.skip("no non-loopback IPv4 address on this host")
    _raise_fd_limit()
    o = Orchestrator(tmp_path, {"ORCH_HTTP_ADDR": "0.0.0.0:0", "ORCH_HTTP_MAX_PER_IP": "4"})
    try:
        port = int(o.http_addr.rsplit(":", 1)[1])
        held = _connect_idle((ip, port), 4)
        time.sleep(0.3)
        assert _closed_at_once((ip, port)), "a 5th connection from one address was accepted"
        # Loopback is exempt: 20 more local connections, and still served.
        local = _connect_idle(("127.0.0.1", port), 20)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            assert r.status == 200
        for s in held + local:
            s.close()
        time.sleep(0.3)
        with urllib.request.urlopen(f"http://{ip}:{port}/healthz", timeout=5) as r:
            assert r.status == 200
        req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(req, timeout=5) as r:
            text = r.read().decode()
        assert re.search(r'cleudo_http_rejected_total\{reason="per_ip_limit"\} [1-9]', text)
    finally:
        assert o.stop() == 0
        _check_logs([o])


# --- configuration ----------------------------------------------------------------

@pytest.mark.parametrize("binary, env, words", [
    ("orchestrator", {"ORCH_HTTP_MAX_CONNECTIONS": "5"}, ["ORCH_HTTP_MAX_CONNECTIONS", "'5'"]),
    ("orchestrator", {"ORCH_HTTP_MAX_CONNECTIONS": "many"},
     ["ORCH_HTTP_MAX_CONNECTIONS", "'many'"]),
    ("orchestrator", {"ORCH_HTTP_MAX_PER_IP": "-1"}, ["ORCH_HTTP_MAX_PER_IP", "'-1'"]),
    ("orchestrator", {"ORCH_HTTP_HEADER_TIMEOUT": "100ms"},
     ["ORCH_HTTP_HEADER_TIMEOUT", "'100ms'"]),
    ("orchestrator", {"ORCH_HTTP_HEADER_TIMEOUT": "soon"}, ["ORCH_HTTP_HEADER_TIMEOUT", "'soon'"]),
    ("orchestrator", {"ORCH_MAX_FRAME": "1K"}, ["ORCH_MAX_FRAME", "'1K'"]),
    ("orchestrator", {"ORCH_MAX_BODY": "huge"}, ["ORCH_MAX_BODY", "'huge'"]),
    ("agent-sandbox", {"SANDBOX_SLOTS": "0"}, ["SANDBOX_SLOTS", "'0'"]),
    ("agent-sandbox", {"SANDBOX_MAX_FRAME": "1K"}, ["SANDBOX_MAX_FRAME", "'1K'"]),
    ("agent-sandbox", {"SANDBOX_HEARTBEAT": "1ms"}, ["SANDBOX_HEARTBEAT", "'1ms'"]),
])
def test_a_wrong_setting_exits_1_naming_it(tmp_path, binary, env, words):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ORCH_", "SANDBOX_"))}
    base.update({"ORCH_DATA_DIR": str(tmp_path / "data"), "ORCH_HTTP_ADDR": "127.0.0.1:0",
                 "ORCH_API_TOKEN": TOKEN, "SANDBOX_WORK_DIR": str(tmp_path / "work")})
    base.update(env)
    p = subprocess.run([bin_path(binary)], env=base, capture_output=True, timeout=30)
    err = p.stderr.decode()
    assert p.returncode == 1, (p.returncode, err)
    for w in words:
        assert w in err, (w, err)
    assert TOKEN not in err + p.stdout.decode()


def test_the_token_is_never_printed_in_full(tmp_path):
    secret = "s3cret-Token-that-must-never-show-0123456789"
    base = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    base.update({"ORCH_DATA_DIR": str(tmp_path / "data"), "ORCH_API_TOKEN": secret})
    # --help, a bad token, a bad token given as a flag, an error elsewhere.
    runs = [
        ([bin_path("orchestrator"), "--help"], base),
        ([bin_path("orchestrator")], {**base, "ORCH_API_TOKEN": secret + " x"}),
        ([bin_path("orchestrator"), "--api-token", "short"], base),
        ([bin_path("orchestrator"), "--api-token", secret + "\x01"], base),
        ([bin_path("orchestrator")], {**base, "ORCH_HTTP_MAX_PER_IP": "x"}),
    ]
    for argv, env in runs:
        p = subprocess.run(argv, env=env, capture_output=True, timeout=30)
        out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        assert secret not in out, (argv, out)
        assert secret[:12] not in out, (argv, out)
        assert "short" not in out or argv[-1] != "short", out
