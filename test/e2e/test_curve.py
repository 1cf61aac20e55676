"""CURVE on the worker link (tasks, results, control).

The orchestrator is the CURVE server; only workers whose certificate is in
ORCH_KEYS_DIR/workers get in. A rogue peer (no CURVE, or a certificate that
is not allowed) gets no task and no control frame, and its frames (hello, a
forged result for a real task) never reach the orchestrator: the task ends
as the real worker says. Each refusal is logged once, not per frame.

Run: CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q test/e2e/test_curve.py
"""
import json
import os
import re
import stat
import subprocess
import time

import msgpack
import pytest
import zmq

from conftest import (SAN_ENV, Orchestrator, Sandbox, System, _check_logs, bin_path,
                      curve_client, curve_keys, read_cert)


def pack(msg):
    return msgpack.packb(msg, use_bin_type=True)


def keygen(path):
    return subprocess.run([bin_path("orchestrator"), "keygen", str(path)], capture_output=True,
                          env={**os.environ, **SAN_ENV}, timeout=30)


class Rogue:
    """A peer on the worker link: plain (cert=None) or CURVE with any
    certificate. Sends what a worker would and listens for tasks/control."""

    def __init__(self, orch, cert=None, server_key=None, name="rogue"):
        self.id = name
        self.sent = self.unsendable = 0
        self.ctx = zmq.Context()
        self.pull = self.ctx.socket(zmq.PULL)
        self.push = self.ctx.socket(zmq.PUSH)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        for s in (self.pull, self.push, self.sub):
            s.setsockopt(zmq.LINGER, 0)
            if cert:
                curve_client(s, cert=cert, server_key=server_key)
        self.pull.connect(orch.tasks)
        self.push.connect(orch.results)
        self.sub.connect(orch.control)

    def send(self, **msg):
        """Counts the frames libzmq took; with no accepted connection there
        is no pipe to queue them in (Again): they go nowhere either way."""
        try:
            self.push.send(pack({"v": 1, **msg}), zmq.NOBLOCK)
            self.sent += 1
        except zmq.Again:
            self.unsendable += 1

    def hello(self):
        self.send(type="hello", worker=self.id, slots=8, version="rogue-1")
        self.send(type="heartbeat", worker=self.id, free=8, running=[])

    def forge(self, task_id, attempt=1):
        self.send(type="started", id=task_id, attempt=attempt, worker=self.id)
        self.send(type="result", id=task_id, attempt=attempt, worker=self.id,
                  status="succeeded", exit_code=0, signal=None, stdout=b"forged\n",
                  stderr=b"", stdout_truncated=False, stderr_truncated=False, wall_ms=1,
                  cpu_ms=1, max_rss_kb=1)

    def received(self, within=0.5):
        """Frames that reached us on tasks or control (there must be none)."""
        got = []
        poller = zmq.Poller()
        poller.register(self.pull, zmq.POLLIN)
        poller.register(self.sub, zmq.POLLIN)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for sock, _ in poller.poll(50):
                got.append(msgpack.unpackb(sock.recv(), raw=False))
        return got

    def close(self):
        for s in (self.pull, self.push, self.sub):
            s.close(0)
        self.ctx.term()


def _wait_finished(system, task_id, timeout=20):
    status, _, rec = system.http("GET", f"/api/tasks/{task_id}?wait={timeout}")
    assert status == 200, (status, rec)
    return rec


def _refusals(log):
    return [line for line in log.splitlines() if "event=worker_refused" in line]


def _attack(system, rogues):
    """Rogues say hello and forge the result of a task the real worker runs;
    returns that task's record. No rogue may receive anything."""
    for r in rogues:
        r.hello()
    status, _, rec = system.http("POST", "/api/tasks",
                                 {"argv": ["sh", "-c", "sleep 1; echo real"]})
    assert status == 201, rec
    tid = rec["id"]
    for _ in range(30):                 # many frames: still one log line each
        for r in rogues:
            r.hello()
            r.forge(tid)
        time.sleep(0.01)
    for r in rogues:
        assert r.received(0.3) == []
    rec = _wait_finished(system, tid)
    assert rec["status"] == "succeeded", rec
    assert rec["stdout"] == "real\n", rec
    assert rec["worker"] != "rogue" and rec["attempt"] == 1, rec
    # More tasks: every one goes to the real worker, none to a rogue.
    for i in range(4):
        assert system.run_task({"argv": ["echo", str(i)]})["stdout"] == f"{i}\n"
    for r in rogues:
        assert r.received(0.3) == []
    status, _, workers = system.http("GET", "/api/workers")
    assert status == 200 and "rogue" not in json.dumps(workers), workers
    assert "worker=\"rogue\"" not in system.orch.read_log()
    return rec


