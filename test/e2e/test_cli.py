"""cleudo against a fake orchestrator.

The fake is a ZeroMQ ROUTER on tcp://127.0.0.1:<random port> that speaks the
submit-socket protocol (msgpack maps, byte payloads as bin) and answers from a
script each test sets: `accepted` for submit, a `task` record for get / wait
(walking through a list of records, so a test can make a task go queued ->
running -> terminal), or an `error`. It records every request it received, so
tests also check what cleudo put on the wire.

It also answers `stream` (by default: one keepalive, then the task's terminal
record; a test may script `output` chunks with delays through `stream_script`),
`cancel`, `rerun`, `list` and `workers`. With `old = True` it answers `stream`
and `rerun` like an orchestrator that predates them (bad_request, field type).

Run: CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q test/e2e/test_cli.py
"""
import base64
import json
import os
import socket
import subprocess
import threading
import time

import msgpack
import pytest
import zmq

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("CLEUDO_BIN_DIR", os.path.join(REPO, "build", "test"))
CLEUDO = os.path.join(BIN_DIR, "cleudo")
TOKEN = "fake-token-0123456789abcdef"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
SAN_ENV = {
    "ASAN_OPTIONS": "abort_on_error=0:detect_leaks=1:halt_on_error=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}
COMMANDS = ("run", "submit", "get", "wait", "cancel", "logs", "ls", "rerun", "files",
            "workers", "help")


# ---------------------------------------------------------------------------
# The fake orchestrator

def now_ms():
    return int(time.time() * 1000)


def make_record(task_id, task, status="succeeded", exit_code=None, signal=None,
                stdout=b"", stderr=b"", error=None, files=None, file_refs=None,
                stdout_truncated=False, stderr_truncated=False):
    """A task record as the orchestrator sends it (result fields flattened)."""
    terminal = status not in ("queued", "dispatched", "running")
    if exit_code is None and status in ("succeeded", "failed"):
        exit_code = 0 if status == "succeeded" else 1
    t0 = now_ms() - 50
    rec = {
        "id": task_id,
        "status": status,
        "attempt": 1 if status != "queued" else 0,
        "worker": "fake-worker-1" if status not in ("queued",) else None,
        "created_ms": t0,
        "dispatched_ms": t0 + 2 if status != "queued" else 0,
        "started_ms": t0 + 3 if status not in ("queued", "dispatched") else 0,
        "finished_ms": t0 + 40 if terminal else 0,
        "task": task,
        "exit_code": exit_code,
        "signal": signal,
        "stdout": stdout,
        "stderr": stderr,
        "stdout_truncated": stdout_truncated,
        "stderr_truncated": stderr_truncated,
        "wall_ms": 37 if terminal else 0,
        "cpu_ms": 12 if terminal else 0,
        "max_rss_kb": 2048 if terminal else 0,
    }
    if files:
        rec["files"] = files
    if file_refs:
        rec["file_refs"] = file_refs
    if error is not None:
        rec["error"] = error
    return rec


def chunk(task_id, stream, offset, data, attempt=1):
    """An `output` reply body (a chunk of live output)."""
    return {"type": "output", "id": task_id, "attempt": attempt, "stream": stream,
            "offset": offset, "data": data}


class FakeOrchestrator:
    """ROUTER socket in a thread; `script(task_id, task)` decides the story.

    Replies may be delayed: `answer` returns one reply, or a list of
    (delay_s, reply) that the serving loop sends when due (a stream)."""

    def __init__(self, token=TOKEN):
        self.token = token
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.requests = []
        self.records = {}           # id -> list of records still to tell
        self.next_id = 1
        self.submit_error = None    # an error reply for every submit
        self.req_envelope = False   # answer like to a REQ (empty delimiter)
        self.garbage = False        # answer with bytes that are not msgpack
        self.stale_first = False    # send a reply to an older request first
        self.script = lambda task_id, task: [make_record(task_id, task)]
        self.stream_script = None   # (task_id, final_record, msg) -> [(delay, reply)]
        self.old = False            # no stream, no rerun: like an older orchestrator
        self.workers = []           # items of the workers reply
        self.sent = []              # (monotonic time, reply) of every reply sent
        self.tasks = {}             # id -> task map as submitted
        self._pending = []          # (due, n, ident, reply) of delayed replies
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close(0)
        self.ctx.term()

    def of_type(self, kind):
        return [r for r in self.requests if r.get("type") == kind]

    def _send_due(self):
        now = time.monotonic()
        due = sorted((p for p in self._pending if p[0] <= now), key=lambda p: (p[0], p[1]))
        for item in due:
            self._pending.remove(item)
            self.sock.send_multipart([item[2], msgpack.packb(item[3], use_bin_type=True)])
            self.sent.append((time.monotonic(), item[3]))

    def _serve(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        n = 0
        while not self._stop.is_set():
            self._send_due()
            if not poller.poll(10 if self._pending else 50):
                continue
            frames = self.sock.recv_multipart()
            ident, frame = frames[0], frames[-1]
            msg = msgpack.unpackb(frame, raw=False)
            msg["_at"] = time.monotonic()
            self.requests.append(msg)
            reply = self.answer(msg)
            if reply is None:
                continue
            if isinstance(reply, list):
                start = time.monotonic()
                for delay, r in reply:
                    n += 1
                    self._pending.append((start + delay, n, ident, {"v": 1, "req": msg["req"], **r}))
                continue
            if self.stale_first:
                stale = {**reply, "req": reply["req"] + 1000, "type": "error",
                         "code": "bad_request", "message": "stale"}
                stale.pop("task", None), stale.pop("id", None)
                self.sock.send_multipart([ident, msgpack.packb(stale, use_bin_type=True)])
            data = b"\x92\xc1garbage" if self.garbage else msgpack.packb(reply, use_bin_type=True)
            out = [ident, b"", data] if self.req_envelope else [ident, data]
            self.sock.send_multipart(out)
            self.sent.append((time.monotonic(), reply))

    def answer(self, msg):
        base = {"v": 1, "req": msg["req"]}
        if msg.get("v") != 1 or not isinstance(msg.get("req"), int):
            return {**base, "type": "error", "code": "bad_request", "message": "bad header"}
        if msg.get("token") != self.token:
            return {**base, "type": "error", "code": "unauthorized",
                    "message": "missing or wrong token"}
        kind = msg["type"]
        if kind == "submit":
            if self.submit_error:
                return {**base, "type": "error", **self.submit_error}
            task_id = f"task-{self.next_id:04d}"
            self.next_id += 1
            self.records[task_id] = list(self.script(task_id, msg["task"]))
            self.tasks[task_id] = msg["task"]
            return {**base, "type": "accepted", "id": task_id}
        if kind in ("stream", "rerun") and self.old:
            return {**base, "type": "error", "code": "bad_request", "field": "type",
                    "message": f'type: unknown type "{kind}"'}
        if kind == "rerun":
            if msg["id"] not in self.records:
                return {**base, "type": "error", "code": "not_found",
                        "message": f"no task with id {msg['id']}", "field": "id"}
            task_id = f"task-{self.next_id:04d}"
            self.next_id += 1
            self.tasks[task_id] = self.tasks.get(msg["id"], {"argv": ["true"]})
            self.records[task_id] = list(self.script(task_id, self.tasks[task_id]))
            return {**base, "type": "accepted", "id": task_id}
        if kind == "stream":
            story = self.records.get(msg["id"])
            if story is None:
                return {**base, "type": "error", "code": "not_found",
                        "message": "no such task", "field": "id"}
            while len(story) > 1 and story[0]["status"] in ("queued", "dispatched", "running"):
                story.pop(0)
            final = story[0]
            if self.stream_script:
                return self.stream_script(msg["id"], final, msg)
            return [(0, chunk(msg["id"], "stdout", 0, b"", attempt=final["attempt"])),
                    (0.05, {"type": "task", "task": final})]
        if kind == "cancel":
            if msg["id"] not in self.records:
                return {**base, "type": "error", "code": "not_found",
                        "message": "no such task", "field": "id"}
            rec = make_record(msg["id"], self.tasks.get(msg["id"], {"argv": ["x"]}),
                              status="cancelled", error="cancelled by a client")
            self.records[msg["id"]] = [rec]
            return {**base, "type": "task", "task": rec}
        if kind == "list":
            items = [story[-1] for story in self.records.values()]
            items.reverse()
            if "status" in msg:
                items = [r for r in items if r["status"] == msg["status"]]
            return {**base, "type": "tasks", "items": items[:msg.get("limit") or 50]}
        if kind == "workers":
            return {**base, "type": "workers", "items": self.workers}
        if kind in ("get", "wait"):
            story = self.records.get(msg["id"])
            if story is None:
                return {**base, "type": "error", "code": "not_found",
                        "message": "no such task", "field": "id"}
            rec = story.pop(0) if len(story) > 1 else story[0]
            return {**base, "type": "task", "task": rec}
        return {**base, "type": "error", "code": "bad_request", "message": "unknown type"}


@pytest.fixture
def fake():
    f = FakeOrchestrator()
    yield f
    f.close()


# ---------------------------------------------------------------------------
# Running cleudo

def cleudo(*args, fake=None, input=None, env=None, token=TOKEN, cwd=None, timeout=30):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEUDO_", "ORCH_"))}
    full_env.update(SAN_ENV)
    if fake is not None:
        full_env["CLEUDO_ENDPOINT"] = fake.endpoint
    if token:
        full_env["CLEUDO_TOKEN"] = token
    full_env.update(env or {})
    proc = subprocess.run([CLEUDO, *args], input=input, env=full_env, capture_output=True,
                          timeout=timeout, cwd=cwd or "/")
    text = proc.stderr.decode("utf-8", "replace")
    reports = [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKS)]
    assert not reports, text
    return proc


def story(*records):
    """A script that tells these records (built per task id) in order."""
    return lambda task_id, task: [make_record(task_id, task, **r) for r in records]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# run: output and exit codes

def test_run_prints_streams_exactly_and_exits_with_code(fake):
    fake.script = story(dict(status="failed", exit_code=3, stdout=b"out\n", stderr=b"err\n"))
    proc = cleudo("run", "--", "sh", "-c", "echo out; echo err >&2; exit 3", fake=fake)
    assert proc.returncode == 3
    assert proc.stdout == b"out\n"
    assert proc.stderr == b"err\n"
    submit = fake.of_type("submit")[0]
    assert submit["token"] == TOKEN
    assert submit["task"]["argv"] == ["sh", "-c", "echo out; echo err >&2; exit 3"]
    assert "lang" not in submit["task"] and "stdin" not in submit["task"]
    reqs = [r["req"] for r in fake.requests]
    assert reqs == sorted(set(reqs)) and reqs[0] >= 1


def test_run_success_is_zero(fake):
    fake.script = story(dict(status="succeeded", stdout=b"hi\n"))
    proc = cleudo("run", "--", "echo", "hi", fake=fake)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"hi\n", b"")


