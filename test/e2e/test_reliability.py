"""Reliability mechanisms one at a time, on the real binaries.

Cancellation (queued, running, finished; HTTP, submit socket, cleudo),
idempotency keys, the bounded queue (429), retention, a worker killed while
it runs a task, an orchestrator killed while workers hold results, graceful
SIGTERM of a worker, the timeline of a task. The wire-level cases (stale
attempts, duplicate results, recovery after a restart) use a fake worker,
see test_orchestrator_wire.py for that harness.

Run: CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q test/e2e/test_reliability.py
"""
import os
import re
import sqlite3
import subprocess
import time

import pytest

from conftest import Orchestrator, System, _check_logs, bin_path, SAN_ENV
from test_orchestrator_wire import CALM, Client, FakeWorker, unpack

TERMINAL = {"succeeded", "failed", "timed_out", "killed", "memory_limit", "output_limit",
            "cancelled", "rejected", "lost", "internal_error"}
FAST = {"ORCH_WORKER_TIMEOUT": "2s", "ORCH_DISPATCH_LEASE": "2s"}


def wait_for(pred, timeout=15.0, every=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} not reached within {timeout}s")


def get(orch, tid, query=""):
    return orch.http("GET", f"/api/tasks/{tid}{query}")


def post(orch, spec, query="", headers=None):
    return orch.http("POST", "/api/tasks" + query, spec, headers=headers)


def status_of(orch, tid):
    return get(orch, tid)[2]["status"]


def wait_status(orch, tid, wanted, timeout=20.0):
    wanted = {wanted} if isinstance(wanted, str) else set(wanted)
    return wait_for(lambda: (lambda r: r if r["status"] in wanted else None)(get(orch, tid)[2]),
                    timeout, what=f"task {tid} in {wanted}")


def events(rec):
    return [e["event"] for e in rec["timeline"]]


@pytest.fixture
def make_system(tmp_path):
    made = []

    def make(orch_env=None, sandbox_env=None, slots=2):
        s = System(tmp_path, orch_env=orch_env, sandbox_env=sandbox_env, slots=slots)
        made.append(s)
        return s

    yield make
    for s in made:
        for sbx in s.sandboxes:
            if sbx.alive():
                sbx.sigcont()
        codes = s.stop()
        _check_logs(s.services() + s.old_orchs)
        assert all(c == 0 for c in codes.values()), f"exit codes on SIGTERM: {codes}"


# ---------------------------------------------------------------------------
# cancellation


def test_cancel_queued_running_and_finished(make_system):
    s = make_system(slots=2)
    o = s.orch
    # Two sleepers fill both slots; the third task waits in the queue.
    sleepers = [post(o, {"argv": ["sh", "-c", f"echo started-{i}; sleep 60"]})[2]["id"]
                for i in range(2)]
    for tid in sleepers:
        wait_status(o, tid, "running")
    status, _, queued = post(o, {"argv": ["echo", "never"]})
    assert status == 201
    time.sleep(0.3)
    assert status_of(o, queued["id"]) == "queued"

    # queued -> cancelled at once, 200
    status, _, rec = o.http("POST", f"/api/tasks/{queued['id']}/cancel")
    assert status == 200, rec
    assert rec["status"] == "cancelled" and rec["error"] == "cancelled while queued"
    assert events(rec) == ["queued", "cancelled"]

    # running -> 202 while the worker kills it, then cancelled with its output
    status, _, rec = o.http("POST", f"/api/tasks/{sleepers[0]}/cancel")
    assert status == 202, rec
    assert rec["status"] == "running"
    rec = wait_status(o, sleepers[0], TERMINAL, timeout=10)
    assert rec["status"] == "cancelled", rec
    assert rec["stdout"] == "started-0\n"             # partial output kept
    assert rec["signal"] == 9
    assert "cancelled by a client" in rec["error"]
    ev = events(rec)
    assert ev[-2:] == ["cancel_requested", "cancelled"], ev
    assert rec["timeline"][-1]["worker"] == rec["worker"]

    # the same through cleudo (submit socket "cancel")
    proc = s.cleudo("cancel", "--wait", sleepers[1])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == f"task {sleepers[1]} cancelled\n"
    assert status_of(o, sleepers[1]) == "cancelled"

    # finished -> 409 conflict, cleudo exit 3
    done = s.run_task({"argv": ["true"]})
    status, _, body = o.http("POST", f"/api/tasks/{done['id']}/cancel")
    assert status == 409 and body["error"]["code"] == "conflict"
    assert "already finished (succeeded)" in body["error"]["message"]
    proc = s.cleudo("cancel", done["id"])
    assert proc.returncode == 3
    assert b"already finished (succeeded)" in proc.stderr
    status, _, body = o.http("POST", "/api/tasks/0123456789ab-00000000/cancel")
    assert status == 404
    assert o.http("GET", f"/api/tasks/{done['id']}/cancel")[0] == 405
    # the queued task never reached a worker
    assert "never" not in s.sandboxes[0].read_log()
    log = o.read_log()
    assert f"event=task_cancelled id={queued['id']}" in log
    assert f"event=cancel_requested id={sleepers[0]}" in log


