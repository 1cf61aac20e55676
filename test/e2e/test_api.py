"""The HTTP API against docs/API.md and services/orchestrator/web/openapi.json:
the document itself, authentication and sessions, tasks (create, wait,
idempotency, list filters and pages, get, cancel, rerun, file downloads),
and the error replies.

Every reply goes through openapi_check.Api, which validates it against the
OpenAPI document: a reply the document does not describe fails the test.
Live parts (events, streams, workers, stats, metrics, probes) are in
test_api_live.py.
"""
import base64
import json
import time
import uuid

import pytest

from conftest import TOKEN, Orchestrator, _check_logs
from openapi_check import Api, check_document, wait_until, OPENAPI_PATH

TERMINAL = {"succeeded", "failed", "timed_out", "killed", "memory_limit", "output_limit", "cancelled",
            "rejected", "lost", "internal_error"}
NO_SUCH_ID = "0123456789ab-deadbeef"


# --- fixtures -------------------------------------------------------------------

@pytest.fixture
def bare(tmp_path, spec):
    """A factory of orchestrators without a worker, with their own settings."""
    started = []

    def start(env=None, name="orchestrator"):
        o = Orchestrator(tmp_path, env, log_name=name)
        started.append(o)
        return o, Api(o.url, o.token, spec)

    yield start
    for o in started:
        code = o.stop()
        _check_logs([o])
        assert code == 0, f"orchestrator exited {code} on SIGTERM"


def marker():
    return "mk" + uuid.uuid4().hex[:12]


def create(api, task, wait=None, status=None, **kw):
    path = "/api/tasks" + (f"?wait={wait}" if wait is not None else "")
    r = api.post(path, task, **kw)
    if status is not None:
        assert r.status == status, r
    return r


def run(api, task, wait=20):
    r = create(api, task, wait=wait)
    assert r.status == 200, r
    return r.body


def wait_status(api, task_id, statuses, timeout=10.0):
    def probe():
        r = api.get("/api/tasks/" + task_id)
        assert r.status == 200, r
        return r.body if r.body["status"] in statuses else None
    return wait_until(probe, timeout, what=f"task {task_id} to be {statuses}")


def list_ids(api, query):
    r = api.get("/api/tasks?" + query)
    assert r.status == 200, r
    return [t["id"] for t in r.body["items"]], r.body


def assert_error(r, status, code=None, field=None):
    assert r.status == status, r
    err = r.body["error"]
    if code:
        assert err["code"] == code, err
    assert err["message"], err
    if field is not None:
        assert err.get("field") == field, err
    return err


# --- the document -----------------------------------------------------------------

def test_openapi_document_is_valid_openapi3():
    with open(OPENAPI_PATH, encoding="utf-8") as f:
        doc = json.load(f)
    assert check_document(doc) == []
    # What docs/API.md lists is all there.
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item
           if m in ("get", "post", "delete", "put", "patch")}
    for want in [("POST", "/api/tasks"), ("GET", "/api/tasks"), ("GET", "/api/tasks/{id}"),
                 ("POST", "/api/tasks/{id}/cancel"), ("POST", "/api/tasks/{id}/rerun"),
                 ("GET", "/api/tasks/{id}/files/{path}"), ("GET", "/api/tasks/{id}/stream"),
                 ("GET", "/api/events"), ("GET", "/api/workers"), ("GET", "/api/stats"),
                 ("POST", "/api/session"), ("GET", "/api/session"), ("DELETE", "/api/session"),
                 ("GET", "/api/openapi.json"), ("GET", "/healthz"), ("GET", "/readyz"),
                 ("GET", "/metrics"), ("GET", "/")]:
        assert want in ops, want
    schemas = doc["components"]["schemas"]
    for name in ("TaskInput", "Record", "RecordSummary", "TimelineEvent", "Error", "Worker",
                 "Stats", "Session", "TaskList"):
        assert name in schemas, name


