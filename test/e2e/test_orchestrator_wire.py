"""The orchestrator alone, driven over its real sockets.

The test plays every peer itself: a FAKE WORKER in Python (PULL on tasks, PUSH
on results, SUB on control; msgpack with bin payloads) and HTTP / submit-socket
clients. So it can check what the orchestrator sends (credit!) and feed it
results, stale results and garbage that a real sandbox never would.

Run: CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q test/e2e/test_orchestrator_wire.py
"""
import base64
import http.client
import json
import os
import re
import signal
import sqlite3
import stat
import threading
import time

import msgpack
import pytest
import zmq

from conftest import Orchestrator, curve_client, sanitizer_reports

# A worker that never heartbeats would die after conftest's 3 s; these tests
# are about other things, so give workers room unless a test says otherwise.
CALM = {"ORCH_WORKER_TIMEOUT": "60s"}


def pack(msg):
    return msgpack.packb(msg, use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, raw=False)


class FakeWorker:
    """Connects like agent-sandbox; every step is explicit."""

    def __init__(self, orch, worker="fake-worker-1", slots=2):
        self.id = worker
        self.slots = slots
        self.ctx = zmq.Context()
        self.pull = curve_client(self.ctx.socket(zmq.PULL))
        self.pull.connect(orch.tasks)
        self.push = curve_client(self.ctx.socket(zmq.PUSH))
        self.push.connect(orch.results)
        self.sub = curve_client(self.ctx.socket(zmq.SUB))
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(orch.control)
        for s in (self.pull, self.push, self.sub):
            s.setsockopt(zmq.LINGER, 1000)

    def close(self):
        for s in (self.pull, self.push, self.sub):
            s.close()
        self.ctx.term()

    def send(self, **msg):
        self.push.send(pack({"v": 1, **msg}))

    def hello(self):
        self.send(type="hello", worker=self.id, slots=self.slots, version="fake-0.1",
                  isolation={"seccomp": False, "landlock": 0})

    def heartbeat(self, free, running=()):
        self.send(type="heartbeat", worker=self.id, free=free, running=list(running))

    def started(self, task):
        self.send(type="started", id=task["id"], attempt=task["attempt"], worker=self.id)

    def result(self, task, status="succeeded", exit_code=0, stdout=b"", stderr=b"",
               attempt=None, **extra):
        msg = dict(type="result", id=task["id"],
                   attempt=task["attempt"] if attempt is None else attempt,
                   worker=self.id, status=status, exit_code=exit_code, signal=None,
                   stdout=stdout, stderr=stderr, stdout_truncated=False,
                   stderr_truncated=False, wall_ms=12, cpu_ms=3, max_rss_kb=1234)
        msg.update(extra)
        self.send(**msg)

    def recv_task(self, timeout=5.0):
        if not self.pull.poll(int(timeout * 1000)):
            raise AssertionError(f"no task frame within {timeout}s")
        return unpack(self.pull.recv())

    def no_task(self, within=0.5):
        if self.pull.poll(int(within * 1000)):
            raise AssertionError(f"unexpected task frame: {unpack(self.pull.recv())}")


class Client:
    """A DEALER (or REQ) on the submit socket."""

    def __init__(self, orch, kind=zmq.DEALER):
        self.token = orch.token
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(kind)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(orch.submit)
        self.req = 0

    def close(self):
        self.sock.close()
        self.ctx.term()

    def send(self, kind, token=None, **body):
        self.req += 1
        self.sock.send(pack({"v": 1, "type": kind, "req": self.req,
                             "token": self.token if token is None else token, **body}))
        return self.req

    def recv(self, timeout=10.0):
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError(f"no reply within {timeout}s")
        return unpack(self.sock.recv())

    def call(self, kind, token=None, timeout=10.0, **body):
        req = self.send(kind, token=token, **body)
        reply = self.recv(timeout)
        assert reply["req"] == req, reply
        return reply


