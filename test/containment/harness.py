"""Containment suite harness: runners, host-side observers, probe helpers.

A Target is one orchestrator plus one worker, started with the conftest
classes (real binaries on loopback): kind "agent-sandbox" is the real worker,
kind "plain" is test/containment/plain_runner.py, a weak fork/exec runner
kept only to prove that the suite's checks detect escapes. Both workers are
started with SANDBOX_CANARY=<random> in their environment.

Everything here observes the HOST: /proc, canary files and their stat data,
listeners the test opens, a pseudo-terminal, the key ring, mountinfo. The
attacks (attacks.py) use these to decide "escaped" or "contained".
"""
import base64
import ctypes
import errno
import hashlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import tty
import uuid

import msgpack
import zmq

from conftest import Orchestrator, Service, System, bin_path, sanitizer_reports

HERE = os.path.dirname(os.path.abspath(__file__))
PLAIN_RUNNER = os.path.join(HERE, "plain_runner.py")
PROBE = bin_path("try-syscall")
TERMINAL = {"succeeded", "failed", "timed_out", "killed", "memory_limit", "output_limit",
            "cancelled", "rejected", "lost", "internal_error"}
KINDS = ("agent-sandbox", "plain")


def new_marker(prefix="ctm"):
    """A token unique to one attack: it goes into argv (so into /proc/PID/
    cmdline of the task's processes) and into every host-side artefact."""
    return f"{prefix}{uuid.uuid4().hex[:16]}"


# ---- runners ---------------------------------------------------------------

class PlainRunner(Service):
    """test/containment/plain_runner.py as a service, configured like the
    real worker (conftest.Sandbox)."""

    def __init__(self, tmp_path, orch, slots=2, env=None, name="plain-runner"):
        self.work_dir = str(tmp_path / (name + "-work"))
        base = {
            "SANDBOX_TASKS_ENDPOINT": orch.tasks,
            "SANDBOX_RESULTS_ENDPOINT": orch.results,
            "SANDBOX_CONTROL_ENDPOINT": orch.control,
            "SANDBOX_SLOTS": str(slots),
            "SANDBOX_WORK_DIR": self.work_dir,
        }
        base.update(env or {})
        super().__init__(name, [sys.executable, PLAIN_RUNNER], base,
                         str(tmp_path / (name + ".log")))


class PlainSystem(System):
    """conftest.System with the plain runner in place of agent-sandbox."""

    def __init__(self, tmp_path, orch_env=None, sandbox_env=None, slots=2):
        self.tmp_path = tmp_path
        self.orch = Orchestrator(tmp_path, orch_env)
        self.sandboxes = [PlainRunner(tmp_path, self.orch, slots, sandbox_env)]
        self.orch.wait_for_log(r"event=worker_joined")