def test_cancel_json_and_cleudo_pending(make_system):
    s = make_system()
    tid = post(s.orch, {"argv": ["sleep", "60"]})[2]["id"]
    wait_status(s.orch, tid, "running")
    proc = s.cleudo("cancel", tid)
    assert proc.returncode == 0, proc.stderr
    assert b"cancel requested" in proc.stdout
    rec = wait_status(s.orch, tid, TERMINAL)
    assert rec["status"] == "cancelled"
    proc = s.cleudo("cancel", "--json", tid)
    assert proc.returncode == 3


# ---------------------------------------------------------------------------
# idempotency, backpressure, retention


def test_idempotency_over_http_and_the_submit_socket(make_system):
    s = make_system()
    o = s.orch
    h = {"Idempotency-Key": "order-17"}
    status, headers, first = post(o, {"argv": ["echo", "once"]}, headers=h)
    assert status == 201 and "Idempotent-Replayed" not in headers
    status, headers, again = post(o, {"argv": ["echo", "twice?"]}, headers=h)
    assert status == 200 and headers.get("Idempotent-Replayed") == "true"
    assert again["id"] == first["id"]
    status, _, waited = post(o, {"argv": ["echo", "x"]}, "?wait=10", headers=h)
    assert status == 200 and waited["id"] == first["id"] and waited["stdout"] == "once\n"
    # cleudo --key: the submit socket's "key"
    ids = set()
    for _ in range(3):
        proc = s.cleudo("submit", "--key", "cli-key-1", "--", "echo", "cli")
        assert proc.returncode == 0, proc.stderr
        ids.add(proc.stdout.decode().strip())
    assert len(ids) == 1
    # keys are one namespace: the HTTP key through the CLI gives the HTTP task
    proc = s.cleudo("submit", "--key", "order-17", "--", "true")
    assert proc.stdout.decode().strip() == first["id"]
    proc = s.cleudo("run", "--key", "cli-key-1", "--", "echo", "ignored")
    assert proc.returncode == 0 and proc.stdout == b"cli\n"
    # a bad key is a clear 400
    status, _, body = post(o, {"argv": ["true"]}, headers={"Idempotency-Key": "a\tb"})
    assert status == 400 and body["error"]["field"] == "Idempotency-Key"
    listed = o.http("GET", "/api/tasks?limit=100")[2]["items"]
    assert len(listed) == 2                              # two keys, two tasks
    assert o.read_log().count("event=task_replayed") >= 5