def test_openapi_served_without_token_and_is_this_document(api):
    r = api.get("/api/openapi.json", token=None)
    assert r.status == 200, r
    assert r.header("content-type").startswith("application/json")
    with open(OPENAPI_PATH, encoding="utf-8") as f:
        assert r.body == json.load(f), "GET /api/openapi.json is not services/orchestrator/web/openapi.json"
    assert check_document(r.body) == []
    etag = r.header("etag")
    r2 = api.get("/api/openapi.json", token=None, headers={"If-None-Match": etag})
    assert r2.status == 304 and r2.raw == b"", r2
    # Not under /assets/ (only there as the API's own route).
    assert_error(api.get("/assets/openapi.json", token=None), 404, "not_found")
    for name in ("nope.js", "..%2fopenapi.json", "a/b.js"):
        assert_error(api.get("/assets/" + name, token=None), 404, "not_found")


def test_every_secured_operation_needs_credentials(api, spec):
    """Each operation the document secures answers 401 without a token (so
    the route exists and is protected), and 401 with a wrong one."""
    checked = 0
    for template, item in spec.doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "delete") or op.get("security", [{}]) == []:
                continue
            path = template.replace("{id}", NO_SUCH_ID).replace("{path}", "out.txt")
            if method == "get" and path.endswith("/stream") or path == "/api/events":
                continue                # streams: checked in test_api_live.py
            body = {"argv": ["true"]} if method == "post" else None
            for token in (None, "wrong-token-0123456789"):
                r = api.request(method.upper(), path, body, token=token)
                err = assert_error(r, 401, "unauthorized")
                assert "Bearer" in r.header("www-authenticate", ""), r
                assert err["message"]
            checked += 1
    assert checked >= 10


# --- authentication and sessions --------------------------------------------------

def test_bearer_token(api):
    r = api.get("/api/tasks", token=None)
    err = assert_error(r, 401, "unauthorized")
    assert "token" in err["message"].lower() or "authorization" in err["message"].lower()
    assert_error(api.get("/api/tasks", token="not-the-token-xxxxxxxx"), 401, "unauthorized")
    assert_error(api.post("/api/tasks", {"argv": ["true"]}, token="not-the-token-xxxxxxxx"),
                 401, "unauthorized")
    assert api.get("/api/tasks").status == 200
    r = api.get("/api/tasks", token=None, headers={"Authorization": "Bearer " + TOKEN})
    assert r.status == 200


def login(api):
    r = api.post("/api/session", {"token": api.token}, token=None)
    assert r.status == 200, r
    cookies = [c for c in r.set_cookies if c.startswith("cleudo_session=")]
    assert len(cookies) == 1, r.set_cookies
    return cookies[0], r


def cookie_pair(set_cookie):
    return set_cookie.split(";", 1)[0].strip()


def test_session_cookie_attributes(api):
    set_cookie, r = login(api)
    attrs = [a.strip() for a in set_cookie.split(";")]
    lower = [a.lower() for a in attrs]
    assert attrs[0].startswith("cleudo_session=") and len(attrs[0]) > len("cleudo_session=") + 16
    assert "httponly" in lower, set_cookie
    assert "samesite=strict" in lower, set_cookie
    assert "path=/" in lower, set_cookie
    assert "max-age=43200" in lower, set_cookie
    now = time.time() * 1000
    assert abs(r.body["expires_ms"] - (now + 43200 * 1000)) < 60_000, r.body
    assert len(r.body["csrf"]) >= 16
    assert api.token not in set_cookie and api.token not in r.raw.decode()


