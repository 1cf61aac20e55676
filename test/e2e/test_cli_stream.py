"""cleudo run / logs -f: live output through the `stream` request, against the
fake orchestrator of test_cli.py.

Run: CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q test/e2e/test_cli_stream.py
"""
import os
import select
import signal
import subprocess
import time

import pytest

from test_cli import (CLEUDO, SAN_ENV, SANITIZER_MARKS, TOKEN, FakeOrchestrator, chunk,
                      cleudo, fake, make_record, story)  # noqa: F401 (fake is a fixture)


def start(*args, fake, env=None):
    """cleudo as a child with pipes, for tests that watch it while it runs."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEUDO_", "ORCH_"))}
    full_env.update(SAN_ENV)
    full_env.update({"CLEUDO_ENDPOINT": fake.endpoint, "CLEUDO_TOKEN": TOKEN})
    full_env.update(env or {})
    return subprocess.Popen([CLEUDO, *args], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd="/")


def read_until(pipe, want, timeout=10):
    """Read pipe incrementally until `want` has arrived; (bytes, when)."""
    got = b""
    deadline = time.monotonic() + timeout
    while want not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"waited for {want!r}, got {got!r}"
        ready, _, _ = select.select([pipe], [], [], left)
        if ready:
            data = os.read(pipe.fileno(), 65536)
            assert data, f"EOF before {want!r}, got {got!r}"
            got += data
    return got, time.monotonic()


def finish(proc, timeout=20):
    out, err = proc.communicate(timeout=timeout)
    text = err.decode("utf-8", "replace")
    assert not [l for l in text.splitlines() if any(m in l for m in SANITIZER_MARKS)], text
    return out, err


def scripted(chunks, final_delay, **final):
    """A stream_script: these (delay, stream, offset, data[, attempt]) chunks,
    then the final record (built from the story's, with `final` applied)."""
    def script(task_id, record, msg):
        rec = dict(record, **final) if final else record
        out = [(c[0], chunk(task_id, c[1], c[2], c[3], *(c[4:]))) for c in chunks]
        return out + [(final_delay, {"type": "task", "task": rec})]
    return script


def test_run_prints_chunks_before_the_task_ends(fake):
    fake.script = story(dict(status="succeeded", stdout=b"first\nsecond\n", stderr=b"oops\n"))
    fake.stream_script = scripted([(0.0, "stdout", 0, b"first\n"),
                                   (0.1, "stderr", 0, b"oops\n"),
                                   (1.5, "stdout", 6, b"second\n")], 2.0)
    proc = start("run", "--", "sh", "-c", "x", fake=fake)
    got, when = read_until(proc.stdout, b"first\n")
    out, err = finish(proc)
    assert proc.returncode == 0, err
    assert got + out == b"first\nsecond\n"
    assert err == b"oops\n"
    final_at = [t for t, r in fake.sent if r.get("type") == "task"][0]
    assert when < final_at, "the first chunk came only with the final record"
    streams = fake.of_type("stream")
    assert streams and streams[0]["id"] == "task-0001"
    assert streams[0].get("stdout_from", 0) == 0 and streams[0].get("stderr_from", 0) == 0
    assert not fake.of_type("wait")


def test_stream_bytes_are_exact_with_remainder_from_the_record(fake):
    blob = bytes(range(256)) * 3 + b"\x00\xff tail"
    err = b"\xfe\x00err\n"
    fake.script = story(dict(status="failed", exit_code=4, stdout=blob, stderr=err))
    # only the first 300 bytes of stdout stream (one repeated, one overlapping),
    # nothing of stderr: the rest must come from the final record
    fake.stream_script = scripted([(0, "stdout", 0, blob[:200]),
                                   (0.05, "stdout", 0, blob[:100]),
                                   (0.1, "stdout", 150, blob[150:300])], 0.2)
    proc = cleudo("run", "--", "blob", fake=fake)
    assert proc.returncode == 4
    assert proc.stdout == blob
    assert proc.stderr == err


def test_chunk_after_a_gap_waits_for_the_record(fake):
    fake.script = story(dict(status="succeeded", stdout=b"abcdefgh"))
    fake.stream_script = scripted([(0, "stdout", 0, b"ab"), (0.05, "stdout", 4, b"efgh")], 0.1)
    proc = cleudo("run", "--", "x", fake=fake)
    assert proc.returncode == 0 and proc.stdout == b"abcdefgh"


def test_new_attempt_starts_output_over_with_a_note(fake):
    fake.script = story(dict(status="succeeded", stdout=b"run two\n"))
    fake.stream_script = scripted([(0, "stdout", 0, b"run one\n", 1),
                                   (0.1, "stdout", 0, b"run ", 2)], 0.2, attempt=2)
    proc = cleudo("run", "--", "x", fake=fake)
    assert proc.returncode == 0
    assert proc.stdout == b"run one\nrun two\n"
    assert proc.stderr == b"cleudo: task restarted (attempt 2); output starts over\n"
    proc = cleudo("run", "-q", "--", "x", fake=fake)
    assert proc.stderr == b""


def test_stale_attempt_chunks_are_ignored(fake):
    fake.script = story(dict(status="succeeded", stdout=b"new"))
    fake.stream_script = scripted([(0, "stdout", 0, b"n", 2), (0.05, "stdout", 0, b"OLD", 1)],
                                  0.1, attempt=2)
    proc = cleudo("run", "--", "x", fake=fake)
    assert proc.stdout == b"new" and proc.stderr == b""


def test_notes_start_on_their_own_line_after_streamed_stderr(fake):
    fake.script = story(dict(status="timed_out", stderr=b"no newline"))
    fake.stream_script = scripted([(0, "stderr", 0, b"no newline")], 0.1)
    proc = cleudo("run", "--", "x", fake=fake)
    assert proc.returncode == 124
    assert proc.stderr.startswith(b"no newline\ncleudo: task task-0001 timed out")


@pytest.mark.parametrize("status,extra,code", [
    ("succeeded", {}, 0),
    ("failed", {"exit_code": 42}, 42),
    ("timed_out", {}, 124),
    ("killed", {"signal": 15}, 143),
    ("memory_limit", {"signal": 9}, 137),
    ("output_limit", {}, 125),
    ("cancelled", {}, 125),
    ("rejected", {"error": "bad"}, 125),
    ("lost", {}, 125),
    ("internal_error", {"error": "sandbox broke"}, 125),
])
def test_exit_code_for_each_terminal_status(fake, status, extra, code):
    fake.script = story(dict(status=status, **extra))
    proc = cleudo("run", "--", "x", fake=fake)
    assert proc.returncode == code, proc.stderr
    assert fake.of_type("stream")


def test_keepalives_then_final(fake):
    fake.script = story(dict(status="succeeded", stdout=b"ok\n"))
    fake.stream_script = lambda tid, rec, msg: [
        (0, chunk(tid, "stdout", 0, b"", 0)), (0.3, chunk(tid, "stdout", 0, b"", 0)),
        (0.6, chunk(tid, "stdout", 0, b"", 1)), (0.9, {"type": "task", "task": rec})]
    proc = cleudo("run", "--", "x", fake=fake)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"ok\n", b"")


