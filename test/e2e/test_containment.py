"""Containment suite: hostile tasks through the REAL orchestrator and worker.

Every attack is a task (or a few) submitted over HTTP to a real orchestrator
and run by a real worker; each asserts the task's status/output AND what the
HOST sees afterwards (or while it runs): canary files and their stat data,
processes in /proc carrying the attack's unique marker, connections on
listeners the test opened, the worker's secret canary never coming back, the
key ring, mountinfo, the host's hostname, the worker still alive. After every
attack a trivial `echo ok` task must succeed and no workspace may be left.

Escape attacks (test/containment/attacks.py) run against two runners:
  agent-sandbox  the real worker: the verdict must be "contained" and the
                 task's status what the issue specifies;
  plain          test/containment/plain_runner.py, a weak fork/exec runner
                 without isolation: the verdict must be "escaped". This is the
                 suite's self-test: it proves each host-side check can see the
                 escape it looks for.
Resource and robustness attacks (fork bomb, memory bomb, ...) run against
the real worker only.

Run:
  make -j2 test-build build/test/try-syscall
  CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q -p no:cacheprovider \
      test/e2e/test_containment.py
"""
import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from containment import attacks as A        # noqa: E402
from containment import harness as H        # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not H.ensure_probe(),
                                reason="needs root (canaries in /etc, /usr/local, the key "
                                       "ring) and the probe build/test/try-syscall")


# ---- fixtures ------------------------------------------------------------------

class Fleet:
    """Module-wide Targets (one per kind, restarted if an attack broke one)
    and fresh ones for attacks that must not share."""

    def __init__(self, factory):
        self.factory = factory
        self.targets = {}
        self.fresh_targets = []
        self.broken = []

    def get(self, kind):
        t = self.targets.get(kind)
        if t is not None and not t.alive():
            self.broken.append(f"{kind}: replaced a dead target")
            t.stop(check=False)
            t = None
        if t is None:
            t = self.targets[kind] = H.Target(kind, self.factory.mktemp(kind))
        return t

    def fresh(self, kind):
        t = H.Target(kind, self.factory.mktemp(kind + "-fresh"))
        self.fresh_targets.append(t)
        return t

    def close(self):
        errors = []
        for t in self.fresh_targets:
            if not t.stopped:
                t.stop(check=False)
        for kind, t in self.targets.items():
            try:
                t.stop(check=t.kind == "agent-sandbox")
            except AssertionError as e:
                errors.append(f"{kind}: {e}")
        assert not errors, errors


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = Fleet(tmp_path_factory)
    yield f
    f.close()


@pytest.fixture
def ctx(tmp_path):
    c = A.Ctx(H.new_marker(), tmp_path)
    yield c
    H.kill_marker(c.marker)


@pytest.fixture
def real(fleet, ctx):
    t = fleet.get("agent-sandbox")
    first = len(t.history)
    yield t
    for rec in t.history[first:]:
        if (rec.get("task") or {}).get("argv") != ["echo", "ok"]:
            print(H.summary(rec))
    H.kill_marker(ctx.marker)
    _sweep(t)


def _sweep(t):
    """After a test: nothing of it may disturb the next one."""
    if t.alive() and t.kind == "agent-sandbox":
        for n in os.listdir(t.work_dir):
            H._remove(os.path.join(t.work_dir, n))


def assert_healthy(t):
    """The worker survived: alive, `echo ok` runs, no workspace left."""
    why = t.health()
    assert why is None, why
    if t.kind == "agent-sandbox":
        left = os.listdir(t.work_dir)
        assert left == [], f"left in the work directory: {left}"


def elapsed(since):
    return time.monotonic() - since


# ---- escape attacks: both runners -------------------------------------------------