def test_session_cookie_reads_and_csrf_guards_writes(api):
    set_cookie, r = login(api)
    cookie, csrf = cookie_pair(set_cookie), r.body["csrf"]
    # Reads with the cookie alone (the dashboard's EventSource cannot send
    # a header: the event stream must take the cookie too).
    for path in ("/api/tasks", "/api/workers", "/api/stats", "/metrics"):
        assert api.get(path, token=None, cookie=cookie).status == 200, path
    from openapi_check import SSE
    with SSE(api.host, api.port, "/api/events", {"Cookie": cookie}) as s:
        api.spec.check_response("GET", "/api/events", s.status, s.headers, None)
        assert s.status == 200
    r2 = api.get("/api/session", token=None, cookie=cookie)
    assert r2.status == 200 and r2.body["csrf"] == csrf, r2
    # Writes need X-CSRF-Token too.
    assert_error(api.post("/api/tasks", {"argv": ["true"]}, token=None, cookie=cookie), 403, "csrf")
    assert_error(api.post("/api/tasks", {"argv": ["true"]}, token=None, cookie=cookie,
                          csrf="0" * len(csrf)), 403, "csrf")
    r3 = api.post("/api/tasks?wait=10", {"argv": ["echo", "cookie"]}, token=None, cookie=cookie,
                  csrf=csrf)
    assert r3.status == 200 and r3.body["stdout"] == "cookie\n", r3
    assert_error(api.post(f"/api/tasks/{r3.body['id']}/cancel", token=None, cookie=cookie),
                 403, "csrf")
    assert_error(api.post(f"/api/tasks/{r3.body['id']}/rerun", token=None, cookie=cookie),
                 403, "csrf")
    # A CSRF token alone (no cookie) is nothing.
    assert_error(api.post("/api/tasks", {"argv": ["true"]}, token=None, csrf=csrf), 401,
                 "unauthorized")
    # Logout needs the CSRF token as well, then the cookie is dead.
    assert_error(api.delete("/api/session", token=None, cookie=cookie), 403, "csrf")
    r4 = api.delete("/api/session", token=None, cookie=cookie, csrf=csrf)
    assert r4.status == 204, r4
    assert r4.raw == b""
    cleared = [c for c in r4.set_cookies if c.startswith("cleudo_session=")]
    assert cleared, r4.set_cookies
    assert "max-age=0" in cleared[0].lower() or "expires=" in cleared[0].lower(), cleared
    assert_error(api.get("/api/tasks", token=None, cookie=cookie), 401, "unauthorized")
    assert_error(api.get("/api/session", token=None, cookie=cookie), 401, "unauthorized")
    # The token still works.
    assert api.get("/api/tasks").status == 200


def test_restart_logs_sessions_out(system, spec):
    api = Api(system.orch.url, system.orch.token, spec)
    set_cookie, r = login(api)
    cookie = cookie_pair(set_cookie)
    assert api.get("/api/session", token=None, cookie=cookie).status == 200
    system.restart_orchestrator(kill=False)
    api = Api(system.orch.url, system.orch.token, spec)
    assert_error(api.get("/api/session", token=None, cookie=cookie), 401, "unauthorized")
    assert_error(api.get("/api/tasks", token=None, cookie=cookie), 401, "unauthorized")
    assert api.get("/api/tasks").status == 200


def test_session_login_errors(api):
    assert_error(api.post("/api/session", {"token": "wrong-token-0123456789"}, token=None),
                 401, "unauthorized")
    r = api.post("/api/session", {"token": "wrong-token-0123456789"}, token=None)
    assert not [c for c in r.set_cookies if c.startswith("cleudo_session=")], r.set_cookies
    assert_error(api.post("/api/session", b'{"token": ', token=None), 400, "bad_request")
    assert_error(api.get("/api/session", token=None), 401, "unauthorized")
    assert_error(api.get("/api/session", token=None, cookie="cleudo_session=forged0123456789"),
                 401, "unauthorized")
    assert_error(api.get("/api/tasks", token=None, cookie="cleudo_session=forged0123456789"),
                 401, "unauthorized")


# --- create, wait, idempotency ------------------------------------------------------

def test_create_201_then_get_finished(api):
    task = {"argv": ["sh", "-c", "echo out; echo err >&2"], "env": {"A": "1"},
            "limits": {"wall_ms": 10000}}
    r = create(api, task, status=201)
    rec = r.body
    assert rec["status"] in ("queued", "dispatched", "running", "succeeded")
    assert rec["task"]["argv"] == task["argv"] and rec["task"]["env"] == {"A": "1"}
    assert rec["task"]["limits"]["wall_ms"] == 10000
    assert rec["created_ms"] > 0 and rec["attempt"] in (0, 1)
    assert rec["timeline"][0]["event"] == "queued"
    r = api.get(f"/api/tasks/{rec['id']}?wait=10")
    assert r.status == 200, r
    assert r.body["status"] == "succeeded" and r.body["stdout"] == "out\n" \
        and r.body["stderr"] == "err\n"