def test_run_waits_through_unfinished_states(fake):
    fake.old = True                 # no stream: run falls back to wait
    fake.script = story(dict(status="queued"), dict(status="running"), dict(status="running"),
                        dict(status="succeeded", stdout=b"done\n"))
    proc = cleudo("run", "--", "true", fake=fake)
    assert proc.returncode == 0 and proc.stdout == b"done\n", proc.stderr
    waits = fake.of_type("wait")
    assert len(waits) >= 3
    assert all(w["id"] == "task-0001" and 0 < w["timeout_ms"] <= 60000 for w in waits)


def test_argv_after_first_positional_is_untouched(fake):
    fake.script = story(dict(status="succeeded"))
    assert cleudo("run", "echo", "--json", "-e", "x", "--", fake=fake).returncode == 0
    assert fake.of_type("submit")[0]["task"]["argv"] == ["echo", "--json", "-e", "x", "--"]
    assert cleudo("run", "--", "--weird", "-", fake=fake).returncode == 0
    assert fake.of_type("submit")[1]["task"]["argv"] == ["--weird", "-"]


def test_binary_output_is_exact(fake):
    out = bytes(range(256)) * 40 + os.urandom(3 << 20)
    err = b"\x00\xff\xfe partial \xe2\x82 \x00"
    fake.script = story(dict(status="succeeded", stdout=out, stderr=err))
    proc = cleudo("run", "--", "blob", fake=fake)
    assert proc.returncode == 0
    assert proc.stdout == out
    assert proc.stderr == err


