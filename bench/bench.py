#!/usr/bin/python3
"""bench.py - `make bench`: measure, print one table, write build/bench.json.

Orchestration only: every figure comes from a C program in build/bench/
(limits, layers, zmq_rtt, http_client, submit_client) or from wrk; this
script starts the services on loopback, repeats each measurement, takes
median/min/max, relates each figure to the machine's own limit (section 1),
and checks the targets of issue 9. It fails (exit 1) only when the bench
could not run; a slow figure is a MISS line, never a failure.

Environment:
  BENCH_QUICK=1      a ~30 s run (shorter runs, N=1000): for the harness, not for figures
  BENCH_TASKS=N      tasks for the memory rows (default 100000; quick 1000)
  BENCH_RUNS=R       runs per figure (default 5; quick 3)
  BENCH_OUT=PATH     JSON output (default build/bench.json; the previous
                     one is moved to build/bench.prev.json)
  BENCH_NO_INSTALL=1 do not apt-get install wrk/bubblewrap when missing
"""
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(REPO, "build")
BIN = os.path.join(BUILD, "bench")
TOKEN = "bench-token-0123456789abcdef"
TRUE_BODY = '{"argv":["true"]}'
PY_ARGV = ["python3", "-c", "print(1)"]
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"      # spec.h SBX_FIXED_PATH
PY_BODY = json.dumps({"argv": PY_ARGV})

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RUNS = int(os.environ.get("BENCH_RUNS") or (3 if QUICK else 5))
N_TASKS = int(os.environ.get("BENCH_TASKS") or (1000 if QUICK else 100000))
OUT = os.environ.get("BENCH_OUT") or os.path.join(BUILD, "bench.json")
LOGS = os.path.join(BUILD, "bench-logs")     # services' warnings and errors
# Seconds per run: spawn loops, end-to-end loops, wrk.
D_SPAWN = 0.1 if QUICK else 0.3
D_E2E = 0.2 if QUICK else 0.6
D_SLOW = 0.3 if QUICK else 0.8          # python3 tasks and cleudo runs: fewer per second
D_WRK = 1
NCPU = len(os.sched_getaffinity(0))
# Worker slots in section 3 and 5: tasks in flight. A slot turns over only
# after a round trip through the orchestrator, so with one slot per core the
# cores idle meanwhile; 4 per core keep them busy. One row pair shows the
# default (a slot per core) for comparison.
SLOTS = int(os.environ.get("BENCH_SLOTS") or 4 * NCPU)
# The services' binaries: copied at start (see main), so that a rebuild by
# someone else during the run cannot swap them under it.
SNAP = {name: os.path.join(BUILD, name) for name in ("orchestrator", "agent-sandbox", "cleudo")}
ALL_NS = "user,pid,mount,ipc,uts,cgroupns,net"


T0 = time.monotonic()


def log(msg):
    print(f"bench: [{time.monotonic() - T0:5.1f} s] {msg}", file=sys.stderr, flush=True)


# ---- rows -------------------------------------------------------------------

ROWS = []          # every figure, in table order
BY_ID = {}
TARGETS = []       # (name, status, detail)


def add_row(rid, section, label, unit, runs=None, na=None, limit=None, better="higher",
            note="", extra=None):
    """One figure: runs are the per-run values; limit the id of the row it is
    compared with (ratio = median / limit's median, for latencies the limit's
    time per task)."""
    vals = [v for v in (runs or []) if v is not None]
    title = label.strip()
    if title.startswith("same,") and ROWS:
        parent = ROWS[-1]["title"]
        title = (parent.replace("one at a time", title[6:]) if "one at a time" in parent
                 else f"{parent}, {title[6:]}")
    row = {"id": rid, "section": section, "label": label, "title": title, "unit": unit,
           "better": better,
           "runs": vals, "na": na, "note": note, "limit": limit, "ratio": None}
    if vals and not na:
        row["median"] = statistics.median(vals)
        row["min"] = min(vals)
        row["max"] = max(vals)
    elif not na:
        row["na"] = "no successful run"
    if extra:
        row.update(extra)
    lim = BY_ID.get(limit) if limit else None
    if lim and "median" in row and lim.get("median"):
        if unit in ("µs", "ms"):
            per_task = 1e6 / lim["median"] if lim["unit"] == "tasks/s" else lim["median"]
            value = row["median"] * (1000 if unit == "ms" else 1)
            row["ratio"] = value / per_task
        else:
            row["ratio"] = row["median"] / lim["median"]
    ROWS.append(row)
    BY_ID[rid] = row
    return row


def median_of(rid):
    row = BY_ID.get(rid)
    return row.get("median") if row else None


# ---- running the C programs ------------------------------------------------

class RunError(Exception):
    pass


def run_json(argv, env=None, timeout=600):
    """Run a bench program; its last stdout line is one JSON object."""
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RunError(f"{os.path.basename(argv[0])} gave no result (exit {proc.returncode}): "
                       f"{proc.stderr.strip()[-300:]}")
    out = json.loads(lines[-1])
    if proc.returncode != 0 and "na" not in out:
        out.setdefault("first_error", proc.stderr.strip()[-300:])
        out["failed"] = True
    return out


# A run whose failed iterations (tasks that did not succeed) stay under this
# share still counts: its figure is kept and the failures are noted on the
# row; above it the row is n/a with the first failure.
MAX_FAILED = 0.01


def repeat(argv, key="rate", env=None, runs=RUNS, keys=None, failures=None):
    """Run argv `runs` times; returns ({key: [values]}, na-reason or None,
    the last result). failures (a dict) accumulates "count" and "first"."""
    keys = keys or [key]
    got = {k: [] for k in keys}
    failures = failures if failures is not None else {}
    last = None
    for _ in range(runs):
        try:
            out = run_json(argv, env=env)
        except (RunError, subprocess.TimeoutExpired) as e:
            return got, str(e), last
        last = out
        if "na" in out:
            return got, out["na"], out
        count, errors = out.get("count", 0), out.get("errors", 0)
        if out.get("failed") or count == 0 or errors > MAX_FAILED * count:
            why = out.get("first_error") or "failed"
            return got, f"error: {why}"[:300], out
        if errors:
            failures["count"] = failures.get("count", 0) + errors
            failures.setdefault("first", out.get("first_error", ""))
        for k in keys:
            got[k].append(out[k])
    out = dict(last or {})
    if failures.get("count"):
        out["failures"] = failures
    return got, None, out


