"""Shared harness for end-to-end tests: the real binaries on loopback.

Every service gets ephemeral ports (the orchestrator logs the real ones in its
`event=ready` line), its own temporary data and work directories, and a log
file that is scanned for sanitizer reports when the test ends.

Fixtures:
  orch    -- a running orchestrator (no worker)
  system  -- an orchestrator plus one agent-sandbox with 2 slots

CURVE: the worker link is CURVE-authenticated by default. curve_keys ()
generates one set of keys per session with the real `orchestrator keygen`;
Orchestrator and Sandbox use it unless their env says otherwise (ORCH_CURVE /
SANDBOX_CURVE=off, other key files). Fake peers in Python apply the same
certificates with curve_client (sock) (a worker) or curve_server (sock) (an
orchestrator).

Faults: Service.kill9 / sigstop / sigcont; Orchestrator.same_ports () gives
the environment that binds a new orchestrator to the ports of a running or
dead one (ZeroMQ and HTTP clients reconnect to the same addresses), and
System.restart_orchestrator () uses it; System.add_sandbox () starts more
workers.
"""
import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("CLEUDO_BIN_DIR", os.path.join(REPO, "build", "test"))
TOKEN = "e2e-test-token-0123456789abcdef"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")

# Sanitizer settings for every service: abort on the first report so that a
# test never passes over one; leaks are checked at exit.
SAN_ENV = {
    "ASAN_OPTIONS": "abort_on_error=0:detect_leaks=1:halt_on_error=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


def bin_path(name):
    return os.path.join(BIN_DIR, name)


_KEYS = {}


def curve_keys():
    """The session's key directory (`orchestrator keygen`, made once):
    server.key, server.key_secret, workers/worker.key, worker.key_secret."""
    if "dir" not in _KEYS:
        parent = tempfile.mkdtemp(prefix="cleudo-e2e-keys-")
        atexit.register(shutil.rmtree, parent, True)
        keys = os.path.join(parent, "keys")
        proc = subprocess.run([bin_path("orchestrator"), "keygen", keys], capture_output=True,
                              env={**os.environ, **SAN_ENV}, timeout=30)
        assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
        _KEYS["dir"] = keys
    return _KEYS["dir"]


def orch_curve_env():
    """What an Orchestrator gets by default: CURVE with the session's keys."""
    return {"ORCH_KEYS_DIR": curve_keys()}


def sandbox_curve_env():
    """What a Sandbox gets by default: the server's key, the worker's cert."""
    keys = curve_keys()
    return {"SANDBOX_SERVER_KEY": os.path.join(keys, "server.key"),
            "SANDBOX_CERT": os.path.join(keys, "worker.key_secret")}


def read_cert(path):
    """(public, secret or None) Z85 keys of a zcert file, as bytes."""
    with open(path) as f:
        text = f.read()
    pub = re.search(r'^\s+public-key = "(.{40})"', text, re.M)
    sec = re.search(r'^\s+secret-key = "(.{40})"', text, re.M)
    return pub.group(1).encode(), sec.group(1).encode() if sec else None


def curve_client(sock, cert=None, server_key=None):
    """Make a pyzmq socket (before connect) a CURVE client: by default the
    allowed worker certificate of the session and its orchestrator's key."""
    keys = curve_keys()
    pub, sec = read_cert(cert or os.path.join(keys, "worker.key_secret"))
    sock.curve_serverkey = read_cert(server_key or os.path.join(keys, "server.key"))[0]
    sock.curve_publickey = pub
    sock.curve_secretkey = sec
    return sock


def curve_server(sock):
    """Make a pyzmq socket (before bind) the CURVE server of the session's
    keys, as a fake orchestrator (pyzmq has no ZAP handler: any client
    with the server key gets in)."""
    sock.curve_server = True
    sock.curve_secretkey = read_cert(os.path.join(curve_keys(), "server.key_secret"))[1]
    return sock


def sanitizer_reports(text):
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKS)]


