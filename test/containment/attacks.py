"""The escape attacks of the containment suite.

Each attack is (task spec, host-side check): `run(target, ctx)` prepares
what the host side needs (canary files, listeners, a terminal...), runs the
task(s) through the real orchestrator and the target's worker, and returns a
Verdict built ONLY from what the host can observe after (or while) the task
ran: canary files and their stat data, /proc of the host, connections seen
by the test's listeners, the key ring, mountinfo, the kernel's answers the
probe reported, and secrets that must never appear in what the task
returned. `contained(target, verdict)` then asserts the task's status and
output as the real worker must produce them.

The same check decides against both runners: the suite asserts "contained"
against agent-sandbox and "escaped" against the plain fork/exec runner
(plain_runner.py), which proves that every check can see the escape it
is looking for.

Safety: every attack must be harmless when it is NOT contained (the plain
runner and an unfinished worker run it as root on this machine): it only
touches canaries the test made, reverts what it changed (hostname, mounts,
keys), and never signals anything it did not start, except the worker and
orchestrator of its own Target (fresh ones, for kill_worker) and `kill -1`
only after proving, from inside, that it is PID 1 of its own namespace and
cannot reach any host process.
"""
import os
import socket
import time

from . import harness as H


class Verdict:
    """The host-side outcome: escaped if any evidence was found."""

    def __init__(self):
        self.evidence = []              # what escaped, one line each
        self.rec = None                 # the attack task's record
        self.recs = {}                  # other records, by role
        self.probe = {}                 # parsed probe lines
        self.notes = []                 # context for the report

    def escaped_if(self, cond, what):
        if cond:
            self.evidence.append(what)

    @property
    def escaped(self):
        return bool(self.evidence)

    def describe(self):
        lines = [f"verdict: {'ESCAPED' if self.escaped else 'contained'}"]
        lines += [f"  evidence: {e}" for e in self.evidence]
        lines += [f"  note: {n}" for n in self.notes]
        for role, rec in [("task", self.rec), *self.recs.items()]:
            if rec:
                lines.append(f"  {role}: status={rec.get('status')} exit={rec.get('exit_code')} "
                             f"signal={rec.get('signal')} error={rec.get('error')!r}")
                lines.append(f"    stdout: {H.text(rec)[:1500]!r}")
                lines.append(f"    stderr: {H.text(rec, 'stderr')[:600]!r}")
        return "\n".join(lines)


class Ctx:
    """Per-test context: the marker and the test's temporary directory."""

    def __init__(self, marker, tmp_path):
        self.marker = marker
        self.tmp_path = tmp_path


class Attack:
    name = ""
    what = ""                           # one line: what it tries, what is asserted
    timeout = 30.0

    def run(self, t, ctx):
        v = Verdict()
        st = {}
        try:
            self.prepare(t, ctx, st)
            v.rec = t.run(self.spec(t, ctx, st), timeout=self.timeout)
            self.judge(t, ctx, st, v)
        finally:
            self.cleanup(t, ctx, st)
        return v

    def prepare(self, t, ctx, st):
        pass

    def spec(self, t, ctx, st):
        raise NotImplementedError

    def judge(self, t, ctx, st, v):
        raise NotImplementedError

    def cleanup(self, t, ctx, st):
        if "canaries" in st:
            st["canaries"].cleanup()

    def contained(self, t, v):
        """Status/output assertions for the real worker (verdict contained)."""
        assert v.rec["status"] == "succeeded", v.describe()

    def plain_unavailable(self):
        """Why this host cannot show the escape even unconfined (None: it can)."""
        return None


def py_task(code, marker, env=None, files=None, **extra):
    """python3 attack.py MARKER, the script shipped as a workspace file."""
    spec = {"argv": ["python3", "attack.py", marker], "files": {"attack.py": code}}
    if files:
        spec["files"].update(files)
    if env:
        spec["env"] = {k: str(v) for k, v in env.items()}
    spec.update(extra)
    return spec


def allowed(result, passed=()):
    """A probe line means the operation went through (or got past the
    permission check: `passed` lists the errnos that prove it)."""
    if result is None:
        return False
    return result == "ok" or any(result == f"errno={e}" for e in passed)


def judge_probe(v, ops):
    """ops: {op: errnos meaning 'past the permission check'}."""
    for op, passed in ops.items():
        v.escaped_if(allowed(v.probe.get(op), passed),
                     f"probe: {op} {v.probe.get(op)} (the kernel let it through)")


def assert_probe_denied(v, ops):
    """Every op ran and was refused (any errno but the 'passed' ones; skip
    when the sandbox offers nothing to try it on)."""
    for op in ops:
        res = v.probe.get(op)
        assert res is not None, f"probe printed no line for {op}\n{v.describe()}"
        assert res != "ok", f"{op}: {res}\n{v.describe()}"


# ---------------------------------------------------------------------------
# Files and secrets of the host
# ---------------------------------------------------------------------------

class ReadShadow(Attack):
    name = "read_shadow"
    what = "cat /etc/shadow: status failed, no line of the host's shadow in the output"

    def spec(self, t, ctx, st):
        return {"argv": ["cat", "/etc/shadow"]}

    def judge(self, t, ctx, st, v):
        with open("/etc/shadow") as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
        got = H.everything(v.rec)
        v.escaped_if(any(ln.encode() in got for ln in lines),
                     "host /etc/shadow content returned")

    def contained(self, t, v):
        assert v.rec["status"] == "failed", v.describe()
        assert H.out(v.rec) == b"", v.describe()


WORKER_ENVIRON = r'''
import os, sys
targets = [os.getppid(), int(os.environ["WORKER_PID"]), int(os.environ["ORCH_PID"])]
for pid in targets:
    for what in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{what}", "rb") as f:
                data = f.read(65536)
            print(pid, what, data.replace(b"\0", b" ").decode("latin-1"))
        except OSError as e:
            print(pid, what, "denied", e.errno)
hits = 0
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                for var in f.read().split(b"\0"):
                    if var.startswith((b"SANDBOX_", b"ORCH_")):
                        print(d, "env", var.decode("latin-1"))
                        hits += 1
        except OSError:
            pass
print("own environment:", sorted(os.environ.items()))
print("foreign SANDBOX_/ORCH_ variables seen:", hits)
'''


class WorkerEnviron(Attack):
    name = "worker_environ"
    what = ("read /proc/<ppid>/environ, /proc/<worker pid>/environ, every /proc/*/environ "
            "and its own env: the worker's SANDBOX_CANARY never appears in what comes back")

    def spec(self, t, ctx, st):
        return py_task(WORKER_ENVIRON, ctx.marker,
                       env={"WORKER_PID": t.worker_pid, "ORCH_PID": t.orch_pid})

    def judge(self, t, ctx, st, v):
        v.escaped_if(t.canary.encode() in H.everything(v.rec),
                     "the worker's SANDBOX_CANARY was returned")


