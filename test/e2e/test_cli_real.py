"""cleudo's newer commands through the real orchestrator and one sandbox: a smoke
test of the wire (the lead's tests cover the services in depth).

Run: CLEUDO_BIN_DIR=$PWD/build/test /usr/bin/python3 -m pytest -q test/e2e/test_cli_real.py
"""
import json


def test_run_rerun_ls_workers_files_logs_against_the_real_services(system, tmp_path):
    proc = system.cleudo("run", "--collect", "out.txt", "--", "sh", "-c",
                         "echo out; echo err >&2; echo data > out.txt; exit 3")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == b"out\n" and proc.stderr == b"err\n"

    doc = json.loads(system.cleudo("ls", "--json").stdout)
    assert len(doc["items"]) == 1
    first = doc["items"][0]["id"]

    proc = system.cleudo("rerun", "--wait", "--json", first)
    assert proc.returncode == 3, proc.stderr
    rerun = json.loads(proc.stdout)
    assert rerun["id"] != first and rerun["stdout"] == "out\n"

    proc = system.cleudo("logs", rerun["id"])
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"out\n", b"err\n")

    proc = system.cleudo("files", first, "-o", str(tmp_path / "got"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "got" / "out.txt").read_bytes() == b"data\n"

    workers = json.loads(system.cleudo("workers", "--json").stdout)["items"]
    assert len(workers) == 1
    assert {"id", "slots", "busy", "free", "version", "last_heartbeat_ms", "tasks_done",
            "running", "isolation"} == set(workers[0])
    assert workers[0]["tasks_done"] >= 2

    proc = system.cleudo("ls", "--status", "failed")
    assert proc.returncode == 0 and len(proc.stdout.decode().splitlines()) == 3
    proc = system.cleudo("rerun", "no-such-task")
    assert proc.returncode == 3 and b"no task with id no-such-task" in proc.stderr
