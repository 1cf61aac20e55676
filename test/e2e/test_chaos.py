"""Chaos: a few hundred tasks from concurrent clients while workers and the
orchestrator are killed, stopped and restarted at random moments.

What it proves (DESIGN.md, "Reliability promises"):
  * every task the orchestrator acknowledged (HTTP 201/200, cleudo's id)
    reaches exactly one terminal status: none is missing, none is left
    queued / dispatched / running;
  * no result is recorded twice: the timeline of every task has exactly one
    terminal event, and it agrees with the status;
  * results are right: each task ends as its kind says (instant and
    sleeping ones succeed, failing ones fail with exit 3, slow ones time
    out) unless it is "lost";
  * a task is "lost" only when every attempt that started did so on a
    worker that was killed (or stopped past the timeout) during it, and at
    least ORCH_MAX_ATTEMPTS such attempts started;
  * the database passes PRAGMA integrity_check.

The chaos comes from one seeded RNG, printed at the start; run it again with
CHAOS_SEED=<seed> to replay the same schedule (the timing of processes is
not deterministic, the decisions are). The whole test stays within 3
minutes: CHAOS_TASKS (default 300) tasks over about CHAOS_SECONDS (default
40) seconds of submissions, then at most 70 s for the rest to finish.

Run: CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q -s test/e2e/test_chaos.py
"""
import collections
import json
import os
import random
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request

from conftest import SAN_ENV, System, _check_logs, bin_path

TERMINAL = {"succeeded", "failed", "timed_out", "killed", "memory_limit", "output_limit",
            "cancelled", "rejected", "lost", "internal_error"}
WORKER_TIMEOUT_S = 4
MAX_ATTEMPTS = 2
ORCH_ENV = {
    "ORCH_WORKER_TIMEOUT": f"{WORKER_TIMEOUT_S}s",
    "ORCH_DISPATCH_LEASE": "3s",
    "ORCH_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "ORCH_LOG_LEVEL": "info",
}
SANDBOX_ENV = {"SANDBOX_HEARTBEAT": "300ms", "SANDBOX_RESEND": "500ms", "SANDBOX_GRACE": "2s"}
MAX_WORKERS = 5
DRAIN_S = 70


def _kinds(rng):
    """(kind, task body, expected status) for one task."""
    kind = rng.choices(["instant", "sleeping", "failing", "timeout"], [40, 30, 20, 10])[0]
    if kind == "instant":
        n = rng.randrange(10 ** 6)
        return kind, {"argv": ["echo", f"n{n}"]}, ("succeeded", f"n{n}\n")
    if kind == "sleeping":
        s = rng.choice(["0.2", "0.5", "1", "1.5", "2"])
        return kind, {"argv": ["sh", "-c", f"sleep {s}; echo slept {s}"]}, \
            ("succeeded", f"slept {s}\n")
    if kind == "failing":
        return kind, {"argv": ["sh", "-c", "echo failing >&2; exit 3"]}, ("failed", "")
    return kind, {"argv": ["sleep", "10"], "limits": {"wall_ms": 500}}, ("timed_out", "")


