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

from conftest import curve_server, sandbox_curve_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("CLEUDO_BIN_DIR", os.path.join(REPO, "build", "test"))
BINARY = os.path.join(BIN_DIR, "agent-sandbox")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
SAN_ENV = {
    "ASAN_OPTIONS": "abort_on_error=0:detect_leaks=1:halt_on_error=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


LAYERS = ("seccomp", "landlock", "userns", "pidns", "mountns", "netns", "ipcns", "utsns",
          "cgroup", "rlimits", "caps")


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def task(tid, argv=None, **fields):
    msg = {"v": 1, "type": "task", "id": tid, "attempt": fields.pop("attempt", 1)}
    if argv is not None:
        msg["argv"] = argv
    msg.update(fields)
    return msg


class FakeOrchestrator:
    """The orchestrator's three sockets; collects what the worker sends.

    Like the real one it acknowledges every result it receives (control
    "ack"), unless auto_ack is False: a worker keeps and re-sends results
    until they are acknowledged."""

    def __init__(self):
        self.auto_ack = True
        self.ctx = zmq.Context()
        self.tasks = curve_server(self.ctx.socket(zmq.PUSH))
        self.tasks.setsockopt(zmq.LINGER, 0)
        self.tasks.setsockopt(zmq.SNDTIMEO, 15000)
        self.tasks.bind("tcp://127.0.0.1:*")
        self.results = curve_server(self.ctx.socket(zmq.PULL))
        self.results.setsockopt(zmq.LINGER, 0)
        self.results.bind("tcp://127.0.0.1:*")
        self.control = curve_server(self.ctx.socket(zmq.PUB))
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
        if self.auto_ack and msg.get("type") == "result":
            self.ack(msg["id"], msg["attempt"])
        return msg

    def ack(self, tid, attempt=None):
        body = {"v": 1, "type": "ack", "ids": [tid]}
        if attempt is not None:
            body["attempts"] = [attempt]
        self.control.send(pack(body))

    def cancel(self, tid, **extra):
        self.control.send(pack({"v": 1, "type": "cancel", "id": tid, **extra}))

    def pump_until_exit(self, proc, timeout):
        """Receive (and acknowledge) until proc exits; True if it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return True
            self.recv(0.05)
        return proc.poll() is not None

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
        self.results = curve_server(self.ctx.socket(zmq.PULL))
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
            "SANDBOX_GRACE": "2s",
            "SANDBOX_RESEND": "300ms",
            **sandbox_curve_env(),
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

    def stop(self, timeout=10.0, orch=None):
        """SIGTERM; with orch, keep receiving (and acknowledging) meanwhile,
        as a real orchestrator would while the worker drains."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if orch is not None:
                orch.pump_until_exit(self.proc, timeout)
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
        code = w.stop(orch=orch)
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
    # Every layer, as detected at start (the isolation tests below check the
    # values against the start-up log).
    assert set(iso) == set(LAYERS)
    assert iso["rlimits"] is True and iso["caps"] is True
    assert all(isinstance(iso[k], bool) for k in LAYERS if k != "landlock")
    assert isinstance(iso["landlock"], int) and not isinstance(iso["landlock"], bool)
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
    # A task that outlives SANDBOX_GRACE is killed with its whole group and
    # abandoned (no result: the orchestrator requeues it on "bye").
    w = start_worker({"SANDBOX_GRACE": "500ms"})
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
    log = w.read_log()
    assert "event=worker_stopping signal=TERM" in log
    assert "event=task_abandoned id=long attempt=1" in log
    assert "event=worker_stopped finished_in_grace=0 abandoned=1" in log
    orch.expect("bye", worker="e2e-worker")
    assert not any(m.get("type") == "result" and m.get("id") == "long" for m in orch.seen)


def test_as_pid_1_reaps_orphans_and_hears_sigterm(orch, start_worker):
    # A container without an init runs the worker as PID 1: processes a task
    # leaves behind are re-parented to it, and the kernel drops SIGTERM
    # unless a handler is installed. Simulated with a new PID namespace.
    if subprocess.run(["unshare", "--pid", "--fork", "true"]).returncode != 0:
        pytest.skip("cannot create a PID namespace here")
    # Without namespaces, so that a task's leftovers are re-parented to the
    # worker (in a PID namespace of its own, they die with the task).
    w = start_worker({"SANDBOX_NAMESPACES": "off"},
                     wrapper=["unshare", "--pid", "--fork", "--kill-child"])
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


# ---------------------------------------------------------------------------
# reliability: the acknowledged outbox, cancel, graceful stop


def test_results_are_resent_until_acknowledged(orch, worker):
    _control_joined(worker)
    orch.auto_ack = False
    orch.send(task("keep1", ["echo", "kept"]))
    first = orch.expect("result", id="keep1")
    again = orch.expect("result", id="keep1", timeout=5)    # SANDBOX_RESEND 300ms
    assert again["stdout"] == first["stdout"] == b"kept\n"
    orch.ack("keep1", 2)                                     # another attempt: no effect
    orch.expect("result", id="keep1", timeout=5)
    orch.ack("keep1", 1)
    time.sleep(0.2)
    while orch.recv(0.1):                                    # in flight before the ack
        pass
    n = len(orch.seen)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        orch.recv(0.1)
    assert not any(m.get("type") == "result" for m in orch.seen[n:])
    orch.auto_ack = True


def test_heartbeat_lists_attempts(orch, worker):
    orch.send(task("hb1", ["sleep", "2"], attempt=3))
    orch.expect("started", id="hb1")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        hb = orch.expect("heartbeat")
        if hb["running"] == ["hb1"]:
            assert hb["attempts"] == [3] and hb["free"] == 1
            break
    else:
        raise AssertionError("no heartbeat listed hb1")
    orch.cancel("hb1")
    assert orch.expect("result", id="hb1")["status"] == "cancelled"


def test_cancel_kills_the_group_and_keeps_partial_output(orch, worker):
    _control_joined(worker)
    orch.send(task("c1", ["sh", "-c", "echo partial; sleep 30 & sleep 30"]))
    orch.expect("started", id="c1")
    time.sleep(0.3)
    orch.cancel("c1", worker="someone-else")                 # not for us
    orch.cancel("c1", attempt=2)                             # not this attempt
    time.sleep(0.3)
    assert not any(m.get("id") == "c1" and m["type"] == "result" for m in orch.seen)
    t0 = time.monotonic()
    orch.cancel("c1", attempt=1, worker="e2e-worker")
    r = orch.expect("result", id="c1")
    assert time.monotonic() - t0 < 2
    assert r["status"] == "cancelled" and r["signal"] == 9
    assert r["stdout"] == b"partial\n"
    assert "cancelled by a client" in r["error"]
    worker.wait_log("event=task_cancelling id=c1 attempt=1")


def _control_joined(worker):
    # PUB drops what a subscriber that is not connected yet would have got.
    worker.wait_log("event=link_up socket=control")
    time.sleep(0.3)


def test_cancel_before_the_frame_arrives(orch, worker):
    _control_joined(worker)
    orch.cancel("early", attempt=1)
    time.sleep(0.3)
    orch.send(task("early", ["echo", "should not run"]))
    r = orch.expect("result", id="early")
    assert r["status"] == "cancelled" and r["error"] == "cancelled before it started"
    assert not any(m.get("type") == "started" and m["id"] == "early" for m in orch.seen)
    orch.send(task("early", ["echo", "later attempt runs"], attempt=2))
    assert orch.expect("result", id="early", attempt=2)["status"] == "succeeded"


def test_sigterm_finishes_running_tasks_and_says_bye(orch, start_worker):
    w = start_worker({"SANDBOX_GRACE": "10s"})
    orch.expect("hello")
    orch.send(task("g1", ["sh", "-c", "sleep 1; echo graceful"]))
    orch.expect("started", id="g1")
    w.proc.send_signal(signal.SIGTERM)
    w.wait_log("event=link_closed socket=tasks")
    time.sleep(0.2)
    with pytest.raises(zmq.Again):                            # nobody takes it now
        orch.tasks.send(pack(task("g2", ["echo", "too late"])), zmq.NOBLOCK)
    r = orch.expect("result", id="g1", timeout=10)            # auto-acked
    assert r["status"] == "succeeded" and r["stdout"] == b"graceful\n"
    hb = [m for m in orch.seen if m["type"] == "heartbeat"][-1]
    assert hb["free"] == 0                                    # stopping: no credit
    orch.expect("bye", worker="e2e-worker", timeout=10)
    assert w.proc.wait(10) == 0
    log = w.read_log()
    assert "event=worker_stopped finished_in_grace=1 abandoned=0 unacked_results=0" in log
    assert not any(m.get("id") == "g2" for m in orch.seen)


def test_sigterm_waits_for_acks_within_the_grace(orch, start_worker):
    w = start_worker({"SANDBOX_GRACE": "1500ms"})
    orch.expect("hello")
    orch.auto_ack = False
    orch.send(task("u1", ["echo", "unacked"]))
    orch.expect("result", id="u1")
    t0 = time.monotonic()
    w.proc.send_signal(signal.SIGTERM)
    orch.expect("result", id="u1", timeout=5)                  # still re-sent
    assert w.proc.wait(10) == 0
    assert time.monotonic() - t0 >= 1.2                        # waited for the ack
    assert "unacked_results=1" in w.read_log()
    orch.auto_ack = True


# ---------------------------------------------------------------------------
# isolation: the start-up lines, hello's map, SANDBOX_REQUIRE, what tasks get

import re  # noqa: E402

ISO_LINE = re.compile(r'event=isolation layer=(\w+) status=(enforced|unavailable|disabled) '
                      r'detail="((?:[^"\\]|\\.)*)"')
ALL_OFF = {"SANDBOX_NAMESPACES": "off", "SANDBOX_CGROUP": "off", "SANDBOX_SECCOMP": "off",
           "SANDBOX_LANDLOCK": "off"}


def _iso_lines(log):
    return {m.group(1): (m.group(2), m.group(3)) for m in ISO_LINE.finditer(log)}


def _run_binary(env, timeout=30, until=None):
    """The worker binary alone (endpoints nobody binds): exit code, stderr.
    With until, stop it with SIGTERM once stderr shows that text."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    full.update(SAN_ENV)
    full.update({"SANDBOX_TASKS_ENDPOINT": "tcp://127.0.0.1:9", "SANDBOX_SLOTS": "1",
                 "SANDBOX_RESULTS_ENDPOINT": "tcp://127.0.0.1:9",
                 "SANDBOX_CONTROL_ENDPOINT": "tcp://127.0.0.1:9", **sandbox_curve_env()})
    full.update(env)
    p = subprocess.Popen([BINARY], env=full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    if until is None:
        _, err = p.communicate(timeout=timeout)
        return p.returncode, err.decode()
    text = b""
    deadline = time.monotonic() + timeout
    os.set_blocking(p.stderr.fileno(), False)
    while until.encode() not in text and time.monotonic() < deadline and p.poll() is None:
        chunk = p.stderr.read()
        text += chunk or b""
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout)
    os.set_blocking(p.stderr.fileno(), True)
    text += p.stderr.read() or b""
    return p.returncode, text.decode()


def test_isolation_lines_and_hello_agree(orch, start_worker):
    w = start_worker()
    hello = orch.expect("hello")
    iso = hello["isolation"]
    lines = _iso_lines(w.read_log())
    assert list(lines) == list(LAYERS), lines           # one line per layer, in order
    for name in LAYERS:
        status, detail = lines[name]
        assert detail, name
        enforced = status == "enforced"
        if name == "landlock":
            assert (iso["landlock"] > 0) == enforced
            if enforced:
                assert detail.startswith(f"ABI {iso['landlock']}:"), detail
        else:
            assert iso[name] is enforced, (name, status, detail)
        if status == "unavailable":                     # with the reason: "EPERM: ..."
            assert re.match(r"(E[A-Z0-9]+: |making the slots failed|needs )", detail), detail
    assert lines["rlimits"][0] == "enforced" and lines["caps"][0] == "enforced"
    # This project's reference machine (kernel 6.18, Landlock ABI 7, root):
    # say so when a layer went missing, so that nobody ships it unnoticed.
    if os.geteuid() == 0 and os.path.exists("/sys/kernel/security/landlock"):
        assert iso["landlock"] >= 1 and iso["seccomp"] is True


def test_isolation_layers_can_be_turned_off(orch, start_worker):
    w = start_worker(ALL_OFF)
    iso = orch.expect("hello")["isolation"]
    assert iso["landlock"] == 0
    for name in LAYERS:
        if name not in ("landlock", "rlimits", "caps"):
            assert iso[name] is False, name
    lines = _iso_lines(w.read_log())
    assert lines["seccomp"] == ("disabled", "SANDBOX_SECCOMP=off")
    assert lines["landlock"] == ("disabled", "SANDBOX_LANDLOCK=off")
    assert lines["cgroup"] == ("disabled", "SANDBOX_CGROUP=off")
    for name in ("userns", "pidns", "mountns", "netns", "ipcns", "utsns"):
        assert lines[name] == ("disabled", "SANDBOX_NAMESPACES=off"), name
    # Still no capability, still no new privileges.
    orch.send(task("off1", ["sh", "-c", "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status"]))
    r = orch.expect("result", id="off1")
    assert r["status"] == "succeeded", r
    assert r["stdout"] == b"CapEff:\t0000000000000000\nNoNewPrivs:\t1\n"


def test_require_refuses_to_start_without_the_layer(tmp_path):
    env = {"SANDBOX_WORK_DIR": str(tmp_path / "w"), "SANDBOX_CGROUP": "off",
           "SANDBOX_REQUIRE": "seccomp,cgroup,caps"}
    code, err = _run_binary(env)
    assert code == 1, err
    assert ("agent-sandbox: SANDBOX_REQUIRE names cgroup, which is disabled by "
            "SANDBOX_CGROUP=off; refusing to start") in err
    assert 'event=isolation layer=cgroup status=disabled detail="SANDBOX_CGROUP=off"' in err
    assert "event=refused" in err and "event=worker_started" not in err
    code, err = _run_binary({"SANDBOX_WORK_DIR": str(tmp_path / "w"),
                             "SANDBOX_REQUIRE": "seccomp,everything"})
    assert code == 1 and "SANDBOX_REQUIRE" in err and "'everything'" in err, err


def test_require_what_is_enforced_starts(tmp_path):
    env = {"SANDBOX_WORK_DIR": str(tmp_path / "w")}
    code, err = _run_binary(env, until="event=worker_started")
    enforced = [n for n, (s, _) in _iso_lines(err).items() if s == "enforced"]
    assert "rlimits" in enforced and "caps" in enforced
    env["SANDBOX_REQUIRE"] = ",".join(enforced)
    code, err = _run_binary(env, until="event=worker_started")
    assert code == 0 and "event=worker_started" in err, err
    # An unavailable or disabled one refuses, naming it and why.
    missing = [n for n, (s, _) in _iso_lines(err).items() if s != "enforced"]
    name = missing[0] if missing else "seccomp"
    if not missing:
        env["SANDBOX_SECCOMP"] = "off"
    env["SANDBOX_REQUIRE"] = name
    code, err = _run_binary(env)
    assert code == 1 and f"SANDBOX_REQUIRE names {name}" in err, err


def test_task_sees_its_isolation(orch, worker):
    iso = orch.seen[-1]["isolation"] if orch.seen[-1]["type"] == "hello" else None
    iso = iso or next(m for m in orch.seen if m["type"] == "hello")["isolation"]
    script = ("grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status;"
              " echo uid=$(id -u) pid=$$ home=$HOME pwd=$(pwd) host=$(hostname);"
              " echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,)")
    orch.send(task("in1", ["sh", "-c", script]))
    r = orch.expect("result", id="in1")
    assert r["status"] == "succeeded", r
    out = r["stdout"].decode()
    assert "CapEff:\t0000000000000000\n" in out and "NoNewPrivs:\t1\n" in out
    if iso["userns"] or os.geteuid() == 0:      # else no CAP_SETPCAP to empty it
        assert "CapBnd:\t0000000000000000\n" in out
    if iso["seccomp"]:
        assert "Seccomp:\t2\n" in out
    if iso["pidns"]:
        assert " pid=1 " in out
    if iso["mountns"]:
        assert " home=/workspace pwd=/workspace " in out
    if iso["utsns"]:
        assert " host=sandbox" in out
    if iso["netns"]:
        assert "ifaces=lo,\n" in out
    if iso["userns"]:
        assert "uid=1000 " in out
    elif os.geteuid() == 0:
        assert "uid=200000 " in out or "uid=200001 " in out


def test_limits_rejected_by_name(orch, worker):
    cases = {"cpu_ms": -1, "memory_bytes": "lots", "processes": 1 << 40, "file_bytes": 0,
             "output_bytes": 2.5}
    for i, (name, value) in enumerate(cases.items()):
        orch.send(task(f"lim{i}", ["true"], limits={name: value}))
        r = orch.expect("result", id=f"lim{i}")
        assert r["status"] == "rejected", (name, r)
        assert r["error"].startswith(f"limits.{name}: "), (name, r["error"])
    orch.send(task("net1", ["true"], limits={"network": True}))
    r = orch.expect("result", id="net1")
    assert r["status"] == "rejected"
    assert r["error"] == ("limits.network: this worker does not allow network access "
                          "(SANDBOX_ALLOW_NETWORK=false)")


def test_kill_reasons_are_exact(orch, start_worker):
    start_worker({"SANDBOX_OUTPUT_POLICY": "kill"})
    iso = orch.expect("hello")["isolation"]
    orch.send(task("cpu", ["sh", "-c", "echo spin; while :; do :; done"],
                   limits={"cpu_ms": 1000}))
    r = orch.expect("result", id="cpu")
    assert r["status"] == "killed" and r["signal"] in (9, 24), r
    assert r["stdout"] == b"spin\n" and "cpu limit of 1000 ms exceeded" in r["error"]
    orch.send(task("out", ["sh", "-c", "echo first; yes; sleep 30"],
                   limits={"output_bytes": 1000}))
    r = orch.expect("result", id="out")
    assert r["status"] == "output_limit", r
    assert len(r["stdout"]) == 1000 and r["stdout"].startswith(b"first\ny\n")
    assert r["stdout_truncated"] is True and r["wall_ms"] < 10000
    assert r["error"] == "output limit of 1000 bytes exceeded on stdout (output policy: kill)"
    if iso["cgroup"]:
        orch.send(task("mem", ["python3", "-c", "print('start', flush=True)\nb = []\n"
                                                "while True: b.append(bytearray(16 << 20))"],
                       limits={"memory_bytes": 64 << 20}))
        r = orch.expect("result", id="mem", timeout=30)
        assert r["status"] == "memory_limit", r
        assert r["stdout"] == b"start\n"
        assert r["error"].startswith("memory limit of 67108864 bytes exceeded")
    orch.send(task("wall", ["sh", "-c", "trap '' TERM; echo partial; sleep 30"],
                   limits={"wall_ms": 500}))
    r = orch.expect("result", id="wall")
    assert r["status"] == "timed_out" and r["stdout"] == b"partial\n"
    assert r["error"] == "wall time limit of 500 ms exceeded"
    orch.send(task("next", ["echo", "fine"]))
    assert orch.expect("result", id="next")["stdout"] == b"fine\n"


def _marker_procs(marker):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return [p for p in found if not _dead(p)]


@pytest.mark.parametrize("env", [{}, {"SANDBOX_NAMESPACES": "off"},
                                 {"SANDBOX_NAMESPACES": "off", "SANDBOX_CGROUP": "off"}],
                         ids=["every-layer", "cgroup-only", "subreaper-sweep"])
def test_no_process_outlives_its_task(orch, start_worker, env):
    start_worker(env)
    orch.expect("hello")
    tag = f"{os.getpid() % 1000}{len(env)}"
    orch.send(task("dmn", ["sh", "-c", f"d=300; (setsid sleep $d.{tag} >/dev/null 2>&1 "
                                       f"</dev/null &); sleep $d.{tag}1 & sleep 0.3; echo up"]))
    r = orch.expect("result", id="dmn")
    assert r["status"] == "succeeded" and r["stdout"] == b"up\n", r
    # When the result is there, nothing of the task is left (zombies aside).
    assert _marker_procs(f"300.{tag}") == []
    orch.send(task("bomb", ["sh", "-c", "b() { b | b & }; b; sleep 5"],
                   limits={"processes": 40, "wall_ms": 1500}))
    r = orch.expect("result", id="bomb", timeout=30)
    assert r["status"] in ("timed_out", "failed"), r
    orch.send(task("after", ["echo", "fine"]))
    r = orch.expect("result", id="after")
    assert r["status"] == "succeeded" and r["stdout"] == b"fine\n"