def test_timed_out_exits_124_with_partial_output(fake):
    fake.script = story(dict(status="timed_out", stdout=b"partial\n"))
    proc = cleudo("run", "--timeout", "300ms", "--", "sh", "-c", "echo partial; sleep 30",
                  fake=fake)
    assert proc.returncode == 124
    assert proc.stdout == b"partial\n"
    assert b"timed out" in proc.stderr
    assert fake.of_type("submit")[0]["task"]["limits"] == {"wall_ms": 300}


@pytest.mark.parametrize("sig,code,name", [(9, 137, b"SIGKILL"), (11, 139, b"SIGSEGV"),
                                           (24, 152, b"SIGXCPU")])
def test_killed_by_signal_exits_128_plus_n(fake, sig, code, name):
    fake.script = story(dict(status="killed", signal=sig))
    proc = cleudo("run", "--", "crash", fake=fake)
    assert proc.returncode == code
    assert f"killed by signal {sig}".encode() in proc.stderr and name in proc.stderr


def test_memory_limit_exits_137_with_message(fake):
    fake.script = story(dict(status="memory_limit", signal=9))
    proc = cleudo("run", "--memory", "64M", "--", "python3", "-c", "x", fake=fake)
    assert proc.returncode == 137
    assert b"memory limit" in proc.stderr and b"64 MiB" in proc.stderr
    assert fake.of_type("submit")[0]["task"]["limits"]["memory_bytes"] == 64 << 20