@pytest.fixture
def start(tmp_path):
    """start(env=..., name=...) -> a running Orchestrator; all are stopped (SIGTERM
    must give exit 0) and their logs checked for sanitizer reports at the end."""
    started = []

    def _start(env=None, name=None, **kwargs):
        where = tmp_path / (name or f"orch{len(started)}")
        where.mkdir(exist_ok=True)
        kwargs.setdefault("data_dir", str(tmp_path / "data"))
        o = Orchestrator(where, {**CALM, **(env or {})}, **kwargs)
        started.append(o)
        return o

    yield _start
    for o in started:
        code = o.stop()
        reports = sanitizer_reports(o.read_log())
        assert not reports, "\n".join(reports)
        assert code == 0, f"orchestrator exited {code}:\n{o.read_log()[-3000:]}"


@pytest.fixture
def orch(start):
    return start()


@pytest.fixture
def worker(orch):
    w = FakeWorker(orch)
    yield w
    w.close()


def post(orch, spec, query=""):
    return orch.http("POST", "/api/tasks" + query, spec)


def get(orch, task_id, query=""):
    return orch.http("GET", f"/api/tasks/{task_id}{query}")


# ---------------------------------------------------------------------------

def test_ready_line_has_real_ports_and_keep_alive_works(orch):
    line = re.search(r"event=ready .*", orch.read_log()).group(0)
    for key in ("http", "submit", "tasks", "results", "control"):
        value = re.search(key + r"=(\S+)", line).group(1)
        assert not value.endswith((":0", ":*")), line
    assert "data_dir=" in line
    host, port = orch.http_addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/healthz")
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read()) == {"status": "ok"}
    assert resp.getheader("Connection", "").lower() != "close"
    sock = conn.sock
    for _ in range(3):
        conn.request("GET", "/api/tasks", headers={"Authorization": "Bearer " + orch.token})
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read()
        assert resp.getheader("Connection", "").lower() != "close"
    assert conn.sock is sock, "keep-alive connection was not reused"
    conn.close()


def test_credit_limits_dispatch_and_results_are_stored(orch, worker):
    worker.hello()
    ids = []
    for i in range(3):
        status, _, rec = post(orch, {"argv": ["echo", str(i)]})
        assert status == 201, rec
        assert rec["status"] == "queued" and rec["attempt"] == 0
        ids.append(rec["id"])
    first = worker.recv_task()
    second = worker.recv_task()
    worker.no_task(0.7)               # 2 slots: the third waits for credit
    assert [first["id"], second["id"]] == ids[:2]
    assert first["attempt"] == 1 and first["argv"] == ["echo", "0"]
    status, _, rec = get(orch, ids[0])
    assert rec["status"] == "dispatched" and rec["attempt"] == 1 and rec["dispatched_ms"]

    worker.started(first)
    worker.no_task(0.5)               # started moves the slot, frees nothing
    worker.result(first, stdout=b"0\n", stderr=b"warn\n")
    third = worker.recv_task()
    assert third["id"] == ids[2]

    deadline = time.monotonic() + 5
    while True:
        status, _, rec = get(orch, ids[0])
        if rec["status"] == "succeeded" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == 200
    assert rec["status"] == "succeeded"
    assert rec["exit_code"] == 0 and rec["signal"] is None
    assert rec["stdout"] == "0\n" and rec["stderr"] == "warn\n"
    assert "stdout_b64" not in rec and "stderr_b64" not in rec
    assert rec["worker"] == worker.id and rec["attempt"] == 1
    assert rec["wall_ms"] == 12 and rec["cpu_ms"] == 3 and rec["max_rss_kb"] == 1234
    assert rec["created_ms"] <= rec["dispatched_ms"] <= rec["started_ms"] <= rec["finished_ms"]
    assert rec["task"] == {"argv": ["echo", "0"]}
    assert rec["error"] is None and rec["files"] == {} and rec["file_refs"] == []
    log = orch.read_log()
    assert f"event=task_finished id={ids[0]}" in log
    assert re.search(r"event=worker_joined worker=\"fake-worker-1\" slots=2", log)