ORCH_SECRETS = r'''
import os, sys
data_dir, orch = os.environ["DATA_DIR"], os.environ["ORCH_PID"]
def grab(path):
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 24)
    except OSError as e:
        print(path, "denied", e.errno)
        return
    at = 0
    while True:
        at = data.find(b"VICTIM-", at)
        if at < 0:
            break
        print(path, data[at:at + 80].decode("latin-1"))
        at += 1
    for var in data.split(b"\0"):
        if var.startswith(b"ORCH_API_TOKEN"):
            print(path, var.decode("latin-1"))
paths = [f"/proc/{orch}/environ", f"/proc/{orch}/cmdline"]
for base in (data_dir, f"/proc/{orch}/root" + data_dir, f"/proc/{orch}/cwd/" + data_dir):
    try:
        paths += [os.path.join(base, n) for n in os.listdir(base)]
    except OSError as e:
        print(base, "cannot list", e.errno)
for p in paths:
    grab(p)
'''


class OrchestratorSecrets(Attack):
    name = "orchestrator_secrets"
    what = ("read the orchestrator's environ (API token) and its SQLite files (another "
            "task's stdout): neither the token nor the victim's secret comes back")

    def prepare(self, t, ctx, st):
        st["secret"] = f"VICTIM-{ctx.marker}-{os.urandom(8).hex()}"
        victim = t.run({"argv": ["echo", st["secret"]]})
        assert victim["status"] == "succeeded", victim

    def spec(self, t, ctx, st):
        return py_task(ORCH_SECRETS, ctx.marker,
                       env={"DATA_DIR": t.data_dir, "ORCH_PID": t.orch_pid})

    def judge(self, t, ctx, st, v):
        got = H.everything(v.rec)
        v.escaped_if(st["secret"].encode() in got, "another task's output read from the store")
        v.escaped_if(t.token.encode() in got, "the orchestrator's API token read")


HOST_FILE_READ = r'''
import os
path, worker, orch = os.environ["SECRET_PATH"], os.environ["WORKER_PID"], os.environ["ORCH_PID"]
tries = [path, f"/proc/{worker}/root{path}", f"/proc/{orch}/root{path}", f"/proc/1/root{path}",
         f"/proc/self/root{path}", f"/proc/{os.getppid()}/root{path}",
         f"/proc/{worker}/cwd/../../../../../../..{path}"]
for d in os.listdir("/proc"):
    if d.isdigit():
        tries.append(f"/proc/{d}/root{path}")
for p in tries:
    try:
        with open(p, "rb") as f:
            print(p, f.read(200).decode("latin-1"))
    except OSError as e:
        pass
print("tried", len(tries))
'''


class HostFileRead(Attack):
    name = "host_file_read"
    what = ("read a world-readable host file outside the workspace, directly and through "
            "/proc/<pid>/root and /proc/<worker>/cwd: its secret never comes back")

    def prepare(self, t, ctx, st):
        c = st["canaries"] = H.Canaries(ctx.marker)
        st["secret"] = f"HOSTSECRET-{os.urandom(8).hex()}"
        d = c.dir("read", {"secret.txt": st["secret"]})
        st["path"] = os.path.join(d, "secret.txt")

    def spec(self, t, ctx, st):
        return py_task(HOST_FILE_READ, ctx.marker, env={
            "SECRET_PATH": st["path"], "WORKER_PID": t.worker_pid, "ORCH_PID": t.orch_pid})

    def judge(self, t, ctx, st, v):
        v.escaped_if(st["secret"].encode() in H.everything(v.rec), "host file read")


WRITE_OUTSIDE = r'''
import os, sys
m = sys.argv[1]
def attempt(what, fn, *args):
    try:
        fn(*args)
        print(what, "ok")
    except OSError as e:
        print(what, "errno", e.errno)
def write(p, mode):
    with open(p, mode) as f:
        f.write("PWNED by " + m + "\n")
for p in os.environ["FILES"].split(":"):
    attempt("write " + p, write, p, "w")
    attempt("append " + p, write, p, "a")
    attempt("chmod " + p, os.chmod, p, 0o4777)
    attempt("utime " + p, os.utime, p, (0, 0))
    attempt("create " + p, write, p + "." + m + ".new", "w")
    attempt("symlink " + p, os.symlink, "/", p + "." + m + ".lnk")
    attempt("rename " + p, os.rename, p, p + "." + m + ".moved")
    attempt("unlink " + p, os.unlink, p)
for d in os.environ["DIRS"].split(":"):
    attempt("create in " + d, write, os.path.join(d, m + ".new"), "w")
    attempt("mkdir in " + d, os.mkdir, os.path.join(d, m + ".dir"))
    attempt("chmod " + d, os.chmod, d, 0o700)
    for n in os.listdir(d) if os.path.isdir(d) else []:
        attempt("unlink " + n, os.unlink, os.path.join(d, n))
'''


class WriteOutside(Attack):
    name = "write_outside"
    what = ("write, append, chmod, utime, rename, unlink and create next to canary files "
            "in /tmp, /etc (visible read-only inside) and the test's own directory: "
            "every canary byte, mode, time and listing unchanged")

    def prepare(self, t, ctx, st):
        c = st["canaries"] = H.Canaries(ctx.marker)
        d = c.dir("write", {"a.txt": "canary a\n", "b.txt": "canary b\n"})
        etc = c.file(f"/etc/{ctx.marker}-canary", "canary in etc\n")
        own = c.file(str(ctx.tmp_path / f"{ctx.marker}-canary"), "canary in tmp_path\n")
        # whatever the attack may have created next to them
        for base in (d + "/a.txt", d + "/b.txt", etc, own):
            c.extra += [f"{base}.{ctx.marker}.{s}" for s in ("new", "lnk", "moved")]
        st["files"] = [os.path.join(d, "a.txt"), etc, own]
        st["dirs"] = [d]
        c.freeze()

    def spec(self, t, ctx, st):
        return py_task(WRITE_OUTSIDE, ctx.marker,
                       env={"FILES": ":".join(st["files"]), "DIRS": ":".join(st["dirs"])})

    def judge(self, t, ctx, st, v):
        for change in st["canaries"].changes():
            v.escaped_if(True, "host canary changed: " + change)
        for extra in st["canaries"].extra:
            v.escaped_if(os.path.lexists(extra), "created on the host: " + extra)


WORKDIR_CHMOD = r'''
import os
for p in ("..", "../.."):
    for what, fn, args in (("chmod", os.chmod, (p, 0o777)), ("chown", os.chown, (p, 1000, 1000))):
        try:
            fn(*args)
            print(what, p, "ok")
        except OSError as e:
            print(what, p, "errno", e.errno)
'''


class WorkdirChmod(Attack):
    name = "workdir_chmod"
    what = ("chmod 0777 / chown the parent of the workspace and its parent: the host work "
            "directory keeps its mode and owner")

    def prepare(self, t, ctx, st):
        st["paths"] = [t.work_dir, os.path.dirname(t.work_dir)]
        st["before"] = {p: os.lstat(p) for p in st["paths"]}

    def spec(self, t, ctx, st):
        return py_task(WORKDIR_CHMOD, ctx.marker)

    def judge(self, t, ctx, st, v):
        for p, b in st["before"].items():
            a = os.lstat(p)
            v.escaped_if((a.st_mode, a.st_uid, a.st_gid) != (b.st_mode, b.st_uid, b.st_gid),
                         f"{p}: mode/owner {oct(b.st_mode)} {b.st_uid}:{b.st_gid} -> "
                         f"{oct(a.st_mode)} {a.st_uid}:{a.st_gid}")

    def cleanup(self, t, ctx, st):
        for p, b in st.get("before", {}).items():
            os.chown(p, b.st_uid, b.st_gid)
            os.chmod(p, stat_mode(b))


