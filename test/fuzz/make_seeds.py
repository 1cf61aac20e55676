#!/usr/bin/python3
"""make_seeds.py - write the seed corpora of test/fuzz/ (checked in).

    test/fuzz/make_seeds.py [DIR]      (DIR defaults to test/fuzz/corpus)

Frames are packed by python3-msgpack (a test dependency), independently of
the C encoder, following proto/PROTOCOL.md: every message type, plus
variants with optional keys, nil values and unknown keys. A decode seed is
one channel byte (0 tasks, 1 results, 2 control, 3 submit, 4 reply) and
the frame. Task bodies are POST /api/tasks bodies, valid and invalid.
A path seed is one control byte (see fuzz_path.c) and the path.
Re-running rewrites the same files (names are content hashes).
"""
import hashlib
import json
import os
import sys

import msgpack

TASKS, RESULTS, CONTROL, SUBMIT, REPLY = range(5)


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def task_body(**extra):
    t = {"argv": ["sh", "-c", "echo hi"]}
    t.update(extra)
    return t


FULL_TASK = {
    "argv": ["python3", "-c", "print(1)"],
    "stdin": b"\x00\xff\n",
    "env": {"LANG_X": "C.UTF-8", "_A1": ""},
    "files": {"in/data.bin": bytes(range(16)), "a.txt": b"text"},
    "limits": {"wall_ms": 2000, "cpu_ms": 1000, "memory_bytes": 1 << 28,
               "processes": 16, "output_bytes": 65536, "file_bytes": 1 << 20,
               "network": False},
    "collect": ["out.txt", "dir/res.json"],
}
CODE_TASK = {"lang": "bash", "code": b"echo $((1+2))\n", "stdin": None}

RESULT_BODY = {
    "exit_code": 0, "signal": None, "stdout": b"3\n", "stderr": b"",
    "stdout_truncated": False, "stderr_truncated": True,
    "wall_ms": 12, "cpu_ms": 3, "max_rss_kb": 2048,
    "files": {"out.txt": b"x"}, "file_refs": ["big/blob.bin"], "error": None,
}


def record(i, status="succeeded"):
    r = {"id": "rec-%d" % i, "status": status, "attempt": 1, "worker": "w-1",
         "created_ms": 1700000000000, "dispatched_ms": 1700000000001,
         "started_ms": 1700000000002, "finished_ms": 1700000000003,
         "task": dict(CODE_TASK) if i % 2 else dict(FULL_TASK)}
    r.update(RESULT_BODY)
    return r


WORKER = {"worker": "w-1", "slots": 4, "free": 2, "version": "1.0",
          "last_seen_ms": 1700000000000, "tasks_done": 7,
          "isolation": {"seccomp": True, "landlock": 3, "userns": False},
          "running": ["t-1", "t-2"]}


