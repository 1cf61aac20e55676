"""cleudo logs, ls, rerun, workers, files, and --json / colour everywhere, against
the fake orchestrator of test_cli.py.

Run: CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q test/e2e/test_cli_commands.py
"""
import json
import os
import pty
import subprocess

import pytest

from test_cli import RECORD_KEYS as ALL_RECORD_KEYS
from test_cli import CLEUDO, SAN_ENV, TOKEN, cleudo, fake, story  # noqa: F401 (fixture)

# files_b64 is there only when a collected file is not text
RECORD_KEYS = ALL_RECORD_KEYS - {"files_b64"}

WORKER_KEYS = {"id", "slots", "busy", "free", "version", "last_heartbeat_ms", "tasks_done",
               "running", "isolation"}
LIST_ITEM_KEYS = {"id", "status", "attempt", "worker", "created_ms", "finished_ms", "summary",
                  "exit_code", "signal"}
ESC = b"\x1b["


def on_tty(*args, fake, env=None):
    """cleudo with stdout on a pseudo-terminal; returns (rc, stdout bytes)."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("CLEUDO_", "ORCH_")) and k != "NO_COLOR"}
    full_env.update(SAN_ENV)
    full_env.update({"CLEUDO_ENDPOINT": fake.endpoint, "CLEUDO_TOKEN": TOKEN,
                     "TERM": "xterm"})
    full_env.update(env or {})
    master, slave = pty.openpty()
    proc = subprocess.Popen([CLEUDO, *args], env=full_env, stdout=slave,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    proc.wait(timeout=20)
    os.close(master)
    return proc.returncode, out


def submit_some(fake):
    fake.script = story(dict(status="succeeded", stdout=b"hi\n"))
    cleudo("submit", "--", "echo", "hi", fake=fake)
    fake.script = story(dict(status="failed", exit_code=3))
    cleudo("submit", "--", "sh", "-c", "exit 3", fake=fake)
    fake.script = story(dict(status="running"))
    cleudo("submit", "--lang", "python3", "-", input=b"print(1)\n", fake=fake)


# ---------------------------------------------------------------------------
# logs

def test_logs_prints_stored_output_exactly(fake):
    fake.script = story(dict(status="failed", exit_code=1, stdout=b"o\x00\xff\n",
                             stderr=b"e\xfe"))
    cleudo("submit", "--", "x", fake=fake)
    proc = cleudo("logs", "task-0001", fake=fake)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"o\x00\xff\n", b"e\xfe")
    assert [r["type"] for r in fake.requests] == ["submit", "get"]


def test_logs_of_unfinished_task_says_so(fake):
    fake.script = story(dict(status="running"))
    cleudo("submit", "--", "x", fake=fake)
    proc = cleudo("logs", "task-0001", fake=fake)
    assert proc.returncode == 0 and proc.stdout == b""
    assert b"task task-0001 is running" in proc.stderr and b"logs -f" in proc.stderr


def test_logs_json_and_errors(fake):
    fake.script = story(dict(status="succeeded", stdout=b"x"))
    cleudo("submit", "--", "x", fake=fake)
    proc = cleudo("logs", "--json", "task-0001", fake=fake)
    rec = json.loads(proc.stdout)
    assert RECORD_KEYS <= set(rec) and rec["stdout"] == "x"
    proc = cleudo("logs", "nope", fake=fake)
    assert proc.returncode == 3 and proc.stderr == b"cleudo: no task with id nope\n"
    proc = cleudo("logs", "--json", "-f", "task-0001", fake=fake)
    assert proc.returncode == 2 and b"--json and --follow" in proc.stderr


# ---------------------------------------------------------------------------
# ls

def test_ls_table_and_filters(fake):
    submit_some(fake)
    proc = cleudo("ls", fake=fake)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert lines[0].split() == ["ID", "STATUS", "EXIT", "CREATED", "WALL", "TASK"]
    assert [l.split()[0] for l in lines[1:]] == ["task-0003", "task-0002", "task-0001"]
    # aligned: every row's STATUS column starts where the header's does
    col = lines[0].index("STATUS")
    assert all(l[col - 2:col] == "  " and l[col] != " " for l in lines[1:])
    assert "failed" in lines[2] and " 3 " in lines[2] and "sh -c exit 3" in lines[2]
    assert "python3: print(1)" in lines[1]
    assert ESC not in proc.stdout                       # not a terminal: no colour
    proc = cleudo("ls", "--status", "failed", "--limit", "5", fake=fake)
    assert len(proc.stdout.decode().splitlines()) == 2
    req = fake.of_type("list")[-1]
    assert req["status"] == "failed" and req["limit"] == 5
    proc = cleudo("ls", "-n", "1", fake=fake)
    assert len(proc.stdout.decode().splitlines()) == 2


def test_ls_json_schema(fake):
    submit_some(fake)
    proc = cleudo("ls", "--json", fake=fake)
    doc = json.loads(proc.stdout)
    assert list(doc) == ["items"] and len(doc["items"]) == 3
    for item in doc["items"]:
        assert LIST_ITEM_KEYS <= set(item), set(item)
        assert "stdout" not in item and "task" not in item
    assert doc["items"][1]["exit_code"] == 3
    fake.records.clear()
    assert json.loads(cleudo("ls", "--json", fake=fake).stdout) == {"items": []}


def test_ls_colour_only_on_a_terminal_without_no_color(fake):
    submit_some(fake)
    rc, out = on_tty("ls", fake=fake)
    assert rc == 0 and ESC + b"32m" in out and b"succeeded" in out
    rc, out = on_tty("ls", fake=fake, env={"NO_COLOR": "1"})
    assert rc == 0 and ESC not in out and b"succeeded" in out
    rc, out = on_tty("ls", fake=fake, env={"NO_COLOR": ""})
    assert ESC not in out
    rc, out = on_tty("ls", fake=fake, env={"TERM": "dumb"})
    assert ESC not in out


def test_ls_bad_options_name_the_option(fake):
    proc = cleudo("ls", "--status", "bogus", fake=fake)
    assert proc.returncode == 2
    assert b"invalid --status 'bogus'" in proc.stderr and b"timed_out" in proc.stderr
    proc = cleudo("ls", "--limit", "0", fake=fake)
    assert proc.returncode == 2 and b"--limit" in proc.stderr
    proc = cleudo("ls", "--limit", fake=fake)
    assert proc.returncode == 2 and b"'--limit' needs a value" in proc.stderr
    proc = cleudo("ls", "extra", fake=fake)
    assert proc.returncode == 2 and b"unexpected argument 'extra'" in proc.stderr
    proc = cleudo("ls", "--bogus", fake=fake)
    assert proc.returncode == 2 and b"unknown option '--bogus' for 'ls'" in proc.stderr
    assert fake.requests == []


# ---------------------------------------------------------------------------
# rerun

def test_rerun_prints_the_new_id(fake):
    fake.script = story(dict(status="succeeded", stdout=b"again\n"))
    cleudo("submit", "-e", "A=1", "--", "echo", "again", fake=fake)
    proc = cleudo("rerun", "task-0001", fake=fake)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"task-0002\n", b"")
    assert fake.of_type("rerun")[0]["id"] == "task-0001"
    proc = cleudo("rerun", "--json", "task-0001", fake=fake)
    assert json.loads(proc.stdout) == {"id": "task-0003", "rerun_of": "task-0001"}


def test_rerun_follow_and_wait(fake):
    fake.script = story(dict(status="failed", exit_code=9, stdout=b"nine\n"))
    cleudo("submit", "--", "x", fake=fake)
    proc = cleudo("rerun", "-f", "task-0001", fake=fake)
    assert proc.returncode == 9 and proc.stdout == b"nine\n"
    assert proc.stderr == b"cleudo: task task-0001 runs again as task-0002\n"
    assert fake.of_type("stream")[-1]["id"] == "task-0002"
    proc = cleudo("rerun", "--wait", "task-0001", fake=fake)
    assert proc.returncode == 9 and b"failed, exit code 9" in proc.stdout
    proc = cleudo("rerun", "--wait", "--json", "task-0001", fake=fake)
    assert proc.returncode == 9 and json.loads(proc.stdout)["id"] == "task-0004"
    proc = cleudo("rerun", "--wait", "-f", "task-0001", fake=fake)
    assert proc.returncode == 2 and b"--wait and --follow" in proc.stderr


def test_rerun_errors(fake):
    proc = cleudo("rerun", "missing-1", fake=fake)
    assert proc.returncode == 3 and proc.stderr == b"cleudo: no task with id missing-1\n"
    proc = cleudo("rerun", fake=fake)
    assert proc.returncode == 2 and b"needs a task ID" in proc.stderr
    fake.old = True
    proc = cleudo("rerun", "task-0001", fake=fake)
    assert proc.returncode == 3 and b"does not know rerun" in proc.stderr


# ---------------------------------------------------------------------------
# workers

WORKERS = [
    {"worker": "sbx-a:1", "slots": 4, "free": 1, "version": "1.2", "last_seen_ms": 1,
     "tasks_done": 17, "isolation": {"seccomp": True, "landlock": 3, "cgroup": False},
     "running": ["task-0001", "task-0002", "task-0003"]},
    {"worker": "sbx-b:1", "slots": 2, "free": 2, "version": "1.2"},
]


def test_workers_table(fake):
    fake.workers = WORKERS
    proc = cleudo("workers", fake=fake)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert lines[0].split()[:4] == ["WORKER", "SLOTS", "BUSY", "VERSION"]
    assert lines[1].split()[:4] == ["sbx-a:1", "4", "3", "1.2"]
    assert "task-0001,task-0002,task-0003" in lines[1]
    assert "seccomp=on" in lines[1] and "landlock=on: level 3" in lines[1]
    assert "cgroup=off" in lines[1]
    assert lines[2].split()[:3] == ["sbx-b:1", "2", "0"]
    fake.workers = []
    assert cleudo("workers", fake=fake).stdout.decode().split() == \
        ["WORKER", "SLOTS", "BUSY", "VERSION", "SEEN", "DONE", "RUNNING", "ISOLATION"]


def test_workers_json_schema(fake):
    fake.workers = WORKERS
    doc = json.loads(cleudo("workers", "--json", fake=fake).stdout)
    assert list(doc) == ["items"]
    a, b = doc["items"]
    assert set(a) == WORKER_KEYS and set(b) == WORKER_KEYS
    assert a == {"id": "sbx-a:1", "slots": 4, "busy": 3, "free": 1, "version": "1.2",
                 "last_heartbeat_ms": 1, "tasks_done": 17,
                 "running": ["task-0001", "task-0002", "task-0003"],
                 "isolation": {"seccomp": True, "landlock": 3, "cgroup": False}}
    assert b["running"] == [] and b["isolation"] == {} and b["last_heartbeat_ms"] is None


# ---------------------------------------------------------------------------
# files

FILES = {"out.txt": b"text\n", "sub/dir/data.bin": b"\x00\xff", "empty": b""}


def with_files(fake, files=FILES, status="succeeded"):
    fake.script = story(dict(status=status, files=files))
    cleudo("submit", "--collect", "out.txt", "--", "x", fake=fake)


def test_files_writes_every_file(fake, tmp_path):
    with_files(fake)
    dest = tmp_path / "dest"
    proc = cleudo("files", "task-0001", "-o", str(dest), fake=fake)
    assert proc.returncode == 0, proc.stderr
    for path, data in FILES.items():
        assert (dest / path).read_bytes() == data
    assert f"{dest}/out.txt (5 bytes)".encode() in proc.stdout
    # once more: the files exist, nothing is overwritten (exit 8), --force replaces
    (dest / "out.txt").write_bytes(b"mine")
    proc = cleudo("files", "task-0001", "-o", str(dest), fake=fake)
    assert proc.returncode == 8
    assert b"not saving 'out.txt'" in proc.stderr and b"exists already" in proc.stderr
    assert (dest / "out.txt").read_bytes() == b"mine"
    proc = cleudo("files", "--force", "task-0001", "-o", str(dest), fake=fake)
    assert proc.returncode == 0 and (dest / "out.txt").read_bytes() == b"text\n"


def test_files_one_path_to_dir_or_stdout_and_json(fake, tmp_path):
    with_files(fake)
    proc = cleudo("files", "task-0001", "sub/dir/data.bin", "-o", "-", fake=fake)
    assert proc.returncode == 0 and proc.stdout == b"\x00\xff"
    proc = cleudo("files", "--json", "task-0001", "out.txt", "-o", str(tmp_path), fake=fake)
    doc = json.loads(proc.stdout)
    assert doc == {"dir": str(tmp_path),
                   "items": [{"path": "out.txt", "bytes": 5, "saved": True}]}
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]
    proc = cleudo("files", "task-0001", "nope.txt", fake=fake, cwd=str(tmp_path))
    assert proc.returncode == 3 and b"no collected file 'nope.txt'" in proc.stderr


@pytest.mark.parametrize("path,why", [("../x", b"'..'"), ("/abs", b"relative"),
                                      ("a/../../x", b"'..'"), ("a//b", b"empty")])
def test_files_refuses_unsafe_path_arguments(fake, path, why):
    proc = cleudo("files", "task-0001", path, fake=fake)
    assert proc.returncode == 2
    assert f"invalid PATH '{path}'".encode() in proc.stderr and why in proc.stderr
    assert fake.requests == []


def test_files_record_with_escaping_name_is_refused(fake, tmp_path):
    """A record naming ../x never reaches the disk: the reply is refused whole."""
    with_files(fake)
    answer = fake.answer

    def evil(msg):
        reply = answer(msg)
        if msg["type"] == "get":
            reply["task"]["files"] = {"../x": b"evil", "/abs": b"evil"}
        return reply
    fake.answer = evil
    dest = tmp_path / "d"
    dest.mkdir()
    proc = cleudo("files", "task-0001", "-o", str(dest), fake=fake)
    assert proc.returncode == 5
    assert b"files[../x]" in proc.stderr or b"files[/abs]" in proc.stderr
    assert os.listdir(dest) == [] and not (tmp_path / "x").exists()


def test_files_does_not_follow_a_symlink_planted_in_dir(fake, tmp_path):
    with_files(fake)
    dest = tmp_path / "dest"
    outside = tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "sub").symlink_to(outside)                  # directory on the way
    (dest / "out.txt").symlink_to(outside / "target")   # the file itself
    proc = cleudo("files", "task-0001", "-o", str(dest), fake=fake)
    assert proc.returncode == 8
    err = proc.stderr.decode()
    assert "not saving 'sub/dir/data.bin'" in err and "symbolic link" in err
    assert "not saving 'out.txt'" in err and "exists already" in err
    assert os.listdir(outside) == []
    assert (dest / "empty").read_bytes() == b""         # the good one was written
    # --force replaces the link itself, never its target
    proc = cleudo("files", "--force", "task-0001", "out.txt", "-o", str(dest), fake=fake)
    assert proc.returncode == 0, proc.stderr
    assert not (dest / "out.txt").is_symlink() and (dest / "out.txt").read_bytes() == b"text\n"
    assert os.listdir(outside) == []


def test_files_of_unfinished_task_and_usage(fake, tmp_path):
    with_files(fake, status="running")
    proc = cleudo("files", "task-0001", fake=fake, cwd=str(tmp_path))
    assert proc.returncode == 3 and b"is running" in proc.stderr
    proc = cleudo("files", fake=fake)
    assert proc.returncode == 2 and b"needs a task ID" in proc.stderr
    proc = cleudo("files", "task-0001", "-o", fake=fake)
    assert proc.returncode == 2 and b"'-o' needs a value" in proc.stderr
    proc = cleudo("files", "task-0001", "-o", "-", fake=fake)
    assert proc.returncode == 2 and b"give its PATH" in proc.stderr


# ---------------------------------------------------------------------------
# --json of every command parses, usage errors name the option

def test_json_of_every_command_parses(fake, tmp_path):
    fake.workers = WORKERS
    fake.script = story(dict(status="succeeded", stdout=b"x", files={"f": b"1"}))
    outputs = {
        "run": cleudo("run", "--json", "--", "x", fake=fake),
        "submit": cleudo("submit", "--json", "--", "x", fake=fake),
        "get": cleudo("get", "--json", "task-0001", fake=fake),
        "wait": cleudo("wait", "--json", "task-0001", fake=fake),
        "logs": cleudo("logs", "--json", "task-0001", fake=fake),
        "ls": cleudo("ls", "--json", fake=fake),
        "rerun": cleudo("rerun", "--json", "task-0001", fake=fake),
        "workers": cleudo("workers", "--json", fake=fake),
        "files": cleudo("files", "--json", "task-0001", "-o", str(tmp_path), fake=fake),
        "cancel": cleudo("cancel", "--json", "task-0002", fake=fake),
    }
    for name, proc in outputs.items():
        assert proc.stdout.count(b"\n") == 1, name
        doc = json.loads(proc.stdout)
        assert isinstance(doc, dict), name
    for name in ("run", "get", "wait", "logs", "cancel"):
        assert RECORD_KEYS <= set(json.loads(outputs[name].stdout)), name
    assert set(json.loads(outputs["submit"].stdout)) == {"id"}
    assert set(json.loads(outputs["rerun"].stdout)) == {"id", "rerun_of"}


@pytest.mark.parametrize("args,words", [
    (["logs", "--bogus", "x"], [b"unknown option '--bogus' for 'logs'"]),
    (["rerun", "-z", "x"], [b"unknown option '-z' for 'rerun'"]),
    (["workers", "--limit", "3"], [b"unknown option '--limit' for 'workers'"]),
    (["files", "--output"], [b"'--output' needs a value"]),
    (["ls", "--json=1"], [b"'--json' takes no value"]),
    (["logs"], [b"logs needs a task ID"]),
    (["logs", "a", "b"], [b"unexpected argument 'b'"]),
])
def test_usage_errors_name_the_option(fake, args, words):
    proc = cleudo(*args, fake=fake)
    assert proc.returncode == 2
    for w in words:
        assert w in proc.stderr, proc.stderr
    assert fake.requests == []


# ---------------------------------------------------------------------------
# man page and bash completion

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAN = os.path.join(REPO, "docs", "cleudo.1")
COMPLETION = os.path.join(REPO, "scripts", "cleudo-completion.bash")


def test_man_page_renders_without_warnings_and_covers_every_command():
    if not os.path.exists("/usr/bin/groff"):
        pytest.skip("groff missing")
    for args in (["-ww", "-z", "-man"], ["-ww", "-z", "-t", "-man"]):
        proc = subprocess.run(["groff", *args, MAN], capture_output=True, timeout=30)
        assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    text = open(MAN).read()
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "ENVIRONMENT",
                    "EXIT STATUS", "EXAMPLES", "FILES"):
        assert f".SH {section}" in text, section
    from test_cli import COMMANDS
    for cmd in COMMANDS:
        assert f".B {cmd}" in text, cmd
    for code in ("124", "125", "128+N", "130", "137"):
        assert f"\n{code}|" in text, code


def test_bash_completion_knows_commands_options_and_statuses():
    script = f"""
source {COMPLETION}
t() {{ COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); COMPREPLY=(); _cleudo
       echo "${{COMPREPLY[*]}}"; }}
t cleudo ''
t cleudo ls --status ''
t cleudo logs --f
t cleudo run --lang ''
"""
    proc = subprocess.run(["bash", "-c", script], capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    commands, statuses, logs, langs = proc.stdout.decode().splitlines()
    from test_cli import COMMANDS
    assert set(commands.split()) == set(COMMANDS)
    assert {"queued", "timed_out", "internal_error"} <= set(statuses.split())
    assert logs.split() == ["--follow"]
    assert langs.split() == ["sh", "bash", "python3"]
