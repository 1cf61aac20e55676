"""The whole path: HTTP or cleudo -> orchestrator -> agent-sandbox -> child -> back.

These are the acceptance checks of the foundation: real binaries, real sockets,
real SQLite file, real child processes.
"""
import base64
import json
import os
import sqlite3


def test_echo_over_http(system):
    rec = system.run_task({"argv": ["echo", "hi"]}, wait=5)
    assert rec["status"] == "succeeded"
    assert rec["exit_code"] == 0
    assert rec["signal"] is None
    assert rec["stdout"] == "hi\n"
    assert rec["stderr"] == ""
    assert rec["stdout_truncated"] is False
    assert rec["attempt"] == 1
    assert rec["worker"]
    for key in ("created_ms", "dispatched_ms", "started_ms", "finished_ms"):
        assert isinstance(rec[key], int) and rec[key] > 0, key
    assert rec["created_ms"] <= rec["dispatched_ms"] <= rec["started_ms"] <= rec["finished_ms"]
    assert isinstance(rec["wall_ms"], int) and isinstance(rec["cpu_ms"], int)
    assert rec["max_rss_kb"] > 0
    # The same record is what GET returns, and it is in the SQLite file.
    status, _, again = system.http("GET", "/api/tasks/" + rec["id"])
    assert status == 200 and again["stdout"] == "hi\n" and again["status"] == "succeeded"
    db = sqlite3.connect(os.path.join(system.orch.data_dir, "cleudo.db"))
    row = db.execute("select status from tasks where id = ?", (rec["id"],)).fetchone()
    db.close()
    assert row == ("succeeded",)


def test_nonzero_exit_is_failed_with_both_streams(system):
    rec = system.run_task({"argv": ["sh", "-c", "echo out; echo err >&2; exit 3"]})
    assert rec["status"] == "failed"
    assert rec["exit_code"] == 3
    assert rec["stdout"] == "out\n"
    assert rec["stderr"] == "err\n"


def test_code_task_with_stdin_and_env(system):
    rec = system.run_task({
        "lang": "python3",
        "code": "import os, sys\nprint(sys.stdin.read().upper(), os.environ['GREETING'])\n",
        "stdin": "abc",
        "env": {"GREETING": "hello"},
    })
    assert rec["status"] == "succeeded", rec
    assert rec["stdout"] == "ABC hello\n"


def test_timeout_keeps_partial_output(system):
    rec = system.run_task({"argv": ["sh", "-c", "echo before; sleep 30; echo after"],
                           "limits": {"wall_ms": 500}})
    assert rec["status"] == "timed_out"
    assert rec["stdout"] == "before\n"
    assert rec["exit_code"] is None
    assert rec["wall_ms"] < 5000


def test_output_truncation_sets_flag(system):
    rec = system.run_task({"argv": ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"],
                           "limits": {"output_bytes": 1000}})
    assert rec["status"] == "succeeded"
    assert rec["stdout"] == "x" * 1000
    assert rec["stdout_truncated"] is True
    assert rec["stderr_truncated"] is False


def test_files_in_and_collected_out(system):
    payload = bytes(range(256))
    rec = system.run_task({
        "argv": ["sh", "-c", "mkdir -p out && cat in/a.txt in/a.txt > out/b.txt && cp blob.bin out/blob.bin"],
        "files": {"in/a.txt": "line\n"},
        "files_b64": {"blob.bin": base64.b64encode(payload).decode()},
        "collect": ["out/b.txt", "out/blob.bin"],
    })
    assert rec["status"] == "succeeded", rec
    assert rec["files"]["out/b.txt"] == "line\nline\n"
    assert base64.b64decode(rec["files_b64"]["out/blob.bin"]) == payload


def test_unicode_and_binary_output_are_exact(system):
    rec = system.run_task({"argv": ["printf", "h\\303\\251llo \\342\\234\\223\\n"]})
    assert rec["stdout"] == "héllo ✓\n"
    assert "stdout_b64" not in rec
    rec = system.run_task({"argv": ["printf", "a\\000b\\377c"]})
    assert base64.b64decode(rec["stdout_b64"]) == b"a\x00b\xffc"
    assert rec["stdout"].startswith("a\u0000b")


