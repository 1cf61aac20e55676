#!/usr/bin/python3
"""A deliberately WEAK worker, for the containment suite's self-test only.

It speaks the agent-sandbox side of the worker protocol (proto/PROTOCOL.md:
PULL tasks, PUSH hello / heartbeat / started / result, SUB cancel / ack) and
runs every task the naive way: a plain fork/exec with subprocess, as the
user the runner runs as, in a directory of its own. What it does:

  * a workspace per task under SANDBOX_WORK_DIR, input files written with
    open() (following whatever is there), the code file for lang tasks;
  * the task's environment is the runner's own plus the task's env (a
    classic leak), HOME = the workspace, PATH fixed like the real worker's;
  * the runner holds an inheritable descriptor on its work directory and
    does not close descriptors before exec (close_fds=False);
  * wall-clock timeout (kills the main process only), output caps per
    stream, collect read with open() (follows links), workspace removed
    with shutil.rmtree afterwards.
And NO isolation at all: no namespaces, no seccomp, no Landlock, no
rlimits, no capability drop, no new session or process group per task.

It is never an option of the real worker: it exists so that
test/e2e/test_containment.py can prove that its host-side checks DO detect
every escape ("escaped" against this runner, "contained" against
agent-sandbox). Do not use it for anything else.

Environment: SANDBOX_TASKS_ENDPOINT, SANDBOX_RESULTS_ENDPOINT,
SANDBOX_CONTROL_ENDPOINT, SANDBOX_WORK_DIR, SANDBOX_SLOTS (default 2),
SANDBOX_WORKER_ID (default plain-PID). Logs `event=...` lines on stderr.
SIGTERM: kill running tasks, exit 0.
"""
import os
import queue
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time

import msgpack
import zmq

VERSION = "plain-0.1"
FIXED_PATH = "/usr/local/bin:/usr/bin:/bin"
DEFAULT_WALL_MS = 10000
DEFAULT_OUTPUT = 1 << 20
DRAIN_GRACE = 0.3
INTERPRETERS = {"sh": ("sh", "main.sh"), "bash": ("bash", "main.sh"),
                "python3": ("python3", "main.py")}


def log(event, **fields):
    parts = " ".join(f"{k}={v}" for k, v in fields.items())
    sys.stderr.write(f"component=plain-runner event={event} {parts}\n")
    sys.stderr.flush()


def pack(msg):
    return msgpack.packb({"v": 1, **msg}, use_bin_type=True)


def as_bytes(v):
    if v is None:
        return b""
    return v if isinstance(v, bytes) else str(v).encode()