class Service:
    """A real process whose stderr goes to a log file."""

    def __init__(self, name, argv, env, log_path):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("ORCH_", "SANDBOX_", "CLEUDO_"))}
        full_env.update(SAN_ENV)
        full_env.update(env)
        self.proc = subprocess.Popen(argv, env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, pattern, timeout=15.0):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            m = rx.search(self.read_log())
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}) before "
                                     f"logging {pattern!r}:\n{self.read_log()[-4000:]}")
            time.sleep(0.02)
        raise AssertionError(f"{self.name} did not log {pattern!r} within {timeout}s:\n"
                             f"{self.read_log()[-4000:]}")

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Stop the process and return its exit code (None if it was gone)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} ignored {sig!r} for {timeout}s")
        self.log.close()
        return self.proc.returncode

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def sigstop(self):
        self.proc.send_signal(signal.SIGSTOP)

    def sigcont(self):
        self.proc.send_signal(signal.SIGCONT)

    def alive(self):
        return self.proc.poll() is None


class Orchestrator(Service):
    def __init__(self, tmp_path, env=None, data_dir=None, token=TOKEN, log_name="orchestrator"):
        self.data_dir = data_dir or str(tmp_path / "data")
        self.token = token
        base = {
            "ORCH_HTTP_ADDR": "127.0.0.1:0",
            "ORCH_SUBMIT_ENDPOINT": "tcp://127.0.0.1:*",
            "ORCH_TASKS_ENDPOINT": "tcp://127.0.0.1:*",
            "ORCH_RESULTS_ENDPOINT": "tcp://127.0.0.1:*",
            "ORCH_CONTROL_ENDPOINT": "tcp://127.0.0.1:*",
            "ORCH_DATA_DIR": self.data_dir,
            "ORCH_WORKER_TIMEOUT": "3s",
            **orch_curve_env(),
        }
        if token is not None:
            base["ORCH_API_TOKEN"] = token
        base.update(env or {})
        super().__init__(log_name, [bin_path("orchestrator")], base,
                         str(tmp_path / (log_name + ".log")))
        m = self.wait_for_log(r"event=ready http=(\S+) submit=(\S+) tasks=(\S+) "
                              r"results=(\S+) control=(\S+)")
        self.http_addr, self.submit, self.tasks, self.results, self.control = m.groups()
        self.url = "http://" + self.http_addr

    def same_ports(self):
        """Environment that binds the ports this instance had (from its ready
        line), for a restart that clients and workers find again."""
        return {
            "ORCH_HTTP_ADDR": self.http_addr,
            "ORCH_SUBMIT_ENDPOINT": self.submit,
            "ORCH_TASKS_ENDPOINT": self.tasks,
            "ORCH_RESULTS_ENDPOINT": self.results,
            "ORCH_CONTROL_ENDPOINT": self.control,
        }

    def http(self, method, path, body=None, token=True, headers=None, timeout=30):
        """One HTTP request; returns (status, headers, parsed JSON or bytes)."""
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if token is True:
            token = self.token
        if token:
            hdrs["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, rh, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            status, rh, raw = e.code, dict(e.headers), e.read()
        ctype = rh.get("Content-Type", "")
        if ctype.startswith("application/json"):
            return status, rh, json.loads(raw)
        return status, rh, raw


class Sandbox(Service):
    def __init__(self, tmp_path, orch, slots=2, env=None, name="agent-sandbox"):
        self.work_dir = str(tmp_path / (name + "-work"))
        base = {
            "SANDBOX_TASKS_ENDPOINT": orch.tasks,
            "SANDBOX_RESULTS_ENDPOINT": orch.results,
            "SANDBOX_CONTROL_ENDPOINT": orch.control,
            "SANDBOX_SLOTS": str(slots),
            "SANDBOX_WORK_DIR": self.work_dir,
            **sandbox_curve_env(),
        }
        base.update(env or {})
        self.worker_id = base.get("SANDBOX_WORKER_ID")
        super().__init__(name, [bin_path("agent-sandbox")], base, str(tmp_path / (name + ".log")))


class System:
    """An orchestrator with one sandbox, and helpers to drive them."""

    def __init__(self, tmp_path, orch_env=None, sandbox_env=None, slots=2):
        self.tmp_path = tmp_path
        self.orch_env = dict(orch_env or {})
        self.orch = Orchestrator(tmp_path, orch_env)
        self.old_orchs = []             # earlier instances (restarts)
        self.sandboxes = [Sandbox(tmp_path, self.orch, slots, sandbox_env)]
        self.orch.wait_for_log(r"event=worker_joined")

    def add_sandbox(self, name, slots=2, env=None, wait=True):
        """Start one more worker (logs to NAME.log, works in NAME-work)."""
        sbx = Sandbox(self.tmp_path, self.orch, slots,
                      {"SANDBOX_WORKER_ID": name, **(env or {})}, name=name)
        self.sandboxes.append(sbx)
        if wait:
            self.orch.wait_for_log(r"event=worker_joined worker=\"%s\"" % re.escape(name))
        return sbx

    def restart_orchestrator(self, kill=True, env=None):
        """kill -9 (or SIGTERM) the orchestrator and start a new one on the
        same ports and data directory; returns the new one."""
        old = self.orch
        if kill:
            old.kill9()
            old.log.close()
        else:
            assert old.stop() == 0
        self.old_orchs.append(old)
        n = len(self.old_orchs)
        self.orch = Orchestrator(self.tmp_path, {**self.orch_env, **old.same_ports(), **(env or {})},
                                 data_dir=old.data_dir, token=old.token,
                                 log_name=f"orchestrator-{n}")
        return self.orch

    def http(self, *args, **kwargs):
        return self.orch.http(*args, **kwargs)

    def run_task(self, spec, wait=20):
        """POST a task and wait for it; returns the record (asserts it finished)."""
        status, _, body = self.http("POST", f"/api/tasks?wait={wait}", spec)
        assert status == 200, (status, body)
        return body

    def cleudo(self, *args, input=None, env=None, timeout=60, token=True):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEUDO_", "ORCH_"))}
        full_env.update(SAN_ENV)
        full_env["CLEUDO_ENDPOINT"] = self.orch.submit
        if token is True:
            full_env["CLEUDO_TOKEN"] = self.orch.token
        elif token:
            full_env["CLEUDO_TOKEN"] = token
        full_env.update(env or {})
        proc = subprocess.run([bin_path("cleudo"), *args], input=input, env=full_env,
                              capture_output=True, timeout=timeout, cwd=str(self.tmp_path))
        reports = sanitizer_reports(proc.stderr.decode("utf-8", "replace"))
        assert not reports, reports
        return proc

    def services(self):
        return [*self.sandboxes, self.orch]

    def stop(self):
        """SIGTERM every live service (workers first, while the orchestrator
        still acknowledges their results); exit codes by name."""
        codes = {}
        for svc in self.services():
            if svc.alive():
                codes[svc.name] = svc.stop()
            else:
                svc.log.close()
        return codes


def _check_logs(services):
    for svc in services:
        reports = sanitizer_reports(svc.read_log())
        assert not reports, f"{svc.name}: sanitizer reports:\n" + "\n".join(reports)


@pytest.fixture
def orch(tmp_path):
    o = Orchestrator(tmp_path)
    yield o
    code = o.stop()
    _check_logs([o])
    assert code == 0, f"orchestrator exited {code} on SIGTERM"


@pytest.fixture
def system(tmp_path):
    s = System(tmp_path)
    yield s
    codes = s.stop()
    _check_logs(s.services() + s.old_orchs)
    assert all(c == 0 for c in codes.values()), f"exit codes on SIGTERM: {codes}"


# --- the HTTP API suites (test_api*.py): a system per module and a client
# that checks every response against services/orchestrator/web/openapi.json.

@pytest.fixture(scope="module")
def spec():
    from openapi_check import Spec
    return Spec.load()


@pytest.fixture(scope="module")
def system_m(request, tmp_path_factory):
    """One orchestrator + one 2-slot sandbox for the whole module."""
    s = System(tmp_path_factory.mktemp(request.module.__name__))
    yield s
    codes = s.stop()
    _check_logs(s.services())
    assert all(c == 0 for c in codes.values()), f"exit codes on SIGTERM: {codes}"


@pytest.fixture(scope="module")
def api(system_m, spec):
    from openapi_check import Api
    return Api(system_m.orch.url, system_m.orch.token, spec)