def test_wait_200_when_done_202_when_not(api):
    r = create(api, {"argv": ["echo", "quick"]}, wait=10, status=200)
    assert r.body["status"] == "succeeded"
    t0 = time.monotonic()
    r = create(api, {"argv": ["sleep", "30"]}, wait=0.3, status=202)
    assert time.monotonic() - t0 < 5
    assert r.body["status"] in ("queued", "dispatched", "running")
    assert r.body["exit_code"] is None and r.body["stdout"] is None
    r2 = api.get(f"/api/tasks/{r.body['id']}?wait=0.2")
    assert r2.status == 202 and r2.body["status"] not in TERMINAL, r2
    assert api.post(f"/api/tasks/{r.body['id']}/cancel").status in (200, 202)
    wait_status(api, r.body["id"], {"cancelled"})
    for bad in ("abc", "0", "-1", "1e9", ""):
        assert_error(api.post(f"/api/tasks?wait={bad}", {"argv": ["true"]}), 400,
                     "bad_request", "wait")


def test_idempotency_key_replays(api):
    key = "key-" + marker()
    r1 = create(api, {"argv": ["echo", "once"]}, headers={"Idempotency-Key": key}, status=201)
    r2 = create(api, {"argv": ["echo", "once"]}, headers={"Idempotency-Key": key})
    assert r2.status == 200, r2
    assert r2.body["id"] == r1.body["id"]
    assert r2.header("idempotent-replayed") == "true"
    r3 = create(api, {"argv": ["echo", "once"]}, headers={"Idempotency-Key": key + "-2"},
                status=201)
    assert r3.body["id"] != r1.body["id"]
    assert r1.header("idempotent-replayed") is None
    assert_error(create(api, {"argv": ["true"]}, headers={"Idempotency-Key": "x" * 257}), 400,
                 "bad_request")


# --- list: order, filters, pages --------------------------------------------------------

def test_list_newest_first_and_summary_shape(api):
    m = marker()
    ids = [create(api, {"argv": ["echo", m, str(i)]}, status=201).body["id"] for i in range(3)]
    got, body = list_ids(api, f"q={m}")
    assert got == ids[::-1]
    assert body["next"] is None
    for item in body["items"]:
        for absent in ("task", "stdout", "stderr", "files", "timeline", "stdout_b64", "file_refs"):
            assert absent not in item, (absent, item)
        assert m in item["summary"]
    got, _ = list_ids(api, f"q={m}&limit=2")
    assert got == ids[::-1][:2]


def test_list_status_filter(api):
    m = marker()
    ok = run(api, {"argv": ["sh", "-c", f"echo {m}"]})
    bad = run(api, {"argv": ["sh", "-c", f"echo {m}; exit 3"]})
    slow = create(api, {"argv": ["sh", "-c", f"sleep 30 # {m}"]}, status=201).body
    wait_status(api, slow["id"], {"running"})
    try:
        assert list_ids(api, f"q={m}&status=succeeded")[0] == [ok["id"]]
        assert list_ids(api, f"q={m}&status=failed")[0] == [bad["id"]]
        assert list_ids(api, f"q={m}&status=running")[0] == [slow["id"]]
        assert list_ids(api, f"q={m}&status=failed,succeeded")[0] == [bad["id"], ok["id"]]
        assert list_ids(api, f"q={m}&status=failed&status=succeeded")[0] == [bad["id"], ok["id"]]
        assert list_ids(api, f"q={m}&status=succeeded,running&status=failed")[0] == \
            [slow["id"], bad["id"], ok["id"]]
        assert list_ids(api, f"q={m}&status=cancelled")[0] == []
        for item in api.get(f"/api/tasks?q={m}&status=failed").body["items"]:
            assert item["status"] == "failed" and item["exit_code"] == 3
        assert_error(api.get("/api/tasks?status=bogus"), 400, "bad_request", "status")
        assert_error(api.get("/api/tasks?status=succeeded,bogus"), 400, "bad_request", "status")
    finally:
        api.post(f"/api/tasks/{slow['id']}/cancel")
    wait_status(api, slow["id"], {"cancelled"})
    assert list_ids(api, f"q={m}&status=cancelled")[0] == [slow["id"]]