def stat_mode(st):
    return st.st_mode & 0o7777


# ---------------------------------------------------------------------------
# The workspace as a weapon: links in collect, cleanup, planted entries
# ---------------------------------------------------------------------------

class CollectLinks(Attack):
    name = "collect_links"
    what = ("collect a symlink to a host secret, a hard link to it, a path through a "
            "symlinked directory and a nested symlink: each refused with a reason in "
            "`error`, the secret never in `files`")
    COLLECT = ["link", "hard", "dlink/secret.txt", "d/nested", "inside2"]

    def prepare(self, t, ctx, st):
        c = st["canaries"] = H.Canaries(ctx.marker)
        st["secret"] = f"COLLECTSECRET-{os.urandom(8).hex()}"
        st["dir"] = c.dir("collect", {"secret.txt": st["secret"]})
        c.freeze()

    def spec(self, t, ctx, st):
        script = ('ln -s "$S" link; ln "$S" hard; ln -s "$C" dlink; mkdir -p d; '
                  'ln -s "$S" d/nested; echo own > inside; ln inside inside2; ls -l; exit 0')
        return {"argv": ["sh", "-c", script, ctx.marker],
                "env": {"S": os.path.join(st["dir"], "secret.txt"), "C": st["dir"]},
                "collect": self.COLLECT}

    def judge(self, t, ctx, st, v):
        v.escaped_if(st["secret"].encode() in H.everything(v.rec),
                     "collect returned the content of a host file")
        for change in st["canaries"].changes():
            v.escaped_if(True, "host canary changed: " + change)

    def contained(self, t, v):
        super().contained(t, v)
        err = v.rec.get("error") or ""
        assert not H.collected(v.rec), v.describe()
        for name in self.COLLECT:
            assert f"collect {name}: " in err, f"no reason given for {name}\n{v.describe()}"
        for name in ("link", "dlink/secret.txt", "d/nested"):
            assert f"collect {name}: refused" in err, v.describe()
        assert "collect inside2: refused: 2 hard links" in err, v.describe()


CLEANUP_LINKS = r'''
ln -s "$C" d; ln -s "$F" f
mkdir -p sub/deeper
ln -s "$C" sub/d; ln -s "$F" sub/deeper/f; ln -s "$C" sub/deeper/d
: > sub/deeper/file
chmod 000 sub/deeper; chmod 000 sub
rm -rf "$C"/* 2>/dev/null
me="$PWD"; cd /
mv "$me" "$me.moved" 2>/dev/null && ln -s "$C" "$me" 2>/dev/null
echo planted
exit 0
'''


class CleanupLinks(Attack):
    name = "cleanup_links"
    what = ("leave symlinks to a host directory and file (also under chmod-000 dirs), try "
            "to rm its files directly and to swap the workspace for a symlink: after the "
            "cleanup the canary dir and file are intact and nothing of the task is left in "
            "the work directory")

    def prepare(self, t, ctx, st):
        c = st["canaries"] = H.Canaries(ctx.marker)
        st["dir"] = c.dir("cleanup", {"x": "canary x\n", "y": "canary y\n"})
        os.mkdir(os.path.join(st["dir"], "sub"))
        st["file"] = c.file(f"/tmp/{ctx.marker}-cleanup-file", "canary file\n")
        c.freeze()

    def spec(self, t, ctx, st):
        return {"argv": ["sh", "-c", CLEANUP_LINKS, ctx.marker],
                "env": {"C": st["dir"], "F": st["file"]}}

    def judge(self, t, ctx, st, v):
        for change in st["canaries"].changes():
            v.escaped_if(True, "host canary changed: " + change)
        left = H.leftovers(t.work_dir, v.rec["id"])
        v.escaped_if(bool(left), f"left in the host work directory: {left}")

    def cleanup(self, t, ctx, st):
        super().cleanup(t, ctx, st)
        # the record id is not known here when the run failed early; sweep by age
        for n in os.listdir(t.work_dir):
            p = os.path.join(t.work_dir, n)
            if n.endswith(".moved") or os.path.islink(p):
                H._remove(p)


PLANT = r'''
ln -s "$C" "../planted-$M" 2>/dev/null && echo "planted ../planted-$M"
mkdir "../dir-$M" 2>/dev/null && echo "planted ../dir-$M"
ln -s "$C" "../../planted-$M" 2>/dev/null && echo "planted ../../planted-$M"
ln -s "$C" "/tmp/planted-$M" 2>/dev/null && echo "planted /tmp/planted-$M"
ln -s "$C/victim.txt" "/tmp/planted-file-$M" 2>/dev/null
exit 0
'''


class PlantedLinks(Attack):
    name = "planted_links"
    what = ("a task plants symlinks to a host canary dir in ../ (the work directory), "
            "../../ and /tmp, for the next task's inputs to follow; then a task with input "
            "files runs: nothing planted exists on the host, the canary is untouched, the "
            "second task reads its own input")

    def prepare(self, t, ctx, st):
        c = st["canaries"] = H.Canaries(ctx.marker)
        st["dir"] = c.dir("plant", {"keep.txt": "canary\n"})
        m = ctx.marker
        c.extra += [os.path.join(t.work_dir, f"planted-{m}"), os.path.join(t.work_dir, f"dir-{m}"),
                    os.path.join(os.path.dirname(t.work_dir), f"planted-{m}"),
                    f"/tmp/planted-{m}", f"/tmp/planted-file-{m}"]
        c.freeze()

    def spec(self, t, ctx, st):
        return {"argv": ["sh", "-c", PLANT, ctx.marker], "env": {"C": st["dir"], "M": ctx.marker}}

    def judge(self, t, ctx, st, v):
        for p in st["canaries"].extra:
            v.escaped_if(os.path.lexists(p), "planted on the host: " + p)
        # the next task writes inputs, one of them named like the planted file
        v.recs["next"] = t.run({
            "argv": ["sh", "-c", "cat in/data.txt victim.txt; ls /tmp"],
            "files": {"in/data.txt": f"DATA-{ctx.marker}\n", "victim.txt": "VICTIM\n"}})
        for change in st["canaries"].changes():
            v.escaped_if(True, "host canary changed: " + change)

    def contained(self, t, v):
        super().contained(t, v)
        nxt = v.recs["next"]
        assert nxt["status"] == "succeeded", v.describe()
        assert H.text(nxt).startswith("DATA-"), v.describe()


# ---------------------------------------------------------------------------
# Other processes: the worker, the orchestrator, other tasks
# ---------------------------------------------------------------------------

PTRACE = r'''
import ctypes, errno, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
PTRACE_SEIZE = 0x4206
for name, pid in (("worker", int(os.environ["WORKER_PID"])), ("orchestrator", int(os.environ["ORCH_PID"])),
                  ("ppid", os.getppid())):
    if pid <= 1:
        print("seize", name, "skipped: pid", pid)
        continue
    r = libc.ptrace(PTRACE_SEIZE, pid, None, None)
    e = ctypes.get_errno()
    print("seize", name, "ok" if r == 0 else "errno=" + errno.errorcode.get(e, str(e)), flush=True)
time.sleep(1.0)
'''