@pytest.mark.parametrize("status", ["rejected", "internal_error", "lost", "cancelled",
                                    "output_limit"])
def test_did_not_complete_exits_125_with_reason(fake, status):
    fake.script = story(dict(status=status, error="the reason why"))
    proc = cleudo("run", "--", "true", fake=fake)
    assert proc.returncode == 125
    line = proc.stderr.decode().strip().splitlines()[-1]
    assert line.startswith("cleudo: task task-0001 ")
    assert "the reason why" in line
    if status != "output_limit":
        assert line == f"cleudo: task task-0001 {status}: the reason why"


def test_quiet_hides_notes_not_errors(fake):
    fake.script = story(dict(status="timed_out", stdout=b"x"))
    proc = cleudo("run", "--quiet", "--", "true", fake=fake)
    assert proc.returncode == 124 and proc.stderr == b""
    fake.script = story(dict(status="rejected", error="bad"))
    proc = cleudo("run", "-q", "--", "true", fake=fake)
    assert proc.returncode == 125 and b"rejected: bad" in proc.stderr


def test_truncation_note(fake):
    fake.script = story(dict(status="succeeded", stdout=b"x" * 1000, stdout_truncated=True,
                             stderr=b"e", stderr_truncated=True))
    proc = cleudo("run", "--", "spam", fake=fake)
    assert proc.returncode == 0
    assert proc.stdout == b"x" * 1000
    # the task's stderr stays exact; our notes start on their own line
    assert proc.stderr.startswith(b"e\n")
    assert b"cleudo: stdout truncated at 1000 bytes\n" in proc.stderr
    assert b"cleudo: stderr truncated at 1 bytes\n" in proc.stderr
    proc = cleudo("run", "--quiet", "--", "spam", fake=fake)
    assert proc.stderr == b"e"


def test_server_may_answer_like_to_a_req_socket(fake):
    fake.req_envelope = True
    fake.script = story(dict(status="succeeded", stdout=b"ok\n"))
    proc = cleudo("run", "--", "true", fake=fake)
    assert proc.returncode == 0 and proc.stdout == b"ok\n", proc.stderr


def test_replies_to_other_requests_are_ignored(fake):
    fake.stale_first = True
    fake.script = story(dict(status="running"), dict(status="succeeded", stdout=b"ok\n"))
    proc = cleudo("run", "--", "true", fake=fake)
    assert proc.returncode == 0 and proc.stdout == b"ok\n", proc.stderr


def test_clamped_limit_is_a_note(fake):
    fake.script = story(dict(status="succeeded", stdout=b"x", error="wall_ms clamped to 600000"))
    proc = cleudo("run", "--timeout", "1h", "--", "true", fake=fake)
    assert proc.returncode == 0 and proc.stdout == b"x"
    assert proc.stderr == b"cleudo: task task-0001: wall_ms clamped to 600000\n"
    proc = cleudo("run", "-q", "--timeout", "1h", "--", "true", fake=fake)
    assert proc.returncode == 0 and proc.stderr == b""


def test_unreadable_reply_exits_5(fake):
    fake.garbage = True
    proc = cleudo("run", "--", "true", fake=fake)
    assert proc.returncode == 5
    assert b"cannot read" in proc.stderr


# ---------------------------------------------------------------------------
# run: task options on the wire