@pytest.mark.parametrize("kind", H.KINDS)
@pytest.mark.parametrize("attack", A.ESCAPES, ids=lambda a: a.name)
def test_escape(attack, kind, fleet, ctx):
    reason = attack.plain_unavailable() if kind == "plain" else None
    if reason:
        pytest.skip(reason)
    fresh = getattr(attack, "fresh", False)
    t = fleet.fresh(kind) if fresh else fleet.get(kind)
    try:
        v = attack.run(t, ctx)
        print(f"{attack.name} [{kind}]: {attack.what}\n{v.describe()}")
        if kind == "plain":
            # the self-test: the same host-side check sees the escape
            assert v.escaped, ("the suite did NOT detect the escape against the plain "
                               "runner:\n" + v.describe())
        else:
            assert not v.escaped, f"{attack.name}: {attack.what}\n{v.describe()}"
            attack.contained(t, v)
        if kind == "agent-sandbox" or not fresh:
            assert_healthy(t)
    finally:
        H.kill_marker(ctx.marker)
        if t.alive():
            _sweep(t)
        if fresh:
            t.stop(check=kind == "agent-sandbox" and t.alive())


# ---- resource and robustness attacks: the real worker -------------------------------

FORK_BOMB = r'''
import os, sys, time
n, err = 0, None
for i in range(200):
    try:
        pid = os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        try:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
        except OSError:
            pass
        time.sleep(30)
        os._exit(0)
    n += 1
print("forked", n, "errno", err, flush=True)
time.sleep(30)
'''


def test_fork_bomb(real, ctx):
    """A bounded fork bomb (each child forks again) with processes=16: it ends
    killed/failed/timed_out, at most 16 forks succeed, nothing of it is left
    on the host, the worker lives."""
    t0 = time.monotonic()
    rec = real.run(A.py_task(FORK_BOMB, ctx.marker,
                             limits={"processes": 16, "wall_ms": 3000}))
    assert rec["status"] in ("killed", "failed", "timed_out"), rec
    assert elapsed(t0) < 15
    left = H.wait_gone(ctx.marker, 1.5)
    assert not left, f"fork bomb processes left on the host: {len(left)}"
    m = re.search(r"forked (\d+)", H.text(rec))
    assert m, rec
    assert int(m.group(1)) <= 16, f"processes=16 but {m.group(1)} forks succeeded"
    assert_healthy(real)


MEMORY_BOMB = r'''
import sys
chunks, got = [], 0
try:
    while got < 2048:
        chunks.append(b"x" * (16 << 20))
        got += 16
        print("got", got, flush=True)
except MemoryError:
    print("MemoryError at", got, flush=True)
    sys.exit(1)
'''


def test_memory_bomb(real, ctx):
    """Allocate and touch 16 MiB chunks with memory_bytes=128 MiB: memory_limit
    (or killed/failed), never more than 128 MiB obtained, worker alive."""
    rec = real.run(A.py_task(MEMORY_BOMB, ctx.marker,
                             limits={"memory_bytes": 128 << 20, "wall_ms": 15000}))
    assert rec["status"] in ("memory_limit", "killed", "failed"), rec
    got = [int(x) for x in re.findall(r"got (\d+)", H.text(rec))]
    assert max(got, default=0) <= 128, f"obtained {max(got)} MiB under a 128 MiB limit"
    assert real.worker.proc.poll() is None
    assert_healthy(real)


def test_cpu_burn(real, ctx):
    """A busy loop with cpu_ms=1000: killed by SIGXCPU or SIGKILL, the error
    names the CPU limit, well before the wall limit."""
    rec = real.run({"argv": ["python3", "-c", "while True: pass", ctx.marker],
                    "limits": {"cpu_ms": 1000, "wall_ms": 20000}})
    assert rec["status"] == "killed", rec
    assert rec["signal"] in (24, 9), rec
    assert "cpu limit" in (rec.get("error") or ""), rec
    assert rec["wall_ms"] < 15000, rec
    assert_healthy(real)