class PtraceWorker(Attack):
    name = "ptrace_worker"
    what = ("PTRACE_SEIZE the worker, the orchestrator and its parent; probe ptrace, "
            "process_vm_readv, pidfd_getfd: all refused, and the host never sees a "
            "TracerPid on the worker or orchestrator")
    OPS = {"ptrace": (), "process_vm_readv": (), "pidfd_getfd": ()}

    def run(self, t, ctx):
        v = Verdict()
        spec = H.probe_task(list(self.OPS), ctx.marker,
                            after='exec python3 attack.py "$0"',
                            files={"attack.py": PTRACE},
                            env={"WORKER_PID": str(t.worker_pid), "ORCH_PID": str(t.orch_pid)})
        with H.Sampler(ctx.marker, watch=[t.worker_pid, t.orch_pid]) as s:
            v.rec = t.run(spec)
        v.probe = H.parse_probe(H.out(v.rec))
        judge_probe(v, self.OPS)
        for line in H.text(v.rec).splitlines():
            v.escaped_if(line.startswith("seize") and line.endswith(" ok"), line)
        for pid, tracers in s.tracers.items():
            v.escaped_if(tracers - {"0"}, f"host: pid {pid} had TracerPid {sorted(tracers)}")
        return v

    def contained(self, t, v):
        super().contained(t, v)
        assert_probe_denied(v, self.OPS)


KILL = r'''
import errno, os, signal, sys, time
targets = {"worker": int(os.environ["WORKER_PID"]), "orchestrator": int(os.environ["ORCH_PID"]),
           "host-canary": int(os.environ["CANARY_PID"]), "ppid": os.getppid()}
reached = []
for name, pid in targets.items():
    if pid <= 1:                        # never the host's init
        print("kill", name, "skipped: pid", pid)
        continue
    try:
        os.kill(pid, signal.SIGKILL)
        print("kill", name, "sent")
        reached.append(name)
    except OSError as e:
        print("kill", name, "errno=" + errno.errorcode.get(e.errno, str(e.errno)))
# kill -1 kills everything the caller may signal. Only where that is provably
# nothing of the host: we are PID 1 of our own PID namespace and reached nobody.
if os.getpid() == 1 and not reached:
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    try:
        os.kill(-1, signal.SIGKILL)
        print("kill -1 sent")
    except OSError as e:
        print("kill -1 errno=" + errno.errorcode.get(e.errno, str(e.errno)))
else:
    print("kill -1 not attempted: pid", os.getpid(), "reached", reached)
sys.stdout.flush()
'''


class KillWorker(Attack):
    name = "kill_worker"
    what = ("kill -9 the worker, the orchestrator, a host process of the test and the "
            "parent; kill -1 where provably confined: all survive, the task succeeds "
            "(runs on a fresh Target of its own)")
    fresh = True                        # the test gives it a Target of its own

    def run(self, t, ctx):
        v = Verdict()
        sleeper = H.start_host_sleeper(ctx.marker + "host")
        try:
            tid = t.submit(py_task(KILL, ctx.marker, env={
                "WORKER_PID": t.worker_pid, "ORCH_PID": t.orch_pid, "CANARY_PID": sleeper.pid}))
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and t.alive() and sleeper.poll() is None:
                rec = t.get(tid)
                if rec["status"] in H.TERMINAL:
                    v.rec = rec
                    break
                time.sleep(0.05)
            time.sleep(0.3)                 # a kill in flight lands
            v.escaped_if(t.worker.proc.poll() is not None,
                         f"worker killed (exit {t.worker.proc.returncode})")
            v.escaped_if(t.orch.proc.poll() is not None,
                         f"orchestrator killed (exit {t.orch.proc.returncode})")
            v.escaped_if(sleeper.poll() is not None, "a host process of the test was killed")
            if v.rec is None and not v.escaped:
                raise AssertionError("kill_worker: the task never finished")
        finally:
            if sleeper.poll() is None:
                sleeper.kill()
            sleeper.wait()
        return v

    def contained(self, t, v):
        super().contained(t, v)
        for line in H.text(v.rec).splitlines():
            assert not (line.endswith(" sent") and line != "kill -1 sent"), v.describe()


class SignalOtherTask(Attack):
    name = "signal_other_task"
    what = ("while task A sleeps, task B kill -9s A's host pid, its process group and "
            "every process carrying A's marker: A survives and succeeds")

    def run(self, t, ctx):
        v = Verdict()
        victim_marker = ctx.marker + "victim"
        a = t.submit({"argv": ["python3", "-c",
                               "import time; time.sleep(4); print('alive')", victim_marker],
                      "limits": {"wall_ms": 15000}})
        deadline = time.monotonic() + 10
        pids = []
        while not pids and time.monotonic() < deadline:
            pids = H.procs_with(victim_marker)
            time.sleep(0.02)
        assert pids, "victim task never started"
        attack = r'''
import os, signal, sys
target, marker = int(os.environ["TARGET_PID"]), os.environ["VICTIM"].encode()
for how, fn in (("pid", lambda: os.kill(target, signal.SIGKILL)),
                ("group", lambda: os.killpg(target, signal.SIGKILL))):
    try:
        fn(); print("kill", how, "sent")
    except OSError as e:
        print("kill", how, "errno", e.errno)
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            if marker in open(f"/proc/{d}/cmdline", "rb").read():
                os.kill(int(d), signal.SIGKILL); print("kill by marker", d, "sent")
        except OSError:
            pass
'''
        v.rec = t.run(py_task(attack, ctx.marker,
                              env={"TARGET_PID": pids[0], "VICTIM": victim_marker}))
        v.recs["victim"] = victim = t.wait(a, 20)
        v.escaped_if(victim["status"] != "succeeded" or H.text(victim) != "alive\n",
                     f"victim task ended {victim['status']} signal={victim.get('signal')}")
        return v

    def contained(self, t, v):
        super().contained(t, v)
        assert "sent" not in H.text(v.rec), v.describe()


CONCURRENT_READER = r'''
import glob, os, sys
m, work = os.environ["M"], os.environ["WORK_DIR"]
pats = ["../*/secret-*", "../../*/*/secret-*", f"{work}/*/secret-*", "/proc/*/cwd/secret-*",
        f"/proc/*/root{work}/*/secret-*", "/tmp/*/secret-*", f"/proc/*/cwd/../*/secret-*"]
for pat in pats:
    for p in glob.glob(pat):
        try:
            print(p, open(p).read())
        except OSError as e:
            print(p, "errno", e.errno)
for d in ("..", work):
    try:
        print("ls", d, os.listdir(d))
    except OSError as e:
        print("ls", d, "errno", e.errno)
'''