def test_rogue_without_curve_gets_nothing_and_is_logged_once(system):
    rogues = [Rogue(system.orch) for _ in range(3)]
    try:
        for sock in ("tasks", "results", "control"):
            system.orch.wait_for_log(r"event=worker_refused socket=%s reason=no_curve" % sock,
                                     timeout=10)
        _attack(system, rogues)
        # Reconnect more of them: still one line per socket.
        rogues += [Rogue(system.orch) for _ in range(3)]
        rogues[-1].hello()
        time.sleep(1.0)
    finally:
        for r in rogues:
            r.close()
    lines = _refusals(system.orch.read_log())
    for sock in ("tasks", "results", "control"):
        assert len([x for x in lines if f"socket={sock} " in x]) == 1, lines
    assert len(lines) == 3, lines


def test_certificate_not_in_the_allowed_dir_gets_nothing(system, tmp_path):
    other = tmp_path / "other-keys"
    assert keygen(other).returncode == 0
    cert = str(other / "worker.key_secret")
    rogue_key = read_cert(cert)[0].decode()
    rogues = [Rogue(system.orch, cert=cert)]
    try:
        system.orch.wait_for_log(r"event=worker_refused .*reason=not_allowed", timeout=10)
        _attack(system, rogues)
        # The same key again and again (new connections): never a new line.
        for _ in range(3):
            r = Rogue(system.orch, cert=cert)
            r.hello()
            rogues.append(r)
        time.sleep(1.0)
    finally:
        for r in rogues:
            r.close()
    lines = _refusals(system.orch.read_log())
    mine = [x for x in lines if rogue_key in x]
    assert len(mine) == 1, lines
    assert "reason=not_allowed" in mine[0] and 'address="127.0.0.1"' in mine[0], mine
    assert 'mechanism="CURVE"' in mine[0]
    assert len(lines) == 1, lines


def test_allowed_certificate_but_wrong_server_key_is_refused(system, tmp_path):
    other = tmp_path / "other-keys"
    assert keygen(other).returncode == 0
    keys = curve_keys()
    rogue = Rogue(system.orch, cert=os.path.join(keys, "worker.key_secret"),
                  server_key=str(other / "server.key"))
    try:
        system.orch.wait_for_log(r"event=worker_refused socket=\w+ reason=bad_crypto",
                                 timeout=10)
        _attack(system, [rogue])
    finally:
        rogue.close()


def test_real_sandbox_with_a_foreign_certificate_never_joins(system, tmp_path):
    other = tmp_path / "other-keys"
    assert keygen(other).returncode == 0
    intruder = system.add_sandbox("intruder", wait=False,
                                  env={"SANDBOX_CERT": str(other / "worker.key_secret")})
    intruder.wait_for_log(r"event=link_refused socket=\w+ .*ORCH_KEYS_DIR/workers", timeout=10)
    for i in range(4):
        rec = system.run_task({"argv": ["echo", str(i)]})
        assert rec["worker"] != "intruder" and rec["stdout"] == f"{i}\n"
    time.sleep(2.5)                     # the link retries every second
    assert 'worker="intruder"' not in system.orch.read_log()
    log = intruder.read_log()
    assert log.count("event=link_refused") <= 3, log    # once per socket
    assert "event=link_restarted" in log                # it keeps trying
    key = read_cert(str(other / "worker.key_secret"))[0].decode()
    assert len([x for x in _refusals(system.orch.read_log()) if key in x]) == 1


def test_right_certificate_works_end_to_end(system):
    log = system.orch.read_log()
    assert re.search(r"event=worker_link_secured curve=on keys_dir=\S+ allowed_workers=1", log)
    assert "worker_link_plain" not in log
    rec = system.run_task({"argv": ["sh", "-c", "echo over curve; echo err >&2"]})
    assert rec["status"] == "succeeded" and rec["stdout"] == "over curve\n"
    assert rec["stderr"] == "err\n"
    # Cancel travels on the control socket (PUB): it reaches the worker.
    status, _, rec = system.http("POST", "/api/tasks", {"argv": ["sleep", "30"]})
    tid = rec["id"]
    deadline = time.monotonic() + 10
    while system.http("GET", f"/api/tasks/{tid}")[2]["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, _, _ = system.http("POST", f"/api/tasks/{tid}/cancel")
    assert status in (200, 202)
    rec = _wait_finished(system, tid)
    assert rec["status"] == "cancelled", rec
    assert _refusals(system.orch.read_log()) == []
    assert "worker_link_plain" not in system.sandboxes[0].read_log()


def _run(binary, env, timeout=30):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("ORCH_", "SANDBOX_", "CLEUDO_"))}
    full.update(SAN_ENV)
    full.update(env)
    return subprocess.run([bin_path(binary)], env=full, capture_output=True, timeout=timeout)