def test_output_flood(real, ctx):
    """100 MB on each stream with output_bytes=4096, then `yes` forever with a
    1.5 s wall limit: output capped at 4096 bytes, truncated flags set, both
    end quickly."""
    t0 = time.monotonic()
    rec = real.run({"argv": ["sh", "-c", "head -c 100000000 /dev/zero | tr '\\0' x; "
                             "head -c 100000000 /dev/zero | tr '\\0' y >&2", ctx.marker],
                    "limits": {"output_bytes": 4096, "wall_ms": 20000}})
    assert rec["status"] in ("succeeded", "output_limit"), rec
    assert rec["stdout_truncated"] is True and rec["stderr_truncated"] is True, rec
    assert H.out(rec) == b"x" * len(H.out(rec)) and 0 < len(H.out(rec)) <= 4096
    assert 0 < len(H.out(rec, "stderr")) <= 4096
    assert elapsed(t0) < 15
    t0 = time.monotonic()
    rec = real.run({"argv": ["yes", ctx.marker], "limits": {"output_bytes": 4096,
                                                            "wall_ms": 1500}})
    assert rec["status"] in ("timed_out", "output_limit"), rec
    assert len(H.out(rec)) <= 4096 and rec["stdout_truncated"] is True
    assert elapsed(t0) < 8
    assert_healthy(real)


DISK_FILL = r'''
import os, sys
n = 0
fd = os.open("big", os.O_WRONLY | os.O_CREAT, 0o644)
try:
    while n < (64 << 20):
        n += os.write(fd, b"\0" * 65536)
except OSError as e:
    print("stopped at", n, "errno", e.errno, flush=True)
    sys.exit(1)
print("wrote", n, flush=True)
'''


def test_disk_fill(real, ctx):
    """Write 64 MiB into one file with file_bytes=1 MiB: the task fails or is
    killed (SIGXFSZ, error naming the file size limit), never more than 1 MiB
    written, and its workspace is removed."""
    rec = real.run(A.py_task(DISK_FILL, ctx.marker,
                             limits={"file_bytes": 1 << 20, "wall_ms": 15000}))
    assert rec["status"] in ("failed", "killed"), rec
    if rec["status"] == "killed":
        assert rec["signal"] == 25 and "file size limit" in (rec.get("error") or ""), rec
    else:
        m = re.search(r"stopped at (\d+) errno 27", H.text(rec))
        assert m and int(m.group(1)) <= 1 << 20, rec
    assert H.leftovers(real.work_dir, rec["id"]) == []
    assert_healthy(real)


SIGTERM_IGNORER = r'''
import os, signal, time
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
if os.fork() == 0:
    time.sleep(60)
    os._exit(0)
print("ignoring", flush=True)
time.sleep(60)
'''


def test_sigterm_ignorer(real, ctx):
    """A task (and its child) ignoring SIGTERM/INT/HUP with wall_ms=1000:
    timed_out with its partial output, and gone from the host right after."""
    rec = real.run(A.py_task(SIGTERM_IGNORER, ctx.marker, limits={"wall_ms": 1000}))
    assert rec["status"] == "timed_out", rec
    assert H.text(rec) == "ignoring\n"
    assert rec["wall_ms"] < 5000
    assert not H.wait_gone(ctx.marker, 1.5), "SIGTERM ignorer still alive on the host"
    assert_healthy(real)


def test_self_stop(real, ctx):
    """A child that SIGSTOPs itself while the parent waits for it, and a task
    that stops itself: both end (timed_out, or succeeded when the task is a
    PID-1 that cannot be stopped), nothing left stopped on the host."""
    code = ("import os, signal, time\npid = os.fork()\nif pid == 0:\n"
            "    os.kill(os.getpid(), signal.SIGSTOP)\n    os._exit(0)\n"
            "print('child stopped', flush=True)\nos.waitpid(pid, 0)\n")
    rec = real.run(A.py_task(code, ctx.marker, limits={"wall_ms": 1000}))
    assert rec["status"] == "timed_out", rec
    rec = real.run({"argv": ["python3", "-c", "import os, signal; "
                             "os.kill(os.getpid(), signal.SIGSTOP)", ctx.marker],
                    "limits": {"wall_ms": 1000}})
    assert rec["status"] in ("timed_out", "succeeded"), rec
    assert not H.wait_gone(ctx.marker, 1.5), "stopped processes left on the host"
    assert_healthy(real)