class ConcurrentWorkspace(Attack):
    name = "concurrent_workspace"
    what = ("task A writes a secret file into its workspace and sleeps; task B looks for it "
            "through ../, the host work dir path, /proc/*/cwd and /proc/*/root: B never "
            "gets the secret")

    def run(self, t, ctx):
        v = Verdict()
        secret = f"WSSECRET-{os.urandom(8).hex()}"
        fname = f"secret-{ctx.marker}.txt"
        a = t.submit({"argv": ["sh", "-c", f'echo {secret} > {fname}; chmod 644 {fname}; '
                               f'chmod 755 .; sleep 4; cat {fname}', ctx.marker + "a"],
                      "limits": {"wall_ms": 15000}})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = [n for n in os.listdir(t.work_dir)
                     if os.path.exists(os.path.join(t.work_dir, n, fname))]
            if found:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("task A never wrote its secret")
        v.rec = t.run(py_task(CONCURRENT_READER, ctx.marker,
                              env={"M": ctx.marker, "WORK_DIR": t.work_dir}))
        v.escaped_if(secret.encode() in H.everything(v.rec), "read another task's workspace")
        v.recs["A"] = t.wait(a, 20)
        return v

    def contained(self, t, v):
        super().contained(t, v)
        assert v.recs["A"]["status"] == "succeeded", v.describe()


# ---------------------------------------------------------------------------
# System calls and kernel interfaces
# ---------------------------------------------------------------------------

TIOCSTI = r'''
import fcntl, os, sys, termios
m = sys.argv[1]
try:
    fd = os.open(os.environ["PTS"], os.O_RDWR | os.O_NOCTTY)
except OSError as e:
    print("open host pty errno", e.errno)
else:
    try:
        for ch in (m + "\n").encode():
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
        print("TIOCSTI into the host pty: injected")
    except OSError as e:
        print("TIOCSTI into the host pty errno", e.errno)
# The filter judges the command, not the descriptor: on stdin (a pipe) a
# filtered TIOCSTI fails with EPERM, an unfiltered one with ENOTTY (25).
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
c = ctypes.c_char(b"x")
for name, cmd in (("TIOCSTI", 0x5412), ("TIOCSTI-hi", (1 << 32) | 0x5412), ("TIOCLINUX", 0x541C)):
    r = libc.syscall(16, 0, ctypes.c_ulong(cmd), ctypes.byref(c))
    print(f"{name} on a pipe: errno={ctypes.get_errno() if r < 0 else 0}")
'''


class Tiocsti(Attack):
    name = "tiocsti"
    what = ("TIOCSTI into a pseudo-terminal of the test (and the probe's TIOCSTI, TIOCSTI "
            "with bits above 32, TIOCLINUX): nothing arrives in the host terminal's input, "
            "the probe reports no success")
    OPS = {"TIOCSTI": (), "TIOCSTI-hi": (), "TIOCLINUX": ()}

    def prepare(self, t, ctx, st):
        st["pty"] = H.HostPty()

    def spec(self, t, ctx, st):
        return H.probe_task(list(self.OPS), ctx.marker, after='python3 attack.py "$0"',
                            files={"attack.py": TIOCSTI}, env={"PTS": st["pty"].path})

    def judge(self, t, ctx, st, v):
        v.probe = H.parse_probe(H.out(v.rec))
        judge_probe(v, self.OPS)
        got = st["pty"].injected()
        v.escaped_if(ctx.marker.encode() in got, f"host terminal received {got[:60]!r}")

    def cleanup(self, t, ctx, st):
        if "pty" in st:
            st["pty"].close()

    def contained(self, t, v):
        super().contained(t, v)
        assert_probe_denied(v, self.OPS)
        out = H.text(v.rec)
        for name in self.OPS:           # refused by the filter itself
            assert f"{name} on a pipe: errno=1\n" in out, v.describe()

    def plain_unavailable(self):
        if H.host_baseline().get("TIOCSTI") != "ok":
            return "TIOCSTI is refused on this host even unconfined"


KEYCTL = r'''
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
m = sys.argv[1].encode()
for ring, name in ((-4, "user"), (-3, "session"), (-5, "user-session")):
    r = libc.syscall(248, b"user", m, b"x", 1, ring)        # add_key
    e = ctypes.get_errno()
    print("add_key", name, "ok" if r >= 0 else "errno=" + errno.errorcode.get(e, str(e)))
r = libc.syscall(250, 0, -4, 0)                                # KEYCTL_GET_KEYRING_ID @u
print("keyctl get @u", "ok" if r >= 0 else "errno=" + errno.errorcode.get(ctypes.get_errno(), "?"))
'''


class Keyctl(Attack):
    name = "keyctl"
    what = ("add_key into the user and session key rings, keyctl, request_key (probe too): "
            "all refused, and no key with the marker appears in the host's /proc/keys")
    OPS = {"keyctl": (), "add_key": (), "request_key": ("ENOKEY",)}

    def spec(self, t, ctx, st):
        return H.probe_task(list(self.OPS), ctx.marker, after='python3 attack.py "$0"',
                            files={"attack.py": KEYCTL})

    def judge(self, t, ctx, st, v):
        v.probe = H.parse_probe(H.out(v.rec))
        judge_probe(v, self.OPS)
        v.escaped_if(H.keys_with(ctx.marker), "a key of the task is in the host key ring")
        for line in H.text(v.rec).splitlines():
            v.escaped_if(line.startswith(("add_key", "keyctl")) and line.endswith(" ok"), line)

    def cleanup(self, t, ctx, st):
        H.invalidate_keys(ctx.marker)

    def contained(self, t, v):
        super().contained(t, v)
        assert_probe_denied(v, self.OPS)

    def plain_unavailable(self):
        if H.host_baseline().get("add_key") != "ok":
            return "add_key is refused on this host even unconfined"


IO_URING = r'''
import ctypes, errno, time
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
fd = libc.syscall(425, 8, params)                # io_uring_setup
print("io_uring_setup", "ok" if fd >= 0 else "errno=" + errno.errorcode.get(ctypes.get_errno(), "?"), flush=True)
time.sleep(0.8)
'''


class IoUring(Attack):
    name = "io_uring"
    what = ("io_uring_setup (probe, and a ring held open for the host to see): refused, "
            "and no io_uring descriptor is ever seen on the task's processes from the host")
    OPS = {"io_uring_setup": ()}

    def run(self, t, ctx):
        v = Verdict()
        spec = H.probe_task(list(self.OPS), ctx.marker, after='exec python3 attack.py "$0"',
                            files={"attack.py": IO_URING})
        with H.Sampler(ctx.marker) as s:
            v.rec = t.run(spec)
        v.probe = H.parse_probe(H.out(v.rec))
        judge_probe(v, self.OPS)
        v.escaped_if("io_uring_setup ok" in H.text(v.rec), "io_uring ring created")
        rings = [f for fds in s.fds.values() for f in fds if "io_uring" in f]
        v.escaped_if(rings, f"host sees {rings[:2]} on the task")
        return v

    def contained(self, t, v):
        super().contained(t, v)
        assert_probe_denied(v, self.OPS)

    def plain_unavailable(self):
        if H.host_baseline().get("io_uring_setup") != "ok":
            return "io_uring is disabled on this host"


class Vsock(Attack):
    name = "vsock"
    what = "socket(AF_VSOCK) (probe and Python): refused (the hypervisor channel stays shut)"
    OPS = {"socket-vsock": ()}

    def spec(self, t, ctx, st):
        code = ("import socket\ntry:\n    socket.socket(40, socket.SOCK_STREAM)\n"
                "    print('vsock socket ok')\nexcept OSError as e:\n"
                "    print('vsock socket errno', e.errno)\n")
        return H.probe_task(list(self.OPS), ctx.marker, after='python3 attack.py "$0"',
                            files={"attack.py": code})

    def judge(self, t, ctx, st, v):
        v.probe = H.parse_probe(H.out(v.rec))
        judge_probe(v, self.OPS)
        v.escaped_if("vsock socket ok" in H.text(v.rec), "AF_VSOCK socket created")

    def contained(self, t, v):
        super().contained(t, v)
        assert_probe_denied(v, self.OPS)

    def plain_unavailable(self):
        if H.host_baseline().get("socket-vsock") != "ok":
            return "this kernel has no AF_VSOCK"


