#!/usr/bin/env bash
# test/browser/run.sh - the dashboard's real-browser tests.
#
# Starts an orchestrator and one agent-sandbox from ${CLEUDO_BIN_DIR:-build/test}
# on free loopback ports with a temporary data directory, runs
# dashboard.test.mjs (node --test, playwright-core driving the system
# chromium), and stops both services at the end, also on failure. The
# services' logs are scanned for sanitizer reports. Screenshots go to
# build/test-artifacts/dashboard/.
#
#   test/browser/run.sh                 # from the repository root (make test calls it)
#   CLEUDO_URL=http://127.0.0.1:8080 CLEUDO_TOKEN=... test/browser/run.sh
#                                       # against a running orchestrator instead
#
# Exits non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin_dir=${CLEUDO_BIN_DIR:-$repo/build/test}
case $bin_dir in /*) ;; *) bin_dir=$repo/$bin_dir ;; esac
chromium=${CHROMIUM:-/usr/bin/chromium}
artifacts=$repo/build/test-artifacts/dashboard

die() { echo "browser tests: $*" >&2; exit 1; }

command -v node >/dev/null || die "node is missing (apt-get install nodejs npm)"
[ -x "$chromium" ] || die "$chromium is missing (apt-get install chromium)"

# Dependencies: npm ci only when node_modules is missing or older than the lockfile.
stamp=$here/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

mkdir -p "$artifacts"
rm -f "$artifacts"/*.png

pids=()
tmp=
cleanup() {
    local rc=$?
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$tmp" ]; then
        if grep -lE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$tmp"/*.log >/dev/null 2>&1; then
            echo "browser tests: sanitizer report in a service log:" >&2
            grep -hE -A20 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$tmp"/*.log >&2 || true
            rc=1
        fi
        if [ "$rc" -ne 0 ]; then
            for log in "$tmp"/*.log; do
                echo "---- last lines of $(basename "$log")" >&2
                tail -n 30 "$log" >&2 || true
            done
            cp "$tmp"/*.log "$artifacts"/ 2>/dev/null || true
        fi
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${CLEUDO_URL:-}" ]; then
    if [ ! -x "$bin_dir/orchestrator" ] || [ ! -x "$bin_dir/agent-sandbox" ]; then
        die "no binaries in $bin_dir (make test-build)"
    fi
    tmp=$(mktemp -d /tmp/cleudo-browser.XXXXXX)
    token=browser-test-token-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
    clean_env() { env | cut -d= -f1 | grep -E '^(ORCH|SANDBOX|CLEUDO)_' | sed 's/^/-u /' | tr '\n' ' '; }
    export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:halt_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

    : >"$tmp/orchestrator.log"
    : >"$tmp/agent-sandbox.log"
    # shellcheck disable=SC2046
    env $(clean_env) \
        ORCH_HTTP_ADDR=127.0.0.1:0 \
        ORCH_SUBMIT_ENDPOINT='tcp://127.0.0.1:*' \
        ORCH_TASKS_ENDPOINT='tcp://127.0.0.1:*' \
        ORCH_RESULTS_ENDPOINT='tcp://127.0.0.1:*' \
        ORCH_CONTROL_ENDPOINT='tcp://127.0.0.1:*' \
        ORCH_DATA_DIR="$tmp/data" \
        ORCH_API_TOKEN="$token" \
        "$bin_dir/orchestrator" </dev/null >>"$tmp/orchestrator.log" 2>&1 &
    pids+=($!)

    # The ready line names the ports the kernel chose.
    ready=
    for _ in $(seq 300); do
        ready=$(grep -m1 -oE 'event=ready http=[^ ]+ submit=[^ ]+ tasks=[^ ]+ results=[^ ]+ control=[^ ]+' \
                "$tmp/orchestrator.log" || true)
        [ -n "$ready" ] && break
        kill -0 "${pids[0]}" 2>/dev/null || die "the orchestrator exited before it was ready"
        sleep 0.05
    done
    [ -n "$ready" ] || die "the orchestrator was not ready within 15 s"
    field() { sed -E "s/.* $1=([^ ]+).*/\\1/" <<<"$ready"; }
    http=$(field http)

    # shellcheck disable=SC2046
    env $(clean_env) \
        SANDBOX_TASKS_ENDPOINT="$(field tasks)" \
        SANDBOX_RESULTS_ENDPOINT="$(field results)" \
        SANDBOX_CONTROL_ENDPOINT="$(field control)" \
        SANDBOX_SLOTS=2 \
        SANDBOX_WORK_DIR="$tmp/sandbox-work" \
        "$bin_dir/agent-sandbox" </dev/null >>"$tmp/agent-sandbox.log" 2>&1 &
    pids+=($!)

    for _ in $(seq 300); do
        grep -q 'event=worker_joined' "$tmp/orchestrator.log" && break
        kill -0 "${pids[1]}" 2>/dev/null || die "the agent-sandbox exited before it joined"
        sleep 0.05
    done
    grep -q 'event=worker_joined' "$tmp/orchestrator.log" || die "no worker joined within 15 s"
    node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
        "http://$http/healthz" || die "/healthz failed on $http"

    export CLEUDO_URL="http://$http"
    export CLEUDO_TOKEN="$token"
fi
[ -n "${CLEUDO_TOKEN:-}" ] || die "CLEUDO_URL is set but CLEUDO_TOKEN is not"

export CLEUDO_ARTIFACTS="$artifacts"
export CHROMIUM="$chromium"
cd "$here"
node --test --test-concurrency=1 --test-reporter=spec dashboard.test.mjs