def test_heartbeat_sets_free_slots(orch, worker):
    worker.hello()
    worker.heartbeat(free=0, running=["someone-elses-task"])
    time.sleep(0.3)
    status, _, rec = post(orch, {"argv": ["true"]})
    worker.no_task(0.7)
    worker.heartbeat(free=1)
    assert worker.recv_task()["id"] == rec["id"]


def test_wait_returns_200_when_finished_and_202_when_not(orch, worker):
    worker.hello()
    out = {}

    def waiting():
        out["resp"] = post(orch, {"lang": "sh", "code": "echo hi"}, "?wait=10")

    t = threading.Thread(target=waiting)
    t.start()
    task = worker.recv_task()
    assert task["lang"] == "sh" and task["code"] == b"echo hi"
    worker.started(task)
    worker.result(task, stdout=b"hi\n")
    t.join(10)
    status, _, rec = out["resp"]
    assert status == 200 and rec["status"] == "succeeded" and rec["stdout"] == "hi\n"

    t0 = time.monotonic()
    status, _, rec = post(orch, {"argv": ["sleep", "9"]}, "?wait=0.5")
    took = time.monotonic() - t0
    assert status == 202, rec
    assert rec["status"] in ("dispatched", "queued") and rec["exit_code"] is None
    assert 0.4 <= took < 5
    held = worker.recv_task()
    worker.started(held)
    status, _, rec = get(orch, held["id"], "?wait=0.3")
    assert status == 202 and rec["status"] == "running" and rec["worker"] == worker.id
    # A GET with wait on a finished task answers at once with 200.
    worker.result(held, status="failed", exit_code=7)
    time.sleep(0.2)
    status, _, rec = get(orch, held["id"], "?wait=30")
    assert status == 200 and rec["status"] == "failed" and rec["exit_code"] == 7


def test_waiting_connection_outlives_the_idle_timeout(start):
    orch = start(env={"ORCH_HTTP_IDLE_TIMEOUT": "1s"})
    t0 = time.monotonic()
    status, _, rec = post(orch, {"argv": ["true"]}, "?wait=2.5")
    assert status == 202 and rec["status"] == "queued"
    assert time.monotonic() - t0 >= 2.3


def test_non_utf8_output_and_files_get_exact_b64(orch, worker):
    worker.hello()
    status, _, rec = post(orch, {"argv": ["x"], "files_b64": {"in.bin": base64.b64encode(b"\xff\x00").decode()},
                                 "stdin": "z\u0000z", "collect": ["out.bin", "out.txt"]})
    assert status == 201, rec
    assert rec["task"]["files_b64"] == {"in.bin": "/wA="}
    assert rec["task"]["stdin"] == "z\u0000z"
    task = worker.recv_task()
    assert task["files"] == {"in.bin": b"\xff\x00"} and task["stdin"] == b"z\x00z"
    worker.started(task)
    raw = b"a\x00b\xffc\xe2\x82"
    worker.result(task, stdout=raw, stderr="é\u0000".encode(),
                  files={"out.bin": b"\x80\x81", "out.txt": "ok ✓".encode()},
                  file_refs=["big/data.csv"], error="clamped wall_ms")
    status, _, rec = get(orch, task["id"], "?wait=5")
    assert status == 200, rec
    assert base64.b64decode(rec["stdout_b64"]) == raw
    assert rec["stdout"] == "a\u0000b\ufffdc\ufffd"
    assert rec["stderr"] == "é\u0000" and "stderr_b64" not in rec
    assert rec["files"] == {"out.txt": "ok ✓"}
    assert base64.b64decode(rec["files_b64"]["out.bin"]) == b"\x80\x81"
    assert rec["file_refs"] == ["big/data.csv"]
    assert rec["error"] == "clamped wall_ms"