class Mount(Attack):
    name = "mount"
    what = ("mount a tmpfs on a host directory, and probe mount, umount, pivot_root, "
            "chroot, fsopen, open_tree: all refused, the host's mountinfo never shows it")
    OPS = {"mount": (), "umount": ("EINVAL",), "pivot_root": ("ENOENT", "EINVAL"),
           "chroot": (), "fsopen": (), "open_tree": ()}

    def prepare(self, t, ctx, st):
        c = st["canaries"] = H.Canaries(ctx.marker)
        st["dir"] = c.dir("mnt")
        c.freeze()

    def spec(self, t, ctx, st):
        return H.probe_task(list(self.OPS), ctx.marker,
                            before='mount -t tmpfs "$0-src" "$DIR" && echo "host mount ok"',
                            env={"DIR": st["dir"]})

    def judge(self, t, ctx, st, v):
        v.probe = H.parse_probe(H.out(v.rec))
        judge_probe(v, self.OPS)
        v.escaped_if(H.mounts_with(ctx.marker), f"host mountinfo: {H.mounts_with(ctx.marker)}")

    def cleanup(self, t, ctx, st):
        H.unmount_all(ctx.marker)
        super().cleanup(t, ctx, st)

    def contained(self, t, v):
        super().contained(t, v)
        assert_probe_denied(v, self.OPS)
        for op in self.OPS:
            assert not allowed(v.probe[op], self.OPS[op]), v.describe()

    def plain_unavailable(self):
        if H.host_baseline().get("mount") != "ok":
            return "mount is refused on this host even unconfined"


class Unshare(Attack):
    name = "unshare"
    what = ("unshare / clone / setns into new user, mount, net, pid namespaces (probe): "
            "all refused with an errno")
    OPS = {"unshare-user": (), "unshare-ns": (), "unshare-net": (), "setns": (),
           "clone-newuser": (), "clone-newpid": ()}

    def spec(self, t, ctx, st):
        return H.probe_task(list(self.OPS) + ["clone3"], ctx.marker,
                            after="unshare -r id 2>&1 | head -c 200; exit 0")

    def judge(self, t, ctx, st, v):
        v.probe = H.parse_probe(H.out(v.rec))
        judge_probe(v, self.OPS)
        v.notes.append(f"clone3: {v.probe.get('clone3')}")

    def contained(self, t, v):
        super().contained(t, v)
        assert_probe_denied(v, self.OPS)


class SyscallBattery(Attack):
    name = "syscall_battery"
    what = ("bpf, perf_event_open, userfaultfd, kexec_load, *_module, personality, acct, "
            "swapon, reboot, iopl, ioperm, name_to_handle_at, open_by_handle_at, netlink and "
            "packet sockets (probe): none gets past the permission check")
    OPS = {"bpf": ("EINVAL",), "perf_event_open": (), "userfaultfd": (),
           "kexec_load": ("EINVAL",), "init_module": ("ENOEXEC", "EFAULT", "EINVAL"),
           "finit_module": ("EBADF",), "delete_module": ("ENOENT",), "personality": (),
           "acct": ("ENOENT",), "swapon": ("ENOENT",), "reboot": ("EINVAL",),
           "iopl": (), "ioperm": (), "name_to_handle_at": (),
           "open_by_handle_at": ("ESTALE", "EINVAL"), "socket-netlink": (),
           "socket-packet": ()}

    def spec(self, t, ctx, st):
        return H.probe_task(list(self.OPS) + ["personality-linux", "fork", "thread"],
                            ctx.marker)

    def judge(self, t, ctx, st, v):
        v.probe = H.parse_probe(H.out(v.rec))
        judge_probe(v, self.OPS)

    def contained(self, t, v):
        super().contained(t, v)
        assert_probe_denied(v, self.OPS)
        # what must keep working under the filter
        for op in ("personality-linux", "fork", "thread"):
            assert v.probe.get(op) == "ok", f"{op}: {v.probe.get(op)}\n{v.describe()}"


class ForeignArch(Attack):
    name = "foreign_arch"
    what = ("a system call through the x32 ABI and through int 0x80 (i386): the process "
            "is killed with SIGSYS (status 159), never served")

    def spec(self, t, ctx, st):
        return H.probe_task([], ctx.marker, after=(
            './try-syscall x32; echo "x32 status=$?"; ./try-syscall i386; '
            'echo "i386 status=$?"; exit 0'))

    def judge(self, t, ctx, st, v):
        out = H.text(v.rec)
        v.escaped_if("x32 ok" in out, "x32 system call served")
        v.escaped_if("i386 ok" in out, "i386 system call served")

    def contained(self, t, v):
        super().contained(t, v)
        out = H.text(v.rec)
        assert "x32 status=159" in out and "i386 status=159" in out, v.describe()

    def plain_unavailable(self):
        if "ok" not in (H.host_baseline().get("x32"), H.host_baseline().get("i386")):
            return "this kernel serves neither x32 nor i386 system calls"


class KernelMemory(Attack):
    name = "kernel_memory"
    what = ("read /proc/kcore, kernel addresses in /proc/kallsyms, /dev/kmsg, syslog(2): "
            "nothing of the kernel comes back")
    OPS = {"syslog": ()}
    CODE = r'''
import os
def tryread(path, n, flags=os.O_RDONLY):
    try:
        fd = os.open(path, flags)
        data = os.read(fd, n)
        os.close(fd)
        return data
    except OSError as e:
        return ("errno %d" % e.errno).encode()
print("kcore", tryread("/proc/kcore", 4))
ks = tryread("/proc/kallsyms", 4096).decode("latin-1").splitlines()[:50]
hexd = set("0123456789abcdef")
print("kallsyms nonzero", sum(1 for l in ks if len(l) > 17 and set(l[:16]) <= hexd and l[:16].strip("0")))
print("kmsg", tryread("/dev/kmsg", 512, os.O_RDONLY | os.O_NONBLOCK)[:60])
'''

    def spec(self, t, ctx, st):
        return H.probe_task(list(self.OPS), ctx.marker, after='python3 attack.py "$0"',
                            files={"attack.py": self.CODE})

    def judge(self, t, ctx, st, v):
        v.probe = H.parse_probe(H.out(v.rec))
        judge_probe(v, self.OPS)
        out = H.text(v.rec)
        v.escaped_if("kcore b'\\x7fELF'" in out, "/proc/kcore readable")
        for line in out.splitlines():
            if line.startswith("kallsyms nonzero"):
                v.escaped_if(line.split()[-1] != "0", "kernel addresses in /proc/kallsyms")
            if line.startswith("kmsg"):
                v.escaped_if(not line.startswith("kmsg b'errno"), "/dev/kmsg readable: " + line)

    def contained(self, t, v):
        super().contained(t, v)
        assert_probe_denied(v, self.OPS)