def test_silent_orchestrator_gets_the_stream_request_again(fake):
    """No frame for 15 s: cleudo sends `stream` again with the offsets it has."""
    fake.script = story(dict(status="succeeded", stdout=b"hello world"))
    calls = []

    def script(tid, rec, msg):
        calls.append(msg)
        if len(calls) == 1:
            return [(0, chunk(tid, "stdout", 0, b"hello"))]      # then silence
        return [(0, chunk(tid, "stdout", msg.get("stdout_from", 0), b" world"[:0])),
                (0.05, {"type": "task", "task": rec})]
    fake.stream_script = script
    start_t = time.monotonic()
    proc = cleudo("run", "--", "x", fake=fake, timeout=40)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"hello world"
    assert len(calls) == 2
    assert calls[1]["stdout_from"] == 5 and calls[1]["stderr_from"] == 0
    assert calls[1]["req"] > calls[0]["req"]
    assert 14 < time.monotonic() - start_t < 30


def test_old_orchestrator_falls_back_to_wait(fake):
    fake.old = True
    fake.script = story(dict(status="running"), dict(status="failed", exit_code=2,
                                                     stdout=b"out", stderr=b"err"))
    proc = cleudo("run", "--", "x", fake=fake)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, b"out", b"err")
    assert fake.of_type("stream") and fake.of_type("wait")