def test_stale_unknown_and_duplicate_results_never_overwrite(orch, worker):
    worker.hello()
    status, _, rec = post(orch, {"argv": ["true"]})
    task = worker.recv_task()
    worker.started(task)
    worker.result(task, attempt=2, stdout=b"stale")                  # not the current attempt
    worker.result({"id": "0123456789ab-00000000", "attempt": 1})      # unknown task
    worker.result(task, stdout=b"first")
    worker.result(task, status="failed", exit_code=1, stdout=b"second")  # already terminal
    worker.started(task)                                               # late duplicate
    time.sleep(0.5)
    status, _, rec = get(orch, task["id"])
    assert rec["status"] == "succeeded" and rec["stdout"] == "first", rec
    log = orch.read_log()
    assert "reason=stale_attempt" in log
    assert "reason=unknown_task" in log
    assert "reason=already_terminal" in log


def test_garbage_on_results_socket_is_dropped_and_service_keeps_serving(start):
    orch = start(env={"ORCH_MAX_FRAME": "64K"})
    ctx = zmq.Context()
    bad = curve_client(ctx.socket(zmq.PUSH))
    bad.setsockopt(zmq.LINGER, 0)
    bad.connect(orch.results)
    for frame in (b"", b"garbage", pack([1, 2, 3]), pack({"v": 1}),
                  pack({"v": 1, "type": "result", "id": "x y", "attempt": 1}),
                  pack({"v": 1, "type": "hello", "worker": "w", "slots": "two", "version": "1"}),
                  pack({"v": 2, "type": "heartbeat", "worker": "w", "free": 1}),
                  pack({"v": 1, "type": "nonsense"}),
                  b"\xdf\xff\xff\xff\xff"):
        bad.send(frame)
    bad.send_multipart([b"part1", b"part2"])
    bad.send(b"\x00" * (100 * 1024))     # above ORCH_MAX_FRAME: libzmq drops the link
    orch.wait_for_log(r"event=frame_dropped .*reason=.*(type|v)", timeout=5)
    bad.close()
    ctx.term()
    # Still serving: a new worker link carries a task all the way.
    w = FakeWorker(orch, worker="after-garbage")
    try:
        w.hello()
        status, _, rec = post(orch, {"argv": ["true"]})
        task = w.recv_task()
        w.started(task)
        w.result(task)
        status, _, rec = get(orch, rec["id"], "?wait=5")
        assert status == 200 and rec["status"] == "succeeded"
    finally:
        w.close()
    assert orch.read_log().count("event=frame_dropped") >= 8