def test_orchestrator_refuses_to_start_without_its_keys(tmp_path):
    base = {"ORCH_DATA_DIR": str(tmp_path / "data"), "ORCH_HTTP_ADDR": "127.0.0.1:0",
            "ORCH_SUBMIT_ENDPOINT": "tcp://127.0.0.1:*", "ORCH_TASKS_ENDPOINT": "tcp://127.0.0.1:*",
            "ORCH_RESULTS_ENDPOINT": "tcp://127.0.0.1:*",
            "ORCH_CONTROL_ENDPOINT": "tcp://127.0.0.1:*"}
    missing = tmp_path / "nokeys"
    p = _run("orchestrator", {**base, "ORCH_KEYS_DIR": str(missing)})
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert "ORCH_KEYS_DIR" in err and str(missing / "server.key_secret") in err, err
    assert "No such file" in err and "orchestrator keygen" in err, err
    assert "event=ready" not in err

    # The server certificate, but no allowed worker.
    keys = tmp_path / "k"
    assert keygen(keys).returncode == 0
    os.unlink(keys / "workers" / "worker.key")
    p = _run("orchestrator", {**base, "ORCH_KEYS_DIR": str(keys)})
    err = p.stderr.decode()
    assert p.returncode == 1 and "no worker certificate" in err and "workers" in err, err

    # A secret certificate among the allowed ones is refused.
    os.rename(keys / "worker.key_secret", keys / "workers" / "worker.key_secret")
    p = _run("orchestrator", {**base, "ORCH_KEYS_DIR": str(keys)})
    err = p.stderr.decode()
    assert p.returncode == 1 and "secret certificate" in err, err

    # Not a certificate at all.
    (keys / "workers" / "worker.key_secret").unlink()
    (keys / "workers" / "junk.key").write_text("hello\n")
    p = _run("orchestrator", {**base, "ORCH_KEYS_DIR": str(keys)})
    err = p.stderr.decode()
    assert p.returncode == 1 and "junk.key" in err and "not a CURVE certificate" in err, err

    # The flag twin and --help.
    p = subprocess.run([bin_path("orchestrator"), "--help"], capture_output=True, timeout=20)
    out = p.stdout.decode()
    assert "ORCH_KEYS_DIR" in out and "ORCH_CURVE" in out and "keygen" in out


def test_sandbox_refuses_to_start_without_its_keys(tmp_path):
    keys = curve_keys()
    base = {"SANDBOX_WORK_DIR": str(tmp_path / "w"), "SANDBOX_SLOTS": "1",
            "SANDBOX_TASKS_ENDPOINT": "tcp://127.0.0.1:9",
            "SANDBOX_RESULTS_ENDPOINT": "tcp://127.0.0.1:9",
            "SANDBOX_CONTROL_ENDPOINT": "tcp://127.0.0.1:9",
            "SANDBOX_SERVER_KEY": os.path.join(keys, "server.key"),
            "SANDBOX_CERT": os.path.join(keys, "worker.key_secret")}
    missing = str(tmp_path / "nope.key_secret")
    p = _run("agent-sandbox", {**base, "SANDBOX_CERT": missing})
    err = p.stderr.decode()
    assert p.returncode == 1 and "SANDBOX_CERT" in err and missing in err, err
    assert "orchestrator keygen" in err, err
    p = _run("agent-sandbox", {**base, "SANDBOX_SERVER_KEY": missing})
    err = p.stderr.decode()
    assert p.returncode == 1 and "SANDBOX_SERVER_KEY" in err and missing in err, err
    # The public certificate where the secret one belongs.
    p = _run("agent-sandbox", {**base, "SANDBOX_CERT": os.path.join(keys, "workers",
                                                                    "worker.key")})
    err = p.stderr.decode()
    assert p.returncode == 1 and "SANDBOX_CERT" in err and "_secret" in err, err
    p = _run("agent-sandbox", {**base, "SANDBOX_CURVE": "maybe"})
    assert p.returncode == 1 and "SANDBOX_CURVE" in p.stderr.decode()
    p = subprocess.run([bin_path("agent-sandbox"), "--help"], capture_output=True, timeout=20)
    out = p.stdout.decode()
    for name in ("SANDBOX_CURVE", "SANDBOX_SERVER_KEY", "SANDBOX_CERT"):
        assert name in out