UTS = r"""
import socket, sys
m = sys.argv[1]
# The hostname is set to its current value: an unconfined run must not rename
# the machine (other processes, other runs of this suite read it); the
# kernel's answer tells. The NIS domain name, unused here, gets the marker.
name = socket.gethostname()
try:
    socket.sethostname(name); print("sethostname ok")
except OSError as e:
    print("sethostname errno", e.errno)
for entry, value in (("hostname", name), ("domainname", m)):
    try:
        with open("/proc/sys/kernel/" + entry, "w") as f:
            f.write(value)
        print("write /proc/sys/kernel/" + entry, "ok")
    except OSError as e:
        print("write /proc/sys/kernel/" + entry, "errno", e.errno)
"""


class UtsProcSys(Attack):
    name = "uts_procsys"
    what = ("sethostname and writes to /proc/sys/kernel/{hostname,domainname}: refused, "
            "the host's domainname never takes the task's marker")

    @staticmethod
    def _get(n):
        with open("/proc/sys/kernel/" + n) as f:
            return f.read().strip()

    def prepare(self, t, ctx, st):
        st["domainname"] = self._get("domainname")

    def spec(self, t, ctx, st):
        return py_task(UTS, ctx.marker)

    def judge(self, t, ctx, st, v):
        out = H.text(v.rec)
        v.escaped_if("sethostname ok" in out,
                     "sethostname allowed: the task holds CAP_SYS_ADMIN over a UTS namespace")
        v.escaped_if("write /proc/sys/kernel/hostname ok" in out,
                     "/proc/sys/kernel/hostname writable")
        now = self._get("domainname")
        v.escaped_if(now == ctx.marker, f"host domainname changed to {now!r}")

    def cleanup(self, t, ctx, st):
        if "domainname" in st and self._get("domainname") == ctx.marker:
            before = st["domainname"]
            # another run of this suite may have held it when we looked
            with open("/proc/sys/kernel/domainname", "w") as f:
                f.write("(none)" if before.startswith("ctm") else before)


# ---------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------

TCP = r'''
import os, socket, sys
m = sys.argv[1]
for host, port in (("127.0.0.1", int(os.environ["PORT"])), ("localhost", int(os.environ["PORT"]))):
    try:
        s = socket.create_connection((host, port), timeout=2)
        s.sendall(m.encode())
        s.close()
        print("connect", host, port, "ok")
    except OSError as e:
        print("connect", host, port, "errno", e.errno)
h, p = os.environ["ORCH_HTTP"].rsplit(":", 1)
try:
    s = socket.create_connection((h, int(p)), timeout=2)
    s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    print("orchestrator says", s.recv(64))
except OSError as e:
    print("orchestrator errno", e.errno)
'''


class TcpConnect(Attack):
    name = "tcp_connect"
    what = ("network off: connect to a TCP listener the test opened on host loopback "
            "(probe and Python, by IP and by name) and to the orchestrator's HTTP port: "
            "the listener sees no connection, the orchestrator never answers")
    OPS = {"connect": (), "socket-inet": (), "socket-inet6": ()}

    def prepare(self, t, ctx, st):
        st["l"] = H.Listener(socket.AF_INET)

    def spec(self, t, ctx, st):
        port = st["l"].port
        return H.probe_task([f"connect={port}", "socket-inet", "socket-inet6"], ctx.marker,
                            after='python3 attack.py "$0"', files={"attack.py": TCP},
                            env={"PORT": str(port), "ORCH_HTTP": t.orch.http_addr},
                            limits={"network": False})

    def judge(self, t, ctx, st, v):
        hits = st["l"].settle()
        v.probe = H.parse_probe(H.out(v.rec))
        v.escaped_if(hits, f"host listener accepted {len(hits)} connection(s): {hits[:2]}")
        v.escaped_if("orchestrator says b'HTTP" in H.text(v.rec),
                     "reached the orchestrator's HTTP API")

    def cleanup(self, t, ctx, st):
        if "l" in st:
            st["l"].close()


class UdpSend(Attack):
    name = "udp_send"
    what = "network off: send UDP datagrams to a host loopback socket: none arrives"

    def prepare(self, t, ctx, st):
        st["l"] = H.UdpListener()

    def spec(self, t, ctx, st):
        code = ("import os, socket, sys\nfor i in range(3):\n    try:\n"
                "        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                "        s.sendto(sys.argv[1].encode(), ('127.0.0.1', int(os.environ['PORT'])))\n"
                "        print('sent')\n    except OSError as e:\n        print('errno', e.errno)\n")
        return py_task(code, ctx.marker, env={"PORT": st["l"].port})

    def judge(self, t, ctx, st, v):
        hits = st["l"].settle()
        v.escaped_if(hits, f"host UDP socket received {hits[:1]}")

    def cleanup(self, t, ctx, st):
        if "l" in st:
            st["l"].close()


UNIX_CONNECT = r'''
import os, socket, sys
for addr in os.environ["ADDRS"].split("|"):
    a = "\0" + addr[1:] if addr.startswith("@") else addr
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(a)
        s.sendall(sys.argv[1].encode())
        print("connect", addr, "ok")
    except OSError as e:
        print("connect", addr, "errno", e.errno)
'''


class AbstractUnix(Attack):
    name = "abstract_unix"
    what = ("connect to an abstract UNIX socket the test listens on (probe and Python): "
            "the host listener sees no connection")

    def prepare(self, t, ctx, st):
        st["name"] = f"cleudo-{ctx.marker}"
        st["l"] = H.Listener(socket.AF_UNIX, "\0" + st["name"])

    def spec(self, t, ctx, st):
        return H.probe_task([f"abstract={st['name']}"], ctx.marker,
                            after='python3 attack.py "$0"', files={"attack.py": UNIX_CONNECT},
                            env={"ADDRS": "@" + st["name"]})

    def judge(self, t, ctx, st, v):
        hits = st["l"].settle()
        v.probe = H.parse_probe(H.out(v.rec))
        v.escaped_if(hits, f"abstract listener accepted {len(hits)} connection(s)")

    def cleanup(self, t, ctx, st):
        if "l" in st:
            st["l"].close()


class PathUnix(Attack):
    name = "path_unix"
    what = ("connect to a world-writable UNIX socket file of the test in /tmp: the "
            "listener sees no connection")

    def prepare(self, t, ctx, st):
        c = st["canaries"] = H.Canaries(ctx.marker)
        d = c.dir("sock")
        st["path"] = os.path.join(d, "s")
        st["l"] = H.Listener(socket.AF_UNIX, st["path"])

    def spec(self, t, ctx, st):
        return py_task(UNIX_CONNECT, ctx.marker, env={"ADDRS": st["path"]})

    def judge(self, t, ctx, st, v):
        hits = st["l"].settle()
        v.escaped_if(hits, f"path socket accepted {len(hits)} connection(s)")

    def cleanup(self, t, ctx, st):
        if "l" in st:
            st["l"].close()
        super().cleanup(t, ctx, st)


# ---------------------------------------------------------------------------
# State that outlives a task
# ---------------------------------------------------------------------------