@pytest.mark.parametrize("body, field, words", [
    ({"argvv": ["x"]}, "argvv", "unknown field"),
    ({"argv": []}, "argv", "non-empty array"),
    ({"argv": "ls"}, "argv", "array"),
    ({"argv": ["ls", 3]}, "argv[1]", "string"),
    ({"argv": [""]}, "argv[0]", "empty"),
    ({"argv": ["a\u0000b"]}, "argv[0]", "NUL"),
    ({}, "argv", "required"),
    ({"argv": ["ls"], "lang": "sh", "code": "ls"}, "argv", "not both"),
    ({"code": "ls"}, "lang", "required"),
    ({"lang": "sh"}, "code", "required"),
    ({"lang": "perl", "code": "1"}, "lang", "sh, bash, python3"),
    ({"lang": "sh", "code": "a", "code_b64": "YQ=="}, "code_b64", "not both"),
    ({"lang": "sh", "code_b64": "!!!!"}, "code_b64", "base64"),
    ({"argv": ["x"], "stdin_b64": "YQ"}, "stdin_b64", "base64"),
    ({"argv": ["x"], "env": {"1BAD": "x"}}, "env[1BAD]", "invalid name"),
    ({"argv": ["x"], "env": {"OK": 1}}, "env[OK]", "string"),
    ({"argv": ["x"], "files": {"../x": "a"}}, "files[../x]", ""),
    ({"argv": ["x"], "files": {"/etc/passwd": "a"}}, "files[/etc/passwd]", ""),
    ({"argv": ["x"], "files": {"a": "1"}, "files_b64": {"a": "MQ=="}}, "files_b64[a]", "also"),
    ({"argv": ["x"], "limits": {"wall_ms": 0}}, "limits.wall_ms", "positive integer"),
    ({"argv": ["x"], "limits": {"wall_ms": -5}}, "limits.wall_ms", "positive integer"),
    ({"argv": ["x"], "limits": {"cpu_ms": 1.5}}, "limits.cpu_ms", "positive integer"),
    ({"argv": ["x"], "limits": {"memory_bytes": 1 << 50}}, "limits.memory_bytes", "absurd"),
    ({"argv": ["x"], "limits": {"network": "yes"}}, "limits.network", "true or false"),
    ({"argv": ["x"], "limits": {"walltime": 5}}, "limits.walltime", "unknown limit"),
    ({"argv": ["x"], "collect": ["ok", "a/../b"]}, "collect[1]", ""),
    ([1, 2], None, "JSON object"),
])
def test_validation_errors_name_the_field(orch, body, field, words):
    status, _, resp = post(orch, body)
    assert status == 400, resp
    err = resp["error"]
    assert err["code"] == "bad_request"
    assert err.get("field") == field
    assert words in err["message"]
    if field:
        assert err["message"].startswith(field + ":")


def test_http_errors(start):
    orch = start(env={"ORCH_MAX_BODY": "4K"})
    status, _, body = orch.http("POST", "/api/tasks", b'{"argv": ["echo",')
    assert status == 400 and "invalid JSON" in body["error"]["message"]
    assert "line 1" in body["error"]["message"] and "column" in body["error"]["message"]
    status, _, body = orch.http("POST", "/api/tasks", b'{"argv": ["a"], "argv": ["b"]}')
    assert status == 400 and "duplicate" in body["error"]["message"]
    status, _, body = orch.http("POST", "/api/tasks", b"x" * 5000)
    assert status == 413 and body["error"]["code"] == "too_large"
    host, port = orch.http_addr.rsplit(":", 1)          # chunked: no Content-Length
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/api/tasks", body=iter([b"y" * 3000, b"y" * 3000]),
                 headers={"Authorization": "Bearer " + orch.token,
                          "Content-Type": "application/json"}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 413 and json.loads(resp.read())["error"]["code"] == "too_large"
    conn.close()
    status, _, body = orch.http("POST", "/api/tasks", b'{"argv":["x"]}',
                                headers={"Content-Type": "text/plain"})
    assert status == 415
    status, _, body = orch.http("GET", "/api/tasks/0123456789ab-deadbeef")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert "0123456789ab-deadbeef" in body["error"]["message"]
    for bad in ("bad%20id", "a.b", "x" * 65):
        status, _, body = orch.http("GET", "/api/tasks/" + bad)
        assert status == 400 and body["error"]["field"] == "id", (bad, body)
    status, _, body = orch.http("GET", "/api/tasks", token=None)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    status, headers, body = orch.http("GET", "/api/tasks", token="wrong-token-0123456789")
    assert status == 401 and "Bearer" in headers.get("WWW-Authenticate", "")
    status, _, body = orch.http("POST", "/api/tasks", {"argv": ["x"]}, token="nope-nope-nope-nope")
    assert status == 401
    status, headers, body = orch.http("DELETE", "/api/tasks")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    assert "POST" in headers.get("Allow", "")
    status, _, body = orch.http("PUT", "/api/tasks/0123456789ab-deadbeef", {"a": 1})
    assert status == 405
    status, _, body = orch.http("GET", "/api/nothing-here")
    assert status == 404
    status, _, body = orch.http("GET", "/nothing-here", token=None)
    assert status == 404
    for q in ("abc", "0", "-1", "1e9", ""):
        status, _, body = orch.http("POST", "/api/tasks?wait=" + q, {"argv": ["x"]})
        assert status == 400 and body["error"]["field"] == "wait", (q, body)
    for q in ("0", "1001", "x", "-3"):
        status, _, body = orch.http("GET", "/api/tasks?limit=" + q)
        assert status == 400 and body["error"]["field"] == "limit", (q, body)
    status, _, body = orch.http("GET", "/healthz", token=None)
    assert status == 200