def failure_note(last):
    f = (last or {}).get("failures")
    if not f:
        return ""
    return f"{f['count']} tasks failed (first: {f.get('first', '')[:120]})"


def interleave(jobs, runs=RUNS):
    """Run several measurements round-robin, `runs` rounds: load that comes
    and goes on a shared machine then spreads over all of them instead of
    skewing one. jobs: [(key, argv, keys, env)]. Returns {key: (got, na,
    last)} like repeat(); a job that fails is dropped from later rounds."""
    res = {key: ({k: [] for k in keys}, None, None) for key, _, keys, _ in jobs}
    fails = {key: {} for key, _, _, _ in jobs}
    for _ in range(runs):
        for key, argv, keys, env in jobs:
            got, na, last = res[key]
            if na:
                continue
            g, na, out = repeat(argv, env=env, runs=1, keys=keys, failures=fails[key])
            for k in keys:
                got[k].extend(g[k])
            res[key] = (got, na, out or last)
    return res


# ---- machine ------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fs_type(path):
    best, kind = "", "?"
    path = os.path.realpath(path)
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            mnt = parts[1]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, kind = mnt, parts[2]
    return kind


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def cpu_busy():
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / tick, sum(v[:8]) / tick


def own_cpu():
    """CPU seconds of this process and everything it started and reaped."""
    import resource
    r = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(x.ru_utime + x.ru_stime for x in r)


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return (rev or "?") + ("+dirty" if dirty and rev else "")
    except OSError:
        return "?"


def ensure_tool(cmd, package):
    """The tool's path, installing the Debian package when missing (root)."""
    path = shutil.which(cmd)
    if path or os.environ.get("BENCH_NO_INSTALL"):
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing {package} (for {cmd})")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-q", package], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return shutil.which(cmd)


def proc_cpu(pid):
    """(own, reaped children's) CPU seconds of pid, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime) / tick, (cutime + cstime) / tick


def proc_mem(pid):
    """(VmRSS, VmHWM) in KiB."""
    rss = hwm = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


# ---- services -----------------------------------------------------------------

class Service:
    def __init__(self, name, argv, env, log_path):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        full = {k: v for k, v in os.environ.items()
                if not k.startswith(("ORCH_", "SANDBOX_", "CLEUDO_"))}
        full.update(env)
        self.proc = subprocess.Popen(argv, env=full, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for(self, pattern, timeout=20):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = rx.search(self.read_log())
            if m:
                return m
            if self.proc.poll() is not None:
                raise RunError(f"{self.name} exited ({self.proc.returncode}): "
                               f"{self.read_log()[-600:]}")
            time.sleep(0.02)
        raise RunError(f"{self.name} did not log {pattern!r} in {timeout}s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.keep_log()

    def keep_log(self):
        """Its warnings and errors (the last 300) in build/bench-logs/: the
        run's directory is removed at the end."""
        lines = [l for l in self.read_log().splitlines()
                 if "level=info" not in l and "level=debug" not in l]
        os.makedirs(LOGS, exist_ok=True)
        with open(os.path.join(LOGS, self.name + ".log"), "w") as f:
            f.write("\n".join(lines[-300:]) + ("\n" if lines else ""))


def curve_keys(tmp):
    """The worker link's CURVE keys (`orchestrator keygen`), made once per run
    directory: the services run with CURVE on, as deployed."""
    keys = os.path.join(tmp, "keys")
    if not os.path.isdir(keys):
        proc = subprocess.run([SNAP["orchestrator"], "keygen", keys], capture_output=True,
                              timeout=30)
        if proc.returncode != 0:
            raise RunError("orchestrator keygen: " + proc.stderr.decode("utf-8", "replace"))
    return keys


class Orchestrator(Service):
    def __init__(self, tmp, name, env=None):
        self.data_dir = os.path.join(tmp, name + "-data")
        base = {
            "ORCH_KEYS_DIR": curve_keys(tmp),
            "ORCH_HTTP_ADDR": "127.0.0.1:0",
            "ORCH_SUBMIT_ENDPOINT": "tcp://127.0.0.1:*",
            "ORCH_TASKS_ENDPOINT": "tcp://127.0.0.1:*",
            "ORCH_RESULTS_ENDPOINT": "tcp://127.0.0.1:*",
            "ORCH_CONTROL_ENDPOINT": "tcp://127.0.0.1:*",
            "ORCH_DATA_DIR": self.data_dir,
            "ORCH_API_TOKEN": TOKEN,
        }
        base.update(env or {})
        super().__init__(name, [SNAP["orchestrator"]], base,
                         os.path.join(tmp, name + ".log"))
        m = self.wait_for(r"event=ready http=(\S+) submit=(\S+) tasks=(\S+) "
                          r"results=(\S+) control=(\S+)")
        self.http, self.submit, self.tasks, self.results, self.control = m.groups()


class Sandbox(Service):
    def __init__(self, tmp, orch, name, env=None):
        self.work_dir = os.path.join(tmp, name + "-work")
        base = {
            "SANDBOX_TASKS_ENDPOINT": orch.tasks,
            "SANDBOX_RESULTS_ENDPOINT": orch.results,
            "SANDBOX_CONTROL_ENDPOINT": orch.control,
            "SANDBOX_WORK_DIR": self.work_dir,
            "SANDBOX_SERVER_KEY": os.path.join(curve_keys(tmp), "server.key"),
            "SANDBOX_CERT": os.path.join(curve_keys(tmp), "worker.key_secret"),
        }
        base.update(env or {})
        super().__init__(name, [SNAP["agent-sandbox"]], base,
                         os.path.join(tmp, name + ".log"))


def workers(orch, exclude=(), timeout=15):
    """[(worker id, isolation map)] the orchestrator knows, waiting until one
    not in exclude is there; None when it cannot be asked (no
    python3-zmq/msgpack) or none came."""
    try:
        import msgpack
        import zmq
    except ImportError:
        return None
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(orch.submit)
    try:
        deadline = time.monotonic() + timeout
        req = 0
        while time.monotonic() < deadline:
            req += 1
            s.send(msgpack.packb({"v": 1, "type": "workers", "req": req, "token": TOKEN}))
            if s.poll(2000):
                rep = msgpack.unpackb(s.recv(), raw=False)
                items = [(i.get("worker"), i.get("isolation") or {})
                         for i in rep.get("items") or [] if i.get("worker") not in exclude]
                if items:
                    return items
            time.sleep(0.1)
        return None
    finally:
        s.close()
        ctx.term()