def test_queue_full_429_and_cleudo_exit_7(tmp_path):
    o = Orchestrator(tmp_path, {"ORCH_MAX_QUEUED": "3"})
    try:
        for i in range(3):
            status, _, rec = post(o, {"argv": ["echo", str(i)]},
                                  headers={"Idempotency-Key": f"k{i}"})
            assert status == 201
        status, headers, body = post(o, {"argv": ["echo", "one too many"]})
        assert status == 429, body
        assert headers.get("Retry-After") == "1"
        assert body["error"]["code"] == "queue_full"
        assert "ORCH_MAX_QUEUED=3" in body["error"]["message"]
        # a retry of an accepted request is answered even now
        status, _, again = post(o, {"argv": ["echo", "0"]}, headers={"Idempotency-Key": "k0"})
        assert status == 200
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEUDO_", "ORCH_"))}
        env.update(SAN_ENV, CLEUDO_ENDPOINT=o.submit, CLEUDO_TOKEN=o.token)
        proc = subprocess.run([bin_path("cleudo"), "submit", "--", "true"], env=env,
                              capture_output=True, timeout=30)
        assert proc.returncode == 7
        assert proc.stderr == b"cleudo: the orchestrator's queue is full; retry later\n"
        # room again once one is cancelled
        tid = o.http("GET", "/api/tasks?limit=1")[2]["items"][0]["id"]
        assert o.http("POST", f"/api/tasks/{tid}/cancel")[0] == 200
        assert post(o, {"argv": ["true"]})[0] == 201
    finally:
        assert o.stop() == 0
        _check_logs([o])
    # One line says what the shutdown did: nothing lost, the queue kept.
    assert re.search(r"event=stopped signal=SIGTERM waiters_answered=0 unsent=0 queued=3"
                     r" in_flight=0 note=", o.read_log()), o.read_log()[-2000:]


def test_retention_prunes_finished_tasks(make_system):
    s = make_system(orch_env={"ORCH_RETENTION": "1s"})
    o = s.orch
    done = s.run_task({"argv": ["echo", "old"], "collect": ["x"]})
    running = post(o, {"argv": ["sleep", "60"]})[2]["id"]
    wait_status(o, running, "running")
    wait_for(lambda: get(o, done["id"])[0] == 404, timeout=10, what="pruned")
    assert "event=tasks_pruned" in o.read_log()
    # unfinished tasks stay, however old
    time.sleep(1.5)
    assert status_of(o, running) == "running"
    assert o.http("POST", f"/api/tasks/{running}/cancel")[0] == 202
    db = sqlite3.connect(os.path.join(o.data_dir, "cleudo.db"))
    try:
        seqs = [r[0] for r in db.execute("SELECT task_seq FROM task_events")]
        known = {r[0] for r in db.execute("SELECT seq FROM tasks")}
        assert set(seqs) <= known                      # timelines went with them
    finally:
        db.close()


# ---------------------------------------------------------------------------
# workers die, leave, come back


def _worker_of(orch, tid):
    rec = wait_status(orch, tid, "running")
    return rec["worker"]


def test_killed_worker_task_requeued_and_succeeds_elsewhere(make_system):
    s = make_system(orch_env=FAST, sandbox_env={"SANDBOX_WORKER_ID": "wk-a"}, slots=1)
    s.add_sandbox("wk-b", slots=1)
    o = s.orch
    tid = post(o, {"argv": ["sh", "-c", "sleep 1.5; echo done"]})[2]["id"]
    victim = _worker_of(o, tid)
    [sbx.kill9() for sbx in s.sandboxes if sbx.worker_id == victim]
    rec = wait_status(o, tid, TERMINAL, timeout=30)
    assert rec["status"] == "succeeded", rec
    assert rec["stdout"] == "done\n"
    assert rec["attempt"] == 2 and rec["worker"] != victim
    ev = rec["timeline"]
    assert [e["event"] for e in ev] == ["queued", "dispatched", "started", "requeued",
                                        "dispatched", "started", "succeeded"]
    assert ev[2]["worker"] == victim and ev[3]["worker"] == victim
    assert "went silent" in ev[3]["detail"]
    log = o.read_log()
    assert re.search(r'event=worker_dead worker="%s"' % victim, log)
    assert f"event=task_requeued id={tid} attempt=1" in log


def test_task_lost_after_max_attempts(make_system):
    s = make_system(orch_env={**FAST, "ORCH_MAX_ATTEMPTS": "1"},
                    sandbox_env={"SANDBOX_WORKER_ID": "doomed"}, slots=1)
    o = s.orch
    tid = post(o, {"argv": ["sleep", "30"]})[2]["id"]
    _worker_of(o, tid)
    s.sandboxes[0].kill9()
    rec = wait_status(o, tid, TERMINAL, timeout=20)
    assert rec["status"] == "lost"
    assert "doomed" in rec["error"] and "ORCH_MAX_ATTEMPTS" in rec["error"]
    assert events(rec)[-1] == "lost"
    assert f"event=task_lost id={tid}" in o.read_log()