class Target:
    """One orchestrator + one worker of the given kind, and task helpers."""

    def __init__(self, kind, tmp_path, slots=2, sandbox_env=None):
        assert kind in KINDS, kind
        self.kind = kind
        self.tmp_path = tmp_path
        self.canary = "CANARY" + uuid.uuid4().hex
        env = {"SANDBOX_CANARY": self.canary}
        env.update(sandbox_env or {})
        cls = System if kind == "agent-sandbox" else PlainSystem
        # Attacks load the machine (bombs, floods): a worker that is merely
        # slow must not be declared dead and come back without its hello.
        self.system = cls(tmp_path, orch_env={"ORCH_WORKER_TIMEOUT": "30s"}, sandbox_env=env,
                          slots=slots)
        self.worker = self.system.sandboxes[0]
        self.orch = self.system.orch
        self.stopped = False
        self.history = []               # records of the tasks run, for reports

    # identities the attacks aim at
    @property
    def worker_pid(self):
        return self.worker.proc.pid

    @property
    def orch_pid(self):
        return self.orch.proc.pid

    @property
    def work_dir(self):
        return self.worker.work_dir

    @property
    def data_dir(self):
        return self.orch.data_dir

    @property
    def token(self):
        return self.orch.token

    def alive(self):
        return self.worker.proc.poll() is None and self.orch.proc.poll() is None

    # tasks
    def submit(self, spec):
        status, _, body = self.orch.http("POST", "/api/tasks", spec)
        assert status in (200, 201, 202), (status, body)
        return body["id"]

    def get(self, task_id):
        status, _, body = self.orch.http("GET", "/api/tasks/" + task_id)
        assert status == 200, (status, body)
        return body

    def wait(self, task_id, timeout=30.0):
        """The task's record once terminal (asserts it got there in time)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            status, _, body = self.orch.http(
                "GET", f"/api/tasks/{task_id}?wait={max(1, min(int(left), 10))}",
                timeout=max(left, 1) + 15)
            if status == 200 and body.get("status") in TERMINAL:
                self.history.append(body)
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} not finished within {timeout}s: "
                                     f"{body.get('status') if isinstance(body, dict) else body}")
            time.sleep(0.05)

    def run(self, spec, timeout=30.0):
        """POST with ?wait; the terminal record."""
        status, _, body = self.orch.http("POST", f"/api/tasks?wait={int(timeout)}", spec,
                                         timeout=timeout + 15)
        assert status in (200, 201, 202), (status, body)
        if body.get("status") in TERMINAL:
            self.history.append(body)
            return body
        return self.wait(body["id"], timeout)

    def health(self):
        """None when the worker and orchestrator are alive and `echo ok` runs;
        else why not."""
        if self.worker.proc.poll() is not None:
            return f"{self.kind} worker exited ({self.worker.proc.returncode})"
        if self.orch.proc.poll() is not None:
            return f"orchestrator exited ({self.orch.proc.returncode})"
        try:
            rec = self.run({"argv": ["echo", "ok"], "limits": {"wall_ms": 10000}}, timeout=20)
        except (AssertionError, OSError) as e:
            return f"echo ok did not run: {e}"
        if rec["status"] != "succeeded" or rec.get("stdout") != "ok\n":
            return f"echo ok: {rec['status']} {rec.get('stdout')!r} {rec.get('error')!r}"
        if self.worker.proc.poll() is not None:
            return f"{self.kind} worker exited ({self.worker.proc.returncode})"
        return None

    def workers(self):
        """The orchestrator's view of its workers (submit socket `workers`),
        with each worker's hello isolation map."""
        ctx = zmq.Context()
        try:
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.connect(self.orch.submit)
            s.send(msgpack.packb({"v": 1, "type": "workers", "req": 1, "token": self.token},
                                 use_bin_type=True))
            if not s.poll(5000):
                raise AssertionError("no reply to `workers`")
            reply = msgpack.unpackb(s.recv(), raw=False)
            s.close(0)
            return reply.get("items", [])
        finally:
            ctx.term()

    def stop(self, check=True):
        """Stop both services; with check, assert exit codes 0 and no
        sanitizer report in their logs."""
        if self.stopped:
            return
        self.stopped = True
        codes = {}
        for svc in self.system.services():
            try:
                codes[svc.name] = svc.stop()
            except AssertionError as e:
                codes[svc.name] = str(e)
        if check:
            for svc in self.system.services():
                reports = sanitizer_reports(svc.read_log())
                assert not reports, f"{svc.name}: sanitizer reports:\n" + "\n".join(reports)
            assert all(c == 0 for c in codes.values()), f"exit codes on SIGTERM: {codes}"


# ---- records ---------------------------------------------------------------

def out(rec, stream="stdout"):
    """A stream of a record as bytes (stdout_b64 when it was not UTF-8)."""
    if rec.get(stream + "_b64"):
        return base64.b64decode(rec[stream + "_b64"])
    return (rec.get(stream) or "").encode("utf-8", "surrogateescape")


def text(rec, stream="stdout"):
    return out(rec, stream).decode("utf-8", "replace")


def collected(rec):
    """{path: bytes} of the collected files."""
    files = {p: (c or "").encode() for p, c in (rec.get("files") or {}).items()}
    for p, c in (rec.get("files_b64") or {}).items():
        files[p] = base64.b64decode(c)
    return files