def test_stream_error_is_reported(fake):
    fake.script = story(dict(status="succeeded"))
    fake.stream_script = lambda tid, rec, msg: [
        (0, {"type": "error", "code": "busy", "message": "too many streams"})]
    proc = cleudo("run", "--", "x", fake=fake)
    assert proc.returncode == 3
    assert b"too many streams" in proc.stderr and b"cleudo wait task-0001" in proc.stderr


def test_sigint_cancels_the_task_and_exits_130(fake):
    fake.script = story(dict(status="running"))
    fake.stream_script = lambda tid, rec, msg: [
        (0, chunk(tid, "stdout", 0, b"working\n")),
        *[(t, chunk(tid, "stdout", 8, b"")) for t in (1, 2, 3, 4, 5, 6, 7, 8)]]
    proc = start("run", "--", "sleep", "100", fake=fake)
    read_until(proc.stdout, b"working\n")
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc, timeout=10)
    assert proc.returncode == 130, err
    cancels = fake.of_type("cancel")
    assert len(cancels) == 1 and cancels[0]["id"] == "task-0001"
    assert b"interrupted: task task-0001 cancelled" in err


def test_sigint_while_waiting_for_json_cancels_too(fake):
    fake.script = story(dict(status="running"))
    proc = start("run", "--json", "--", "sleep", "100", fake=fake)
    deadline = time.monotonic() + 10
    while not fake.of_type("wait") and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc, timeout=10)
    assert proc.returncode == 130, err
    assert fake.of_type("cancel")


def test_no_progress_line_when_stderr_is_not_a_tty(fake):
    fake.script = story(dict(status="succeeded", stdout=b"x"))
    fake.stream_script = lambda tid, rec, msg: [
        (0, chunk(tid, "stdout", 0, b"", 0)), (1.2, {"type": "task", "task": rec})]
    proc = cleudo("run", "--", "x", fake=fake)
    assert proc.stderr == b"" and proc.stdout == b"x"


def test_detach_is_submit(fake):
    fake.script = story(dict(status="queued"))
    proc = cleudo("run", "--detach", "--", "sleep", "9", fake=fake)
    assert (proc.returncode, proc.stdout) == (0, b"task-0001\n")
    proc = cleudo("run", "-d", "--json", "--", "sleep", "9", fake=fake)
    assert proc.stdout == b'{"id":"task-0002"}\n'
    assert [r["type"] for r in fake.requests] == ["submit", "submit"]


def test_logs_follow_streams_and_stops_at_the_end(fake):
    fake.script = story(dict(status="running"), dict(status="succeeded", stdout=b"a\nb\n",
                                                     stderr=b"e"))
    cleudo("submit", "--", "x", fake=fake)
    fake.stream_script = scripted([(0, "stdout", 0, b"a\n"), (0.5, "stdout", 2, b"b\n")], 0.8)
    proc = start("logs", "-f", "task-0001", fake=fake)
    got, when = read_until(proc.stdout, b"a\n")
    out, err = finish(proc)
    assert proc.returncode == 0, err
    assert got + out == b"a\nb\n" and err == b"e"
    assert when < [t for t, r in fake.sent if r.get("type") == "task"][-1]


def test_logs_follow_sigint_stops_without_cancel(fake):
    fake.script = story(dict(status="running"))
    cleudo("submit", "--", "x", fake=fake)
    fake.stream_script = lambda tid, rec, msg: [
        (0, chunk(tid, "stdout", 0, b"tick\n")),
        *[(t, chunk(tid, "stdout", 5, b"")) for t in (1, 2, 3, 4, 5, 6)]]
    proc = start("logs", "-f", "task-0001", fake=fake)
    read_until(proc.stdout, b"tick\n")
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc, timeout=10)
    assert proc.returncode == 130
    assert not fake.of_type("cancel")
    assert b"stopped following task task-0001" in err