def frames():
    hdr = lambda t: {"v": 1, "type": t}
    req = lambda t, **kw: dict(hdr(t), req=7, token="s3cr3t", **kw)
    rep = lambda t, **kw: dict(hdr(t), req=7, **kw)
    out = []
    # tasks socket
    out.append((TASKS, dict(hdr("task"), id="t-1", attempt=1, **FULL_TASK)))
    out.append((TASKS, dict(hdr("task"), id="t-2", attempt=3, **CODE_TASK)))
    out.append((TASKS, dict(hdr("task"), id="t-3", attempt=1, argv=["x"],
                            future_key={"ignored": [1, 2.5, None]})))
    out.append((TASKS, dict(hdr("task"), id="t-4", attempt=1, lang="sh",
                            code="echo str-as-bytes", limits={"network": True})))
    # results socket
    out.append((RESULTS, dict(hdr("hello"), worker="w-1", slots=4, version="1.0",
                              isolation=WORKER["isolation"])))
    out.append((RESULTS, dict(hdr("hello"), worker="w-2", slots=1, version="0.9")))
    out.append((RESULTS, dict(hdr("heartbeat"), worker="w-1", free=1,
                              running=["t-1", "t-2"], attempts=[1, 2])))
    out.append((RESULTS, dict(hdr("heartbeat"), worker="w-1", free=4)))
    out.append((RESULTS, dict(hdr("started"), id="t-1", attempt=1, worker="w-1")))
    out.append((RESULTS, dict(hdr("output"), id="t-1", attempt=1, stream="stdout",
                              seq=0, data=b"hello\n")))
    out.append((RESULTS, dict(hdr("output"), id="t-1", attempt=2, stream="stderr",
                              seq=9, data=b"")))
    out.append((RESULTS, dict(hdr("result"), id="t-1", attempt=1, worker="w-1",
                              status="succeeded", **RESULT_BODY)))
    out.append((RESULTS, dict(hdr("result"), id="t-9", attempt=2, worker="w-1",
                              status="timed_out", exit_code=None, signal=9)))
    out.append((RESULTS, dict(hdr("bye"), worker="w-1")))
    # control socket
    out.append((CONTROL, dict(hdr("cancel"), id="t-1", attempt=2, worker="w-1")))
    out.append((CONTROL, dict(hdr("cancel"), id="t-1")))
    out.append((CONTROL, dict(hdr("ack"), ids=["t-1", "t-2"], attempts=[1, 1])))
    out.append((CONTROL, dict(hdr("ack"), ids=[])))
    # submit socket
    out.append((SUBMIT, req("submit", task=FULL_TASK, key="idem-1", wait_ms=5000)))
    out.append((SUBMIT, req("submit", task=CODE_TASK)))
    out.append((SUBMIT, req("get", id="t-1")))
    out.append((SUBMIT, req("wait", id="t-1", timeout_ms=2500)))
    out.append((SUBMIT, req("cancel", id="t-1")))
    out.append((SUBMIT, req("list", status="running", limit=50)))
    out.append((SUBMIT, req("list")))
    out.append((SUBMIT, req("workers")))
    out.append((SUBMIT, req("rerun", id="t-1")))
    out.append((SUBMIT, req("stream", id="t-1", stdout_from=10, stderr_from=0)))
    # reply socket
    out.append((REPLY, rep("accepted", id="t-1")))
    out.append((REPLY, rep("task", task=record(0))))
    out.append((REPLY, rep("task", task=dict(record(1, "queued"), worker=None))))
    out.append((REPLY, rep("tasks", items=[record(0), record(1, "failed")])))
    out.append((REPLY, rep("tasks", items=[])))
    # bytes that are not text, non-UTF-8 names, lists past 16 (sorted dup check)
    # "ZZ" becomes the invalid UTF-8 bytes ff fe after packing (see main)
    odd = dict(record(0, "failed"), worker="wZZ", stdout=b"\xff\xfe\x00ok",
               stderr="é\x00".encode(), error="bad ZZ \x7f", files={"bin/ZZ": b"\x80"},
               file_refs=["refZZ"])
    odd["task"] = {"argv": ["ZZ", "a\tb\nc"], "stdin": b"\xc0\x80",
                   "env": {"E%02d" % i: "vZZ" for i in range(20)},
                   "files": {"f%02dZZ" % i: bytes([i * 13 % 256]) for i in range(20)},
                   "collect": ["cZZ"]}
    out.append((REPLY, rep("task", task=odd)))
    out.append((REPLY, rep("tasks", items=[odd, record(1)])))
    out.append((SUBMIT, req("submit", task={"lang": "python3",
                                            "code": b"\n\n  \xffprint(1)\r\nx",
                                            "collect": ["c%d" % i for i in range(20)]})))
    out.append((RESULTS, dict(hdr("hello"), worker="w", slots=1024, version="v",
                              isolation={"l%02d" % i: i for i in range(20)})))
    out.append((RESULTS, dict(hdr("heartbeat"), worker="w", free=0,
                              running=["t%d" % i for i in range(40)],
                              attempts=[1 + i for i in range(40)])))
    out.append((REPLY, rep("workers", items=[WORKER, dict(WORKER, worker="w-2",
                                                          running=[])])))
    out.append((REPLY, rep("error", code="bad_request", message="argv: must not be empty",
                           field="argv")))
    out.append((REPLY, rep("error", code="not_found", message="no task")))
    out.append((REPLY, rep("output", id="t-1", attempt=1, stream="stdout", offset=0,
                           data=b"chunk")))
    return out