class DevShmLeftover(Attack):
    name = "dev_shm_leftover"
    what = ("task 1 writes /dev/shm/<marker> and /tmp/<marker>; task 2 looks for them: "
            "task 2 sees neither, the host's /dev/shm and /tmp never get them")

    def run(self, t, ctx):
        v = Verdict()
        m = ctx.marker
        paths = [f"/dev/shm/{m}", f"/tmp/{m}"]
        try:
            v.rec = t.run({"argv": ["sh", "-c", f'for p in {" ".join(paths)}; do '
                           f'echo SHM-{m} > "$p" && echo "wrote $p"; done; exit 0', m]})
            for p in paths:
                v.escaped_if(os.path.lexists(p), f"host has {p}")
            v.recs["next"] = nxt = t.run({"argv": ["sh", "-c", f'ls /dev/shm /tmp; '
                                          f'cat {" ".join(paths)} 2>&1; exit 0']})
            v.escaped_if(f"SHM-{m}".encode() in H.everything(nxt),
                         "the next task read what the previous one left")
        finally:
            for p in paths:
                H._remove(p)
        return v

    def contained(self, t, v):
        super().contained(t, v)
        assert v.recs["next"]["status"] == "succeeded", v.describe()


class InheritedFds(Attack):
    name = "inherited_fds"
    what = "list /proc/self/fd (probe `fds`, ls -l): only 0, 1 and 2 are open"

    def spec(self, t, ctx, st):
        return H.probe_task(["fds"], ctx.marker, before="ls -l /proc/self/fd")

    def judge(self, t, ctx, st, v):
        v.probe = H.parse_probe(H.out(v.rec))
        fds = v.probe.get("fds")
        v.escaped_if(fds is None or fds != "", f"descriptors beyond 0-2 inherited: {fds!r}")


class CapEff(Attack):
    name = "capeff"
    what = ("read CapEff/CapPrm/CapAmb, NoNewPrivs, seccomp mode and ids inside (probe), "
            "and the task process's status from the HOST's /proc while it runs: CapEff "
            "0000000000000000 both ways, not host uid 0")
    OPS = ["capeff", "capprm", "capinh", "capbnd", "capamb", "nnp", "seccomp", "ids",
           "securebits"]

    def run(self, t, ctx):
        v = Verdict()
        spec = H.probe_task(self.OPS, ctx.marker, after="sleep 0.6; exit 0")
        with H.Sampler(ctx.marker) as s:
            v.rec = t.run(spec)
        v.probe = p = H.parse_probe(H.out(v.rec))
        for cap in ("capeff", "capprm", "capamb"):
            v.escaped_if(p.get(cap, "?").strip("0") != "", f"inside: {cap}={p.get(cap)}")
        v.host_seen = bool(s.tasks)
        if not s.tasks:
            v.notes.append("host never saw the task process (too quick?)")
        for pid, status in s.tasks.items():
            v.escaped_if(status.get("CapEff", "").strip("0") != "",
                         f"host view of pid {pid}: CapEff {status.get('CapEff')}")
            uids = status.get("Uid", "").split()
            v.escaped_if("0" in uids, f"host view of pid {pid}: Uid {uids} (host root)")
            v.notes.append(f"host view pid {pid}: Uid={status.get('Uid')} "
                           f"CapEff={status.get('CapEff')} NoNewPrivs={status.get('NoNewPrivs')} "
                           f"Seccomp={status.get('Seccomp')}")
        return v

    def contained(self, t, v):
        super().contained(t, v)
        p = v.probe
        assert v.host_seen, v.describe()
        assert p.get("capeff") == "0000000000000000", v.describe()
        assert p.get("nnp") == "1", v.describe()
        assert p.get("seccomp") == "2", v.describe()


class SetuidBinary(Attack):
    name = "setuid_binary"
    what = ("run a setuid-root helper (prints its euid) the test installs under /usr/local: "
            "it never runs with euid 0")
    SOURCE = ('#include <stdio.h>\n#include <unistd.h>\nint main(void){printf("euid=%d '
              'uid=%d\\n",(int)geteuid(),(int)getuid());return 0;}\n')

    def prepare(self, t, ctx, st):
        import subprocess
        d = st["dir"] = f"/usr/local/lib/{ctx.marker}"
        os.mkdir(d, 0o755)
        src = os.path.join(str(ctx.tmp_path), "euid.c")
        with open(src, "w") as f:
            f.write(self.SOURCE)
        st["bin"] = os.path.join(d, "euid")
        subprocess.run(["cc", "-O1", "-o", st["bin"], src], check=True)
        os.chown(st["bin"], 0, 0)
        os.chmod(st["bin"], 0o4755)

    def spec(self, t, ctx, st):
        return {"argv": ["sh", "-c", f'{st["bin"]}; exit 0', ctx.marker]}

    def judge(self, t, ctx, st, v):
        v.escaped_if("euid=0 " in H.text(v.rec), "ran with euid 0: " + H.text(v.rec).strip())

    def cleanup(self, t, ctx, st):
        if "dir" in st:
            H._remove(st["dir"])


DAEMON = r'''
import os, sys, time
m = sys.argv[1]
def daemon(keep_stdout):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 0)
            if not keep_stdout:
                os.dup2(null, 1)
                os.dup2(null, 2)
            time.sleep(30)
            os._exit(0)
        os._exit(0)
    os.wait()
daemon(False)
daemon(True)
print("daemonized", flush=True)
'''

SETSID = r'''
import os, sys, time
def escape(how):
    pid = os.fork()
    if pid == 0:
        if how == "setsid":
            os.setsid()
        else:
            os.setpgid(0, 0)
        time.sleep(30)
        os._exit(0)
    return pid
print("escaped children", escape("setsid"), escape("setpgid"), flush=True)
'''


class Outlive(Attack):
    """A process that tries to outlive its task."""
    code = ""
    grace = 1.5

    def spec(self, t, ctx, st):
        return py_task(self.code, ctx.marker, limits={"wall_ms": 10000})

    def judge(self, t, ctx, st, v):
        left = H.wait_gone(ctx.marker, self.grace)
        v.escaped_if(left, f"still running {self.grace}s after the task ended: pids {left}")

    def cleanup(self, t, ctx, st):
        H.kill_marker(ctx.marker)


class DoubleForkDaemon(Outlive):
    name = "double_fork_daemon"
    what = ("fork, setsid, fork again (one daemon with stdio closed, one keeping stdout), "
            "parent exits: the task succeeds and no process of it is alive on the host "
            "shortly after")
    code = DAEMON


class SetsidEscape(Outlive):
    name = "setsid_escape"
    what = ("children that leave the task's session (setsid) and process group (setpgid), "
            "parent exits: no process of the task is alive on the host shortly after")
    code = SETSID


ESCAPES = [
    ReadShadow(), WorkerEnviron(), OrchestratorSecrets(), HostFileRead(), WriteOutside(),
    WorkdirChmod(), CollectLinks(), CleanupLinks(), PlantedLinks(), PtraceWorker(),
    KillWorker(), SignalOtherTask(), ConcurrentWorkspace(), Tiocsti(), Keyctl(), IoUring(),
    Vsock(), Mount(), Unshare(), SyscallBattery(), ForeignArch(), KernelMemory(),
    UtsProcSys(), TcpConnect(), UdpSend(), AbstractUnix(), PathUnix(), DevShmLeftover(),
    InheritedFds(), CapEff(), SetuidBinary(), DoubleForkDaemon(), SetsidEscape(),
]