def test_list_text_search(api):
    m = marker()
    up = m.upper()
    a = create(api, {"argv": ["echo", f"Hello-{up}"]}, status=201).body
    b = create(api, {"lang": "python3", "code": f"print('{m}-in-code')\n"}, status=201).body
    c = create(api, {"lang": "sh", "code": f"echo Mixed{m[:6].upper()}{m[6:]}\n"},
               status=201).body
    assert list_ids(api, f"q={m}")[0] == [c["id"], b["id"], a["id"]]
    assert list_ids(api, f"q=hello-{m}")[0] == [a["id"]]         # argv, case folded
    assert list_ids(api, f"q={m.upper()}-IN-CODE")[0] == [b["id"]]  # code
    ids, body = list_ids(api, "q=no-such-text-" + marker())
    assert ids == [] and body["next"] is None
    # No wildcards: % and _ are plain characters.
    e = create(api, {"argv": ["echo", f"100%_{m}"]}, status=201).body
    assert list_ids(api, f"q=%25_{m}")[0] == [e["id"]]
    assert list_ids(api, f"q=0%25_{m[:4]}")[0] == [e["id"]]
    assert list_ids(api, "q=%25%25%25")[0] == []
    # Percent-encoded text with a space.
    d = create(api, {"argv": ["echo", f"two words {m}"]}, status=201).body
    assert list_ids(api, f"q=two%20words%20{m}")[0] == [d["id"]]


def test_list_text_search_folds_ascii_case_only(api):
    """docs/API.md: ASCII letters match either case, other characters exactly."""
    m = marker()
    a = create(api, {"argv": ["echo", f"ÉCOLE-{m}"]}, status=201).body
    assert list_ids(api, f"q=%C3%89cole-{m}")[0] == [a["id"]]       # École
    assert list_ids(api, f"q=%C3%A9cole-{m}")[0] == []              # école


def test_list_since_until(api):
    m = marker()
    recs = []
    for i in range(3):
        recs.append(create(api, {"argv": ["echo", m, str(i)]}, status=201).body)
        time.sleep(0.01)
    c = [r["created_ms"] for r in recs]
    assert c[0] < c[1] < c[2], c
    ids = [r["id"] for r in recs]
    assert list_ids(api, f"q={m}&since={c[1]}")[0] == [ids[2], ids[1]]
    assert list_ids(api, f"q={m}&until={c[1]}")[0] == [ids[0]]
    assert list_ids(api, f"q={m}&since={c[1]}&until={c[2]}")[0] == [ids[1]]
    assert list_ids(api, f"q={m}&since={c[2] + 1}")[0] == []
    assert list_ids(api, f"q={m}&since=0")[0] == ids[::-1]
    for arg in ("since", "until"):
        assert_error(api.get(f"/api/tasks?{arg}=abc"), 400, "bad_request", arg)
        assert_error(api.get(f"/api/tasks?{arg}=-5"), 400, "bad_request", arg)


def test_list_limit_bounds(api):
    for bad in ("0", "1001", "abc", "-1", "", "1.5"):
        assert_error(api.get(f"/api/tasks?limit={bad}"), 400, "bad_request", "limit")
    assert api.get("/api/tasks?limit=1000").status == 200
    create(api, {"argv": ["true"]}, status=201)
    r = api.get("/api/tasks?limit=1")
    assert r.status == 200 and len(r.body["items"]) == 1
    assert r.body["next"] is not None     # more than one task exists by now


def test_list_cursor_pages(api):
    m = marker()
    ids = [create(api, {"argv": ["echo", m, str(i)]}, status=201).body["id"] for i in range(7)]
    seen, pages, cursor = [], 0, None
    while True:
        q = f"q={m}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        got, body = list_ids(api, q)
        pages += 1
        seen += got
        cursor = body["next"]
        if cursor is None:
            break
        assert pages < 10
    assert seen == ids[::-1], "pages must give every task once, newest first"
    assert pages in (3, 4)
    if pages == 4:
        assert got == []
    # A filter combined with the cursor keeps applying; and a task created
    # while paging does not shift the pages already handed out.
    got1, body1 = list_ids(api, f"q={m}&limit=2")
    newer = create(api, {"argv": ["echo", m, "late"]}, status=201).body["id"]
    got2, _ = list_ids(api, f"q={m}&limit=2&cursor={body1['next']}")
    assert got1 == ids[::-1][:2] and got2 == ids[::-1][2:4] and newer not in got2
    for bad in ("garbage!!", "~~~"):
        assert_error(api.get(f"/api/tasks?cursor={bad}"), 400, "bad_request", "cursor")