def test_list_is_newest_first_without_outputs(orch):
    ids = [post(orch, {"argv": ["echo", str(i)]})[2]["id"] for i in range(4)]
    status, _, body = orch.http("GET", "/api/tasks?limit=3")
    assert status == 200 and body["next"]              # a fourth one follows
    assert [t["id"] for t in body["items"]] == ids[::-1][:3]
    status, _, rest = orch.http("GET", "/api/tasks?limit=3&cursor=" + body["next"])
    assert status == 200 and rest["next"] is None
    assert [t["id"] for t in rest["items"]] == ids[:1]
    item = body["items"][0]
    assert item["summary"] == "echo 3" and item["status"] == "queued"
    for key in ("stdout", "stderr", "files", "task"):
        assert key not in item
    stamps = [i.split("-")[0] for i in ids]           # Unix ms in hex: sorts by time
    assert sorted(stamps) == stamps and all(len(s) == 12 for s in stamps)


def test_submit_socket(orch, worker):
    worker.hello()
    c = Client(orch)
    try:
        reply = c.call("submit", task={"argv": ["echo", "sock"]})
        assert reply["type"] == "accepted", reply
        task_id = reply["id"]
        reply = c.call("get", id=task_id)
        assert reply["type"] == "task" and reply["task"]["id"] == task_id
        assert reply["task"]["task"]["argv"] == ["echo", "sock"]
        task = worker.recv_task()
        # wait times out: the current (non-terminal) record
        reply = c.call("wait", id=task_id, timeout_ms=300)
        assert reply["type"] == "task" and reply["task"]["status"] == "dispatched"
        # wait that ends with the result
        req = c.send("wait", id=task_id, timeout_ms=10000)
        worker.started(task)
        worker.result(task, stdout=b"sock\n")
        reply = c.recv()
        assert reply["req"] == req and reply["task"]["status"] == "succeeded"
        assert reply["task"]["stdout"] == b"sock\n" and reply["task"]["exit_code"] == 0
        # submit with wait_ms: the record once terminal
        req = c.send("submit", task={"lang": "python3", "code": b"print(1)"}, wait_ms=10000)
        task = worker.recv_task()
        worker.started(task)
        worker.result(task, status="failed", exit_code=2)
        reply = c.recv()
        assert reply["req"] == req and reply["type"] == "task"
        assert reply["task"]["status"] == "failed" and reply["task"]["exit_code"] == 2
        # errors
        reply = c.call("get", token="wrong-token-0000000000", id=task_id)
        assert reply["type"] == "error" and reply["code"] == "unauthorized"
        reply = c.call("get", id="0123456789ab-00000000")
        assert reply["type"] == "error" and reply["code"] == "not_found"
        reply = c.call("submit", task={"argv": []})
        assert reply["type"] == "error" and reply["code"] == "bad_request"
        assert "argv" in reply.get("field", "") and "argv" in reply["message"]
        reply = c.call("submit", task={"argv": ["x"], "files": {"../etc": b""}})
        assert reply["code"] == "bad_request" and "files" in reply["field"]
        # list and workers
        reply = c.call("list", limit=2)
        assert reply["type"] == "tasks" and len(reply["items"]) == 2
        assert reply["items"][0]["status"] == "failed"
        reply = c.call("list", status="succeeded")
        assert [t["id"] for t in reply["items"]] == [task_id]
        reply = c.call("workers")
        assert reply["type"] == "workers"
        assert [w["worker"] for w in reply["items"]] == [worker.id]
        assert reply["items"][0]["slots"] == 2 and reply["items"][0]["tasks_done"] == 2
        # garbage gets a reply naming the problem, the socket keeps working
        c.sock.send(b"\x81\xa1v\x01")
        reply = c.recv()
        assert reply["type"] == "error" and reply["code"] == "bad_request"
        assert c.call("get", id=task_id)["type"] == "task"
    finally:
        c.close()
    # REQ clients put an empty delimiter in the envelope; it comes back.
    r = Client(orch, zmq.REQ)
    try:
        reply = r.call("get", id=task_id)
        assert reply["type"] == "task" and reply["task"]["id"] == task_id
    finally:
        r.close()


