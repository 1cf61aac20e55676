"""Live output from the agent-sandbox: "output" frames while a task runs.

A real agent-sandbox against the fake orchestrator of test_sandbox_worker.py
(tasks PUSH, results PULL, control PUB on loopback). What is checked, per
PROTOCOL.md §4.2 `output`:
  * chunks come while the task runs (arrival times recorded), not only at
    the end; a stream's pending bytes go at 16 KiB or 50 ms after the first;
  * per stream, seq counts 0, 1, 2, ... without gaps;
  * the chunks of a stream, joined, are a byte-exact prefix of that stream
    in the result (equal when the task printed nothing in its last 50 ms);
  * nothing beyond the output cap is streamed;
  * a task that ends before its first flush sends no output frame at all;
  * SANDBOX_STREAM_OUTPUT=off sends none; a cancelled task's chunks are a
    prefix of its result.

Run:  CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q -p no:cacheprovider \
          test/e2e/test_live_output_worker.py
"""
import time

# The fake orchestrator and its fixtures (pytest uses fixtures imported here).
from test_sandbox_worker import orch, start_worker, task, worker  # noqa: F401
from test_sandbox_worker import _control_joined

FLUSH_S = 0.050                         # SBX_OUTCAP_CHUNK_MS
CHUNK = 16 * 1024                       # SBX_OUTCAP_CHUNK_BYTES

# Prints a line on each stream every 100 ms for ~1 s, then stays quiet long
# enough (300 ms > 50 ms) that every byte has been streamed before it exits.
TICKER = ("i=0; while [ $i -lt 10 ]; do echo out$i; echo err$i >&2; sleep 0.1; "
          "i=$((i+1)); done; sleep 0.3")


def collect(orch, tid, timeout=20.0):
    """Frames of task tid until its result: ([(arrival, output frame)], result,
    result arrival). Other tasks' frames are skipped."""
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = orch.recv(0.05)
        if msg is None or msg.get("id") != tid:
            continue
        now = time.monotonic()
        if msg["type"] == "output":
            chunks.append((now, msg))
        elif msg["type"] == "result":
            return chunks, msg, now
    raise AssertionError(f"no result for {tid} within {timeout}s")


def streamed(chunks, stream, attempt=1):
    """The stream's chunks joined, after checking seq has no gaps."""
    mine = [m for _, m in chunks if m["stream"] == stream]
    assert [m["seq"] for m in mine] == list(range(len(mine))), \
        f"{stream} seq: {[m['seq'] for m in mine]}"
    assert all(m["attempt"] == attempt and m["v"] == 1 for m in mine)
    assert all(m["data"] for m in mine), "empty chunk"
    return b"".join(m["data"] for m in mine)


def assert_prefix(chunks, result):
    for stream in ("stdout", "stderr"):
        got = streamed(chunks, stream)
        assert result[stream].startswith(got), \
            f"{stream}: streamed {got[:80]!r}... is not a prefix of {result[stream][:80]!r}..."


def no_output_after(orch, tid, quiet=0.3):
    """Nothing more for tid arrives within quiet seconds."""
    deadline = time.monotonic() + quiet
    while time.monotonic() < deadline:
        msg = orch.recv(0.05)
        assert msg is None or msg.get("id") != tid or msg["type"] == "result", msg


def test_chunks_arrive_while_the_task_runs(orch, worker):
    orch.send(task("live1", ["sh", "-c", TICKER], limits={"wall_ms": 20000}))
    orch.expect("started", id="live1")
    chunks, r, r_at = collect(orch, "live1")
    assert r["status"] == "succeeded", r
    want_out = b"".join(b"out%d\n" % i for i in range(10))
    want_err = b"".join(b"err%d\n" % i for i in range(10))
    assert r["stdout"] == want_out and r["stderr"] == want_err
    # Everything was printed 300 ms before the end: streamed in full.
    assert streamed(chunks, "stdout") == r["stdout"]
    assert streamed(chunks, "stderr") == r["stderr"]
    times = [t for t, _ in chunks]
    assert r_at - times[0] > 0.6, f"first chunk only {r_at - times[0]:.3f}s before the result"
    # One line per 100 ms, flushed 50 ms after it: chunks spread over the run.
    distinct = {round(t, 2) for t in times}
    assert len(distinct) >= 5, f"chunk arrivals: {[round(t - times[0], 3) for t in times]}"
    assert times[-1] - times[0] > 0.5
    no_output_after(orch, "live1")