# --- one task ----------------------------------------------------------------------------

def test_get_record_and_timeline(api, system_m):
    rec = run(api, {"argv": ["echo", "timeline"]})
    r = api.get("/api/tasks/" + rec["id"])
    assert r.status == 200
    rec = r.body
    assert rec["status"] == "succeeded" and rec["stdout"] == "timeline\n"
    events = [e["event"] for e in rec["timeline"]]
    assert events == ["queued", "dispatched", "started", "succeeded"], rec["timeline"]
    at = [e["at_ms"] for e in rec["timeline"]]
    assert at == sorted(at), at
    assert at[0] == rec["created_ms"] and at[-1] == rec["finished_ms"]
    assert rec["timeline"][0]["attempt"] is None and rec["timeline"][0]["worker"] is None
    assert all(e["attempt"] == 1 for e in rec["timeline"][1:])
    assert rec["timeline"][2]["worker"] == rec["worker"]
    assert rec["created_ms"] <= rec["dispatched_ms"] <= rec["started_ms"] <= rec["finished_ms"]


def test_get_unknown_and_invalid_ids(api):
    assert_error(api.get("/api/tasks/" + NO_SUCH_ID), 404, "not_found")
    assert_error(api.get("/api/tasks/bad%20id"), 400, "bad_request", "id")
    assert_error(api.get("/api/tasks/" + "a" * 65), 400, "bad_request", "id")
    assert_error(api.get("/api/tasks/bad.id"), 400, "bad_request", "id")


def test_cancel_queued_running_finished(api):
    # Two slots: two sleeps run, the third waits in the queue.
    running = [create(api, {"argv": ["sleep", "30"]}, status=201).body["id"] for _ in range(2)]
    for tid in running:
        wait_status(api, tid, {"running"})
    queued = create(api, {"argv": ["sleep", "30"]}, status=201).body["id"]
    time.sleep(0.1)
    r = api.post(f"/api/tasks/{queued}/cancel")
    assert r.status == 200, r
    assert r.body["status"] == "cancelled" and r.body["id"] == queued
    assert r.body["timeline"][-1]["event"] == "cancelled"
    for tid in running:
        r = api.post(f"/api/tasks/{tid}/cancel")
        assert r.status == 202, r
        assert r.body["status"] == "running"
    for tid in running:
        rec = wait_status(api, tid, {"cancelled"})
        assert "cancel_requested" in [e["event"] for e in rec["timeline"]]
    err = assert_error(api.post(f"/api/tasks/{queued}/cancel"), 409, "conflict")
    assert "finished" in err["message"] or "cancelled" in err["message"]
    done = run(api, {"argv": ["true"]})
    assert_error(api.post(f"/api/tasks/{done['id']}/cancel"), 409, "conflict")
    assert_error(api.post(f"/api/tasks/{NO_SUCH_ID}/cancel"), 404, "not_found")
    assert_error(api.post("/api/tasks/bad.id/cancel"), 400, "bad_request", "id")


