#!/usr/bin/python3
"""proto_interop.py - the C wire protocol library against Python's msgpack.

    proto_interop.py write DIR   write frames packed by Python into DIR
    proto_interop.py check DIR   read the frames C wrote into DIR, check them

Run by test/unit/test_proto.c with Debian's /usr/bin/python3 (python3-msgpack).
Exit status 0 when everything matches; otherwise the first mismatch on stderr.
"""
import os
import sys

import msgpack


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def write(d):
    frames = {
        "task.mp": {
            "v": 1, "type": "task", "id": "py-1", "attempt": 1,
            "argv": ["sh", "-c", "echo été"],
            "stdin": b"\x00\xff\x01\n",
            "env": {"LANG_X": "C.UTF-8"},
            "files": {"in/data.bin": bytes(range(256))},
            "limits": {"wall_ms": 2000, "memory_bytes": 1 << 30, "network": False},
            "collect": ["out.txt"],
            "future_key": {"ignored": [1, 2.5, None]},
        },
        "task_code.mp": {
            "type": "task", "v": 1, "id": "py-2", "attempt": 2,
            "code": b'print("hi")\n\x00\xfe\n', "lang": "python3",
        },
        # A client with only strings: code as str is accepted for bin fields
        "submit_str_payloads.mp": {
            "v": 1, "type": "submit", "req": 12, "token": "tok",
            "task": {"code": "echo ok", "lang": "bash"},
            "key": "k1", "wait_ms": 30000,
        },
        "result.mp": {
            "v": 1, "type": "result", "id": "py-1", "attempt": 1,
            "worker": "pyworker", "status": "timed_out",
            "exit_code": None, "signal": 9,
            "stdout": b"a\x00b", "stderr": b"",
            "stdout_truncated": True, "stderr_truncated": False,
            "wall_ms": 2001, "cpu_ms": 5, "max_rss_kb": 1 << 33,
            "file_refs": ["big.bin"], "error": "wall-clock limit",
        },
        "hello.mp": {
            "v": 1, "type": "hello", "worker": "pyworker", "slots": 4,
            "version": "py-0.1", "isolation": {"seccomp": True, "landlock": 7},
        },
        "ack.mp": {"v": 1, "type": "ack", "ids": ["py-1", "py-2"]},
        "ack_attempts.mp": {"v": 1, "type": "ack", "ids": ["py-1"], "attempts": [2]},
        "heartbeat_attempts.mp": {"v": 1, "type": "heartbeat", "worker": "pyworker",
                                  "free": 1, "running": ["py-1", "py-2"],
                                  "attempts": [1, 3]},
        "cancel_narrow.mp": {"v": 1, "type": "cancel", "id": "py-1", "attempt": 2,
                             "worker": "pyworker"},
        "bye.mp": {"v": 1, "type": "bye", "worker": "pyworker"},
        "stream.mp": {"v": 1, "type": "stream", "req": 13, "token": "tok", "id": "py-1",
                      "stdout_from": 5},
        "rerun.mp": {"v": 1, "type": "rerun", "req": 14, "token": "tok", "id": "py-1"},
        "output_reply.mp": {"v": 1, "type": "output", "req": 13, "id": "py-1", "attempt": 2,
                            "stream": "stderr", "offset": 1 << 20, "data": b"\x00\xffz"},
        "workers_running.mp": {"v": 1, "type": "workers", "req": 15, "items": [
            {"worker": "pyworker", "slots": 2, "free": 1, "version": "py",
             "running": ["py-1"]}]},
        "error.mp": {
            "v": 1, "type": "error", "req": 3, "code": "not_found",
            "message": "no task py-9", "field": "id",
        },
    }
    for name, obj in frames.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(pack(obj))


def load(d, name):
    with open(os.path.join(d, name), "rb") as f:
        data = f.read()
    # raw=False: str -> Python str, bin -> bytes; strict: one object only
    obj = msgpack.unpackb(data, raw=False, strict_map_key=True)
    if not isinstance(obj, dict):
        raise AssertionError(f"{name}: not a map")
    for key in obj:
        if not isinstance(key, str):
            raise AssertionError(f"{name}: key {key!r} is not a str")
    return obj


def expect(name, got, want):
    if got != want:
        raise AssertionError(f"{name}: got {got!r}, want {want!r}")