def test_binary_output_byte_exact(orch, worker):
    code = (b"import sys, time\n"
            b"for i in range(4):\n"
            b"    sys.stdout.buffer.write(bytes(range(256))); sys.stdout.flush()\n"
            b"    sys.stderr.buffer.write(bytes(range(255, -1, -1))); sys.stderr.flush()\n"
            b"    time.sleep(0.1)\n"
            b"time.sleep(0.3)\n")
    orch.send(task("bin1", code=code, lang="python3", limits={"wall_ms": 20000}))
    chunks, r, _ = collect(orch, "bin1")
    assert r["status"] == "succeeded", r
    assert r["stdout"] == bytes(range(256)) * 4
    assert r["stderr"] == bytes(range(255, -1, -1)) * 4
    assert streamed(chunks, "stdout") == r["stdout"]
    assert streamed(chunks, "stderr") == r["stderr"]
    assert len([1 for _, m in chunks if m["stream"] == "stdout"]) >= 2


def test_big_burst_goes_at_16k_and_stays_exact(orch, worker):
    # 200 KB at once, then a pause: streamed in chunks of at least 16 KiB
    # (each read drains what the pipe has), all before the task ends.
    script = ("yes abcdefghij | head -c 200000; "
              "sleep 0.5")
    orch.send(task("burst1", ["sh", "-c", script], limits={"wall_ms": 20000}))
    chunks, r, r_at = collect(orch, "burst1")
    assert r["status"] == "succeeded", r
    assert len(r["stdout"]) == 200000
    assert streamed(chunks, "stdout") == r["stdout"]
    assert r_at - chunks[0][0] > 0.3
    sizes = [len(m["data"]) for _, m in chunks]
    assert max(sizes) >= CHUNK, sizes


def test_output_over_the_cap_streams_only_the_kept_bytes(orch, worker):
    cap = 1000
    script = "i=0; while [ $i -lt 40 ]; do printf '%099d\\n' $i; sleep 0.03; i=$((i+1)); done"
    orch.send(task("cap1", ["sh", "-c", script],
                   limits={"wall_ms": 20000, "output_bytes": cap}))
    chunks, r, _ = collect(orch, "cap1")
    assert r["status"] == "succeeded", r
    assert r["stdout_truncated"] is True
    assert len(r["stdout"]) == cap
    got = streamed(chunks, "stdout")
    assert 0 < len(got) <= cap
    assert r["stdout"].startswith(got)
    # The cap is reached after 10 lines (~300 ms), the task runs ~1.2 s: it
    # was all streamed long before the end, and nothing after.
    assert got == r["stdout"]
    assert_prefix(chunks, r)


def test_short_tasks_send_no_output_frames(orch, worker):
    for i, argv in enumerate((["true"], ["sh", "-c", "echo hi; echo there >&2"],
                              ["sh", "-c", "head -c 1000 /dev/zero"])):
        tid = f"short{i}"
        orch.send(task(tid, argv))
        chunks, r, _ = collect(orch, tid)
        assert r["status"] == "succeeded", r
        assert chunks == [], [m for _, m in chunks]
    no_output_after(orch, "short2")
    assert not [m for m in orch.seen if m["type"] == "output"]


def test_stream_output_off_sends_none(orch, start_worker):
    start_worker({"SANDBOX_STREAM_OUTPUT": "off"})
    orch.expect("hello")
    orch.send(task("off1", ["sh", "-c", TICKER], limits={"wall_ms": 20000}))
    chunks, r, _ = collect(orch, "off1")
    assert r["status"] == "succeeded", r
    assert r["stdout"].count(b"\n") == 10
    assert chunks == []


def test_cancelled_task_stream_is_a_prefix(orch, worker):
    _control_joined(worker)
    orch.send(task("cx1", ["sh", "-c", "while :; do echo tick; echo tock >&2; sleep 0.02; done"],
                   limits={"wall_ms": 20000}))
    chunks = []
    deadline = time.monotonic() + 10
    while len(chunks) < 4 and time.monotonic() < deadline:
        msg = orch.recv(0.05)
        if msg and msg.get("id") == "cx1" and msg["type"] == "output":
            chunks.append((time.monotonic(), msg))
    assert len(chunks) >= 4, "no live output before the cancel"
    orch.cancel("cx1", attempt=1)
    more, r, _ = collect(orch, "cx1")
    chunks += more
    assert r["status"] == "cancelled" and r["signal"] == 9, r
    assert_prefix(chunks, r)
    assert len(streamed(chunks, "stdout")) > 0 and len(streamed(chunks, "stderr")) > 0


def test_new_attempt_starts_seq_at_zero(orch, worker):
    for attempt in (1, 2):
        orch.send(task("att1", ["sh", "-c", "echo a; sleep 0.2; echo b; sleep 0.2"],
                       attempt=attempt, limits={"wall_ms": 20000}))
        chunks, r, _ = collect(orch, "att1")
        assert r["attempt"] == attempt and r["status"] == "succeeded", r
        assert streamed(chunks, "stdout", attempt) == b"a\nb\n"
        assert chunks[0][1]["seq"] == 0