def test_rerun(api):
    orig = run(api, {"argv": ["sh", "-c", "echo again; cat in.txt"], "files": {"in.txt": "x\n"},
                     "limits": {"wall_ms": 9000}})
    r = api.post(f"/api/tasks/{orig['id']}/rerun")
    assert r.status == 201, r
    new = r.body
    assert new["id"] != orig["id"]
    assert new["rerun_of"] == orig["id"]
    assert new["task"] == orig["task"]
    assert new["timeline"][0]["event"] == "queued"
    done = api.get(f"/api/tasks/{new['id']}?wait=10").body
    assert done["status"] == "succeeded" and done["stdout"] == "again\nx\n"
    r = api.post(f"/api/tasks/{orig['id']}/rerun?wait=10")
    assert r.status == 200 and r.body["stdout"] == "again\nx\n", r
    assert r.body["rerun_of"] == orig["id"]
    # The original is untouched and listed as before.
    again = api.get(f"/api/tasks/{orig['id']}").body
    assert again["status"] == "succeeded" and again.get("rerun_of") is None
    assert_error(api.post(f"/api/tasks/{NO_SUCH_ID}/rerun"), 404, "not_found")
    assert_error(api.post("/api/tasks/bad.id/rerun"), 400, "bad_request", "id")
    assert_error(api.post(f"/api/tasks/{orig['id']}/rerun?wait=abc"), 400, "bad_request", "wait")


# --- files -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def files_task(api):
    return run(api, {
        "argv": ["sh", "-c", "mkdir -p out/sub && printf 'line\\n' > out/b.txt"
                             " && cp blob.bin out/sub/blob.bin && : > out/empty"],
        "files": {"in.txt": "input"},
        "files_b64": {"blob.bin": base64.b64encode(bytes(range(256))).decode()},
        "collect": ["out/b.txt", "out/sub/blob.bin", "out/empty"],
    })


def test_file_download_exact_bytes(api, files_task):
    tid = files_task["id"]
    assert files_task["status"] == "succeeded", files_task
    for name, want in (("out/b.txt", b"line\n"), ("out/sub/blob.bin", bytes(range(256))),
                       ("out/empty", b"")):
        r = api.get(f"/api/tasks/{tid}/files/{name}")
        assert r.status == 200, r
        assert r.raw == want, name
        assert r.header("content-type").split(";")[0] == "application/octet-stream"
        disp = r.header("content-disposition")
        assert disp.startswith("attachment"), disp
        assert r.header("x-content-type-options") == "nosniff"
        assert int(r.header("content-length")) == len(want)


def test_file_download_missing_and_traversal(api, files_task, system_m):
    tid = files_task["id"]
    assert_error(api.get(f"/api/tasks/{tid}/files/out/nope.txt"), 404, "not_found")
    assert_error(api.get(f"/api/tasks/{tid}/files/in.txt"), 404, "not_found")  # input, not collected
    assert_error(api.get(f"/api/tasks/{NO_SUCH_ID}/files/out/b.txt"), 404, "not_found")
    other = run(api, {"argv": ["sh", "-c", "echo secret > s.txt"], "collect": ["s.txt"]})
    with open("/etc/passwd", "rb") as f:
        passwd = f.read()
    for path in ("../../../../etc/passwd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                 "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "/etc/passwd", "%2Fetc%2Fpasswd",
                 "out/../../" + other["id"] + "/files/s.txt", f"../{other['id']}/files/s.txt",
                 "..%2f..%2f..%2fetc%2fpasswd", "out/%00b.txt", "..", "."):
        r = api.get(f"/api/tasks/{tid}/files/{path}")
        assert r.status in (400, 404), (path, r)
        assert r.raw != passwd and b"secret" not in r.raw, path
        assert_error(r, r.status, "bad_request" if r.status == 400 else "not_found")


# --- methods, routes, request errors ----------------------------------------------------

def test_methods_not_allowed(api):
    # The checker compares Allow with the methods the document lists.
    for method, path in (("DELETE", "/api/tasks"), ("PUT", "/api/tasks"),
                         ("DELETE", f"/api/tasks/{NO_SUCH_ID}"), ("POST", f"/api/tasks/{NO_SUCH_ID}"),
                         ("GET", f"/api/tasks/{NO_SUCH_ID}/cancel"),
                         ("GET", f"/api/tasks/{NO_SUCH_ID}/rerun"),
                         ("POST", f"/api/tasks/{NO_SUCH_ID}/stream"),
                         ("DELETE", f"/api/tasks/{NO_SUCH_ID}/files/x.txt"),
                         ("POST", "/api/workers"), ("DELETE", "/api/stats"),
                         ("POST", "/api/events"), ("PUT", "/api/session"),
                         ("POST", "/api/openapi.json"), ("POST", "/healthz"),
                         ("POST", "/readyz"), ("POST", "/metrics")):
        r = api.request(method, path)
        assert_error(r, 405, "method_not_allowed")
        assert r.header("allow"), r