def test_orchestrator_kill9_results_kept_by_workers_are_picked_up(make_system):
    s = make_system(sandbox_env={"SANDBOX_RESEND": "300ms"}, slots=2)
    o = s.orch
    ids = [post(o, {"argv": ["sh", "-c", f"sleep 1.5; echo r{i}"]})[2]["id"] for i in range(2)]
    for tid in ids:
        wait_status(o, tid, "running")
    o2 = s.restart_orchestrator(kill=True)           # kill -9 while they run
    assert o2.http_addr == o.http_addr and o2.results == o.results
    for i, tid in enumerate(ids):
        rec = wait_status(o2, tid, TERMINAL, timeout=20)
        assert rec["status"] == "succeeded" and rec["stdout"] == f"r{i}\n", rec
        assert rec["attempt"] == 1                     # not run twice
        assert events(rec)[-1] == "succeeded"
    log = o2.read_log()
    assert "event=recovery_started dispatched=0 running=2" in log
    assert s.run_task({"argv": ["echo", "after"]})["stdout"] == "after\n"


def test_worker_sigterm_finishes_running_task_then_leaves(make_system):
    s = make_system()
    o = s.orch
    tid = post(o, {"argv": ["sh", "-c", "sleep 1; echo finished"]})[2]["id"]
    wait_status(o, tid, "running")
    sbx = s.sandboxes[0]
    t0 = time.monotonic()
    assert sbx.stop() == 0
    assert time.monotonic() - t0 < 8
    rec = get(o, tid)[2]
    assert rec["status"] == "succeeded" and rec["stdout"] == "finished\n"
    log = sbx.read_log()
    assert "event=worker_stopping signal=TERM running=1" in log
    assert "event=worker_stopped finished_in_grace=1 abandoned=0 unacked_results=0" in log
    o.wait_for_log(r'event=worker_left worker="[^"]+" known=yes')
    assert o.http("GET", "/healthz")[0] == 200


def test_worker_sigterm_past_grace_gives_task_back_without_an_attempt(make_system):
    s = make_system(orch_env={"ORCH_MAX_ATTEMPTS": "1"},
                    sandbox_env={"SANDBOX_GRACE": "300ms", "SANDBOX_WORKER_ID": "leaver"},
                    slots=1)
    o = s.orch
    tid = post(o, {"argv": ["sh", "-c", "sleep 3; echo second-run"]})[2]["id"]
    assert _worker_of(o, tid) == "leaver"
    assert s.sandboxes[0].stop() == 0
    o.wait_for_log(r"event=task_requeued id=%s attempt=1 worker=\"leaver\" lost_runs=0" % tid)
    s.add_sandbox("stayer", slots=1)
    rec = wait_status(o, tid, TERMINAL, timeout=30)
    # max attempts 1, yet not lost: leaving gracefully costs no attempt
    assert rec["status"] == "succeeded" and rec["worker"] == "stayer", rec
    req = [e for e in rec["timeline"] if e["event"] == "requeued"][0]
    assert "left before it finished" in req["detail"]
    assert "event=task_abandoned" in s.sandboxes[0].read_log()


def test_sigstopped_worker_is_given_up_then_reconciled(make_system):
    s = make_system(orch_env=FAST, sandbox_env={"SANDBOX_WORKER_ID": "sleepy"}, slots=1)
    o = s.orch
    tid = post(o, {"argv": ["sh", "-c", "sleep 6; echo woke"]})[2]["id"]
    assert _worker_of(o, tid) == "sleepy"
    sbx = s.sandboxes[0]
    sbx.sigstop()
    try:
        o.wait_for_log(r'event=worker_dead worker="sleepy"', timeout=10)
        o.wait_for_log(r"event=task_requeued id=%s" % tid, timeout=5)
    finally:
        sbx.sigcont()
    # back: its heartbeat claims the task again (no other worker took it)
    rec = wait_status(o, tid, TERMINAL, timeout=20)
    assert rec["status"] == "succeeded" and rec["stdout"] == "woke\n", rec
    assert rec["attempt"] == 1
    assert re.search(r"event=task_started id=%s attempt=1 worker=\"sleepy\" via=reclaimed" % tid,
                     o.read_log())