def test_submit_burst_is_answered_only_once_committed(orch):
    """Submits that arrive together share one transaction: every answer
    comes after its commit (an "accepted" id is in the database file), a
    refused one does not spoil the others, a repeated key inside the burst
    gets the first task, and a request of another kind sees every task
    submitted before it."""
    c = Client(orch)
    try:
        reqs = {}
        for i in range(12):
            body = {"task": {"argv": ["echo", str(i)]}}
            if i in (4, 9):
                body["key"] = "burst-key"
            reqs[c.send("submit", **body)] = i
        bad = c.send("submit", task={"argv": []})
        listed = c.send("list", limit=100)
        for i in range(12, 20):
            reqs[c.send("submit", task={"argv": ["echo", str(i)]})] = i
        replies = {}
        while len(replies) < len(reqs) + 2:
            r = c.recv()
            replies[r["req"]] = r
    finally:
        c.close()
    assert replies[bad]["type"] == "error" and replies[bad]["code"] == "bad_request"
    ids = {}
    for req, i in reqs.items():
        assert replies[req]["type"] == "accepted", replies[req]
        ids[i] = replies[req]["id"]
    assert ids[4] == ids[9]                             # the key: one task
    assert len(set(ids.values())) == 19
    before_list = {ids[i] for i in range(12)}
    assert before_list <= {t["id"] for t in replies[listed]["items"]}
    db = sqlite3.connect(f"file:{orch.data_dir}/cleudo.db?mode=ro", uri=True)
    try:
        stored = {row[0] for row in db.execute("SELECT id FROM tasks")}
    finally:
        db.close()
    assert set(ids.values()) <= stored


def test_worker_silence_removes_its_credit(start):
    orch = start(env={"ORCH_WORKER_TIMEOUT": "500ms"})
    w = FakeWorker(orch)
    try:
        w.hello()
        orch.wait_for_log(r"event=worker_joined")
        orch.wait_for_log(r"event=worker_dead worker=\"fake-worker-1\"", timeout=5)
        status, _, rec = post(orch, {"argv": ["true"]})
        w.no_task(0.7)
        w.hello()                                   # back: credit again
        assert w.recv_task()["id"] == rec["id"]
    finally:
        w.close()


