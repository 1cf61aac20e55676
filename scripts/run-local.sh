#!/usr/bin/env bash
# Start the orchestrator and one agent-sandbox on localhost (what `make run` does).
# State lives in data/, task workspaces in sandbox_io/work/. Ctrl-C stops both.
# Every ORCH_* / SANDBOX_* variable of .env.example is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${CLEUDO_BIN_DIR:-build}
export ORCH_DATA_DIR=${ORCH_DATA_DIR:-$PWD/data}
export SANDBOX_WORK_DIR=${SANDBOX_WORK_DIR:-$PWD/sandbox_io/work}
http_addr=${ORCH_HTTP_ADDR:-127.0.0.1:8080}
submit=${ORCH_SUBMIT_ENDPOINT:-tcp://127.0.0.1:5555}
mkdir -p "$ORCH_DATA_DIR" "$SANDBOX_WORK_DIR"

for b in orchestrator agent-sandbox cleudo; do
    [[ -x "$bin/$b" ]] || { echo "run-local: $bin/$b is missing: run make first" >&2; exit 1; }
done

orch_pid=""
sbx_pid=""
stop() {
    trap - INT TERM EXIT
    echo
    echo "run-local: stopping agent-sandbox and orchestrator"
    local pid
    # The sandbox first, so that it can flush its results to the orchestrator.
    for pid in "$sbx_pid" "$orch_pid"; do
        [[ -n "$pid" ]] || continue
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    exit 0
}
trap stop INT TERM EXIT

"$bin/orchestrator" &
orch_pid=$!

# The orchestrator is ready when /healthz answers.
for _ in $(seq 1 100); do
    if curl -fsS "http://$http_addr/healthz" >/dev/null 2>&1; then break; fi
    kill -0 "$orch_pid" 2>/dev/null || { echo "run-local: the orchestrator exited (see above)" >&2; orch_pid=""; exit 1; }
    sleep 0.1
done

"$bin/agent-sandbox" &
sbx_pid=$!

token=${ORCH_API_TOKEN:-$(cat "$ORCH_DATA_DIR/token" 2>/dev/null || true)}
cat <<TXT

  CleudoCode is running.
    Dashboard:  http://$http_addr/  (log in with the API token)
    HTTP API:   http://$http_addr/api/tasks  (docs/API.md)
    API token:  $token
    Try it:     curl -H "Authorization: Bearer $token" -d '{"argv":["echo","hi"]}' 'http://$http_addr/api/tasks?wait=5'
                CLEUDO_TOKEN=$token $bin/cleudo --endpoint $submit run -- sh -c 'echo hello from the sandbox'
  Ctrl-C stops both services.

TXT

# Stop both when either exits.
wait -n "$orch_pid" "$sbx_pid" || true
# On Ctrl-C the terminal signals all three of us; only an unexpected exit of
# one service while the other still runs deserves a word.
if kill -0 "$orch_pid" 2>/dev/null && ! kill -0 "$sbx_pid" 2>/dev/null; then
    echo "run-local: agent-sandbox exited (see its log above)" >&2
elif kill -0 "$sbx_pid" 2>/dev/null && ! kill -0 "$orch_pid" 2>/dev/null; then
    echo "run-local: orchestrator exited (see its log above)" >&2
fi
stop