# ---------------------------------------------------------------------------
# wire level: a fake worker plays every frame


@pytest.fixture
def wire(tmp_path):
    started = []

    def start(env=None, **kwargs):
        o = Orchestrator(tmp_path, {**CALM, **(env or {})},
                         log_name=f"orch{len(started)}", **kwargs)
        started.append(o)
        return o

    yield start
    for o in started:
        if o.alive():
            assert o.stop() == 0
        else:
            o.log.close()
    _check_logs(started)


def control_frames(w, timeout=2.0, want=None):
    """Control frames received by the fake worker within timeout (until
    one of type want arrives, when given)."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if w.sub.poll(50):
            msg = unpack(w.sub.recv())
            got.append(msg)
            if want and msg["type"] == want:
                break
    return got


def test_duplicate_results_are_acked_and_recorded_once(wire):
    o = wire()
    w = FakeWorker(o, slots=1)
    try:
        w.hello()
        time.sleep(0.3)                                # SUB joins before acks flow
        tid = post(o, {"argv": ["echo", "x"]})[2]["id"]
        task = w.recv_task()
        w.started(task)
        w.result(task, stdout=b"first\n")
        acks = [m for m in control_frames(w, want="ack") if m["type"] == "ack"]
        assert acks and acks[0]["ids"] == [tid] and acks[0]["attempts"] == [1]
        w.result(task, stdout=b"second\n")             # the worker missed the ack
        acks = [m for m in control_frames(w, want="ack") if m["type"] == "ack"]
        assert acks and acks[0]["ids"] == [tid]        # acked again ...
        rec = get(o, tid)[2]
        assert rec["stdout"] == "first\n"              # ... never overwritten
        assert [e["event"] for e in rec["timeline"]].count("succeeded") == 1
        assert "reason=already_terminal" in o.read_log()
    finally:
        w.close()


def test_stale_attempt_is_ignored_and_cancelled(wire):
    o = wire({"ORCH_DISPATCH_LEASE": "500ms"})
    w = FakeWorker(o, slots=1)
    try:
        w.hello()
        time.sleep(0.3)
        tid = post(o, {"argv": ["echo", "x"]})[2]["id"]
        first = w.recv_task()
        assert first["attempt"] == 1
        second = w.recv_task(timeout=5)                 # lease expired: sent again
        assert second["id"] == tid and second["attempt"] == 2
        w.started(second)
        w.started(first)                               # the old frame starts late
        cancels = [m for m in control_frames(w, want="cancel") if m["type"] == "cancel"]
        assert cancels == [{"v": 1, "type": "cancel", "id": tid, "attempt": 1,
                            "worker": w.id}]
        w.result(first, stdout=b"old\n")              # ignored: attempt 2 runs
        w.result(second, stdout=b"new\n")
        rec = get(o, tid, "?wait=5")[2]
        assert rec["status"] == "succeeded" and rec["stdout"] == "new\n"
        assert rec["attempt"] == 2
        log = o.read_log()
        assert re.search(r"event=started_ignored id=%s attempt=1 .*reason=stale_attempt" % tid, log)
        assert re.search(r"event=result_ignored id=%s attempt=1 .*reason=stale_attempt" % tid, log)
        ev = [(e["event"], e["attempt"]) for e in rec["timeline"]]
        assert ev == [("queued", None), ("dispatched", 1), ("requeued", 1), ("dispatched", 2),
                      ("started", 2), ("succeeded", 2)]
    finally:
        w.close()


def test_started_after_cancel_while_dispatched_is_a_no_op(wire):
    o = wire()
    w = FakeWorker(o, slots=1)
    try:
        w.hello()
        time.sleep(0.3)
        tid = post(o, {"argv": ["sleep", "9"]})[2]["id"]
        task = w.recv_task()
        status, _, rec = o.http("POST", f"/api/tasks/{tid}/cancel")
        assert status == 200 and rec["status"] == "cancelled"
        assert rec["error"] == "cancelled before it started"
        got = control_frames(w, want="cancel")
        assert got and got[-1]["type"] == "cancel"
        assert got[-1]["id"] == tid and got[-1]["attempt"] == 1 and "worker" not in got[-1]
        w.started(task)                                # too late: no-op + cancel
        got = control_frames(w, want="cancel")
        assert got and got[-1]["type"] == "cancel" and got[-1]["worker"] == w.id
        w.result(task, status="cancelled", exit_code=None)
        rec = get(o, tid)[2]
        assert rec["status"] == "cancelled" and rec["error"] == "cancelled before it started"
        assert [e["event"] for e in rec["timeline"]] == ["queued", "dispatched", "cancelled"]
    finally:
        w.close()


def test_restart_reconciles_with_heartbeats(wire):
    first = wire()
    w = FakeWorker(first, slots=2)
    try:
        w.hello()
        keep = post(first, {"argv": ["echo", "keep"]})[2]["id"]
        drop = post(first, {"argv": ["echo", "drop"]})[2]["id"]
        tasks = {t["id"]: t for t in (w.recv_task(), w.recv_task())}
        for t in tasks.values():
            w.started(t)
        wait_for(lambda: status_of(first, drop) == "running")
        first.kill9()
        first.log.close()
        second = wire({**first.same_ports(), "ORCH_WORKER_TIMEOUT": "1500ms"},
                      data_dir=first.data_dir)
        assert "event=recovery_started dispatched=0 running=2" in second.read_log()
        # the worker still runs "keep" and says so; "drop" nobody claims
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            w.heartbeat(free=1, running=[keep])
            time.sleep(0.2)
        assert status_of(second, keep) == "running"
        rec = get(second, drop)[2]
        assert rec["status"] in ("queued", "dispatched"), rec
        req = [e for e in rec["timeline"] if e["event"] == "requeued"][-1]
        assert req["attempt"] == 1 and "stopped reporting it" in req["detail"]
        w.result(tasks[keep], stdout=b"kept\n")
        rec = get(second, keep, "?wait=5")[2]
        assert rec["status"] == "succeeded" and rec["stdout"] == "kept\n"
        again = w.recv_task()                          # "drop" comes back, attempt 2
        assert again["id"] == drop and again["attempt"] == 2
    finally:
        w.close()


def test_heartbeat_cancels_runs_nobody_wants(wire):
    o = wire()
    w = FakeWorker(o, slots=2)
    try:
        w.hello()
        time.sleep(0.3)
        done = post(o, {"argv": ["true"]})[2]["id"]
        t = w.recv_task()
        w.started(t)
        w.result(t)
        get(o, done, "?wait=5")
        control_frames(w, 0.5)
        w.send(type="heartbeat", worker=w.id, free=0, running=[done, "zz-unknown"],
               attempts=[1, 3])
        got = [m for m in control_frames(w, 1.5) if m["type"] == "cancel"]
        assert {(m["id"], m.get("attempt"), m.get("worker")) for m in got} == {
            (done, 1, w.id), ("zz-unknown", 3, w.id)}
    finally:
        w.close()


def test_submit_socket_cancel_and_key(wire):
    o = wire({"ORCH_MAX_QUEUED": "2"})
    c = Client(o)
    try:
        a = c.call("submit", task={"argv": ["true"]}, key="same")
        b = c.call("submit", task={"argv": ["false"]}, key="same")
        assert a["type"] == "accepted" and b["id"] == a["id"]
        c.call("submit", task={"argv": ["true"]})
        full = c.call("submit", task={"argv": ["true"]})
        assert full["type"] == "error" and full["code"] == "queue_full"
        rep = c.call("cancel", id=a["id"])
        assert rep["type"] == "task" and rep["task"]["status"] == "cancelled"
        rep = c.call("cancel", id=a["id"])
        assert rep["type"] == "error" and rep["code"] == "conflict"
        rep = c.call("cancel", id="0123456789ab-00000000")
        assert rep["code"] == "not_found"
    finally:
        c.close()


def test_durability_full_and_integrity(wire):
    o = wire({"ORCH_DURABILITY": "full"})
    ids = [post(o, {"argv": ["true"]})[2]["id"] for _ in range(5)]
    o.kill9()
    o.log.close()
    o2 = wire({**o.same_ports()}, data_dir=o.data_dir)
    for tid in ids:                                   # acknowledged = on disk
        assert status_of(o2, tid) == "queued"
    db = sqlite3.connect(os.path.join(o.data_dir, "cleudo.db"))
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    finally:
        db.close()