class Run:
    """One task, run in a thread of its own."""

    def __init__(self, runner, task):
        self.runner = runner
        self.task = task
        self.id = task["id"]
        self.attempt = task.get("attempt", 1)
        self.proc = None
        self.cancelled = False
        self.thread = threading.Thread(target=self.main, daemon=True)

    def main(self):
        try:
            result = self.execute()
        except Exception as e:          # the runner must survive anything
            result = {"status": "internal_error", "error": f"plain runner: {e!r}"}
        result.update(type="result", id=self.id, attempt=self.attempt,
                      worker=self.runner.worker_id)
        self.runner.finished(self, result)

    def execute(self):
        t = self.task
        limits = t.get("limits") or {}
        wall = (limits.get("wall_ms") or DEFAULT_WALL_MS) / 1000.0
        cap = limits.get("output_bytes") or DEFAULT_OUTPUT
        ws = os.path.join(self.runner.work_dir,
                          f"{self.id}-{self.attempt}-{secrets.token_hex(4)}")
        os.mkdir(ws)
        try:
            return self.run_in(ws, t, wall, cap)
        finally:
            shutil.rmtree(ws, ignore_errors=True)

    def run_in(self, ws, t, wall, cap):
        # Inputs: naive joins and open(), which follow links.
        for path, data in (t.get("files") or {}).items():
            full = os.path.join(ws, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(as_bytes(data))
        if t.get("lang"):
            interp, script = INTERPRETERS[t["lang"]]
            with open(os.path.join(ws, script), "wb") as f:
                f.write(as_bytes(t.get("code")))
            argv = [interp, script]
        else:
            argv = list(t["argv"])
        env = dict(os.environ)          # the runner's own environment: leaked
        env.update({str(k): str(v) for k, v in (t.get("env") or {}).items()})
        env.update(PATH=FIXED_PATH, HOME=ws, LANG="C.UTF-8")
        stdin = as_bytes(t.get("stdin"))
        start = time.monotonic()
        try:
            self.proc = subprocess.Popen(argv, cwd=ws, env=env, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         close_fds=False)
        except FileNotFoundError:
            return {"status": "failed", "exit_code": 127,
                    "stderr": f"command not found: {argv[0]}".encode(),
                    "error": f"command not found: {argv[0]}"}
        except OSError as e:
            return {"status": "failed", "exit_code": 126,
                    "error": f"cannot execute {argv[0]}: {e.strerror}"}
        if self.cancelled:
            self.proc.kill()
        threading.Thread(target=self.feed, args=(stdin,), daemon=True).start()
        out, err, out_trunc, err_trunc, timed_out = self.drain(start, wall, cap)
        rc = self.proc.returncode
        result = {"stdout": out, "stderr": err, "stdout_truncated": out_trunc,
                  "stderr_truncated": err_trunc,
                  "wall_ms": int((time.monotonic() - start) * 1000), "cpu_ms": 0,
                  "max_rss_kb": 0, "exit_code": None, "signal": None}
        if self.cancelled:
            result["status"] = "cancelled"
        elif timed_out:
            result["status"] = "timed_out"
            result["error"] = f"wall time limit of {int(wall * 1000)} ms exceeded"
        elif rc is not None and rc < 0:
            result.update(status="killed", signal=-rc)
        else:
            result.update(status="succeeded" if rc == 0 else "failed", exit_code=rc)
        if rc is not None and rc < 0:
            result["signal"] = -rc
        files, notes = {}, []
        for path in t.get("collect") or []:
            try:
                with open(os.path.join(ws, path), "rb") as f:     # follows links
                    files[path] = f.read(1 << 20)
            except OSError as e:
                notes.append(f"collect {path}: {e.strerror}")
        result["files"] = files
        if notes:
            result["error"] = "; ".join(filter(None, [result.get("error")] + notes))
        return result

    def feed(self, data):
        try:
            if data:
                self.proc.stdin.write(data)
            self.proc.stdin.close()
        except OSError:
            pass

    def drain(self, start, wall, cap):
        """Read both pipes until EOF (or a short grace after the main process
        ended), kill the main process at the wall deadline."""
        bufs = {self.proc.stdout.fileno(): bytearray(), self.proc.stderr.fileno(): bytearray()}
        trunc = dict.fromkeys(bufs, False)
        sel = selectors.DefaultSelector()
        for fd in bufs:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        open_fds = set(bufs)
        timed_out = False
        ended = None
        while True:
            now = time.monotonic()
            if ended is None and self.proc.poll() is not None:
                ended = now
            if ended is None and now - start > wall:
                timed_out = True
                self.proc.kill()
                self.proc.wait()
                ended = time.monotonic()
            if ended is not None and (not open_fds or now - ended > DRAIN_GRACE):
                break
            for key, _ in sel.select(0.05):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(key.fd)
                    open_fds.discard(key.fd)
                    continue
                room = cap - len(bufs[key.fd])
                if len(chunk) > room:
                    trunc[key.fd] = True
                bufs[key.fd] += chunk[:max(room, 0)]
        sel.close()
        self.proc.stdout.close()
        self.proc.stderr.close()
        fds = list(bufs)
        return (bytes(bufs[fds[0]]), bytes(bufs[fds[1]]), trunc[fds[0]], trunc[fds[1]],
                timed_out)

    def cancel(self):
        self.cancelled = True
        if self.proc and self.proc.poll() is None:
            self.proc.kill()


class Runner:
    def __init__(self):
        env = os.environ
        self.tasks_ep = env["SANDBOX_TASKS_ENDPOINT"]
        self.results_ep = env["SANDBOX_RESULTS_ENDPOINT"]
        self.control_ep = env["SANDBOX_CONTROL_ENDPOINT"]
        self.slots = int(env.get("SANDBOX_SLOTS", "2"))
        self.work_dir = os.path.realpath(env.get("SANDBOX_WORK_DIR", "./plain-work"))
        os.makedirs(self.work_dir, exist_ok=True)
        self.worker_id = env.get("SANDBOX_WORKER_ID") or f"plain-{os.getpid()}"
        # A naive runner holds its work directory open, inheritable.
        self.work_fd = os.open(self.work_dir, os.O_RDONLY | os.O_DIRECTORY)
        os.set_inheritable(self.work_fd, True)
        self.runs = {}                  # id -> Run
        self.done = queue.Queue()       # (Run, result) from task threads
        self.outbox = {}                # id -> [frame, last_sent]
        self.stopping = False

    @staticmethod
    def curve(sock):
        """CURVE client with SANDBOX_SERVER_KEY / SANDBOX_CERT (zcert files),
        like agent-sandbox, unless SANDBOX_CURVE=off."""
        env = os.environ
        if env.get("SANDBOX_CURVE", "on") == "off":
            return

        def keys(path):
            with open(path) as f:
                text = f.read()
            return [re.search(r'^\s+%s-key = "(.{40})"' % k, text, re.M)
                    for k in ("public", "secret")]
        sock.curve_serverkey = keys(env["SANDBOX_SERVER_KEY"])[0].group(1).encode()
        pub, sec = keys(env["SANDBOX_CERT"])
        sock.curve_publickey = pub.group(1).encode()
        sock.curve_secretkey = sec.group(1).encode()

    def finished(self, run, result):
        self.done.put((run, result))

    def serve(self):
        ctx = zmq.Context()
        pull = ctx.socket(zmq.PULL)
        push = ctx.socket(zmq.PUSH)
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        for s in (pull, push, sub):
            s.setsockopt(zmq.LINGER, 0)
            self.curve(s)
        pull.connect(self.tasks_ep)
        push.connect(self.results_ep)
        sub.connect(self.control_ep)
        push.send(pack({"type": "hello", "worker": self.worker_id, "slots": self.slots,
                        "version": VERSION,
                        "isolation": {"rlimits": False, "seccomp": False, "landlock": 0,
                                      "userns": False, "cgroup": False}}))
        log("worker_started", worker=self.worker_id, slots=self.slots, work_dir=self.work_dir)
        poller = zmq.Poller()
        poller.register(pull, zmq.POLLIN)
        poller.register(sub, zmq.POLLIN)
        last_beat = 0.0
        while not self.stopping:
            now = time.monotonic()
            if now - last_beat >= 0.3:
                last_beat = now
                push.send(pack({"type": "heartbeat", "worker": self.worker_id,
                                "free": max(self.slots - len(self.runs), 0),
                                "running": list(self.runs)}))
            for frame in [f for f in self.outbox.values() if now - f[1] > 1.0]:
                push.send(frame[0])
                frame[1] = now
            while True:
                try:
                    run, result = self.done.get_nowait()
                except queue.Empty:
                    break
                self.runs.pop(run.id, None)
                frame = pack(result)
                self.outbox[run.id] = [frame, time.monotonic()]
                push.send(frame)
                log("task_finished", id=run.id, status=result.get("status"))
                last_beat = 0.0
            events = dict(poller.poll(50))
            if pull in events:
                self.on_task(pull.recv(), push)
            if sub in events:
                self.on_control(sub.recv())
        for run in list(self.runs.values()):
            run.cancel()
        for s in (pull, push, sub):
            s.close(0)
        ctx.term()
        log("worker_stopped")

    def on_task(self, raw, push):
        try:
            task = msgpack.unpackb(raw, raw=False)
            tid = task["id"]
        except Exception as e:
            log("frame_dropped", reason=repr(e)[:80])
            return
        run = Run(self, task)
        self.runs[tid] = run
        push.send(pack({"type": "started", "id": tid, "attempt": run.attempt,
                        "worker": self.worker_id}))
        log("task_started", id=tid)
        run.thread.start()

    def on_control(self, raw):
        try:
            msg = msgpack.unpackb(raw, raw=False)
        except Exception:
            return
        if msg.get("type") == "ack":
            for i in msg.get("ids") or []:
                self.outbox.pop(i, None)
        elif msg.get("type") == "cancel" and msg.get("id") in self.runs:
            self.runs[msg["id"]].cancel()


def main():
    os.setsid()                         # never share the test's process group
    runner = Runner()

    def stop(signum, frame):
        runner.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runner.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