def invalid_frames():
    """A few rejected frames: the fuzzer starts near each error exit."""
    out = []
    out.append((TASKS, b"\x81\xa1v\x01"))                       # no type
    out.append((TASKS, pack({"v": 2, "type": "task"})))         # version
    out.append((CONTROL, pack({"v": 1, "type": "task"})))       # wrong socket
    out.append((TASKS, pack({"v": 1, "type": "task", "id": "a/b", "attempt": 1,
                             "argv": ["x"]})))
    out.append((TASKS, pack({"v": 1, "type": "task", "id": "t", "attempt": 1,
                             "argv": ["x"], "files": {"../etc/passwd": b""}})))
    out.append((TASKS, b"\xdf\xff\xff\xff\xff"))                # huge map
    out.append((RESULTS, pack({"v": 1, "type": "heartbeat", "worker": "w", "free": 0,
                               "running": ["a"], "attempts": [1, 2]})))
    out.append((TASKS, pack([1, 2, 3])))
    env = {"E%02d" % i: "v" for i in range(20)}
    raw = pack({"v": 1, "type": "task", "id": "t", "attempt": 1, "argv": ["x"], "env": env})
    out.append((TASKS, raw.replace(b"E19", b"E01")))          # duplicate among 20
    return [(ch, raw) for ch, raw in out]


BODIES = [
    {"argv": ["echo", "hi"]},
    task_body(stdin="input\n", env={"A": "1", "B_2": "x"}, collect=["out.txt"]),
    {"lang": "python3", "code": "print('hé')", "files": {"a/b.txt": "text"},
     "files_b64": {"bin/x": "AAEC/w=="}},
    {"lang": "sh", "code_b64": "ZWNobyBoaQo=", "stdin_b64": "AA==",
     "limits": {"wall_ms": 1000, "cpu_ms": 500, "memory_bytes": 1048576,
                "processes": 4, "output_bytes": 4096, "file_bytes": 1, "network": True}},
    {"argv": ["x"], "limits": {"network": False}},
    # invalid ones
    {"argv": []},
    {"argv": [""]},
    {"argv": ["a"], "lang": "sh"},
    {"lang": "perl", "code": "1"},
    {"lang": "sh"},
    {"code": "x"},
    {"argv": ["a"], "env": {"1BAD": "x"}},
    {"argv": ["a"], "files": {"../up": "x"}},
    {"argv": ["a"], "files": {"/abs": "x"}},
    {"argv": ["a"], "files": {"a": "x"}, "files_b64": {"a": "eA=="}},
    {"argv": ["a"], "files_b64": {"a": "eA="}},
    {"argv": ["a"], "limits": {"wall_ms": 0}},
    {"argv": ["a"], "limits": {"wall_ms": 604800001}},
    {"argv": ["a"], "limits": {"wal_ms": 1}},
    {"argv": ["a"], "collect": ["ok", "a//b"]},
    {"argv": ["a"], "code": "x", "code_b64": "eA=="},
    {"argv": ["a"], "typo": 1},
    [1, 2],
]
RAW_BODIES = [
    b'{"argv": ["a\\u0000b"]}',
    b'{"argv": ["a"], "env": {"A\\u0000": "x"}}',
    b'{"argv": ["a"], "files": {"x\\u0000y": "z"}}',
    b'{"argv": ["a"], "stdin": "\\u0000\\u00ff\\ud83d\\ude00"}',
    b'{"argv": ["a"], "argv": ["b"]}',
    b'{"argv": ["a"], "limits": {"' + b"x" * 63 + "é".encode() + b'": 1}}',
    b'{"' + "é".encode() * 40 + b'": 1}',
    b'{"argv": ["a"], "limits": {"wall_ms": 1.5}}',
    b'{"argv": ["a"], "limits": {"wall_ms": -1}}',
    b'{"argv": ["a"], "limits": {"wall_ms": 99999999999999999999}}',
    b'{"argv":',
    b"",
]

PATHS = [
    (0x00, b"out.txt"), (0x00, b"dir/sub/file"), (0x00, b"a"), (0x00, b".hidden"),
    (0x00, b"..."), (0x00, b"a/..b/c.."), (0x00, "été/ö".encode()),
    (0x00, b"x" * 255), (0x00, b"x" * 256), (0x00, b"a/" * 511 + b"b"),
    (0x00, b"a" * 1024), (0x00, b"a" * 1025),
    (0x00, b"../etc/passwd"), (0x00, b"a/../../b"), (0x00, b"/etc/passwd"),
    (0x00, b"a//b"), (0x00, b"a/./b"), (0x00, b"a/"), (0x00, b"."), (0x00, b".."),
    (0x00, b"a\x00b"), (0x00, b""), (0x00, b"a/.."),
    (0x01, b"dir/file"), (0x41, b"dir/file"), (0x05, b"a/b/c"), (0x45, b"a/b/c"),
    (0x02, b"secret"), (0x02, b"dir/secret"), (0x06, b"dir/secret"),
    (0x03, b"fifo"), (0x07, b"dir/fifo"), (0x83, b"dir/fifo"), (0x80, b"twice"),
]