def test_unknown_routes_are_404(api):
    for path in ("/api/nope", "/api/tasks/x/nope", f"/api/tasks/{NO_SUCH_ID}/files",
                 "/api", "/api/task"):
        assert_error(api.get(path), 404, "not_found")


def test_request_body_errors(api):
    r = api.post("/api/tasks", b'{"argv": ["echo",')
    err = assert_error(r, 400, "bad_request")
    assert "json" in err["message"].lower()
    assert_error(api.post("/api/tasks", b"<task/>", headers={"Content-Type": "text/xml"}),
                 415, "unsupported_media_type")
    assert_error(api.post("/api/tasks", b"x", headers={"Content-Type": "multipart/form-data"}),
                 415, "unsupported_media_type")
    assert_error(api.post("/api/tasks", {"argv": []}), 400, "bad_request", "argv")
    assert_error(api.post("/api/tasks", {"argv": ["true"], "bogus": 1}), 400, "bad_request",
                 "bogus")
    assert_error(api.post("/api/tasks", {"argv": ["true"], "limits": {"wall_ms": 0}}), 400,
                 "bad_request", "limits.wall_ms")
    assert_error(api.post("/api/tasks", {"lang": "cobol", "code": "x"}), 400, "bad_request",
                 "lang")
    assert_error(api.post("/api/tasks", [1, 2]), 400, "bad_request")
    # The curl -d label is accepted (docs: the body is parsed as JSON).
    r = api.post("/api/tasks?wait=10", b'{"argv":["echo","form"]}',
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200 and r.body["stdout"] == "form\n", r


def test_body_too_large_413(bare):
    o, a = bare({"ORCH_MAX_BODY": "1024"})
    big = {"argv": ["echo", "x" * 2000]}
    assert_error(a.post("/api/tasks", big), 413, "too_large")
    assert_error(a.post("/api/session", {"token": "x" * 2000}, token=None), 413, "too_large")
    # Just under the cap is fine.
    r = a.post("/api/tasks", {"argv": ["echo", "x" * 900]})
    assert r.status == 201, r


def test_task_frame_too_large_413(bare):
    o, a = bare({"ORCH_MAX_FRAME": "64K"})
    err = assert_error(a.post("/api/tasks", {"argv": ["cat"], "stdin": "x" * 100_000}), 413,
                       "too_large")
    assert "ORCH_MAX_FRAME" in err["message"]


def test_too_many_waiters_503_busy(bare):
    import threading
    o, a = bare({"ORCH_MAX_WAITERS": "1"})
    got = {}
    waiter = threading.Thread(target=lambda: got.setdefault(
        "r", a.post("/api/tasks?wait=20", {"argv": ["true"]})))
    waiter.start()
    try:
        first = wait_until(lambda: a.get("/api/tasks?limit=1").body["items"], 5,
                           what="the waiting task")[0]["id"]
        time.sleep(0.1)
        assert_error(a.post("/api/tasks?wait=1", {"argv": ["true"]}), 503, "busy")
        assert_error(a.get(f"/api/tasks/{first}?wait=1"), 503, "busy")
        assert a.post(f"/api/tasks/{first}/cancel").status == 200
    finally:
        waiter.join(25)
    assert got["r"].status == 200 and got["r"].body["status"] == "cancelled", got


def test_queue_full_429_with_retry_after(bare):
    o, a = bare({"ORCH_MAX_QUEUED": "2"})
    for _ in range(2):
        assert a.post("/api/tasks", {"argv": ["true"]}).status == 201
    r = a.post("/api/tasks", {"argv": ["true"]})
    assert_error(r, 429, "queue_full")
    assert int(r.header("retry-after")) >= 1
    first = a.get("/api/tasks?limit=1").body["items"][0]["id"]
    assert_error(a.post(f"/api/tasks/{first}/rerun"), 429, "queue_full")
    # Cancelling one makes room again.
    assert a.post(f"/api/tasks/{first}/cancel").status == 200
    assert a.post("/api/tasks", {"argv": ["true"]}).status == 201