def everything(rec):
    """Every byte a task could have smuggled out: streams, files, error."""
    parts = [out(rec, "stdout"), out(rec, "stderr"), (rec.get("error") or "").encode()]
    parts += list(collected(rec).values())
    return b"\n".join(parts)


# ---- the probe (test/probe/try-syscall.c) ------------------------------------

_probe_b64 = None
PROBE_SOURCE = os.path.join(os.path.dirname(HERE), "probe", "try-syscall.c")


def ensure_probe():
    """True when the probe binary exists, building it (as the Makefile and
    test_isolation.c do) when it is missing or older than its source."""
    try:
        fresh = os.path.getmtime(PROBE) >= os.path.getmtime(PROBE_SOURCE)
    except OSError:
        fresh = os.path.exists(PROBE)
    if not fresh and os.path.exists(PROBE_SOURCE):
        os.makedirs(os.path.dirname(PROBE), exist_ok=True)
        subprocess.run(["cc", "-O2", "-o", PROBE, PROBE_SOURCE], capture_output=True)
    return os.path.exists(PROBE)


def probe_b64():
    global _probe_b64
    if _probe_b64 is None:
        with open(PROBE, "rb") as f:
            _probe_b64 = base64.b64encode(f.read()).decode()
    return _probe_b64


def probe_task(ops, marker, before="", after="", files=None, **extra):
    """A task that ships the probe into its workspace and runs it:
    sh -c 'chmod; BEFORE; ./try-syscall -d $PWD OPS...; AFTER' MARKER.
    `files` (name -> str) are written next to it."""
    quoted = " ".join(f"'{op}'" for op in ops)
    run = f'./try-syscall -d "$PWD" {quoted}' if ops else ":"
    script = f"chmod 700 ./try-syscall || exit 99\n{before}\n{run}\n{after}\n"
    spec = {"argv": ["sh", "-c", script, marker],
            "files_b64": {"try-syscall": probe_b64()}}
    if files:
        spec["files"] = dict(files)
    spec.update(extra)
    return spec