def test_huge_argv(real, ctx):
    """4000 arguments of 1000 bytes (over ARG_MAX): the exec fails cleanly
    (failed, 'Argument list too long'); 5000 arguments are refused (400)."""
    rec = real.run({"argv": ["echo"] + ["A" * 1000] * 4000})
    assert rec["status"] == "failed", {k: rec[k] for k in ("status", "exit_code", "error")}
    assert "Argument list too long" in (rec.get("error") or ""), rec.get("error")
    status, _, body = real.orch.http("POST", "/api/tasks", {"argv": ["echo"] * 5000})
    assert status == 400, (status, body)
    assert_healthy(real)


def test_closes_stdio_early(real, ctx):
    """A task that closes stdin, stdout and stderr at once and keeps running a
    little: succeeded, promptly."""
    t0 = time.monotonic()
    rec = real.run({"argv": ["sh", "-c", "exec <&- >&- 2>&-; sleep 0.3; exit 0", ctx.marker]})
    assert rec["status"] == "succeeded", rec
    assert elapsed(t0) < 5
    rec = real.run({"argv": ["python3", "-c", "import os, time; print('x', flush=True); "
                             "os.close(1); os.close(2); time.sleep(0.2)", ctx.marker]})
    assert rec["status"] == "succeeded" and H.text(rec) == "x\n", rec
    assert_healthy(real)


def test_fifo_and_device_in_collect(real, ctx):
    """A FIFO and a symlink to /dev/zero asked for in `collect`: each refused
    with a reason, the worker never blocks, the workspace is removed."""
    t0 = time.monotonic()
    rec = real.run({"argv": ["sh", "-c", "mkfifo f && mkdir d && mkfifo d/g && "
                             "ln -s /dev/zero z", ctx.marker],
                    "collect": ["f", "d/g", "z"]})
    assert rec["status"] == "succeeded", rec
    err = rec.get("error") or ""
    assert "collect f: refused: not a regular file" in err, err
    assert "collect d/g: refused: not a regular file" in err, err
    assert "collect z: refused" in err, err
    assert not H.collected(rec)
    assert elapsed(t0) < 5
    assert_healthy(real)


DEEP_TREE = r'''
import os
os.mkdir("t")
os.chdir("t")
for i in range(3000):
    os.mkdir("d")
    open("f", "w").close()
    os.chdir("d")
    if i % 500 == 499:
        os.chmod(".", 0o300)          # no read permission: the cleanup must cope
print("deep", flush=True)
'''


def test_deep_and_unreadable_tree(real, ctx):
    """A 3000-level directory chain with unreadable levels: succeeded, removed
    entirely, quickly."""
    t0 = time.monotonic()
    rec = real.run(A.py_task(DEEP_TREE, ctx.marker, limits={"wall_ms": 20000}))
    assert rec["status"] == "succeeded", rec
    assert H.leftovers(real.work_dir, rec["id"]) == []
    assert elapsed(t0) < 20
    assert_healthy(real)


def test_many_files(real, ctx):
    """20,000 files in the workspace: removed after the task."""
    rec = real.run(A.py_task("for i in range(20000):\n    open(f'f{i}', 'w').close()\n",
                             ctx.marker, limits={"wall_ms": 20000}))
    assert rec["status"] == "succeeded", rec
    assert H.leftovers(real.work_dir, rec["id"]) == []
    assert_healthy(real)