def test_bad_json_is_400_naming_the_problem(system):
    status, _, body = system.http("POST", "/api/tasks", b'{"argv": ["echo",')
    assert status == 400
    assert body["error"]["code"] == "bad_request" or body["error"]["code"].startswith("invalid")
    assert "JSON" in body["error"]["message"] or "json" in body["error"]["message"]
    status, _, body = system.http("POST", "/api/tasks", {"argv": []})
    assert status == 400 and body["error"]["field"] == "argv"
    status, _, body = system.http("POST", "/api/tasks", {"argv": ["true"], "limits": {"wall_ms": -1}})
    assert status == 400 and "wall_ms" in body["error"]["field"]
    status, _, body = system.http("POST", "/api/tasks", {"argv": ["true"], "files": {"../x": "a"}})
    assert status == 400 and "files" in body["error"]["field"]


def test_unknown_id_is_404_and_bad_id_400(system):
    status, _, body = system.http("GET", "/api/tasks/0123456789ab-deadbeef")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _, body = system.http("GET", "/api/tasks/bad%20id")
    assert status == 400


def test_missing_or_wrong_token_is_401(system):
    status, _, body = system.http("GET", "/api/tasks", token=None)
    assert status == 401 and body["error"]["message"]
    status, _, body = system.http("POST", "/api/tasks", {"argv": ["true"]}, token="wrong-token-xxxxxxxx")
    assert status == 401
    status, _, body = system.http("GET", "/healthz", token=None)
    assert status == 200


def test_list_newest_first(system):
    ids = [system.run_task({"argv": ["true"]})["id"] for _ in range(3)]
    status, _, body = system.http("GET", "/api/tasks?limit=2")
    assert status == 200
    assert [t["id"] for t in body["items"]] == ids[::-1][:2]


def test_cleudo_run_streams_and_exit_code(system):
    proc = system.cleudo("run", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert proc.returncode == 3
    assert proc.stdout == b"out\n"
    assert proc.stderr == b"err\n"


def test_cleudo_run_python_file(system, tmp_path):
    script = tmp_path / "script.py"
    script.write_text("print(6 * 7)\n")
    proc = system.cleudo("run", "--lang", "python3", str(script))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"42\n"


def test_cleudo_timeout_exits_124(system):
    proc = system.cleudo("run", "--timeout", "300ms", "--", "sh", "-c", "echo partial; sleep 30")
    assert proc.returncode == 124
    assert proc.stdout == b"partial\n"


def test_cleudo_memory_limit(system):
    proc = system.cleudo("run", "--memory", "64M", "--", "python3", "-c",
                         "x = bytearray(256 * 1024 * 1024); print('allocated')")
    assert proc.returncode != 0
    assert b"allocated" not in proc.stdout


def test_cleudo_json(system):
    proc = system.cleudo("run", "--json", "--", "echo", "hi")
    assert proc.returncode == 0
    rec = json.loads(proc.stdout)
    assert rec["status"] == "succeeded" and rec["stdout"] == "hi\n" and rec["exit_code"] == 0


def test_cleudo_submit_then_get_and_wait(system):
    proc = system.cleudo("submit", "--", "echo", "later")
    assert proc.returncode == 0
    task_id = proc.stdout.decode().strip()
    proc = system.cleudo("wait", task_id)
    assert proc.returncode == 0
    proc = system.cleudo("get", "--json", task_id)
    assert json.loads(proc.stdout)["stdout"] == "later\n"


def test_cleudo_wrong_token_says_what_to_do(system):
    proc = system.cleudo("run", "--", "true", token="not-the-token-0000")
    assert proc.returncode == 3
    assert b"token" in proc.stderr


def test_curl_form_label_is_accepted_as_json(system):
    """The README's curl example: `curl -d` labels the body form-urlencoded."""
    status, _, body = system.http("POST", "/api/tasks?wait=5", b'{"argv":["echo","hi"]}',
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and body["stdout"] == "hi\n"
    status, _, body = system.http("POST", "/api/tasks", b'<xml/>',
                                  headers={"Content-Type": "application/xml"})
    assert status == 415 and body["error"]["code"] == "unsupported_media_type"