DECODE_WORDS = [
    "v", "type", "req", "token", "id", "attempt", "worker", "argv", "code", "lang",
    "stdin", "env", "files", "limits", "collect", "wall_ms", "cpu_ms", "memory_bytes",
    "processes", "output_bytes", "file_bytes", "network", "exit_code", "signal",
    "stdout", "stderr", "stdout_truncated", "stderr_truncated", "max_rss_kb",
    "file_refs", "error", "slots", "version", "isolation", "free", "running",
    "attempts", "stream", "seq", "data", "ids", "task", "key", "wait_ms",
    "timeout_ms", "status", "limit", "stdout_from", "stderr_from", "offset", "items",
    "message", "field", "created_ms", "dispatched_ms", "started_ms", "finished_ms",
    "last_seen_ms", "tasks_done",
    "hello", "heartbeat", "started", "output", "result", "bye", "cancel", "ack",
    "submit", "get", "wait", "list", "workers", "rerun", "accepted", "tasks",
    "queued", "dispatched", "succeeded", "failed", "timed_out", "killed",
    "memory_limit", "output_limit", "cancelled", "rejected", "lost",
    "internal_error", "sh", "bash", "python3", "../", "a/b",
]
DECODE_RAW = [b"\x01", b"\xc0", b"\xc2", b"\xc3", b"\xcc\xff", b"\xcf" + b"\xff" * 8,
              b"\xd3" + b"\x80" + b"\x00" * 7, b"\xc4\x00", b"\xc5\x01\x00",
              b"\xdc\x00\x10", b"\xde\x00\x10", b"\xdf\xff\xff\xff\xff",
              b"\xd9\x20", b"\x90", b"\x80", b"\xa0"]
JSON_WORDS = ["argv", "lang", "code", "code_b64", "stdin", "stdin_b64", "env", "files",
              "files_b64", "limits", "collect", "wall_ms", "cpu_ms", "memory_bytes",
              "processes", "output_bytes", "file_bytes", "network", "sh", "bash",
              "python3"]
JSON_RAW = [b"true", b"false", b"null", b"\\u0000", b"\\ud83d\\ude00", b"\\u00e9",
            b"AAEC/w==", b"eA==", b"9223372036854775807", b"1099511627776",
            b"604800000", b"4194304", b"../", b"a/b", b"//", b"{}", b"[]", b'":"', b'","']
PATH_RAW = [b"/", b"..", b".", b"../", b"/..", b"/./", b"//", b"\x00", b"\xc3\xa9",
            b"x" * 255]


def dict_line(data):
    text = "".join(chr(c) if 0x20 <= c < 0x7f and c not in (0x22, 0x5c) else "\\x%02x" % c
                   for c in data)
    return '"%s"\n' % text


def write_dict(path, entries):
    with open(path, "w") as f:
        f.write("# libFuzzer dictionary, written by make_seeds.py\n")
        for e in dict.fromkeys(entries):
            f.write(dict_line(e))


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(directory, "%s-%s" % (name, digest)), "wb") as f:
        f.write(data)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    for ch, obj in frames():
        frame = pack(obj).replace(b"ZZ", b"\xff\xfe")
        write(os.path.join(root, "decode"), obj["type"], bytes([ch]) + frame)
    for ch, raw in invalid_frames():
        write(os.path.join(root, "decode"), "bad", bytes([ch]) + raw)
    for body in BODIES:
        write(os.path.join(root, "task_json"), "body",
              json.dumps(body, ensure_ascii=False).encode())
    for raw in RAW_BODIES:
        write(os.path.join(root, "task_json"), "raw", raw)
    for flags, path in PATHS:
        write(os.path.join(root, "path"), "p%02x" % flags, bytes([flags]) + path)
    here = os.path.dirname(os.path.abspath(__file__))
    write_dict(os.path.join(here, "decode.dict"),
               [pack(w) for w in DECODE_WORDS] + DECODE_RAW)
    write_dict(os.path.join(here, "task_json.dict"),
               [json.dumps(w).encode() for w in JSON_WORDS] + JSON_RAW)
    write_dict(os.path.join(here, "path.dict"), PATH_RAW)


if __name__ == "__main__":
    main()