def test_task_options_reach_the_wire(fake, tmp_path):
    (tmp_path / "in.txt").write_bytes(b"input\n")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\xff")
    (tmp_path / "stdin.txt").write_bytes(b"feed me")
    fake.script = story(dict(status="succeeded"))
    proc = cleudo("run", "--stdin", "stdin.txt", "-e", "A=1", "--env", "B=x=y", "-eC=",
                  "--file", "in.txt", "--file", "blob.bin:data/b.bin",
                  "--collect", "out/r.txt", "--collect", "log",
                  "--timeout", "2", "--cpu", "500ms", "--memory", "256M", "--processes", "10",
                  "--output", "64K", "--file-size", "1G", "--network",
                  "--", "sh", "-c", "true", fake=fake, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    task = fake.of_type("submit")[0]["task"]
    assert task["argv"] == ["sh", "-c", "true"]
    assert task["stdin"] == b"feed me"
    assert task["env"] == {"A": "1", "B": "x=y", "C": ""}
    assert task["files"] == {"in.txt": b"input\n", "data/b.bin": b"\x00\x01\xff"}
    assert task["collect"] == ["out/r.txt", "log"]
    assert task["limits"] == {"wall_ms": 2000, "cpu_ms": 500, "memory_bytes": 256 << 20,
                              "processes": 10, "output_bytes": 64 << 10,
                              "file_bytes": 1 << 30, "network": True}


def test_code_task_from_file_and_stdin(fake, tmp_path):
    script = tmp_path / "script.py"
    script.write_text("print(6 * 7)\n")
    fake.script = story(dict(status="succeeded", stdout=b"42\n"))
    proc = cleudo("run", "--lang", "python3", str(script), fake=fake)
    assert proc.returncode == 0 and proc.stdout == b"42\n"
    task = fake.of_type("submit")[0]["task"]
    assert task["lang"] == "python3" and task["code"] == b"print(6 * 7)\n"
    assert "argv" not in task
    proc = cleudo("run", "--lang", "sh", "-", input=b"echo hi\n", fake=fake)
    assert proc.returncode == 0
    task = fake.of_type("submit")[1]["task"]
    assert task["lang"] == "sh" and task["code"] == b"echo hi\n"


@pytest.mark.parametrize("args,words", [
    (["--timeout", "5x"], ["--timeout", "'5x'"]),
    (["--timeout", "0"], ["--timeout", "greater than zero"]),
    (["--cpu", "-1s"], ["--cpu", "'-1s'"]),
    (["--memory", "12Q"], ["--memory", "'12Q'"]),
    (["--processes", "many"], ["--processes", "'many'"]),
    (["-e", "NOEQUALS"], ["-e", "KEY=VALUE"]),
    (["--env", "1X=2"], ["--env", "variable name"]),
    (["--file", "x:../up"], ["--file", "'..'"]),
    (["--file", "x:/etc/passwd"], ["--file", "relative"]),
    (["--file", "/nonexistent/file"], ["--file", "No such file"]),
    (["--collect", "/abs"], ["--collect", "relative"]),
    (["--lang", "ruby", "f"], ["--lang", "'ruby'"]),
    (["--lang", "sh"], ["FILE"]),
    ([], ["nothing to run"]),
])
def test_bad_task_options_are_usage_errors(fake, args, words):
    proc = cleudo("run", *args, *([] if "--lang" in args or not args else ["--", "true"]),
                  fake=fake)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.decode()
    assert err.startswith("cleudo: ")
    for w in words:
        assert w in err, err
    assert fake.requests == []


# ---------------------------------------------------------------------------
# --json

RECORD_KEYS = {"id", "status", "attempt", "worker", "created_ms", "dispatched_ms",
               "started_ms", "finished_ms", "task", "exit_code", "signal", "stdout", "stderr",
               "stdout_truncated", "stderr_truncated", "wall_ms", "cpu_ms", "max_rss_kb",
               "error", "files", "files_b64", "file_refs"}


def test_json_record_schema(fake):
    fake.script = story(dict(status="failed", exit_code=3, stdout="héllo ✓\n".encode(),
                             stderr=b"a\x00b\xffc", files={"out.txt": b"text\n",
                                                           "bin": b"\xff\x00"},
                             file_refs=["big.dat"]))
    proc = cleudo("run", "--json", "--timeout", "5s", "-e", "K=V", "--", "echo", "hi",
                  fake=fake)
    assert proc.returncode == 3
    assert proc.stderr == b""
    rec = json.loads(proc.stdout)
    assert proc.stdout.count(b"\n") == 1
    assert RECORD_KEYS <= set(rec)
    assert rec["id"] == "task-0001" and rec["status"] == "failed" and rec["exit_code"] == 3
    assert rec["signal"] is None and rec["error"] is None
    assert rec["stdout"] == "héllo ✓\n" and "stdout_b64" not in rec
    assert base64.b64decode(rec["stderr_b64"]) == b"a\x00b\xffc"
    assert rec["stderr"] == "a\u0000b\ufffdc"
    assert rec["files"] == {"out.txt": "text\n"}   # binary files only in files_b64
    assert rec["files_b64"] == {"bin": base64.b64encode(b"\xff\x00").decode()}
    assert rec["file_refs"] == ["big.dat"]
    assert rec["task"] == {"argv": ["echo", "hi"], "env": {"K": "V"},
                           "limits": {"wall_ms": 5000}}
    assert rec["worker"] == "fake-worker-1" and rec["attempt"] == 1
    for key in ("created_ms", "dispatched_ms", "started_ms", "finished_ms"):
        assert isinstance(rec[key], int) and rec[key] > 0
    for key in ("wall_ms", "cpu_ms", "max_rss_kb"):
        assert isinstance(rec[key], int)
    assert rec["stdout_truncated"] is False


def test_json_nulls_where_not_reached(fake):
    fake.script = story(dict(status="queued"))
    proc = cleudo("get", "--json", "task-0001", fake=fake)
    assert proc.returncode == 3          # nothing submitted yet: not_found
    cleudo("submit", "--", "true", fake=fake)
    proc = cleudo("get", "task-0001", "--json", fake=fake)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["status"] == "queued"
    assert rec["worker"] is None and rec["dispatched_ms"] is None
    for key in RECORD_KEYS - {"id", "status", "attempt", "worker", "created_ms", "task"}:
        assert rec[key] is None, key


def test_json_exit_code_follows_status(fake):
    fake.script = story(dict(status="timed_out"))
    proc = cleudo("run", "--json", "--", "sleep", "9", fake=fake)
    assert proc.returncode == 124 and json.loads(proc.stdout)["status"] == "timed_out"
    assert proc.stderr == b""


def test_json_code_task_binary_code(fake, tmp_path):
    (tmp_path / "prog.sh").write_bytes(b"echo \xff\n")
    fake.script = story(dict(status="succeeded"))
    proc = cleudo("run", "--json", "--lang", "sh", "prog.sh", fake=fake, cwd=str(tmp_path))
    rec = json.loads(proc.stdout)
    assert rec["task"]["lang"] == "sh"
    assert base64.b64decode(rec["task"]["code_b64"]) == b"echo \xff\n"
    assert "code" not in rec["task"]


# ---------------------------------------------------------------------------
# submit, get, wait

def test_submit_prints_id_and_returns_at_once(fake):
    fake.script = story(dict(status="queued"))
    start = time.monotonic()
    proc = cleudo("submit", "--", "sleep", "100", fake=fake)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"task-0001\n"
    assert time.monotonic() - start < 5
    assert [r["type"] for r in fake.requests] == ["submit"]
    proc = cleudo("submit", "--json", "--", "true", fake=fake)
    assert json.loads(proc.stdout) == {"id": "task-0002"}


def test_get_shows_a_summary(fake):
    fake.script = story(dict(status="failed", exit_code=3, stdout=b"out line\n",
                             stderr=b"\xff\xfe", error="wall_ms clamped to 600000",
                             files={"r.txt": b"12345"}))
    cleudo("submit", "--", "sh", "-c", "echo 'out line'; exit 3", fake=fake)
    proc = cleudo("get", "task-0001", fake=fake)
    assert proc.returncode == 0 and proc.stderr == b""
    text = proc.stdout.decode()
    assert "task-0001" in text
    assert "failed, exit code 3" in text
    assert "sh -c 'echo '\\''out line'\\''; exit 3'" in text
    assert "wall_ms clamped to 600000" in text
    assert "r.txt (5 bytes)" in text
    assert "out line\n" in text
    assert "not text" in text          # the binary stderr is not dumped


def test_get_unknown_id_exits_3(fake):
    proc = cleudo("get", "nope-123", fake=fake)
    assert proc.returncode == 3
    assert proc.stderr == b"cleudo: no task with id nope-123\n"


def test_get_bad_id_is_usage_error(fake):
    proc = cleudo("get", "bad id", fake=fake)
    assert proc.returncode == 2 and b"not a task id" in proc.stderr
    proc = cleudo("get", fake=fake)
    assert proc.returncode == 2 and b"needs a task ID" in proc.stderr
    proc = cleudo("get", "a", "b", fake=fake)
    assert proc.returncode == 2 and b"unexpected argument 'b'" in proc.stderr
    assert fake.requests == []


def test_wait_blocks_until_terminal_and_exits_like_run(fake):
    fake.script = story(dict(status="queued"), dict(status="running"),
                        dict(status="failed", exit_code=7, stdout=b"seven\n"))
    cleudo("submit", "--", "x", fake=fake)
    proc = cleudo("wait", "task-0001", fake=fake)
    assert proc.returncode == 7, proc.stderr
    assert "failed, exit code 7" in proc.stdout.decode()
    assert len(fake.of_type("wait")) >= 1


def test_wait_on_finished_task_needs_one_get(fake):
    fake.script = story(dict(status="succeeded"))
    cleudo("submit", "--", "x", fake=fake)
    proc = cleudo("wait", "task-0001", fake=fake)
    assert proc.returncode == 0
    assert [r["type"] for r in fake.requests] == ["submit", "get"]


def test_wait_json_killed(fake):
    fake.script = story(dict(status="running"), dict(status="killed", signal=9))
    cleudo("submit", "--", "x", fake=fake)
    proc = cleudo("wait", "--json", "task-0001", fake=fake)
    assert proc.returncode == 137
    assert json.loads(proc.stdout)["signal"] == 9


def test_wait_timeout_exits_6(fake):
    fake.script = story(dict(status="running"))
    cleudo("submit", "--", "x", fake=fake)
    start = time.monotonic()
    proc = cleudo("wait", "--timeout", "1", "task-0001", fake=fake)
    assert proc.returncode == 6
    assert time.monotonic() - start < 5
    assert b"has not finished after 1.0 s" in proc.stderr
    assert "running" in proc.stdout.decode()


# ---------------------------------------------------------------------------
# token and reachability

def test_wrong_token_exits_3_and_says_what_to_do(fake):
    proc = cleudo("run", "--", "true", fake=fake, token="not-the-token-0000")
    assert proc.returncode == 3
    err = proc.stderr.decode()
    assert "refused the token" in err and "CLEUDO_TOKEN" in err and "--token" in err
    proc = cleudo("get", "--token", "also-wrong-1234", "task-1", fake=fake)
    assert proc.returncode == 3 and "(from --token)" in proc.stderr.decode()


def test_token_from_files(fake, tmp_path):
    fake.script = story(dict(status="succeeded"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "token").write_text(TOKEN + "\n")
    proc = cleudo("run", "--", "true", fake=fake, token=None, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    # $ORCH_DATA_DIR/token comes before ./data/token
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "token").write_text("stale-token-from-elsewhere\n")
    proc = cleudo("run", "--", "true", fake=fake, token=None, cwd=str(tmp_path),
                  env={"ORCH_DATA_DIR": str(tmp_path / "other")})
    assert proc.returncode == 3
    assert "other/token" in proc.stderr.decode()
    # CLEUDO_TOKEN beats both, --token beats CLEUDO_TOKEN
    proc = cleudo("run", "--", "true", fake=fake, cwd=str(tmp_path),
                  env={"ORCH_DATA_DIR": str(tmp_path / "other")})
    assert proc.returncode == 0
    proc = cleudo("--token", TOKEN, "run", "--", "true", fake=fake, token="wrong-wrong-wrong",
                  cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr


def test_no_token_at_all_is_usage_error(fake, tmp_path):
    proc = cleudo("run", "--", "true", fake=fake, token=None, cwd=str(tmp_path))
    assert proc.returncode == 2
    assert b"no API token" in proc.stderr and b"CLEUDO_TOKEN" in proc.stderr
    assert fake.requests == []


def test_nothing_listening_exits_4_within_a_few_seconds():
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    proc = cleudo("run", "--", "true", env={"CLEUDO_ENDPOINT": endpoint})
    took = time.monotonic() - start
    assert proc.returncode == 4
    assert took < 8
    err = proc.stderr.decode()
    assert f"cannot reach orchestrator at {endpoint}" in err and "make run" in err


def test_connect_timeout_option(fake):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    proc = cleudo("--endpoint", endpoint, "get", "--connect-timeout", "300ms", "abc")
    assert proc.returncode == 4
    assert time.monotonic() - start < 3


def test_bad_endpoint_is_usage_error():
    proc = cleudo("run", "--", "true", env={"CLEUDO_ENDPOINT": "http://x"})
    assert proc.returncode == 2 and b"CLEUDO_ENDPOINT" in proc.stderr
    proc = cleudo("run", "--endpoint", "nonsense", "--", "true")
    assert proc.returncode == 2 and b"--endpoint" in proc.stderr


def test_orchestrator_error_names_the_field(fake):
    fake.submit_error = {"code": "bad_request", "message": "must not contain '..'",
                         "field": "task.files.a/../b"}
    proc = cleudo("run", "--", "true", fake=fake)
    assert proc.returncode == 3
    err = proc.stderr.decode()
    assert "refused the submit request" in err and "task.files.a/../b" in err


# ---------------------------------------------------------------------------
# help and usage

@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["help"]])
def test_main_help(argv):
    proc = cleudo(*argv)
    assert proc.returncode == 0 and proc.stderr == b""
    text = proc.stdout.decode()
    assert text.startswith("usage: cleudo")
    for cmd in COMMANDS:
        assert f"  {cmd} " in text
    assert "CLEUDO_TOKEN" in text and "Exit status" in text


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_of_every_command(cmd):
    a = cleudo("help", cmd)
    b = cleudo(cmd, "--help")
    c = cleudo(cmd, "-h")
    for proc in (a, b, c):
        assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
        assert proc.stdout.decode().startswith(f"usage: cleudo {cmd}")
    assert a.stdout == b.stdout == c.stdout


def test_run_help_documents_units_token_and_exit_codes():
    text = cleudo("run", "--help").stdout.decode()
    for word in ("--timeout DUR", "bare number is seconds", "--memory SIZE", "64K",
                 "--file LOCAL[:REMOTE]", "-e, --env KEY=VALUE", "$ORCH_DATA_DIR/token",
                 "./data/token", "124", "128+N", "137", "125", "--json", "--quiet"):
        assert word in text, word


def test_help_after_dashdash_belongs_to_the_task(fake):
    fake.script = story(dict(status="succeeded"))
    proc = cleudo("run", "--", "prog", "--help", fake=fake)
    assert proc.returncode == 0 and proc.stdout == b""
    assert fake.of_type("submit")[0]["task"]["argv"] == ["prog", "--help"]


def test_unknown_option_and_command_exit_2():
    proc = cleudo("run", "--x", "--", "true")
    assert proc.returncode == 2
    assert proc.stderr == b"cleudo: unknown option '--x' for 'run' (see cleudo help run)\n"
    proc = cleudo("wait", "--bogus=1", "id")
    assert proc.returncode == 2
    assert b"unknown option '--bogus' for 'wait'" in proc.stderr
    proc = cleudo("--nope")
    assert proc.returncode == 2 and b"unknown option '--nope'" in proc.stderr
    proc = cleudo("frobnicate")
    assert proc.returncode == 2 and b"unknown command 'frobnicate'" in proc.stderr
    proc = cleudo("help", "frobnicate")
    assert proc.returncode == 2
    proc = cleudo()
    assert proc.returncode == 2 and b"cleudo help" in proc.stderr
    proc = cleudo("run", "--timeout")
    assert proc.returncode == 2 and b"'--timeout' needs a value" in proc.stderr
    proc = cleudo("run", "--json=yes", "--", "true")
    assert proc.returncode == 2 and b"takes no value" in proc.stderr


# ---------------------------------------------------------------------------
# reliability: idempotency keys, a full queue, cancel

def test_key_is_sent_and_queue_full_exits_7(fake):
    fake.script = story(dict(status="succeeded"))
    proc = cleudo("submit", "--key", "job-17", "--", "true", fake=fake)
    assert proc.returncode == 0, proc.stderr
    assert fake.of_type("submit")[0]["key"] == "job-17"
    proc = cleudo("submit", "--key", "", "--", "true", fake=fake)
    assert proc.returncode == 2 and b"--key" in proc.stderr
    fake.submit_error = {"code": "queue_full", "message": "10000 tasks are waiting"}
    for cmd in ("submit", "run"):
        proc = cleudo(cmd, "--", "true", fake=fake)
        assert proc.returncode == 7, (cmd, proc.stderr)
        assert proc.stderr == b"cleudo: the orchestrator's queue is full; retry later\n"


def test_cancel_sends_the_request_and_reports(fake):
    replies = {
        "t-run": {"status": "running"},
        "t-q": {"status": "cancelled", "error": "cancelled while queued"},
    }
    answer = fake.answer

    def with_cancel(msg):
        if msg.get("type") == "cancel":
            base = {"v": 1, "req": msg["req"]}
            if msg["id"] == "t-done":
                return {**base, "type": "error", "code": "conflict",
                        "message": "task t-done has already finished (succeeded)"}
            rec = make_record(msg["id"], {"argv": ["sleep", "9"]}, **replies[msg["id"]])
            return {**base, "type": "task", "task": rec}
        return answer(msg)
    fake.answer = with_cancel
    proc = cleudo("cancel", "t-q", fake=fake)
    assert proc.returncode == 0 and proc.stdout == b"task t-q cancelled\n"
    proc = cleudo("cancel", "t-run", fake=fake)
    assert proc.returncode == 0 and b"cancel requested" in proc.stdout
    proc = cleudo("cancel", "--json", "t-q", fake=fake)
    assert json.loads(proc.stdout)["status"] == "cancelled"
    proc = cleudo("cancel", "t-done", fake=fake)
    assert proc.returncode == 3
    assert proc.stderr == (b"cleudo: cannot cancel task t-done: task t-done has already "
                           b"finished (succeeded)\n")
    assert [r["type"] for r in fake.requests].count("cancel") == 4
    proc = cleudo("cancel", fake=fake)
    assert proc.returncode == 2