def parse_probe(data):
    """{op: "ok" | "errno=EPERM" | "killed=SIGSYS" | "skip errno=X" | ...}
    and {key: value} for the information lines (capeff=...)."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    res = {}
    for line in data.splitlines():
        line = line.strip()
        if not line:
            continue
        if " " in line:
            name, rest = line.split(" ", 1)
            if rest == "ok" or rest.startswith(("errno=", "killed=", "skip ", "exit=",
                                                "unknown", "status=")):
                res[name] = rest
        elif "=" in line:
            k, v = line.split("=", 1)
            res[k] = v
    return res


# ---- processes ----------------------------------------------------------------

def _read(path, mode="rb"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def procs_with(marker):
    """Live (non-zombie) processes whose command line contains marker."""
    needle = marker.encode()
    me = os.getpid()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        cmd = _read(f"/proc/{d}/cmdline")
        if cmd and needle in cmd:
            st = _read(f"/proc/{d}/stat")
            if st and st.rsplit(b")", 1)[-1].split()[0] in (b"Z", b"X"):
                continue
            found.append(int(d))
    return found


def kill_marker(marker):
    """SIGKILL every process carrying this test's marker (only ours: the
    marker is random per attack)."""
    for _ in range(20):
        pids = procs_with(marker)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)


def wait_gone(marker, timeout):
    """Poll until no process carries marker; the pids still there at the end."""
    deadline = time.monotonic() + timeout
    while True:
        pids = procs_with(marker)
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def proc_status(pid):
    raw = _read(f"/proc/{pid}/status", "r")
    if raw is None:
        return None
    res = {}
    for line in raw.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            res[k] = v.strip()
    return res


def proc_fds(pid):
    links = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
    except OSError:
        pass
    return links


def alive(pid):
    st = _read(f"/proc/{pid}/stat")
    return bool(st) and st.rsplit(b")", 1)[-1].split()[0] not in (b"Z", b"X")


class Sampler:
    """Watches the host while a task runs: the status and descriptors of
    every process carrying `marker`, and the TracerPid of `watch` pids."""

    def __init__(self, marker, watch=(), period=0.01):
        self.marker = marker
        self.watch = list(watch)
        self.period = period
        self.tasks = {}                 # pid -> last status dict
        self.fds = {}                   # pid -> set of fd link targets
        self.tracers = {}               # watched pid -> set of TracerPid seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def _loop(self):
        while not self._stop.is_set():
            for pid in self.watch:
                st = proc_status(pid)
                if st:
                    self.tracers.setdefault(pid, set()).add(st.get("TracerPid", "0"))
            for pid in procs_with(self.marker):
                st = proc_status(pid)
                if st:
                    self.tasks[pid] = st
                    self.fds.setdefault(pid, set()).update(proc_fds(pid))
            self._stop.wait(self.period)


def start_host_sleeper(marker, seconds=60):
    """A host process (not a task) that attacks must not be able to touch."""
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})",
                             marker], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


# ---- files ----------------------------------------------------------------------

def snap(path):
    """What an attack could change about a path, recursively for a directory
    (lstat: links are not followed)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"missing": True}
    d = {"mode": oct(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "ino": st.st_ino,
         "nlink": st.st_nlink}
    if stat.S_ISREG(st.st_mode):
        d["mtime"] = st.st_mtime_ns
        with open(path, "rb") as f:
            d["sha"] = hashlib.sha256(f.read()).hexdigest()
    elif stat.S_ISLNK(st.st_mode):
        d["link"] = os.readlink(path)
    elif stat.S_ISDIR(st.st_mode):
        d["entries"] = {n: snap(os.path.join(path, n)) for n in sorted(os.listdir(path))}
    return d


def diff_snaps(before, after, where=""):
    """Human-readable differences between two snap() trees."""
    out_ = []
    for k in sorted(set(before) | set(after)):
        if k == "entries":
            b, a = before.get(k, {}), after.get(k, {})
            for n in sorted(set(b) | set(a)):
                if n not in a:
                    out_.append(f"{where}/{n} removed")
                elif n not in b:
                    out_.append(f"{where}/{n} created")
                else:
                    out_ += diff_snaps(b[n], a[n], f"{where}/{n}")
        elif before.get(k) != after.get(k):
            out_.append(f"{where or '.'}: {k} {before.get(k)} -> {after.get(k)}")
    return out_


class Canaries:
    """World-writable host directories and files, outside any workspace,
    that no task may change. DAC would let anybody in (0777 / 0666): a
    refusal is the sandbox's doing, not permissions'."""

    def __init__(self, marker):
        self.marker = marker
        self.paths = []                 # watched roots
        self.extra = []                 # other paths to remove at cleanup
        self.before = {}

    def dir(self, name, files=None):
        path = f"/tmp/{self.marker}-{name}"
        os.mkdir(path)
        os.chmod(path, 0o777)
        for fname, content in (files or {}).items():
            self._write(os.path.join(path, fname), content)
        self.paths.append(path)
        return path

    def file(self, path, content):
        self._write(path, content)
        self.paths.append(path)
        return path

    @staticmethod
    def _write(path, content):
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, 0o666)

    def freeze(self):
        self.before = {p: snap(p) for p in self.paths}

    def changes(self):
        res = []
        for p in self.paths:
            res += diff_snaps(self.before[p], snap(p), p)
        return res

    def cleanup(self):
        for p in self.paths + self.extra:
            _remove(p)