def test_restart_keeps_tasks_and_generated_token(start, tmp_path):
    first = start(name="first", token=None)
    token_file = os.path.join(first.data_dir, "token")
    mode = stat.S_IMODE(os.stat(token_file).st_mode)
    assert mode == 0o600, oct(mode)
    assert stat.S_IMODE(os.stat(first.data_dir).st_mode) == 0o700
    token = open(token_file).read().strip()
    assert len(token) >= 32
    first.token = token
    log = first.read_log()
    assert token not in log and token[:4] + "…" in log
    w = FakeWorker(first, slots=1)
    try:
        w.hello()
        status, _, done = post(first, {"argv": ["echo", "before"]})
        assert status == 201
        task = w.recv_task()
        w.started(task)
        w.result(task, stdout=b"before\n")
        assert get(first, task["id"], "?wait=5")[0] == 200
        status, _, doubt = post(first, {"argv": ["echo", "in-doubt"]})
        in_doubt = w.recv_task()                      # dispatched, never started
        assert in_doubt["id"] == doubt["id"]
        status, _, queued = post(first, {"argv": ["echo", "queued"]})
        w.no_task(0.5)                                # no credit left: stays queued
    finally:
        w.close()
    assert first.stop() == 0
    assert "event=stopped" in first.read_log()

    second = start(name="second", token=None)
    second.token = token
    status, _, rec = get(second, task["id"])
    assert status == 200 and rec["status"] == "succeeded" and rec["stdout"] == "before\n"
    status, _, rec = get(second, queued["id"])
    assert status == 200 and rec["status"] == "queued"
    assert get(second, doubt["id"])[2]["status"] == "dispatched"
    assert f"event=task_in_doubt id={doubt['id']}" in second.read_log()
    assert second.http("GET", "/api/tasks", token=None)[0] == 401
    w = FakeWorker(second, worker="second-worker", slots=1)
    try:
        w.hello()
        # The queue was rebuilt, and the task in doubt holds back no credit.
        assert w.recv_task()["id"] == queued["id"]
        # A worker that did get the task in doubt can still report it.
        w.started(in_doubt)
        w.result(in_doubt, stdout=b"late\n")
        status, _, rec = get(second, doubt["id"], "?wait=5")
        assert status == 200 and rec["status"] == "succeeded" and rec["stdout"] == "late\n"
    finally:
        w.close()


def test_sigterm_answers_waiting_requests(start):
    orch = start()
    out = {}

    def waiting():
        out["resp"] = post(orch, {"argv": ["sleep", "100"]}, "?wait=60")

    t = threading.Thread(target=waiting)
    t.start()
    orch.wait_for_log(r"event=task_accepted")
    time.sleep(0.2)
    c = Client(orch)
    try:
        req = c.send("submit", task={"argv": ["true"]}, wait_ms=60000)
        orch.wait_for_log(r"event=task_accepted.*\n.*event=task_accepted")
        time.sleep(0.2)
        orch.proc.send_signal(signal.SIGTERM)
        t.join(10)
        status, _, rec = out["resp"]
        assert status == 202 and rec["status"] == "queued"
        reply = c.recv()
        assert reply["req"] == req and reply["task"]["status"] == "queued"
    finally:
        c.close()
    assert orch.proc.wait(10) == 0
    assert re.search(r"event=stopped signal=SIGTERM", orch.read_log())


def test_bad_configuration_exits_1_naming_it(tmp_path):
    import subprocess
    from conftest import bin_path
    cases = [
        ({"ORCH_HTTP_ADDR": "nowhere"}, "ORCH_HTTP_ADDR"),
        ({"ORCH_DURABILITY": "maybe"}, "normal|full"),
        ({"ORCH_API_TOKEN": "short"}, "ORCH_API_TOKEN"),
        ({"ORCH_MAX_FRAME": "lots"}, "ORCH_MAX_FRAME"),
        ({"ORCH_WORKER_TIMEOUT": "5 parsecs"}, "ORCH_WORKER_TIMEOUT"),
    ]
    for env, words in cases:
        full = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
        full.update({"ORCH_DATA_DIR": str(tmp_path / "d")}, **env)
        proc = subprocess.run([bin_path("orchestrator")], env=full, capture_output=True,
                              timeout=20)
        assert proc.returncode == 1, (env, proc.stderr)
        assert words.encode() in proc.stderr, (env, proc.stderr)
        assert b"short" not in proc.stderr or words != "ORCH_API_TOKEN"
    proc = subprocess.run([bin_path("orchestrator"), "--help"], capture_output=True, timeout=20)
    assert proc.returncode == 0 and b"--http-addr" in proc.stdout