def iso_text(iso):
    """hello's isolation map, short: "seccomp landlock=7 rlimits caps"."""
    if iso is None:
        return "unknown"
    parts = []
    for k, v in iso.items():
        if v is True:
            parts.append(k)
        elif v not in (False, 0, None):
            parts.append(f"{k}={v}")
    return " ".join(parts) or "nothing"


def http_post(addr, path, body):
    """One small POST with the token; returns the parsed JSON answer."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as c:
        data = body.encode()
        c.sendall(f"POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                  f"Connection: close\r\n\r\n".encode() + data)
        raw = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            raw += chunk
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


def sandbox_settings():
    """The isolation switches agent-sandbox --help lists:
    {"namespaces": (VAR, choices), "cgroup": ..., "seccomp": ..., "landlock": ...,
    "slots": ...}."""
    try:
        text = subprocess.run([SNAP["agent-sandbox"], "--help"], capture_output=True, text=True,
                              timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found = {}
    for line in text.splitlines():
        m = re.search(r"\b(SANDBOX_(NAMESPACES?|NS|ISOLATION|CGROUPS?|SECCOMP|LANDLOCK|SLOTS))\b",
                      line)
        if not m:
            continue
        key = {"NAMESPACE": "namespaces", "NAMESPACES": "namespaces", "NS": "namespaces",
               "ISOLATION": "namespaces", "CGROUP": "cgroup", "CGROUPS": "cgroup",
               "SECCOMP": "seccomp", "LANDLOCK": "landlock", "SLOTS": "slots"}[m.group(2)]
        choices = re.search(r"\[([^\]]+)\]\s*$", line)
        found.setdefault(key, (m.group(1), choices.group(1).split("|") if choices else []))
    return found


def pick(choices, wanted):
    return next((w for w in wanted if w in choices), None)


# ---- section 1: limits ---------------------------------------------------------

def section_limits(tmp):
    log("1/6 limits of this machine")
    L = os.path.join(BIN, "limits")
    # python3 as the sandbox finds it (its fixed PATH), not a pyenv shim.
    py = shutil.which("python3", path=SANDBOX_PATH) or "python3"
    rows, jobs = [], []
    for method, label in (("fork", "fork+execve+waitpid /bin/true"),
                          ("posix_spawn", "posix_spawn+waitpid /bin/true"),
                          ("vfork", "clone(CLONE_VM|CLONE_VFORK)+execve, no setup")):
        for par in (1, NCPU):
            rid = f"limits.{method}.{'1' if par == 1 else 'cores'}"
            text = f"{label}, one at a time" if par == 1 else f"    same, one per core ({NCPU})"
            rows.append((rid, text, "tasks/s", "rate", ""))
            jobs.append((rid, [L, method, str(par), str(D_SPAWN)], ["rate"], None))
    rows.append(("limits.python3.1", f"posix_spawn {py} -c 'print(1)', one at a time", "tasks/s",
                 "rate", "limit for the small task"))
    jobs.append(("limits.python3.1", [L, "cmd", "1", str(D_SLOW), "--", py, *PY_ARGV[1:]],
                 ["rate"], None))
    jobs.append(("zmq", [os.path.join(BIN, "zmq_rtt"), str(D_SPAWN)], ["p50", "p99"], None))
    rows.append(("limits.fdatasync.1", f"4 KiB append + fdatasync ({fs_type(tmp)})", "syncs/s",
                 "rate", "limit for durability=full"))
    jobs.append(("limits.fdatasync.1", [L, "fsync", tmp, "1", str(D_SPAWN)], ["rate"], None))
    res = interleave(jobs)
    for rid, text, unit, key, note in rows:
        got, na, _ = res[rid]
        add_row(rid, 1, text, unit, got[key], na=na, note=note)
    got, na, last = res["zmq"]
    frames = f"{last['task_bytes']} B task / {last['result_bytes']} B result frames" \
        if last and "task_bytes" in last else ""
    add_row("limits.zmq.p50", 1, "ZeroMQ PUSH/PULL round trip p50 (tcp loopback)", "µs",
            got["p50"], na=na, better="lower", note=frames)
    add_row("limits.zmq.p99", 1, "ZeroMQ PUSH/PULL round trip p99", "µs", got["p99"], na=na,
            better="lower")


# ---- section 2: isolation layers -----------------------------------------------

LAYERS = [
    ("child", "clone VM|VFORK + rlimits + session: sbx_child_spawn (child.c)"),
    ("base", "  same steps, bench's copy of child.c (base of the rows below)"),
    ("workspace", "  + own workspace dir per task (sbx_workspace)"),
    ("caps", "  + no_new_privs + caps drop + uid switch (sbx_caps)"),
    ("landlock", "  + Landlock, ruleset per task (sbx_landlock)"),
    ("seccomp", "  + seccomp, compiled once (sbx_seccomp)"),
    ("ns:user", "  + user ns, per-slot, joined (sbx_ns)"),
    ("ns:user,pid", "  + pid ns"),
    ("ns:user,pid,mount", "  + mount ns + minimal root + pivot_root + /proc"),
    ("ns:user,pid,mount,ipc", "  + ipc ns"),
    ("ns:user,pid,mount,ipc,uts", "  + uts ns"),
    ("ns:user,pid,mount,ipc,uts,cgroupns", "  + cgroup ns"),
    (f"ns:{ALL_NS}", "  + net ns, pre-made per slot, joined"),
    (f"ns-new:{ALL_NS}", "  (net ns new per task instead of pre-made)"),
    (f"ns:{ALL_NS}+cgroup", "  + cgroup per task (sbx_cgroup)"),
]
# Layers measured with one process per core too (used by the targets).
LAYERS_PER_CORE = ("child", "workspace", "seccomp", f"ns:{ALL_NS}", f"ns:{ALL_NS}+cgroup")


def section_layers(tmp, state):
    log("2/6 isolation layers")
    work = os.path.join(tmp, "layers-work")
    ly = os.path.join(BIN, "layers")
    # What sbx_ns / sbx_cgroup detect here: the reason of any n/a below.
    try:
        probe = run_json([ly, "probe", work])
    except RunError:
        probe = {}
    state["ns_probe"] = probe.get("ns", "")
    state["cgroup_probe"] = probe.get("cgroup", "")
    why = {}
    for line in state["ns_probe"].splitlines():
        if ":" in line:
            why[line.split(":", 1)[0].strip()] = line.split(":", 1)[1].strip()
    # The cgroup row sits on the full namespace stack when namespaces work
    # here, else on seccomp: one short run decides.
    probe = run_json([ly, f"ns:{ALL_NS}", "1", "0.01", work])
    ns_ok = "na" not in probe and not probe.get("failed") and probe.get("count", 0) > 0
    plan, jobs = [], []
    for name, label in LAYERS:
        spec = name if ns_ok or not name.endswith("+cgroup") else "seccomp+cgroup"
        for par in (1, NCPU) if name in LAYERS_PER_CORE else (1,):
            rid = f"layers.{name}.{'1' if par == 1 else 'cores'}"
            text = label if par == 1 else f"    same, one per core ({NCPU})"
            plan.append((rid, name, spec, par, text))
            jobs.append((rid, [ly, spec, str(par), str(D_SPAWN), work], ["rate"], None))
    res = interleave(jobs)
    prev_us = None      # the row below in the cumulative chain, µs per task
    for rid, name, spec, par, text in plan:
        got, na, last = res[rid]
        notes = []
        if last and last.get("layers"):
            names = last["layers"].split(",")
            missing = [n[1:] for n in names if n.startswith("-")]
            if missing:
                text += " (PARTLY N/A)"
                notes.append("NOT in effect: " + "; ".join(
                    f"{m} ({why.get(m, 'unavailable')})" for m in missing))
        if last and last.get("cgroup"):
            notes.append("cgroup " + last["cgroup"])
        if spec != name:
            notes.append("on top of seccomp (no namespaces here)")
        row = add_row(rid, 2, text, "tasks/s", got["rate"], na=na,
                      limit="limits.posix_spawn.1" if par == 1 else "limits.posix_spawn.cores",
                      note="; ".join(notes), extra={"spec": spec})
        if par != 1:
            continue
        us = 1e6 / row["median"] if "median" in row else None
        row["us_per_task"] = us
        if name.startswith("ns-new"):
            pre = median_of(f"layers.ns:{ALL_NS}.1")
            if us and pre:
                row["delta_us"] = us - 1e6 / pre
                row["note"] = "; ".join(filter(None, [row["note"], "Δ vs pre-made net ns"]))
            continue
        if us and prev_us:
            row["delta_us"] = us - prev_us
        # An n/a row breaks the chain: the next delta would span two layers.
        prev_us = us


# ---- section 3: end to end ------------------------------------------------------

def http_job(orch, body, clients, dur, expect='"status":"succeeded"', path="/api/tasks?wait=60",
             status="200", keys=("rate",)):
    warm = "1" if body == PY_BODY else "5"
    return [os.path.join(BIN, "http_client"), "-a", orch.http, "-t", TOKEN, "-m", "POST",
            "-p", path, "-b", body, "-s", expect, "-e", status, "-c", str(clients),
            "-d", str(dur), "-w", warm], list(keys)


def submit_job(orch, argv, clients, dur):
    return [os.path.join(BIN, "submit_client"), "-e", orch.submit, "-t", TOKEN,
            "-c", str(clients), "-d", str(dur), "--", *argv], ["rate"]


def cleudo_job(orch, argv, dur):
    env = dict(os.environ, CLEUDO_ENDPOINT=orch.submit, CLEUDO_TOKEN=TOKEN)
    return [os.path.join(BIN, "limits"), "cmd", "1", str(dur), "--",
            SNAP["cleudo"], "run", "--", *argv], ["p50", "p95", "p99"], env


def e2e_rows(orch, tag="", rid_prefix="e2e", latency=True, clients=(1, 4, 32), submit=True,
             python=True):
    """The end-to-end figures against orch's current worker, interleaved."""
    jobs, lat, thr = [], [], []
    pcts = ["p50", "p95", "p99"]
    if latency:
        argv, keys = http_job(orch, TRUE_BODY, 1, D_E2E, keys=pcts)
        jobs.append((f"{rid_prefix}.http.true", argv, keys, None))
        lat.append((f"{rid_prefix}.http.true", "HTTP ?wait `true`", "limits.posix_spawn.1"))
        if python:
            argv, keys = http_job(orch, PY_BODY, 1, D_SLOW, keys=pcts)
            jobs.append((f"{rid_prefix}.http.py", argv, keys, None))
            lat.append((f"{rid_prefix}.http.py", "HTTP ?wait python3 print(1)", "limits.python3.1"))
        jobs.append((f"{rid_prefix}.cleudo.true", *cleudo_job(orch, ["true"], D_SLOW)))
        lat.append((f"{rid_prefix}.cleudo.true", "`cleudo run true`, start to exit",
                    "limits.posix_spawn.1"))
        if python:
            jobs.append((f"{rid_prefix}.cleudo.py", *cleudo_job(orch, PY_ARGV, D_SLOW)))
            lat.append((f"{rid_prefix}.cleudo.py", "`cleudo run python3 ...`, start to exit",
                        "limits.python3.1"))
    for c in clients:
        rid = f"{rid_prefix}.http.true.c{c}"
        jobs.append((rid, *http_job(orch, TRUE_BODY, c, D_E2E), None))
        thr.append((rid, f"throughput `true`, HTTP ?wait, {c} client{'s' if c > 1 else ''}"))
    if submit:
        for c in clients:
            rid = f"{rid_prefix}.submit.true.c{c}"
            jobs.append((rid, *submit_job(orch, ["true"], c, D_E2E), None))
            thr.append((rid, f"throughput `true`, submit socket, {c} client{'s' if c > 1 else ''}"))
    if python:
        rid = f"{rid_prefix}.http.py.c4"
        jobs.append((rid, *http_job(orch, PY_BODY, 4, D_SLOW), None))
        thr.append((rid, "throughput python3 print(1), HTTP ?wait, 4 clients"))
    res = interleave(jobs)
    for rid, label, limit in lat:
        got, na, last = res[rid]
        for p in pcts:
            add_row(f"{rid}.{p}", 3, f"{label} {p}{tag}", "ms", [v / 1000 for v in got[p]],
                    na=na, limit=limit, better="lower", note=failure_note(last) if p == "p50" else "")
    for rid, label in thr:
        got, na, last = res[rid]
        add_row(rid, 3, label + tag, "tasks/s", got["rate"], na=na,
                limit="limits.posix_spawn.cores", note=failure_note(last))