def _remove(path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        for root, dirs, _ in os.walk(path):
            for d in dirs:
                try:
                    os.chmod(os.path.join(root, d), 0o700, follow_symlinks=False)
                except OSError:
                    pass
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def leftovers(work_dir, task_id):
    """Entries of the worker's work directory that belong to a finished task."""
    try:
        return sorted(n for n in os.listdir(work_dir) if n.startswith(task_id))
    except FileNotFoundError:
        return []


def remove_leftovers(work_dir, task_id):
    for n in leftovers(work_dir, task_id):
        path = os.path.join(work_dir, n)
        try:
            os.chmod(path, 0o700, follow_symlinks=False)
        except OSError:
            pass
        _remove(path)


# ---- listeners -------------------------------------------------------------------

class Listener:
    """A stream listener (TCP on 127.0.0.1, abstract or path UNIX socket)
    that accepts in a thread and records every connection and its first bytes."""

    def __init__(self, family, address=None):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET:
            self.sock.bind(("127.0.0.1", 0))
        else:
            self.sock.bind(address)
            if isinstance(address, str) and not address.startswith("\0"):
                os.chmod(address, 0o777)
        self.address = self.sock.getsockname()
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.hits = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @property
    def port(self):
        return self.address[1]

    def _loop(self):
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(0.3)
            try:
                data = conn.recv(256)
            except OSError:
                data = b""
            self.hits.append((peer, data))
            conn.close()

    def settle(self, seconds=0.3):
        """Give late connections a moment, then stop accepting."""
        time.sleep(seconds)
        self.close()
        return self.hits

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class UdpListener:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.05)
        self.hits = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            try:
                self.hits.append(self.sock.recvfrom(512))
            except (socket.timeout, OSError):
                continue

    def settle(self, seconds=0.3):
        time.sleep(seconds)
        self.close()
        return self.hits

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


# ---- terminal, key ring, mounts, kernel names ---------------------------------------

class HostPty:
    """A pseudo-terminal of the test: whatever is injected into its input
    queue (TIOCSTI) can be read back from the slave side."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        os.chmod(self.path, 0o666)
        os.set_blocking(self.slave, False)

    def injected(self):
        data = b""
        while True:
            try:
                chunk = os.read(self.slave, 4096)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            data += chunk
        return data

    def close(self):
        os.close(self.slave)
        os.close(self.master)


_libc = ctypes.CDLL(None, use_errno=True)
SYS_KEYCTL = 250
KEYCTL_INVALIDATE = 21


def keys_with(description):
    """Ids of keys in /proc/keys whose description contains `description`."""
    ids = []
    raw = _read("/proc/keys", "r") or ""
    for line in raw.splitlines():
        if description in line:
            ids.append(int(line.split()[0], 16))
    return ids


def invalidate_keys(description):
    for key in keys_with(description):
        _libc.syscall(SYS_KEYCTL, KEYCTL_INVALIDATE, key)


def mounts_with(needle):
    """Host mount points whose mountinfo line mentions needle."""
    res = []
    raw = _read("/proc/self/mountinfo", "r") or ""
    for line in raw.splitlines():
        if needle in line:
            res.append(line.split()[4])
    return res


def unmount_all(needle):
    for _ in range(10):
        mps = mounts_with(needle)
        if not mps:
            return
        for mp in mps:
            subprocess.run(["umount", "-l", mp], capture_output=True)


def errname(n):
    return errno.errorcode.get(n, str(n))


def summary(rec):
    """One record in a few lines, for reports."""
    argv = (rec.get("task") or {}).get("argv") or ["<code>"]
    head = " ".join(a if len(a) < 40 else a[:37] + "..." for a in argv[:4])
    return (f"[{head}] status={rec.get('status')} exit={rec.get('exit_code')} "
            f"signal={rec.get('signal')} wall_ms={rec.get('wall_ms')} "
            f"error={rec.get('error')!r}\n    stdout={text(rec)[:300]!r}"
            f"\n    stderr={text(rec, 'stderr')[:200]!r}")


_baseline = None


def host_baseline():
    """What the kernel allows an unconfined root process here (the probe run
    by the test itself, harmless by design): an escape the host cannot show
    even unconfined is skipped against the plain runner, with the reason."""
    global _baseline
    if _baseline is None:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            res = {}
            for ops in (["socket-vsock", "io_uring_setup", "add_key", "TIOCSTI", "mount"],
                        ["x32"], ["i386"]):
                p = subprocess.run([PROBE, "-d", d, *ops], capture_output=True, timeout=20)
                res.update(parse_probe(p.stdout))
        _baseline = res
    return _baseline