NASTY = b"hi\x00\xff\n\x80\x00"
SAMPLE_TASK_BODY = {
    "argv": ["python3", "-c", "", "print(1)"],
    "stdin": NASTY,
    "env": {"FOO": "bar baz", "_X1": ""},
    "files": {"main.py": b"print(2)\n", "data/in.bin": NASTY, "empty": b""},
    "limits": {"wall_ms": 5000, "cpu_ms": 1000, "memory_bytes": 256 << 20,
               "processes": 64, "output_bytes": 1 << 20, "file_bytes": 1 << 24,
               "network": False},
    "collect": ["out.txt", "dir/res.json"],
}
SAMPLE_RESULT_BODY = {
    "exit_code": None, "signal": 11,
    "stdout": NASTY, "stderr": b"boom\n",
    "stdout_truncated": True, "stderr_truncated": False,
    "wall_ms": 12, "cpu_ms": 3, "max_rss_kb": 2048,
    "files": {"main.py": b"print(2)\n", "data/in.bin": NASTY},
    "file_refs": ["big/out.tar"],
    "error": "clamped wall_ms to 60000",
}


def check(d):
    task = load(d, "c_task.mp")
    expect("c_task", task, dict(v=1, type="task", id="c-1", attempt=2,
                                **SAMPLE_TASK_BODY))
    # bytes fields must be bin (bytes), never str
    expect("c_task.stdin type", type(task["stdin"]), bytes)

    result = load(d, "c_result.mp")
    expect("c_result", result, dict(v=1, type="result", id="t-1", attempt=1,
                                    worker="w@host:1", status="killed",
                                    **SAMPLE_RESULT_BODY))

    submit = load(d, "c_submit.mp")
    expect("c_submit", submit, {
        "v": 1, "type": "submit", "req": 99, "token": "tk",
        "task": {"code": b"exit 3", "lang": "sh", "limits": {"cpu_ms": 100}},
        "key": "idem", "wait_ms": 5,
    })

    workers = load(d, "c_workers.mp")
    expect("c_workers", workers, {
        "v": 1, "type": "workers", "req": 4,
        "items": [{"worker": "w1", "slots": 4, "free": 2, "version": "1.2",
                   "last_seen_ms": 1700000000123, "tasks_done": 17,
                   "isolation": {"seccomp": True, "landlock": 7, "cgroup": False}}],
    })

    expect("c_ack", load(d, "c_ack.mp"),
           {"v": 1, "type": "ack", "ids": ["c-1", "c-2"], "attempts": [1, 2]})
    expect("c_cancel", load(d, "c_cancel.mp"),
           {"v": 1, "type": "cancel", "id": "c-1", "attempt": 3, "worker": "w1"})
    expect("c_bye", load(d, "c_bye.mp"), {"v": 1, "type": "bye", "worker": "w1"})
    expect("c_stream", load(d, "c_stream.mp"),
           {"v": 1, "type": "stream", "req": 6, "token": "tk", "id": "c-1",
            "stdout_from": 10, "stderr_from": 20})
    expect("c_rerun", load(d, "c_rerun.mp"),
           {"v": 1, "type": "rerun", "req": 7, "token": "tk", "id": "c-1"})
    output = load(d, "c_output.mp")
    expect("c_output", output,
           {"v": 1, "type": "output", "req": 6, "id": "c-1", "attempt": 1,
            "stream": "stdout", "offset": 10, "data": b"\xff\x00k"})
    expect("c_output.data type", type(output["data"]), bytes)

    record = load(d, "c_record.mp")
    want = {"id": "c-2", "status": "killed", "attempt": 1, "worker": "w1",
            "created_ms": 1700000000000, "dispatched_ms": 1700000000001,
            "started_ms": 1700000000002, "finished_ms": 1700000000100,
            "task": SAMPLE_TASK_BODY}
    want.update(SAMPLE_RESULT_BODY)
    expect("c_record", record, {"v": 1, "type": "task", "req": 5, "task": want})
    # key order on the wire: v, type first (documented)
    expect("c_record key order", list(record)[:3], ["v", "type", "req"])


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        (write if sys.argv[1] == "write" else check)(sys.argv[2])
    except (AssertionError, OSError, ValueError, msgpack.ExtraData) as e:
        print(f"proto_interop: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