def na_rows_e2e_ns(why):
    add_row("e2e.ns.http.true.p50", 3, "HTTP ?wait `true` p50/p95/p99 [namespaces]", "ms",
            na=why, better="lower")
    add_row("e2e.ns.cleudo.true.p50", 3, "`cleudo run true` p50/p95/p99 [namespaces]", "ms",
            na=why, better="lower")
    for c in (4, 32):
        add_row(f"e2e.ns.http.true.c{c}", 3, f"throughput `true`, HTTP ?wait, {c} clients "
                "[namespaces]", "tasks/s", na=why)


def start_sandbox(tmp, orch, name, env, exclude=()):
    """A sandbox and the isolation its hello announced (None: unknown)."""
    sbx = Sandbox(tmp, orch, name, env)
    found = workers(orch, exclude)
    if found is None:
        # Cannot ask (no python3-zmq): wait for the orchestrator's word.
        orch.wait_for(r"event=worker_joined")
        return sbx, None, None
    return sbx, found[0][1], found[0][0]


def soak(orch, sbx, state, label):
    """Section 5: N tasks in two halves, RSS after each, CPU per task."""
    log(f"5/6 memory: {N_TASKS} tasks (32 HTTP clients) on the {label} sandbox")
    marks = {}
    rates = []
    failed, first = 0, ""
    half = max(1, N_TASKS // 2)
    cpu0 = {"orch": proc_cpu(orch.proc.pid), "sbx": proc_cpu(sbx.proc.pid)}
    for step in ("half", "full"):
        # N successful tasks; a task that ends otherwise is counted, not fatal.
        out = run_json([os.path.join(BIN, "http_client"), "-a", orch.http, "-t", TOKEN,
                        "-m", "POST", "-p", "/api/tasks?wait=60", "-b", TRUE_BODY,
                        "-s", '"status":"succeeded"', "-c", "32", "-n", str(half),
                        "-d", "3600", "-w", "0"], timeout=7200)
        if not out.get("count"):
            raise RunError(f"memory run: {out.get('first_error')}")
        failed += out.get("errors", 0)
        first = first or out.get("first_error", "")
        rates.append(out["rate"])
        marks[step] = {"orch": proc_mem(orch.proc.pid), "sbx": proc_mem(sbx.proc.pid)}
    cpu1 = {"orch": proc_cpu(orch.proc.pid), "sbx": proc_cpu(sbx.proc.pid)}
    n = 2 * half
    add_row("e2e.sustained", 3, f"sustained, {n} tasks of section 5 (HTTP, 32 clients)",
            "tasks/s", rates, limit="limits.posix_spawn.cores",
            note=f"its two halves; {label} sandbox")
    # Where the CPU went per task meanwhile (2 cores = 2e6 µs per second).
    for rid, text, v in (
            ("cpu.orch", "  CPU per task: orchestrator", cpu1["orch"][0] - cpu0["orch"][0]),
            ("cpu.sbx", "  CPU per task: agent-sandbox (its own)", cpu1["sbx"][0] - cpu0["sbx"][0]),
            ("cpu.task", "  CPU per task: the task processes (`true`, reaped)",
             cpu1["sbx"][1] - cpu0["sbx"][1])):
        add_row(rid, 3, text, "µs", [v * 1e6 / n], better="lower", note="during those tasks")
    state["mem"].update({**marks, "n": n, "label": label, "failed": failed,
                         "first_failure": first})


def section_e2e_and_memory(tmp, state):
    """Sections 3 and 5 (and the GET row of 4) on one orchestrator: first a
    sandbox with seccomp+Landlock+rlimits (namespaces and cgroup off), then
    one with its defaults (namespaces and cgroup on where they work), which
    also runs the N tasks of the memory rows."""
    settings = sandbox_settings()
    env_a, env_b = {}, None
    ns = settings.get("namespaces")
    if ns and pick(ns[1], ("off", "no", "false", "0")):
        env_a[ns[0]] = pick(ns[1], ("off", "no", "false", "0"))
        on = pick(ns[1], ("auto", "on", "all", "yes", "true", "1"))
        env_b = {ns[0]: on} if on else None
    cg = settings.get("cgroup")
    if cg and "off" in cg[1]:
        env_a[cg[0]] = "off"
    slots = settings.get("slots")
    if slots:
        env_a[slots[0]] = str(SLOTS)
        if env_b is not None:
            env_b[slots[0]] = str(SLOTS)
    state["sandbox_env"] = {"plain": env_a, "namespaces": env_b}
    desc = " ".join(f"{k}={v}" for k, v in env_a.items()) or "defaults"
    log(f"3/6 end to end, sandbox with {desc}")
    orch = Orchestrator(tmp, "orch")
    sbx = None
    try:
        sbx, iso, wid = start_sandbox(tmp, orch, "sandbox", env_a)
        state["isolation"] = iso
        time.sleep(0.5)
        state["mem"] = {"idle": {"orch": proc_mem(orch.proc.pid), "sbx": proc_mem(sbx.proc.pid)}}
        e2e_rows(orch, python=True)
        if slots and SLOTS != NCPU:
            # The same sandbox with its default slots (one per core).
            sbx.stop()
            sbx = None
            env_d = {k: v for k, v in env_a.items() if k != slots[0]}
            log(f"3/6 end to end, the same sandbox with its default slots ({NCPU})")
            sbx, _, wid_d = start_sandbox(tmp, orch, "sandbox-slots", env_d, exclude=(wid,))
            time.sleep(0.5)
            e2e_rows(orch, tag=f" [{NCPU} slots, the default]", rid_prefix="e2e.slots",
                     latency=False, clients=(32,), python=False)
            wid = wid_d
        if not env_b:
            na_rows_e2e_ns("n/a (agent-sandbox has no namespace setting)")
            soak(orch, sbx, state, "plain")
        else:
            sbx.stop()
            sbx = None
            log(f"3/6 end to end, sandbox with {ns[0]}={env_b[ns[0]]} (its defaults)")
            sbx, iso_b, _ = start_sandbox(tmp, orch, "sandbox-ns", env_b, exclude=(wid,))
            state["isolation_ns"] = iso_b
            time.sleep(0.5)
            state["mem"]["idle"]["sbx"] = proc_mem(sbx.proc.pid)
            if iso_b is not None and not iso_b.get("userns") and not iso_b.get("pidns"):
                na_rows_e2e_ns(f"n/a (the sandbox enforces no namespace here: {iso_text(iso_b)})")
            else:
                e2e_rows(orch, tag=" [namespaces]", rid_prefix="e2e.ns", clients=(4, 32),
                         submit=False, python=False)
            soak(orch, sbx, state, "namespaces" if env_b else "plain")

        log("4/6 orchestrator: GET /api/tasks/{id} with wrk")
        wrk = ensure_tool("wrk", "wrk")
        rec = http_post(orch.http, "/api/tasks?wait=30", TRUE_BODY)
        label = "GET /api/tasks/{id} (wrk, 2 threads, 32 conns)"
        if not wrk:
            add_row("orch.get", 4, label, "req/s", na="n/a (wrk not installed)")
        else:
            vals = []
            for _ in range(RUNS):
                p = subprocess.run([wrk, "-t2", "-c32", f"-d{D_WRK}s", "-H",
                                    f"Authorization: Bearer {TOKEN}",
                                    f"http://{orch.http}/api/tasks/{rec['id']}"],
                                   capture_output=True, text=True, timeout=120)
                m = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
                if m and "Non-2xx" not in p.stdout:
                    vals.append(float(m.group(1)))
            add_row("orch.get", 4, label, "req/s", vals,
                    note=f"store holds {state['mem']['n']}+ tasks")
    finally:
        if sbx:
            sbx.stop()
        orch.stop()
    # ---- database bytes per 10,000 finished tasks --------------------------
    db = os.path.join(orch.data_dir, "cleudo.db")
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finished = con.execute("SELECT count(*) FROM tasks WHERE finished_ms > 0").fetchone()[0]
    con.close()
    size = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
    state["db"] = {"bytes": size, "finished": finished}


def memory_rows(state):
    mem = state.get("mem")
    if not mem:
        return
    n = mem["n"]
    for who, label in (("orch", "orchestrator"), ("sbx", f"agent-sandbox ({mem['label']})")):
        idle = mem["idle"][who]
        add_row(f"mem.{who}.idle", 5, f"{label} RSS idle", "MiB", [idle[0] / 1024],
                better="lower")
        add_row(f"mem.{who}.half", 5, f"{label} RSS after {n // 2} tasks", "MiB",
                [mem["half"][who][0] / 1024], better="lower")
        add_row(f"mem.{who}.full", 5, f"{label} RSS after {n} tasks", "MiB",
                [mem["full"][who][0] / 1024], better="lower",
                note=f"peak (VmHWM) {mem['full'][who][1] / 1024:.1f} MiB")
    failed = mem.get("failed", 0)
    add_row("mem.failed", 5, "tasks of section 5 that did not succeed", "tasks", [failed],
            better="lower", note=(f"first: {mem.get('first_failure', '')[:160]}" if failed
                                  else "every `true` succeeded"))
    db = state["db"]
    if db["finished"]:
        add_row("mem.db.per10k", 5, "database bytes per 10,000 finished tasks", "MiB",
                [db["bytes"] / db["finished"] * 10000 / 2**20], better="lower",
                note=f"{db['bytes'] / 2**20:.1f} MiB for {db['finished']} tasks, after checkpoint")


def section_store(tmp):
    log("4/6 orchestrator: submit rate the store sustains (no worker)")
    for mode in ("normal", "full"):
        # No worker: every task stays queued, so the queue cap goes up to
        # its maximum (it would answer 429 after 10,000 otherwise).
        orch = Orchestrator(tmp, f"store-{mode}", {"ORCH_DURABILITY": mode,
                                                   "ORCH_MAX_QUEUED": "10000000"})
        try:
            got, na, _ = repeat([os.path.join(BIN, "http_client"), "-a", orch.http, "-t", TOKEN,
                                 "-m", "POST", "-p", "/api/tasks", "-b", TRUE_BODY, "-e", "201",
                                 "-c", "32", "-d", str(D_E2E)])
        finally:
            orch.stop()
        add_row(f"orch.submit.{mode}", 4, f"POST /api/tasks accepted, durability={mode}, "
                "32 clients", "tasks/s", got["rate"], na=na,
                limit="limits.fdatasync.1" if mode == "full" else None)


# ---- section 6: peer -------------------------------------------------------------

def section_peer():
    log("6/6 peer: bwrap --unshare-all")
    bwrap = ensure_tool("bwrap", "bubblewrap")
    argv = [bwrap or "bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"]
    for par, how in ((1, "one at a time"), (NCPU, "one per core")):
        rid = f"peer.bwrap.{'1' if par == 1 else 'cores'}"
        label = f"bwrap --unshare-all --ro-bind / / true, {how}"
        if not bwrap:
            add_row(rid, 6, label, "tasks/s", na="n/a (bubblewrap not installed)")
            continue
        got, na, _ = repeat([os.path.join(BIN, "limits"), "cmd", str(par), str(D_SLOW / 2), "--",
                             *argv])
        row = add_row(rid, 6, label, "tasks/s", got["rate"], na=na,
                      limit="limits.posix_spawn.1" if par == 1 else "limits.posix_spawn.cores")
        if par == 1 and "median" in row:
            row["us_per_task"] = 1e6 / row["median"]


# ---- targets -----------------------------------------------------------------------

def target(name, status, detail):
    TARGETS.append({"name": name, "status": status, "detail": detail})


def same_isolation(iso):
    """The per-core layer row that measures, alone, what a worker announcing
    iso enforces: (row id, description)."""
    if iso is None:
        return "layers.seccomp.cores", "unknown (could not ask the worker)"
    ns = iso.get("userns") or iso.get("pidns") or iso.get("mountns")
    if ns and iso.get("cgroup"):
        return f"layers.ns:{ALL_NS}+cgroup.cores", iso_text(iso)
    if ns:
        return f"layers.ns:{ALL_NS}.cores", iso_text(iso)
    if iso.get("seccomp") and iso.get("landlock"):
        return "layers.seccomp.cores", iso_text(iso)
    return "layers.workspace.cores", iso_text(iso) + " (no seccomp/Landlock)"


def evaluate(state):
    iso = state.get("isolation")
    best_e2e = max((median_of(r) or 0) for r in ("e2e.http.true.c4", "e2e.http.true.c32",
                                                 "e2e.submit.true.c4", "e2e.submit.true.c32"))
    # What the running sandbox announced decides which layer row is "the
    # same isolation measured alone".
    same, what = same_isolation(iso)
    spawn = median_of(same)
    if best_e2e and spawn:
        ratio = best_e2e / spawn
        target("e2e throughput >= 70% of the same isolation's spawn rate",
               "PASS" if ratio >= 0.70 else "MISS",
               f"{best_e2e:.0f} tasks/s end to end (best of 4/32 clients, {SLOTS} worker slots)"
               f" vs {spawn:.0f} "
               f"spawns/s alone (row {same}) = {ratio:.0%}; the worker enforced: {what}")
    else:
        target("e2e throughput >= 70% of the same isolation's spawn rate", "n/a",
               "a figure is missing")
    iso_b = state.get("isolation_ns")
    same_b, what_b = same_isolation(iso_b)
    ns_e2e = max((median_of(r) or 0) for r in ("e2e.ns.http.true.c4", "e2e.ns.http.true.c32"))
    ns_spawn = median_of(same_b)
    if ns_e2e and ns_spawn:
        ratio = ns_e2e / ns_spawn
        target("e2e throughput with namespaces >= 60% of their spawn rate",
               "PASS" if ratio >= 0.60 else "MISS",
               f"{ns_e2e:.0f} tasks/s vs {ns_spawn:.0f} spawns/s alone (row {same_b}) = "
               f"{ratio:.0%}; the worker enforced: {what_b}")
    else:
        target("e2e throughput with namespaces >= 60% of their spawn rate", "n/a",
               "no namespace figures (see the [namespaces] rows)")
    what = "the worker enforced: " + what

    p50, p99 = median_of("e2e.http.true.p50"), median_of("e2e.http.true.p99")
    if p50:
        target("HTTP ?wait p50 for `true` < 2 ms", "PASS" if p50 < 2 else "MISS",
               f"p50 {p50:.2f} ms ({what})")
        target("HTTP ?wait p99 < 3x p50", "PASS" if p99 < 3 * p50 else "MISS",
               f"p99 {p99:.2f} ms = {p99 / p50:.1f}x p50")
    np50, np99 = median_of("e2e.ns.http.true.p50"), median_of("e2e.ns.http.true.p99")
    if np50:
        target("HTTP ?wait p50 for `true` with namespaces < 4 ms", "PASS" if np50 < 4 else "MISS",
               f"p50 {np50:.2f} ms")
        target("HTTP ?wait p99 with namespaces < 3x p50", "PASS" if np99 < 3 * np50 else "MISS",
               f"p99 {np99:.2f} ms = {np99 / np50:.1f}x p50")
    else:
        target("HTTP ?wait p50 for `true` with namespaces < 4 ms", "n/a",
               "the sandbox has no namespace setting yet")

    base = median_of("limits.posix_spawn.1")
    bw = median_of("peer.bwrap.1")
    # Full isolation = every namespace (+ the cgroup when it works here);
    # without the namespace rows there is nothing to compare.
    full_id = None
    if median_of(f"layers.ns:{ALL_NS}.1"):
        cg = BY_ID.get(f"layers.ns:{ALL_NS}+cgroup.1") or {}
        full_id = (f"layers.ns:{ALL_NS}+cgroup.1" if cg.get("median") and
                   cg.get("spec", "").startswith("ns:") else f"layers.ns:{ALL_NS}.1")
    if base and bw and full_id:
        ours = 1e6 / median_of(full_id) - 1e6 / base
        theirs = 1e6 / bw - 1e6 / base
        partial = "NOT in effect" in (BY_ID[full_id].get("note") or "")
        target("full isolation overhead <= half of bwrap --unshare-all's",
               "PASS" if ours <= theirs / 2 else "MISS",
               f"ours {ours:.0f} µs/task over a bare posix_spawn (row {full_id}), bwrap "
               f"{theirs:.0f} µs/task = {ours / theirs:.0%} of bwrap's (layer stack of section 2)"
               + ("; SOME LAYERS NOT IN EFFECT here, see the row" if partial else ""))
    else:
        target("full isolation overhead <= half of bwrap --unshare-all's", "n/a",
               "namespace layers or bwrap not measurable here")

    mem = state.get("mem")
    if mem and "n" in mem:
        f = mem.get("failed", 0)
        target("every task of section 5 succeeded", "PASS" if f == 0 else "MISS",
               f"{f} of {mem['n'] + f} did not" + (f"; first: {mem.get('first_failure', '')[:200]}"
                                                   if f else ""))
    if mem and "n" in mem:
        idle = mem["idle"]["orch"][0] / 1024
        target("orchestrator RSS idle < 30 MB", "PASS" if idle < 30 else "MISS",
               f"{idle:.1f} MiB")
        for who, label in (("orch", "orchestrator"), ("sbx", "agent-sandbox")):
            a, b = mem["half"][who][0], mem["full"][who][0]
            grow = (b - a) / 1024
            target(f"{label}: no RSS growth over the second half of the N tasks (<= 1 MiB)",
                   "PASS" if grow <= 1.0 else "MISS",
                   f"{a / 1024:.1f} -> {b / 1024:.1f} MiB ({grow:+.2f} MiB; idle "
                   f"{mem['idle'][who][0] / 1024:.1f} MiB)")


# ---- output -------------------------------------------------------------------------

SECTIONS = {1: "1. Limits of this machine", 2: "2. Isolation layers: spawn of /bin/true, each "
            "row adds one layer", 3: "3. End to end", 4: "4. Orchestrator", 5: "5. Memory",
            6: "6. Peer"}


def fmt_num(v, unit):
    if v is None:
        return "-"
    if unit in ("ms",):
        return f"{v:.2f}"
    if unit in ("MiB",):
        return f"{v:.1f}"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.1f}"