def test_segfault_no_core(real, ctx):
    """A segfaulting task: killed with SIGSEGV, RLIMIT_CORE is 0 inside."""
    rec = real.run({"argv": ["python3", "-c", "import resource, ctypes; "
                             "print(resource.getrlimit(resource.RLIMIT_CORE), flush=True); "
                             "ctypes.string_at(0)", ctx.marker]})
    assert rec["status"] == "killed" and rec["signal"] == 11, rec
    assert H.text(rec) == "(0, 0)\n", rec
    assert_healthy(real)


def test_unread_stdin(real, ctx):
    """8 MiB of stdin to a task that never reads it (and one reading 5 bytes):
    both succeed promptly, the worker does not block on the pipe."""
    t0 = time.monotonic()
    rec = real.run({"argv": ["true"], "stdin": "x" * (8 << 20)})
    assert rec["status"] == "succeeded", rec
    rec = real.run({"argv": ["head", "-c", "5"], "stdin": "y" * (8 << 20)})
    assert rec["status"] == "succeeded" and H.text(rec) == "yyyyy", rec
    assert elapsed(t0) < 10
    assert_healthy(real)


def _environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read()


def test_env_injection(real, ctx):
    """LD_PRELOAD, LD_LIBRARY_PATH, BASH_ENV from the task's env: they are the
    task's own business (it sees them) but the worker's environment does not
    change and the next task does not get them."""
    before = _environ(real.worker_pid)
    rec = real.run({"argv": ["sh", "-c", "env | sort", ctx.marker],
                    "env": {"LD_PRELOAD": "/nonexistent/evil.so", "LD_LIBRARY_PATH": "/evil",
                            "BASH_ENV": "/evil/rc", "MARK": ctx.marker}})
    assert rec["status"] == "succeeded", rec
    assert "LD_PRELOAD=/nonexistent/evil.so" in H.text(rec)
    assert _environ(real.worker_pid) == before
    nxt = real.run({"argv": ["env"]})
    assert nxt["status"] == "succeeded"
    for name in ("LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_ENV", ctx.marker):
        assert name not in H.text(nxt), H.text(nxt)
    assert real.canary not in H.text(nxt)
    assert_healthy(real)


def test_invalid_paths_refused(real, ctx):
    """files / collect names with '..' or absolute: 400 naming the field, no
    task runs, nothing is created outside."""
    m = ctx.marker
    cases = [{"files": {f"../escape-{m}": "x"}}, {"files": {f"/tmp/escape-{m}": "x"}},
             {"files": {f"a/../../escape-{m}": "x"}}, {"collect": ["../x"]},
             {"collect": ["/etc/shadow"]}, {"collect": ["a/../../b"]}]
    for case in cases:
        status, _, body = real.orch.http("POST", "/api/tasks", {"argv": ["true"], **case})
        assert status == 400, (case, status, body)
        assert list(case)[0] in body["error"]["field"], (case, body)
    for p in (f"/tmp/escape-{m}", os.path.join(real.work_dir, f"escape-{m}"),
              os.path.join(os.path.dirname(real.work_dir), f"escape-{m}")):
        assert not os.path.lexists(p), p
    assert_healthy(real)


def test_isolation_reported(real):
    """The worker reports the layers it enforces: an isolation map in hello
    and one `event=isolation layer=... status=...` line per layer at start."""
    items = real.workers()
    assert len(items) == 1, items
    iso = items[0].get("isolation") or {}
    print("hello isolation:", iso)
    lines = re.findall(r"event=isolation layer=(\S+) status=(\S+)", real.worker.read_log())
    print("start-up lines:", lines)
    assert iso, "hello carries no isolation map"
    assert lines, "no event=isolation lines in the worker's start-up log"
    logged = {layer for layer, _ in lines}
    assert set(iso) <= logged, f"layers in hello without a start-up line: {set(iso) - logged}"
    for layer in ("seccomp", "landlock"):
        assert layer in iso and layer in logged, (layer, iso, logged)
