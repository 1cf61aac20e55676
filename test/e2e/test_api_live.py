"""The live side of the HTTP API: the event stream (GET /api/events), live
output (GET /api/tasks/{id}/stream), workers, statistics, metrics and the
probes, against docs/API.md and the OpenAPI document (every reply, and the
data of every Server-Sent Event, is validated against it).
"""
import base64
import json
import os
import time

import pytest

from conftest import Orchestrator, Sandbox, System, _check_logs, bin_path
from openapi_check import (SSE, Api, SpecError, orchestrator_knobs, parse_prometheus,
                           wait_until)

STATUSES = ["queued", "dispatched", "running", "succeeded", "failed", "timed_out", "killed",
            "memory_limit", "output_limit", "cancelled", "rejected", "lost", "internal_error"]
NO_SUCH_ID = "0123456789ab-deadbeef"


# --- fixtures and helpers -----------------------------------------------------------

@pytest.fixture
def fresh(system, spec):
    """A system of its own (clean counts and event history) and its client."""
    return system, Api(system.orch.url, system.orch.token, spec)


def open_sse(api, path, headers=None, token=True, timeout=10.0, expect=200):
    """Open a Server-Sent Events stream; the reply's status and headers are
    checked against the document (an error reply's body too), and the
    status is expect (None: any)."""
    h = dict(headers or {})
    if token is True:
        token = api.token
    if token:
        h["Authorization"] = "Bearer " + token
    s = SSE(api.host, api.port, path, h, timeout=timeout)
    body = s.error_body = None
    if s.status != 200:
        raw = s.body()
        body = json.loads(raw) if s.headers.get("content-type", "").startswith(
            "application/json") else raw
        s.error_body = body
    try:
        api.spec.check_response("GET", path, s.status, s.headers, body)
        assert expect is None or s.status == expect, (path, s.status, s.headers, body)
    except BaseException:
        s.close()
        raise
    if s.status == 200:
        assert s.headers["content-type"].split(";")[0].strip() == "text/event-stream", s.headers
    return s