class Ledger:
    """What the clients were told, and what the chaos did, with times."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}                 # id -> (kind, expected, key, via)
        self.retries = 0
        self.disrupted = collections.defaultdict(list)  # worker -> [unix ms]
        self.actions = []               # (unix ms, text)

    def ack(self, tid, kind, expected, key, via):
        with self.lock:
            assert tid not in self.acked or self.acked[tid][2] == key, \
                f"two keys got the same id {tid}"
            self.acked[tid] = (kind, expected, key, via)

    def act(self, text):
        with self.lock:
            self.actions.append((int(time.time() * 1000), text))

    def disrupt(self, worker):
        with self.lock:
            self.disrupted[worker].append(int(time.time() * 1000))


def _http_client(url, token, jobs, ledger, stop):
    for key, kind, body, expected in jobs:
        data = json.dumps(body).encode()
        while not stop.is_set():
            req = urllib.request.Request(url + "/api/tasks", data=data, method="POST", headers={
                "Authorization": "Bearer " + token, "Content-Type": "application/json",
                "Idempotency-Key": key})
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    rec = json.loads(resp.read())
                    assert resp.status in (200, 201), resp.status
                ledger.ack(rec["id"], kind, expected, key, "http")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
                # Orchestrator down or restarting (or a 503 while it stops):
                # the same key makes the retry safe.
                if isinstance(e, urllib.error.HTTPError) and e.code not in (503, 429):
                    raise
                with ledger.lock:
                    ledger.retries += 1
                time.sleep(0.2)


def _cli_client(submit, token, jobs, ledger, stop):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEUDO_", "ORCH_"))}
    env.update(SAN_ENV, CLEUDO_ENDPOINT=submit, CLEUDO_TOKEN=token,
               CLEUDO_CONNECT_TIMEOUT="3s")
    for key, kind, body, expected in jobs:
        args = ["submit", "--key", key]
        if "limits" in body:
            args += ["--timeout", f"{body['limits']['wall_ms']}ms"]
        args += ["--", *body["argv"]]
        while not stop.is_set():
            proc = subprocess.run([bin_path("cleudo"), *args], env=env, capture_output=True,
                                  timeout=30)
            assert b"Sanitizer" not in proc.stderr and b"runtime error" not in proc.stderr, \
                proc.stderr
            if proc.returncode == 0:
                ledger.ack(proc.stdout.decode().strip(), kind, expected, key, "cli")
                break
            # 4: unreachable (restarting); anything else is a bug
            assert proc.returncode == 4, (proc.returncode, proc.stderr)
            with ledger.lock:
                ledger.retries += 1
            time.sleep(0.2)


def _list_all(orch):
    status, _, body = orch.http("GET", "/api/tasks?limit=1000", timeout=10)
    assert status == 200, body
    return {item["id"]: item for item in body["items"]}


def test_chaos(tmp_path, capsys):
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1 << 31))
    n_tasks = int(os.environ.get("CHAOS_TASKS", "300"))
    seconds = float(os.environ.get("CHAOS_SECONDS", "40"))
    with capsys.disabled():
        print(f"\nCHAOS_SEED={seed} (replay: CHAOS_SEED={seed} pytest test/e2e/test_chaos.py)"
              f" tasks={n_tasks} seconds={seconds:g}", flush=True)
    rng = random.Random(seed)
    t_start = time.monotonic()
    ledger = Ledger()

    s = System(tmp_path, orch_env=ORCH_ENV,
               sandbox_env={**SANDBOX_ENV, "SANDBOX_WORKER_ID": "chaos-w0"}, slots=2)
    names = iter(range(1, 1000))
    stopped = {}                        # worker id -> (sandbox, resume at monotonic)
    stop_clients = threading.Event()

    def live():
        return [x for x in s.sandboxes if x.alive() and x.worker_id not in stopped]

    def add_worker():
        name = f"chaos-w{next(names)}"
        s.add_sandbox(name, slots=2, env=SANDBOX_ENV, wait=False)
        ledger.act(f"start worker {name}")

    for _ in range(2):
        add_worker()

    try:
        # The jobs, split among 3 HTTP and 2 CLI clients.
        jobs = []
        for i in range(n_tasks):
            kind, body, expected = _kinds(rng)
            jobs.append((f"chaos-{seed}-{i}", kind, body, expected))
        lanes = [jobs[i::5] for i in range(5)]
        # Each client submits its lane spread over the chaos period.
        def paced(fn, lane, *args):
            def run():
                gap = seconds / max(1, len(lane))
                for job in lane:
                    t0 = time.monotonic()
                    fn(*args[:2], [job], ledger, stop_clients)
                    time.sleep(max(0.0, gap - (time.monotonic() - t0)))
            return threading.Thread(target=run, daemon=True)
        o = s.orch
        clients = [paced(_http_client, lanes[i], o.url, o.token) for i in range(3)]
        clients += [paced(_cli_client, lanes[i], o.submit, o.token) for i in range(3, 5)]
        for c in clients:
            c.start()

        # The chaos, until the clients are done.
        next_action = time.monotonic() + rng.uniform(2, 4)
        while any(c.is_alive() for c in clients):
            now = time.monotonic()
            for wid, (sbx, resume_at) in list(stopped.items()):
                if now >= resume_at:
                    sbx.sigcont()
                    del stopped[wid]
                    ledger.act(f"SIGCONT {wid}")
            if now >= next_action and now - t_start < seconds + 5:
                choice = rng.choices(["kill_worker", "stop_worker", "kill_orch", "add_worker"],
                                     [30, 20, 25, 25])[0]
                workers = live()
                if choice == "kill_worker" and len(workers) >= 2:
                    victim = rng.choice(workers)
                    ledger.disrupt(victim.worker_id)
                    victim.kill9()
                    ledger.act(f"kill -9 {victim.worker_id}")
                    if len(live()) < 2:
                        add_worker()
                elif choice == "stop_worker" and len(workers) >= 2:
                    victim = rng.choice(workers)
                    ledger.disrupt(victim.worker_id)
                    victim.sigstop()
                    stopped[victim.worker_id] = (victim, now + WORKER_TIMEOUT_S + 1.5)
                    ledger.act(f"SIGSTOP {victim.worker_id}")
                elif choice == "kill_orch":
                    # Down for a while: clients retry, workers keep results.
                    s.orch.kill9()
                    down = rng.uniform(0.2, 2.5)
                    ledger.act(f"kill -9 orchestrator (down {down:.1f}s)")
                    time.sleep(down)
                    s.restart_orchestrator(kill=True)
                    ledger.act("orchestrator restarted")
                elif len([x for x in s.sandboxes if x.alive()]) < MAX_WORKERS:
                    add_worker()
                next_action = time.monotonic() + rng.uniform(1.5, 4)
            time.sleep(0.05)
        for c in clients:
            c.join()
        for wid, (sbx, _) in list(stopped.items()):
            sbx.sigcont()
            ledger.act(f"SIGCONT {wid}")
        stopped.clear()
        while len(live()) < 2:
            add_worker()
        t_submitted = time.monotonic()

        # Everything acknowledged must end.
        acked = dict(ledger.acked)
        assert len(acked) == n_tasks, f"{n_tasks - len(acked)} jobs never acknowledged"
        deadline = time.monotonic() + DRAIN_S
        while True:
            items = _list_all(s.orch)
            pending = [tid for tid in acked
                       if tid not in items or items[tid]["status"] not in TERMINAL]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        t_drained = time.monotonic()
        assert not pending, f"{len(pending)} tasks not terminal after {DRAIN_S}s, e.g. " + \
            json.dumps([s.orch.http("GET", f"/api/tasks/{t}")[2] for t in pending[:3]])[:3000]

        # Per task: one terminal event, the right outcome, lost only if justified.
        counts = collections.Counter()
        attempts = collections.Counter()
        problems = []
        for tid, (kind, (want_status, want_out), key, via) in acked.items():
            status, _, rec = s.orch.http("GET", f"/api/tasks/{tid}")
            assert status == 200, (tid, rec)
            timeline = rec["timeline"]
            terminal = [e for e in timeline if e["event"] in TERMINAL]
            counts[rec["status"]] += 1
            attempts[rec["attempt"]] += 1
            if len(terminal) != 1 or terminal[0]["event"] != rec["status"]:
                problems.append((tid, "terminal events", [e["event"] for e in timeline]))
                continue
            if rec["status"] == "lost":
                starts = [e for e in timeline if e["event"] == "started"]
                unjustified = [e for e in starts
                               if not any(t >= e["at_ms"] - 500
                                          for t in ledger.disrupted.get(e["worker"], []))]
                if unjustified or len(starts) < MAX_ATTEMPTS:
                    problems.append((tid, "lost without every worker killed", timeline))
                continue
            if rec["status"] != want_status:
                problems.append((tid, f"{kind}: want {want_status}", rec["status"],
                                 rec.get("error"), timeline))
            elif want_out and rec["stdout"] != want_out:
                problems.append((tid, "stdout", rec["stdout"], want_out))
            elif kind == "failing" and rec["exit_code"] != 3:
                problems.append((tid, "exit code", rec["exit_code"]))
        assert not problems, f"seed {seed}: {len(problems)} problems, e.g.:\n" + \
            "\n".join(json.dumps(p)[:1500] for p in problems[:5])
        assert sum(counts.values()) == n_tasks

        # Nothing else in the database, and it is sound.
        items = _list_all(s.orch)
        assert set(items) == set(acked), "tasks nobody acknowledged were stored"
    finally:
        stop_clients.set()
        for wid, (sbx, _) in list(stopped.items()):
            sbx.sigcont()
        codes = s.stop()
        _check_logs(s.services() + s.old_orchs)

    db = sqlite3.connect(os.path.join(s.orch.data_dir, "cleudo.db"))
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        events = db.execute("SELECT count(*) FROM task_events").fetchone()[0]
    finally:
        db.close()
    assert integrity == "ok", integrity
    assert all(c == 0 for c in codes.values()), f"exit codes on SIGTERM: {codes}"

    elapsed = time.monotonic() - t_start
    kinds = collections.Counter(v[0] for v in acked.values())
    vias = collections.Counter(v[3] for v in acked.values())
    with capsys.disabled():
        print(f"CHAOS_SEED={seed} summary: {n_tasks} tasks ({dict(kinds)}; via {dict(vias)})"
              f" in {elapsed:.1f}s (submitting {t_submitted - t_start:.1f}s,"
              f" draining {t_drained - t_submitted:.1f}s)")
        print(f"  statuses: {dict(sorted(counts.items()))}")
        print(f"  attempts: {dict(sorted(attempts.items()))}; client retries: {ledger.retries};"
              f" timeline events: {events}; integrity_check: {integrity}")
        acts = collections.Counter(a.split(" chaos-")[0].split(" (")[0]
                                   for _, a in ledger.actions)
        print(f"  chaos: {dict(acts)}")
        for at, text in ledger.actions:
            print(f"    {time.strftime('%H:%M:%S', time.localtime(at / 1000))}."
                  f"{at % 1000:03d} {text}")
    assert elapsed < 180, f"chaos took {elapsed:.0f}s (budget 3 min)"
