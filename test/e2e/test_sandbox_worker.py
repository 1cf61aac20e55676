"""agent-sandbox end to end, against a fake orchestrator written here.

The test binds the orchestrator's side of the worker link (tasks PUSH,
results PULL, control PUB) on random loopback ports, starts the real
agent-sandbox binary (from CLEUDO_BIN_DIR, default <repo>/build/test) with
those endpoints and a temporary work directory, and speaks msgpack to it.
Every worker's stderr (its log, and any sanitizer report) is checked when
the test ends.

Run:  CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q test/e2e/test_sandbox_worker.py
"""
import os
import signal
import subprocess
import time

import msgpack
import pytest
import zmq

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("CLEUDO_BIN_DIR", os.path.join(REPO, "build", "test"))
BINARY = os.path.join(BIN_DIR, "agent-sandbox")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
SAN_ENV = {
    "ASAN_OPTIONS": "abort_on_error=0:detect_leaks=1:halt_on_error=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def task(tid, argv=None, **fields):
    msg = {"v": 1, "type": "task", "id": tid, "attempt": fields.pop("attempt", 1)}
    if argv is not None:
        msg["argv"] = argv
    msg.update(fields)
    return msg


class FakeOrchestrator:
    """The orchestrator's three sockets; collects what the worker sends."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.tasks = self.ctx.socket(zmq.PUSH)
        self.tasks.setsockopt(zmq.LINGER, 0)
        self.tasks.setsockopt(zmq.SNDTIMEO, 15000)
        self.tasks.bind("tcp://127.0.0.1:*")
        self.results = self.ctx.socket(zmq.PULL)
        self.results.setsockopt(zmq.LINGER, 0)
        self.results.bind("tcp://127.0.0.1:*")
        self.control = self.ctx.socket(zmq.PUB)
        self.control.setsockopt(zmq.LINGER, 0)
        self.control.bind("tcp://127.0.0.1:*")
        self.seen = []                  # every frame received, in order

    def endpoint(self, sock):
        return sock.getsockopt(zmq.LAST_ENDPOINT).decode()

    def send(self, msg):
        self.tasks.send(msg if isinstance(msg, bytes) else pack(msg))

    def recv(self, timeout=10.0):
        if not self.results.poll(int(timeout * 1000)):
            return None
        msg = msgpack.unpackb(self.results.recv(), raw=False)
        self.seen.append(msg)
        return msg

    def expect(self, mtype, timeout=15.0, **match):
        """Next frame of this type whose fields equal match (others skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            if msg is None:
                break
            if msg.get("type") == mtype and all(msg.get(k) == v for k, v in match.items()):
                return msg
        raise AssertionError(f"no {mtype} {match} within {timeout}s; seen: "
                             f"{[m.get('type') for m in self.seen][-20:]}")

    def rebind_results(self):
        ep = self.endpoint(self.results)
        self.results.close(0)
        self.results = self.ctx.socket(zmq.PULL)
        self.results.setsockopt(zmq.LINGER, 0)
        for _ in range(100):
            try:
                self.results.bind(ep)
                return
            except zmq.ZMQError:
                time.sleep(0.05)
        raise AssertionError("could not rebind " + ep)

    def close(self):
        for s in (self.tasks, self.results, self.control):
            s.close(0)
        self.ctx.term()


class Worker:
    def __init__(self, orch, tmp_path, env=None, args=(), wrapper=()):
        self.work_dir = str(tmp_path / "work")
        self.log_path = str(tmp_path / "agent-sandbox.log")
        full = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
        full.update(SAN_ENV)
        full.update({
            "SANDBOX_TASKS_ENDPOINT": orch.endpoint(orch.tasks),
            "SANDBOX_RESULTS_ENDPOINT": orch.endpoint(orch.results),
            "SANDBOX_CONTROL_ENDPOINT": orch.endpoint(orch.control),
            "SANDBOX_WORK_DIR": self.work_dir,
            "SANDBOX_SLOTS": "2",
            "SANDBOX_HEARTBEAT": "200ms",
            "SANDBOX_WORKER_ID": "e2e-worker",
            "SANDBOX_LOG_LEVEL": "debug",
        })
        full.update(env or {})
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([*wrapper, BINARY, *args], env=full,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, needle, timeout=10.0, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.read_log().count(needle) >= count:
                return
            time.sleep(0.02)
        raise AssertionError(f"{needle!r} not logged:\n{self.read_log()[-3000:]}")

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("agent-sandbox ignored SIGTERM")
        self.log.close()
        return self.proc.returncode

    def check_sanitizers(self):
        text = self.read_log()
        bad = [l for l in text.splitlines() if any(m in l for m in SANITIZER_MARKS)]
        assert not bad, "sanitizer reports:\n" + text[-6000:]


@pytest.fixture
def orch():
    o = FakeOrchestrator()
    yield o
    o.close()


@pytest.fixture
def start_worker(orch, tmp_path):
    workers = []

    def start(env=None, args=(), wrapper=()):
        w = Worker(orch, tmp_path, env, args, wrapper)
        workers.append(w)
        return w

    yield start
    for w in workers:
        code = w.stop()
        w.check_sanitizers()
        assert code == 0, f"exit code {code}:\n{w.read_log()[-3000:]}"
        assert os.listdir(w.work_dir) == [], "workspaces left behind"


@pytest.fixture
def worker(start_worker, orch):
    w = start_worker()
    orch.expect("hello")
    return w


def test_hello_and_heartbeats(orch, start_worker):
    start_worker()
    hello = orch.expect("hello")
    assert hello["v"] == 1
    assert hello["worker"] == "e2e-worker"
    assert hello["slots"] == 2
    assert isinstance(hello["version"], str) and hello["version"]
    iso = hello["isolation"]
    assert iso["rlimits"] is True
    assert iso["seccomp"] is False and iso["userns"] is False and iso["cgroup"] is False
    assert iso["landlock"] == 0
    first = orch.expect("heartbeat")
    assert first["worker"] == "e2e-worker"
    assert first["free"] == 2 and first["running"] == []
    t0 = time.monotonic()
    orch.expect("heartbeat")
    orch.expect("heartbeat")
    assert time.monotonic() - t0 < 2.0      # every 200 ms here


def test_task_started_and_result(orch, worker):
    orch.send(task("t1", ["sh", "-c", "echo hi; printf 'e\\000rr' >&2; exit 3"]))
    started = orch.expect("started", id="t1")
    assert started["attempt"] == 1 and started["worker"] == "e2e-worker"
    r = orch.expect("result", id="t1")
    assert r["status"] == "failed"
    assert r["exit_code"] == 3 and r["signal"] is None
    assert r["stdout"] == b"hi\n" and r["stderr"] == b"e\x00rr"
    assert r["stdout_truncated"] is False and r["stderr_truncated"] is False
    assert r["attempt"] == 1 and r["worker"] == "e2e-worker"
    assert r["wall_ms"] < 5000 and r["cpu_ms"] >= 0 and r["max_rss_kb"] > 0
    assert not r.get("error")
    assert orch.seen.index(started) < orch.seen.index(r)
    worker.wait_log("event=task_finished id=t1 attempt=1 status=failed exit=3")


def test_code_files_stdin_collect(orch, worker):
    code = (b"import sys, os\n"
            b"data = sys.stdin.buffer.read()\n"
            b"inp = open('in/put.txt', 'rb').read()\n"
            b"os.makedirs('out', exist_ok=True)\n"
            b"open('out/res.bin', 'wb').write(inp + data + b'\\xff\\x00')\n"
            b"print(os.environ['GREETING'], os.environ['HOME'] == os.getcwd())\n")
    orch.send(task("c1", code=code, lang="python3", stdin=b"STDIN", env={"GREETING": "hey"},
                   files={"in/put.txt": b"FILE"}, collect=["out/res.bin", "nope"],
                   limits={"wall_ms": 20000, "output_bytes": 1000}))
    r = orch.expect("result", id="c1")
    assert r["status"] == "succeeded", r
    assert r["stdout"] == b"hey True\n"
    assert r["files"] == {"out/res.bin": b"FILESTDIN\xff\x00"}
    assert r["error"] == "collect nope: not found"


def test_limits_clamped_and_timeout(orch, worker):
    orch.send(task("w1", ["sh", "-c", "echo before; sleep 30"], limits={"wall_ms": 400}))
    r = orch.expect("result", id="w1")
    assert r["status"] == "timed_out"
    assert r["stdout"] == b"before\n"
    assert r["signal"] == 9
    orch.send(task("w2", ["true"], limits={"wall_ms": 3600 * 1000 * 24}))
    r = orch.expect("result", id="w2")
    assert r["status"] == "succeeded"
    assert "limits.wall_ms clamped from 86400000 to 600000" in r["error"]


def test_command_not_found(orch, worker):
    orch.send(task("n1", ["no-such-command-here"]))
    r = orch.expect("result", id="n1")
    assert r["status"] == "failed" and r["exit_code"] == 127
    assert r["error"] == "command not found: no-such-command-here"
    assert r["stderr"] == b"command not found: no-such-command-here"


def test_bad_frames_do_not_kill_the_worker(orch, worker):
    orch.send(b"\x00garbage")                          # not msgpack
    orch.send(pack([1, 2, 3]))                          # not a map
    orch.send(pack({"v": 1, "type": "task"}))           # no id
    orch.tasks.send_multipart([pack(task("m1", ["true"])), b"second part"])
    orch.send(task("bad1", "not-a-list"))               # readable id, bad argv
    r = orch.expect("result", id="bad1")
    assert r["status"] == "rejected"
    assert r["error"].startswith("argv: "), r["error"]
    assert r["attempt"] == 1 and r["worker"] == "e2e-worker"
    orch.send(task("bad2", ["true"], limits={"wall_ms": 0}))
    r = orch.expect("result", id="bad2")
    assert r["status"] == "rejected" and r["error"].startswith("limits.wall_ms: ")
    orch.send(task("bad3", ["true"], files={"../escape": b"x"}))
    r = orch.expect("result", id="bad3")
    assert r["status"] == "rejected" and "files" in r["error"]
    orch.send(task("bad4", ["true"], code=b"echo", lang="sh"))    # argv and code
    assert orch.expect("result", id="bad4")["status"] == "rejected"
    orch.send(task("ok1", ["echo", "still here"]))
    r = orch.expect("result", id="ok1")
    assert r["status"] == "succeeded" and r["stdout"] == b"still here\n"
    started = [m["id"] for m in orch.seen if m.get("type") == "started"]
    assert started == ["ok1"], started                  # nothing started for bad frames
    log = worker.read_log()
    assert log.count("event=frame_dropped") >= 4
    assert "event=task_rejected id=bad1" in log


def test_mutated_frames_never_crash_it(orch, worker):
    import random
    rng = random.Random(1234)
    base = pack(task("fz", ["echo", "x"], stdin=b"in", env={"A": "b"},
                     files={"d/f": b"1"}, collect=["d/f"], limits={"wall_ms": 2000}))
    for _ in range(300):
        frame = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            if not frame:
                break
            what = rng.random()
            at = rng.randrange(len(frame))
            if what < 0.6:
                frame[at] = rng.randrange(256)
            elif what < 0.8:
                del frame[at:]
            else:
                frame[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        if frame:
            orch.send(bytes(frame))
    orch.send(task("fz-end", ["echo", "alive"]))
    r = orch.expect("result", id="fz-end", timeout=60)
    assert r["stdout"] == b"alive\n"
    assert worker.proc.poll() is None


def test_oversized_frame_link_comes_back(orch, start_worker):
    w = start_worker({"SANDBOX_MAX_FRAME": "256K", "SANDBOX_MAX_OUTPUT": "64K",
                      "SANDBOX_DEFAULT_OUTPUT": "64K", "SANDBOX_MAX_COLLECT": "64K"})
    orch.expect("hello")
    orch.send(task("big", ["cat"], stdin=b"x" * (1024 * 1024)))
    w.wait_log("event=link_down socket=tasks")
    # libzmq gives up on the endpoint after a protocol error; the worker
    # reconnects it, and the next task (sent once it is back: a frame pushed
    # while the dead connection is being torn down is lost with it) runs.
    w.wait_log("event=link_restarted socket=tasks")
    w.wait_log("event=link_up socket=tasks", count=2)
    orch.send(task("after", ["echo", "back"]))
    r = orch.expect("result", id="after", timeout=20)
    assert r["stdout"] == b"back\n"
    assert not any(m.get("id") == "big" for m in orch.seen if m.get("type") == "result")
    assert "event=link_restarted socket=tasks" in w.read_log()


def test_slots_respected(orch, worker):
    for i in range(3):
        orch.send(task(f"s{i}", ["sleep", "1"]))
    events = []
    busy_beat = None
    deadline = time.monotonic() + 20
    while sum(1 for e in events if e[0] == "result") < 3 and time.monotonic() < deadline:
        m = orch.recv(1.0)
        if m is None:
            continue
        if m["type"] in ("started", "result"):
            events.append((m["type"], m["id"]))
        elif m["type"] == "heartbeat" and len(m["running"]) == 2:
            busy_beat = m
    first_result = next(i for i, e in enumerate(events) if e[0] == "result")
    started_before = [e for e in events[:first_result] if e[0] == "started"]
    assert len(started_before) == 2, events
    assert sum(1 for e in events if e[0] == "started") == 3
    assert busy_beat is not None and busy_beat["free"] == 0
    assert sorted(busy_beat["running"]) == ["s0", "s1"]


def test_hello_again_after_reconnect(orch, worker):
    orch.rebind_results()
    hello = orch.expect("hello", timeout=15)
    assert hello["worker"] == "e2e-worker"
    orch.send(task("r1", ["echo", "ok"]))
    assert orch.expect("result", id="r1")["stdout"] == b"ok\n"


def _children(pid):
    kids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            pass
    return kids


def _dead(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_sigterm_stops_promptly_and_cleans_up(orch, start_worker):
    w = start_worker()
    orch.expect("hello")
    orch.send(task("long", ["sh", "-c", "sleep 100 & sleep 100"]))
    orch.expect("started", id="long")
    deadline = time.monotonic() + 5
    kids = []
    while not kids and time.monotonic() < deadline:
        kids = _children(w.proc.pid)
        time.sleep(0.02)
    assert kids, "task process not found"
    assert len(os.listdir(w.work_dir)) == 1
    t0 = time.monotonic()
    assert w.stop() == 0
    assert time.monotonic() - t0 < 3.0
    assert all(_dead(k) for k in kids)
    assert os.listdir(w.work_dir) == []
    assert "event=worker_stopping signal=TERM" in w.read_log()


def test_as_pid_1_reaps_orphans_and_hears_sigterm(orch, start_worker):
    # A container without an init runs the worker as PID 1: processes a task
    # leaves behind are re-parented to it, and the kernel drops SIGTERM
    # unless a handler is installed. Simulated with a new PID namespace.
    if subprocess.run(["unshare", "--pid", "--fork", "true"]).returncode != 0:
        pytest.skip("cannot create a PID namespace here")
    w = start_worker(wrapper=["unshare", "--pid", "--fork", "--kill-child"])
    orch.expect("hello")
    deadline = time.monotonic() + 5
    inner = []
    while not inner and time.monotonic() < deadline:
        inner = _children(w.proc.pid)
        time.sleep(0.02)
    assert len(inner) == 1
    worker_pid = inner[0]
    # The main process exits; its background child is killed with the group
    # and becomes a zombie of the worker (PID 1), which must reap it.
    orch.send(task("orph", ["sh", "-c", "sleep 30 & echo started"]))
    assert orch.expect("result", id="orph")["status"] == "succeeded"
    w.wait_log("event=orphan_reaped")
    time.sleep(0.3)
    assert _children(worker_pid) == []
    os.kill(worker_pid, signal.SIGTERM)          # to the worker, not to unshare
    assert w.proc.wait(10) == 0
    assert "event=worker_stopping signal=TERM" in w.read_log()


def test_bad_configuration_exits_1(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    env.update(SAN_ENV)
    env["SANDBOX_WORK_DIR"] = str(tmp_path / "w")
    cases = [
        ({"SANDBOX_SLOTS": "0"}, (), ["SANDBOX_SLOTS", "'0'", "between 1 and 256"]),
        ({"SANDBOX_HEARTBEAT": "soon"}, (), ["SANDBOX_HEARTBEAT", "soon"]),
        ({}, ("--max-output", "8M"), ["SANDBOX_MAX_FRAME", "SANDBOX_MAX_OUTPUT"]),
        ({"SANDBOX_TASKS_ENDPOINT": "http://x"}, (), ["SANDBOX_TASKS_ENDPOINT"]),
        ({}, ("--bogus",), ["unknown option"]),
    ]
    for extra, args, needles in cases:
        p = subprocess.run([BINARY, *args], env={**env, **extra}, capture_output=True,
                           timeout=20)
        err = p.stderr.decode()
        assert p.returncode == 1, (extra, args, err)
        for n in needles:
            assert n in err, (n, err)
    p = subprocess.run([BINARY, "--help"], env=env, capture_output=True, timeout=20)
    assert p.returncode == 0
    out = p.stdout.decode()
    for name in ("SANDBOX_TASKS_ENDPOINT", "SANDBOX_SLOTS", "SANDBOX_MAX_COLLECT", "--work-dir"):
        assert name in out