def read_events(s, spec, until=None, timeout=10.0, quiet=None):
    """Events of s, each validated against the document, until until(event)
    is true, the stream ends, or (with quiet) nothing came for quiet seconds."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            if quiet is not None:
                return out
            raise AssertionError(f"timed out; events so far: {out}")
        try:
            ev = s.next_event(min(left, quiet) if quiet is not None else left)
        except TimeoutError:
            if quiet is not None:
                return out
            raise AssertionError(f"timed out; events so far: {out}")
        if ev is None:
            return out
        spec.check_event(s.path.split("?")[0], ev)
        out.append(ev)
        if until and until(ev):
            return out


def run(api, task, wait=20):
    r = api.post(f"/api/tasks?wait={wait}", task)
    assert r.status == 200, r
    return r.body


def wait_status(api, task_id, statuses, timeout=10.0):
    def probe():
        body = api.get("/api/tasks/" + task_id).body
        return body if body["status"] in statuses else None
    return wait_until(probe, timeout, what=f"task {task_id} to be {statuses}")


def ids_of(events):
    return [int(e.id) for e in events]


# --- /api/events --------------------------------------------------------------------------

def test_events_task_lifecycle_and_replay(fresh, spec):
    system, api = fresh
    with open_sse(api, "/api/events") as s:
        time.sleep(0.1)
        rec = run(api, {"argv": ["echo", "evented"]})
        tid = rec["id"]
        events = read_events(s, spec, lambda e: e.event == "task" and e.json()["id"] == tid
                             and e.json()["status"] == "succeeded")
        events += read_events(s, spec, quiet=0.4)       # whatever follows (worker busy)
    assert all(e.id is not None and e.id.isdigit() for e in events), events
    ids = ids_of(events)
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
    mine = [e.json() for e in events if e.event == "task" and e.json()["id"] == tid]
    assert [m["event"] for m in mine] == ["queued", "dispatched", "started", "succeeded"], mine
    assert [m["status"] for m in mine] == ["queued", "dispatched", "running", "succeeded"], mine
    # The same entries as the record's timeline.
    timeline = api.get("/api/tasks/" + tid).body["timeline"]
    assert [(m["event"], m["at_ms"], m["attempt"], m["worker"]) for m in mine] == \
        [(t["event"], t["at_ms"], t["attempt"], t["worker"]) for t in timeline]
    assert mine[0]["summary"] == rec["summary"] and mine[0]["created_ms"] == rec["created_ms"]
    assert mine[2]["worker"] == rec["worker"] and mine[3]["attempt"] == 1
    assert mine[3]["exit_code"] == 0 and mine[3]["signal"] is None
    for m in mine:           # docs/API.md: which entries carry which extra fields
        rich = m["event"] in ("queued", "dispatched", "succeeded")
        assert ("summary" in m and "created_ms" in m) == rich, m
        assert ("exit_code" in m and "signal" in m) == (m["event"] == "succeeded"), m
    assert len(events) >= 4
    # Reconnect after the 2nd event: exactly what came after it.
    want = [(e.id, e.event, e.data) for e in events[2:]]
    for how in ({"headers": {"Last-Event-ID": events[1].id}},
                {"path": f"/api/events?last_event_id={events[1].id}"}):
        with open_sse(api, how.get("path", "/api/events"), headers=how.get("headers")) as s2:
            replay = read_events(s2, spec, quiet=0.5, timeout=5)
        assert [(e.id, e.event, e.data) for e in replay] == want, how
    # From the last one: nothing (until something happens).
    with open_sse(api, "/api/events", headers={"Last-Event-ID": events[-1].id}) as s3:
        assert read_events(s3, spec, quiet=0.3, timeout=2) == []


def test_events_worker_join_and_leave(fresh, spec):
    system, api = fresh
    with open_sse(api, "/api/events") as s:
        time.sleep(0.1)
        sbx = system.add_sandbox("api-w2", slots=3)
        joined = read_events(s, spec, lambda e: e.event == "worker"
                             and e.json()["id"] == "api-w2", timeout=10)[-1].json()
        assert joined["change"] == "joined" and joined["slots"] == 3, joined
        assert abs(joined["at_ms"] - time.time() * 1000) < 10_000, joined
        assert sbx.stop() == 0
        left = read_events(s, spec, lambda e: e.event == "worker" and e.json()["id"] == "api-w2"
                           and e.json()["change"] == "left", timeout=10)[-1].json()
        assert [w["id"] for w in api.get("/api/workers").body["items"]] != [], "first worker"
        assert "api-w2" not in [w["id"] for w in api.get("/api/workers").body["items"]]
        # slots of a "left" event: docs/API.md does not say (0 or what it had).
        assert left["slots"] in (0, 3) and left["at_ms"] >= joined["at_ms"], left


def test_events_stream_stays_open(api, spec, tmp_path):
    with open_sse(api, "/api/events") as s:
        with pytest.raises(TimeoutError):
            s.next_event(1.2)               # open, nothing to say: no end of stream
        assert not s.eof


def test_events_ping_comments(tmp_path, spec):
    """`: ping` comments keep the stream open (every 15 s; a setting for the
    interval, when --help lists one, makes it testable quickly)."""
    knobs = [k for k in orchestrator_knobs(bin_path("orchestrator")) if "PING" in k
             or "KEEPALIVE" in k or "HEARTBEAT_HTTP" in k]
    wait = 2.5
    if not knobs:
        if os.environ.get("CLEUDO_API_SLOW") != "1":
            pytest.skip("the SSE ping interval is fixed at 15 s (no setting in --help): set"
                        " CLEUDO_API_SLOW=1 to wait for one")
        wait = 16.5
    o = Orchestrator(tmp_path, {knobs[0]: "1s"} if knobs else None)
    try:
        api = Api(o.url, o.token, spec)
        with open_sse(api, "/api/events") as s:
            with pytest.raises(TimeoutError):
                s.next_event(wait)
            assert any(c == "ping" for c, _ in s.comments), s.comments
    finally:
        assert o.stop() == 0
        _check_logs([o])


def test_events_old_or_bad_last_event_id(fresh, spec):
    system, api = fresh
    # Some events to replay.
    with open_sse(api, "/api/events") as s:
        time.sleep(0.1)
        run(api, {"argv": ["true"]})
        events = read_events(s, spec, quiet=0.4, timeout=5)
    assert len(events) >= 4
    # Id 1: either everything after it is still kept (replayed, ending with
    # what we saw), or it is older than the buffer (reset first).
    with open_sse(api, "/api/events", headers={"Last-Event-ID": "1"}) as s:
        got = read_events(s, spec, quiet=0.5, timeout=5)
    assert got, "Last-Event-ID: 1 gave nothing"
    if got[0].event == "reset":
        assert got[0].json() == {}
    else:
        ids = ids_of(got)
        assert ids == sorted(set(ids)) and ids[0] > 1, ids
        want = [e.data for e in events if int(e.id) > 1]
        assert [e.data for e in got[len(got) - len(want):]] == want
    # Garbage: 400 naming the argument, or a reset (docs/API.md does not say).
    for how in ({"headers": {"Last-Event-ID": "garbage"}}, {"path": "/api/events?last_event_id=x1"}):
        s = open_sse(api, how.get("path", "/api/events"), headers=how.get("headers"),
                     expect=None)
        with s:
            if s.status == 400:
                assert s.error_body["error"]["code"] == "bad_request"
            else:
                got = read_events(s, spec, quiet=0.3, timeout=3)
                assert got and got[0].event == "reset", (how, got)


def test_events_reset_when_older_than_kept(tmp_path, spec):
    """More events than the server keeps: a Last-Event-ID before them gets
    `reset`. With a setting for the buffer (from --help) it is made small;
    otherwise queued events (one per task, no worker) overflow it."""
    knobs = [k for k in orchestrator_knobs(bin_path("orchestrator"))
             if "EVENT" in k and k != "ORCH_LOG_LEVEL"]
    env = {"ORCH_MAX_QUEUED": "100000"}
    o = None
    for value in ("16", "64", "256", "1024"):
        if not knobs:
            break
        try:
            o = Orchestrator(tmp_path, {**env, knobs[0]: value}, log_name="orch-" + value)
            break
        except AssertionError:
            o = None
    if o is None:
        o = Orchestrator(tmp_path, env, log_name="orch-default")
    try:
        api = Api(o.url, o.token, spec)
        with open_sse(api, "/api/events") as s:
            time.sleep(0.1)
            api.post("/api/tasks", {"argv": ["true"]})
            first = read_events(s, spec, timeout=5, until=lambda e: True)[0]
        start = time.monotonic()
        posted = 1
        reset = None
        while posted < 10000 and time.monotonic() - start < 15:
            api.keepalive()
            try:
                for _ in range(500 if posted >= 500 else 50):
                    assert api.post("/api/tasks", {"argv": ["true"]}).status == 201
                    posted += 1
            finally:
                api.close()
            with open_sse(api, "/api/events", headers={"Last-Event-ID": first.id}) as s:
                got = read_events(s, spec, timeout=5, until=lambda e: True)
            if got and got[0].event == "reset":
                reset = got[0]
                break
            assert got and int(got[0].id) > int(first.id), got
        assert reset is not None, (f"no reset after {posted} events (knobs: {knobs}): the"
                                   " buffer never dropped the first event")
        assert reset.json() == {}
    finally:
        assert o.stop() == 0
        _check_logs([o])


def test_events_need_credentials(api):
    s = open_sse(api, "/api/events", token=None, expect=401)
    with s:
        assert s.status == 401 and s.error_body["error"]["code"] == "unauthorized"


# --- /api/tasks/{id}/stream -------------------------------------------------------------

def chunks_of(events, name):
    return [e.json() for e in events if e.event == name]


def joined(chunks):
    out = b""
    for c in chunks:
        assert c["offset"] == len(out), (c, len(out))
        out += base64.b64decode(c["data_b64"]) if "data_b64" in c else c["data"].encode()
    return out


def test_stream_of_finished_task(api, spec):
    rec = run(api, {"argv": ["sh", "-c", "echo one; echo err >&2; echo two; printf 'h\\303\\251'"]})
    with open_sse(api, f"/api/tasks/{rec['id']}/stream") as s:
        events = read_events(s, spec, timeout=5)
        assert s.next_event(1) is None          # the stream has ended
    assert events and events[-1].event == "result", events
    assert [e.event for e in events].count("result") == 1
    result = events[-1].json()
    assert result["id"] == rec["id"] and result["status"] == "succeeded"
    assert result["exit_code"] == 0 and result["finished_ms"] == rec["finished_ms"]
    assert joined(chunks_of(events, "stdout")) == rec["stdout"].encode() == "one\ntwo\nhé".encode()
    assert joined(chunks_of(events, "stderr")) == b"err\n"


def test_stream_binary_output_is_exact(api, spec):
    rec = run(api, {"argv": ["printf", "a\\000b\\377c"]})
    with open_sse(api, f"/api/tasks/{rec['id']}/stream") as s:
        events = read_events(s, spec, timeout=5)
    stdout = chunks_of(events, "stdout")
    assert joined(stdout) == b"a\x00b\xffc" == base64.b64decode(rec["stdout_b64"])
    assert any("data_b64" in c for c in stdout), stdout
    assert events[-1].event == "result"


def test_stream_of_running_task_is_live(api, spec):
    r = api.post("/api/tasks", {"argv": ["sh", "-c",
                                        "for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 0.1; done"]})
    assert r.status == 201, r
    with open_sse(api, f"/api/tasks/{r.body['id']}/stream") as s:
        events = read_events(s, spec, timeout=15)
    assert events[-1].event == "result" and events[-1].json()["status"] == "succeeded"
    out = [e for e in events if e.event == "stdout"]
    assert joined([e.json() for e in out]) == b"".join(b"line %d\n" % i for i in range(1, 9))
    before = [e for e in out if e.at < events[-1].at - 0.2]
    assert len(before) >= 3, [(e.data, round(events[-1].at - e.at, 3)) for e in out]
    assert out[0].at <= events[-1].at - 0.4


def test_stream_of_queued_task_ends_when_cancelled(tmp_path, spec):
    o = Orchestrator(tmp_path)
    try:
        api = Api(o.url, o.token, spec)
        tid = api.post("/api/tasks", {"argv": ["echo", "never"]}).body["id"]
        with open_sse(api, f"/api/tasks/{tid}/stream") as s:
            with pytest.raises(TimeoutError):
                s.next_event(0.5)               # queued: nothing yet, still open
            assert api.post(f"/api/tasks/{tid}/cancel").status == 200
            events = read_events(s, spec, timeout=5)
        assert [e.event for e in events] == ["result"], events
        assert events[0].json()["status"] == "cancelled"
    finally:
        assert o.stop() == 0
        _check_logs([o])


def test_streamed_output_kept_when_worker_dies(tmp_path, spec):
    """docs/API.md: output streamed by a task whose worker dies is kept as
    its stdout (status lost), and the stream ends with that result."""
    system = System(tmp_path, orch_env={"ORCH_MAX_ATTEMPTS": "1", "ORCH_WORKER_TIMEOUT": "1s"})
    try:
        api = Api(system.orch.url, system.orch.token, spec)
        tid = api.post("/api/tasks", {"argv": ["sh", "-c", "echo before; sleep 3; echo after"]}
                       ).body["id"]
        with open_sse(api, f"/api/tasks/{tid}/stream") as s:
            first = read_events(s, spec, lambda e: e.event == "stdout", timeout=10)
            system.sandboxes[0].kill9()
            events = first + read_events(s, spec, timeout=15)
        assert events[-1].event == "result" and events[-1].json()["status"] == "lost", events
        rec = api.get(f"/api/tasks/{tid}").body
        assert rec["status"] == "lost" and rec["stdout"] == "before\n", rec
        assert joined(chunks_of(events, "stdout")) == b"before\n"
    finally:
        system.stop()
        _check_logs([system.orch])


def test_stream_errors(api):
    for path, status, code in ((f"/api/tasks/{NO_SUCH_ID}/stream", 404, "not_found"),
                               ("/api/tasks/bad.id/stream", 400, "bad_request")):
        s = open_sse(api, path, expect=status)
        with s:
            assert s.status == status and s.error_body["error"]["code"] == code
    s = open_sse(api, f"/api/tasks/{NO_SUCH_ID}/stream", token=None, expect=401)
    with s:
        assert s.status == 401


# --- workers and stats --------------------------------------------------------------------

def test_workers(api, system_m):
    rec = run(api, {"argv": ["true"]})
    r = api.get("/api/workers")
    assert r.status == 200
    items = r.body["items"]
    assert len(items) == 1, items
    w = items[0]
    assert w["id"] == rec["worker"]
    assert w["slots"] == 2 and w["busy"] == 0 and w["free"] == 2 and w["running"] == []
    assert w["version"]
    assert abs(w["last_heartbeat_ms"] - time.time() * 1000) < 15_000, w
    iso = w["isolation"]
    assert "seccomp" in iso and "landlock" in iso, iso
    assert all(isinstance(v, (bool, int)) for v in iso.values()), iso
    done = w["tasks_done"]
    assert done >= 1
    run(api, {"argv": ["true"]})
    wait_until(lambda: api.get("/api/workers").body["items"][0]["tasks_done"] == done + 1,
               5, what="tasks_done + 1")
    slow = api.post("/api/tasks", {"argv": ["sleep", "30"]}).body["id"]
    try:
        wait_status(api, slow, {"running"})
        w = wait_until(lambda: (lambda i: i if i["busy"] == 1 else None)(
            api.get("/api/workers").body["items"][0]), 5, what="busy 1")
        assert w["free"] == 1 and w["running"] == [slow], w
    finally:
        api.post(f"/api/tasks/{slow}/cancel")
    wait_status(api, slow, {"cancelled"})


def test_stats(fresh):
    system, api = fresh
    for task in ({"argv": ["true"]}, {"argv": ["true"]}, {"argv": ["sh", "-c", "exit 1"]}):
        run(api, task)
    slow = api.post("/api/tasks", {"argv": ["sleep", "30"]}).body["id"]
    try:
        wait_status(api, slow, {"running"})
        time.sleep(0.3)
        st = api.get("/api/stats").body
        assert st["counts"].get("running", 0) == 1 and st["in_flight"] == 1, st
        assert st["workers"] == 1 and st["slots"] == 2 and st["queue_depth"] == 0
    finally:
        assert api.post(f"/api/tasks/{slow}/cancel").status == 202
    wait_status(api, slow, {"cancelled"})
    now = time.time() * 1000
    st = api.get("/api/stats").body
    counts = {s: st["counts"].get(s, 0) for s in STATUSES}
    assert counts == {**{s: 0 for s in STATUSES}, "succeeded": 2, "failed": 1, "cancelled": 1}, \
        st["counts"]
    assert st["in_flight"] == 0 and st["queue_depth"] == 0
    assert st["bucket_ms"] == 60000
    buckets = st["buckets"]
    assert len(buckets) == 60
    starts = [b["start_ms"] for b in buckets]
    assert all(b - a == st["bucket_ms"] for a, b in zip(starts, starts[1:])), starts
    assert starts[-1] <= now < starts[-1] + st["bucket_ms"] + 1000, (starts[-1], now)
    assert sum(b["accepted"] for b in buckets) == 4
    assert sum(b["finished"] for b in buckets) == 4
    assert sum(b["accepted"] for b in buckets[-2:]) == 4       # this minute (or the one before)
    assert max(b["queue_depth"] for b in buckets) <= 1
    lat = st["latency_ms"]
    assert lat["count"] == 4
    assert 0 <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], lat
    assert lat["max"] >= 300, lat                              # the sleep ran > 0.3 s


# --- probes and metrics -----------------------------------------------------------------

def test_healthz(api):
    r = api.get("/healthz", token=None)
    assert r.status == 200 and r.body == {"status": "ok"}
    r = api.request("HEAD", "/healthz", token=None)
    assert r.status == 200 and r.raw == b""


def test_readyz_with_worker(api):
    r = api.get("/readyz", token=None)
    assert r.status == 200, r


def test_readyz_needs_a_worker(tmp_path, spec):
    o = Orchestrator(tmp_path)
    sbx = None
    try:
        api = Api(o.url, o.token, spec)
        r = api.get("/readyz", token=None)
        assert r.status == 503, r
        text = json.dumps(r.body).lower()
        assert "worker" in text, r.body
        sbx = Sandbox(tmp_path, o)
        wait_until(lambda: api.get("/readyz", token=None).status == 200, 10,
                   what="/readyz 200 once a worker joined")
    finally:
        if sbx:
            assert sbx.stop() == 0
        assert o.stop() == 0
        _check_logs([o] + ([sbx] if sbx else []))


def metric_families(api):
    r = api.get("/metrics")
    assert r.status == 200, r
    ctype = r.header("content-type")
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
    return parse_prometheus(r.raw.decode("utf-8"))


def find_family(fams, what, pred):
    names = [n for n, f in fams.items() if pred(n, f)]
    assert names, f"no metric for {what} in {sorted(fams)}"
    return names[0], fams[names[0]]


def check_histogram(name, fam):
    assert fam["type"] == "histogram", (name, fam["type"])
    series = {}
    for sname, labels, value in fam["samples"]:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            le = labels["le"]
            s["buckets"].append((float("inf") if le == "+Inf" else float(le), value))
        elif sname == name + "_sum":
            s["sum"] = value
        elif sname == name + "_count":
            s["count"] = value
    assert series, name
    for key, s in series.items():
        b = s["buckets"]
        assert b and b[-1][0] == float("inf"), (name, key, b)
        assert [x for x, _ in b] == sorted(x for x, _ in b), (name, b)
        assert all(v1 <= v2 for (_, v1), (_, v2) in zip(b, b[1:])), (name, "not cumulative", b)
        assert s["count"] is not None and s["sum"] is not None, (name, key)
        assert b[-1][1] == s["count"], (name, key, b[-1], s["count"])
        assert s["sum"] >= 0


def test_metrics(api, system_m):
    run(api, {"argv": ["true"]})
    run(api, {"argv": ["sh", "-c", "exit 2"]})
    assert api.get("/api/tasks", token=None).status == 401
    fams = metric_families(api)
    for name, fam in fams.items():
        assert fam["type"] and fam["help"] is not None, (name, fam)
        seen = set()
        for sname, labels, _ in fam["samples"]:
            key = (sname, tuple(sorted(labels.items())))
            assert key not in seen, ("duplicate sample", key)
            seen.add(key)
    _, tasks = find_family(fams, "tasks by status", lambda n, f: "task" in n and any(
        "status" in lab for _, lab, _ in f["samples"]))
    by_status = {lab["status"]: v for _, lab, v in tasks["samples"] if "status" in lab}
    assert set(by_status) <= set(STATUSES), by_status
    assert by_status.get("succeeded", 0) >= 1 and by_status.get("failed", 0) >= 1, by_status
    find_family(fams, "queue depth", lambda n, f: "queue" in n and f["type"] == "gauge")
    find_family(fams, "in-flight tasks", lambda n, f: ("in_flight" in n or "inflight" in n))
    _, workers = find_family(fams, "workers", lambda n, f: "worker" in n and f["type"] == "gauge"
                             and not any(lab for _, lab, _ in f["samples"]))
    assert workers["samples"][0][2] == 1
    hist = {n: f for n, f in fams.items() if f["type"] == "histogram"}
    dn, dispatch = find_family(hist, "dispatch latency histogram", lambda n, f: "dispatch" in n)
    rn, runh = find_family(hist, "run latency histogram", lambda n, f: "run" in n and n != dn)
    for name, fam in hist.items():
        check_histogram(name, fam)
    assert sum(v for s, _, v in runh["samples"] if s == rn + "_count") >= 2
    _, reqs = find_family(fams, "HTTP requests by code", lambda n, f: "http" in n and "request" in n
                          and any("code" in lab for _, lab, _ in f["samples"]))
    codes = {lab["code"] for _, lab, _ in reqs["samples"] if "code" in lab}
    assert {"200", "401"} <= codes, codes


def test_metrics_values_without_worker(tmp_path, spec):
    o = Orchestrator(tmp_path)
    try:
        api = Api(o.url, o.token, spec)
        for _ in range(2):
            assert api.post("/api/tasks", {"argv": ["true"]}).status == 201
        fams = metric_families(api)
        value = {(n, tuple(sorted(lab.items()))): v for f in fams.values()
                 for n, lab, v in f["samples"]}
        assert value[("cleudo_tasks", (("status", "queued"),))] == 2, fams["cleudo_tasks"]
        assert value[("cleudo_queue_depth", ())] == 2
        assert value[("cleudo_tasks_in_flight", ())] == 0
        assert value[("cleudo_workers", ())] == 0
        before = value.get(("cleudo_http_requests_total", (("code", "404"),)), 0)
        api.get("/api/nope")
        api.get("/api/nope")
        fams = metric_families(api)
        after = {lab.get("code"): v for _, lab, v in fams["cleudo_http_requests_total"]["samples"]}
        assert after["404"] == before + 2, after
        st = api.get("/api/stats").body
        assert st["queue_depth"] == 2 and st["workers"] == 0 and st["latency_ms"]["count"] == 0
        assert st["latency_ms"]["p50"] is None
    finally:
        assert o.stop() == 0
        _check_logs([o])


def test_metrics_need_credentials(api):
    r = api.get("/metrics", token=None)
    assert r.status == 401 and r.body["error"]["code"] == "unauthorized"


def test_dashboard_root_is_html(api):
    r = api.get("/", token=None)
    assert r.status == 200, r
    assert r.header("content-type").startswith("text/html")


def test_checker_rejects_undocumented_replies(spec):
    """The checker itself: replies the document does not describe fail."""
    ok_err = {"error": {"code": "not_found", "message": "no"}}
    hdr = {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff",
           "Cache-Control": "no-store", "X-Frame-Options": "DENY",
           "Referrer-Policy": "no-referrer", "Content-Security-Policy": "default-src 'none'"}
    spec.check_response("GET", "/api/tasks/abc", 404, hdr, ok_err)
    for args in (("GET", "/api/tasks/abc", 418, hdr, ok_err),               # status
                 ("GET", "/api/tasks/abc", 404, hdr, {"error": {"code": "x"}}),  # shape
                 ("GET", "/api/tasks/abc", 404, hdr, {"error": {"code": "conflict", "message": "m"}}),
                 ("GET", "/api/tasks/abc", 404, {**hdr, "Content-Type": "text/html"}, b"<p>"),
                 ("GET", "/api/tasks/abc", 404, {"Content-Type": "application/json"}, ok_err),
                 ("GET", "/api/tasks/abc", 404, {**hdr, "X-Frame-Options": "SAMEORIGIN"}, ok_err),
                 ("GET", "/api/tasks", 200, hdr, {"items": [], "next": None, "extra": 1}),
                 ("GET", "/api/tasks", 200, hdr, {"items": [{"id": "x"}], "next": None}),
                 ("DELETE", "/api/tasks", 405, {**hdr, "Allow": "GET"},
                  {"error": {"code": "method_not_allowed", "message": "m"}}),
                 ("GET", "/api/nowhere", 200, hdr, {})):
        with pytest.raises(SpecError):
            spec.check_response(*args)
    spec.check_response("GET", "/api/tasks", 200, hdr, {"items": [], "next": None})
    spec.check_response("DELETE", "/api/tasks", 405, {**hdr, "Allow": "GET, HEAD, POST"},
                        {"error": {"code": "method_not_allowed", "message": "m"}})