def test_plain_mode_only_when_asked_and_with_a_warning(tmp_path):
    s = System(tmp_path, orch_env={"ORCH_CURVE": "off", "ORCH_KEYS_DIR": str(tmp_path / "no")},
               sandbox_env={"SANDBOX_CURVE": "off", "SANDBOX_CERT": str(tmp_path / "no")})
    try:
        assert re.search(r"level=warn component=orchestrator event=worker_link_plain curve=off",
                         s.orch.read_log())
        assert re.search(r"level=warn component=agent-sandbox event=worker_link_plain",
                         s.sandboxes[0].read_log())
        assert s.run_task({"argv": ["echo", "plain"]})["stdout"] == "plain\n"
        assert "worker_link_secured" not in s.orch.read_log()
    finally:
        codes = s.stop()
    _check_logs(s.services())
    assert all(c == 0 for c in codes.values()), codes


def test_curve_on_one_side_only_never_links(tmp_path):
    o = Orchestrator(tmp_path, {"ORCH_CURVE": "off"})
    s = None
    try:
        s = Sandbox(tmp_path, o)            # CURVE on (the default)
        s.wait_for_log(r"event=link_refused socket=\w+ .*SANDBOX_CURVE and ORCH_CURVE",
                       timeout=10)
        time.sleep(0.5)
        assert "worker_joined" not in o.read_log()
    finally:
        if s is not None:
            assert s.stop() == 0
        assert o.stop() == 0
    _check_logs([o, s])


def test_keygen_makes_0600_secrets_and_never_overwrites(tmp_path):
    keys = tmp_path / "keys"
    p = keygen(keys)
    assert p.returncode == 0, p.stderr
    files = {"server.key": 0o644, "server.key_secret": 0o600,
             "workers/worker.key": 0o644, "worker.key_secret": 0o600}
    for name, mode in files.items():
        st = os.stat(keys / name)
        assert stat.S_IMODE(st.st_mode) == mode, (name, oct(st.st_mode))
        assert name in p.stdout.decode()
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
    # czmq's zcert text: public-key in both, secret-key only in *_secret; the
    # secret file's public key is the public file's.
    spub, ssec = read_cert(keys / "server.key_secret")
    assert read_cert(keys / "server.key") == (spub, None) and ssec
    wpub, wsec = read_cert(keys / "worker.key_secret")
    assert read_cert(keys / "workers" / "worker.key") == (wpub, None) and wsec
    assert zmq.curve_public(ssec) == spub and zmq.curve_public(wsec) == wpub
    assert spub != wpub

    before = {n: (keys / n).read_bytes() for n in files}
    p = keygen(keys)
    assert p.returncode == 1 and b"exists already" in p.stderr, p.stderr
    assert {n: (keys / n).read_bytes() for n in files} == before

    # One file in the way: nothing at all is written.
    partial = tmp_path / "partial"
    (partial / "workers").mkdir(parents=True)
    (partial / "workers" / "worker.key").write_text("mine\n")
    p = keygen(partial)
    assert p.returncode == 1 and b"worker.key" in p.stderr, p.stderr
    assert sorted(os.listdir(partial)) == ["workers"]
    assert (partial / "workers" / "worker.key").read_text() == "mine\n"

    p = subprocess.run([bin_path("orchestrator"), "keygen"], capture_output=True, timeout=20)
    assert p.returncode == 1 and b"usage" in p.stderr
    # The keys it made work: a system on them runs a task.
    s = System(tmp_path, orch_env={"ORCH_KEYS_DIR": str(keys)},
               sandbox_env={"SANDBOX_SERVER_KEY": str(keys / "server.key"),
                            "SANDBOX_CERT": str(keys / "worker.key_secret")})
    try:
        assert s.run_task({"argv": ["echo", "mine"]})["stdout"] == "mine\n"
    finally:
        codes = s.stop()
    assert all(c == 0 for c in codes.values()), codes


@pytest.mark.parametrize("flag", ["--keygen", "--keygen="])
def test_keygen_flag_twins(tmp_path, flag):
    target = tmp_path / "k"
    argv = [bin_path("orchestrator"), flag + str(target)] if flag.endswith("=") \
        else [bin_path("orchestrator"), flag, str(target)]
    p = subprocess.run(argv, capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert (target / "server.key_secret").exists()