def print_table(meta):
    w = 66
    out = []
    out.append(f"CleudoCode bench  {meta['date']}  git {meta['git']}  "
               f"{'QUICK' if QUICK else 'full'} mode, {RUNS} runs per figure")
    out.append(f"CPU: {meta['cpu']}, {meta['cores']} cores; kernel {meta['kernel']}; "
               f"data/work on {meta['fs']}; load {meta['load_start']:.2f} -> "
               f"{meta['load_end']:.2f}")
    out.append(f"N = {meta['n_tasks']} tasks for the memory rows; median [min - max] of the "
               "runs; ratio = figure / its limit in section 1")
    out.append("(for latencies: figure / the limit's time per task; the limit is posix_spawn of "
               "the same program, one at a time, or per core for throughput)")
    envs = meta.get("sandbox_env") or {}
    plain = " ".join(f"{k}={v}" for k, v in (envs.get("plain") or {}).items()) or "defaults"
    out.append(f"Section 3 sandbox: {plain} -> enforced: {iso_text(meta.get('isolation'))}")
    out.append(f"Worker slots: {SLOTS} (BENCH_SLOTS; 4 per core keep the cores busy while a slot"
               f" waits for its next task; the [{NCPU} slots] rows show the default)")
    if envs.get("namespaces"):
        nsenv = " ".join(f"{k}={v}" for k, v in envs["namespaces"].items())
        out.append(f"[namespaces] rows and section 5: {nsenv} -> enforced: "
                   f"{iso_text(meta.get('isolation_ns'))}")
    others = meta.get("others_cpu_pct")
    if others is not None:
        out.append(f"Other processes used {others:.0f}% of the machine's CPU during the run"
                   + ("; the figures are noisy (shared machine)." if others > 5 else "."))
    out.append("")
    hdr = f"{'':{w}} {'median':>9} {'[min - max]':>19} {'unit':<8} {'ratio':>7}  note"
    section = None
    for r in ROWS:
        if r["section"] != section:
            section = r["section"]
            out.append(SECTIONS[section])
            out.append(hdr)
        label = r["label"][:w]
        if r.get("na"):
            na = r["na"] if r["na"].startswith("n/a") else f"n/a ({r['na']})"
            out.append(f"  {label:{w - 2}} {na}")
            continue
        rng = f"[{fmt_num(r['min'], r['unit'])} - {fmt_num(r['max'], r['unit'])}]"
        ratio = f"{r['ratio']:.2f}x" if r.get("ratio") is not None else ""
        notes = []
        if r.get("us_per_task"):
            notes.append(f"{r['us_per_task']:.0f} µs/task")
        if r.get("delta_us") is not None:
            notes.append(f"Δ {r['delta_us']:+.0f} µs")
        if r.get("note"):
            notes.append(r["note"])
        out.append(f"  {label:{w - 2}} {fmt_num(r['median'], r['unit']):>9} {rng:>19} "
                   f"{r['unit']:<8} {ratio:>7}  {'; '.join(notes)}")
    out.append("")
    out.append("Targets (issue 9):")
    for t in TARGETS:
        out.append(f"  {t['status']:<5} {t['name']}: {t['detail']}")
    print("\n".join(out), flush=True)


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    t0 = time.monotonic()
    for prog in ("limits", "layers", "zmq_rtt", "http_client", "submit_client"):
        if not os.access(os.path.join(BIN, prog), os.X_OK):
            log(f"missing {BIN}/{prog}: build with `make bench` (or make -f Makefile -f "
                "bench/bench.mk bench-build)")
            return 1
    for prog in ("orchestrator", "agent-sandbox", "cleudo"):
        if not os.access(os.path.join(BUILD, prog), os.X_OK):
            log(f"missing {BUILD}/{prog}: run make first")
            return 1
    os.makedirs(BUILD, exist_ok=True)
    shutil.rmtree(LOGS, ignore_errors=True)
    if os.path.exists(OUT):
        os.replace(OUT, os.path.join(os.path.dirname(OUT), "bench.prev.json"))
    # Services' data and workspaces live on the repository's file system
    # (where a real deployment's volumes would be), not /tmp (tmpfs or not,
    # and /tmp collides with the sandbox's minimal root).
    tmp = tempfile.mkdtemp(prefix="bench-", dir=BUILD)
    # Searchable by the tasks' uids (sbx_ns maps them to 200000+slot): the
    # mount layer binds each workspace from the work dir as that uid.
    os.chmod(tmp, 0o711)
    os.makedirs(os.path.join(tmp, "bin"))
    for name in SNAP:
        SNAP[name] = shutil.copy2(os.path.join(BUILD, name), os.path.join(tmp, "bin", name))
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "git": git_rev(), "cpu": cpu_model(),
            "cores": NCPU, "kernel": platform.release(), "fs": fs_type(tmp),
            "load_start": loadavg(), "quick": QUICK, "runs": RUNS, "n_tasks": N_TASKS,
            "d_spawn": D_SPAWN, "d_e2e": D_E2E}
    state = {}
    busy0, own0 = cpu_busy(), own_cpu()
    try:
        section_limits(tmp)
        section_layers(tmp, state)
        section_e2e_and_memory(tmp, state)
        section_store(tmp)
        section_peer()
    except (RunError, OSError, subprocess.TimeoutExpired) as e:
        log(f"could not run: {e}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    memory_rows(state)
    # Order the table by section (rows were measured out of order).
    ROWS.sort(key=lambda r: r["section"])
    meta["load_end"] = loadavg()
    busy1, own1 = cpu_busy(), own_cpu()
    if busy1[1] > busy0[1]:
        meta["others_cpu_pct"] = round(100 * max(0.0, (busy1[0] - busy0[0]) - (own1 - own0))
                                       / (busy1[1] - busy0[1]), 1)
    meta["seconds"] = round(time.monotonic() - t0, 1)
    meta["isolation"] = state.get("isolation")
    meta["isolation_ns"] = state.get("isolation_ns")
    meta["ns_probe"] = state.get("ns_probe")
    meta["sandbox_env"] = state.get("sandbox_env")
    meta["cgroup_probe"] = state.get("cgroup_probe")
    evaluate(state)
    print_table(meta)
    print(f"\n({meta['seconds']:.0f} s; JSON in {os.path.relpath(OUT, REPO)}; compare with "
          "`make bench-compare`)")
    with open(OUT, "w") as f:
        json.dump({"meta": meta, "rows": ROWS, "targets": TARGETS}, f, indent=1,
                  ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
