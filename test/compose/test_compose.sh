#!/usr/bin/env bash
# The Docker deployment, end to end, on a private engine (make test-compose).
#
#   test/compose/test_compose.sh            needs root, build/cleudo (make), about 2-4 minutes
#
# 1. starts the private engine (scripts/docker-engine.sh: own socket and data
#    root, no iptables changes; makes debian:bookworm-slim with debootstrap if missing);
# 2. copies the deployment files and sources into a fresh directory (a clean
#    checkout, so the developer's .env, data/ and sandbox_io/ are never touched)
#    and runs scripts/setup.sh there: build both images, `up` with
#    --scale agent-sandbox=2, wait until healthy;
# 3. submits tasks from the host through the published ports, with build/cleudo
#    and over HTTP with curl, and checks their results; both workers must serve;
# 4. asserts from `docker inspect` that each sandbox publishes no port, has a
#    read-only root, runs as non-root, has no capability, no-new-privileges and
#    the project's seccomp profile, and sits only on the internal network;
#    from inside each sandbox that no socket listens
#    (/proc/net/tcp, tcp6, udp, udp6) and that a user namespace can be made;
#    through the orchestrator (submit socket, `workers`) which isolation layers
#    each worker reports: seccomp and Landlock must be on, unless
#    CLEUDO_COMPOSE_LAYERS=report (then missing layers are only reported);
# 5. prints the image sizes and the time of each phase; tears everything down
#    (compose down -v, temporary directory) and stops the engine if it started
#    it, then checks the host's network interfaces and ip_forward are as before.
# Traffic stays between this host and its own containers: the builds' apt-get
# reaches the Debian mirror of the host's apt sources, nothing else goes out.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD

# The Debian client and docker-compose (any other docker on PATH is ignored),
# talking to the private engine only.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
engine=$REPO/scripts/docker-engine.sh
eval "$("$engine" env)"
export DOCKER_HOST DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
PY=/usr/bin/python3                     # Debian's python: python3-zmq, python3-msgpack
CLEUDO=$REPO/build/cleudo
PROJECT=cleudoctest
LAYERS_MODE=${CLEUDO_COMPOSE_LAYERS:-require}

failures=0
t0=$SECONDS
phase_start=$SECONDS
timings=()
say() { printf 'test-compose: %s\n' "$*"; }
pass() { printf '  ok    %s\n' "$*"; }
fail() { printf '  FAIL  %s\n' "$*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
logged() { local log=$1; shift; "$@" >"$log" 2>&1; }
phase_done() { timings+=("$(printf '%-34s %4ss' "$1" $((SECONDS - phase_start)))"); phase_start=$SECONDS; }

[[ $(id -u) -eq 0 ]] || { say "needs root (it starts a Docker engine)"; exit 1; }
[[ -x $CLEUDO ]] || { say "$CLEUDO is missing: run make first"; exit 1; }

host_state() { ip -br link | awk '{print $1}' | sort | tr '\n' ' '; cat /proc/sys/net/ipv4/ip_forward; }
state_before=$(host_state)

engine_was_running=0
"$engine" status >/dev/null 2>&1 && engine_was_running=1
WORK=$(mktemp -d /tmp/cleudo-compose-test.XXXXXX)
compose=(docker-compose -p "$PROJECT" -f docker-compose.yml -f compose/ci.override.yml)

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    say "tearing down"
    if [[ -f $WORK/docker-compose.yml ]] && "$engine" status >/dev/null 2>&1; then
        if [[ $rc -ne 0 || $failures -ne 0 ]]; then
            (cd "$WORK" && timeout 30 "${compose[@]}" ps && timeout 30 "${compose[@]}" logs --tail 40) 2>&1 | sed 's/^/    /'
        fi
        (cd "$WORK" && timeout 120 "${compose[@]}" down -v --remove-orphans --timeout 10) >/dev/null 2>&1 \
            || say "warning: compose down failed"
    fi
    rm -rf "$WORK"
    # Superseded image versions would pile up in the engine's data root.
    "$engine" status >/dev/null 2>&1 && docker image prune -f >/dev/null 2>&1
    if [[ $engine_was_running -eq 0 ]]; then
        "$engine" stop
    else
        say "leaving the engine running: it was running before this test"
    fi
    local after
    after=$(host_state)
    if [[ "$after" != "$state_before" ]]; then
        say "FAIL: the host's interfaces or ip_forward changed: before [$state_before] after [$after]"
        rc=1
    else
        say "host interfaces and ip_forward are as before"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. engine and base image ----------------------------------------------------
say "starting the private engine"
timeout 600 "$engine" start
phase_done "engine + base image"

# ---- 2. a clean deployment directory; setup.sh builds and starts ---------------------
for p in Makefile common proto services cli tools Dockerfile Dockerfile.sandbox docker-compose.yml \
         compose .dockerignore .env.example scripts/setup.sh; do
    mkdir -p "$WORK/$(dirname "$p")"
    cp -a "$REPO/$p" "$WORK/$p"
done
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_port=$(free_port)
submit_port=$(free_port)
while [[ $submit_port == "$http_port" ]]; do submit_port=$(free_port); done
sed -e "s/^COMPOSE_PROJECT_NAME=.*/COMPOSE_PROJECT_NAME=$PROJECT/" \
    -e "s/^CLEUDO_HTTP_PORT=.*/CLEUDO_HTTP_PORT=$http_port/" \
    -e "s/^CLEUDO_SUBMIT_PORT=.*/CLEUDO_SUBMIT_PORT=$submit_port/" \
    -e "s/^ORCH_WORKER_TIMEOUT=.*/ORCH_WORKER_TIMEOUT=3s/" \
    "$WORK/.env.example" >"$WORK/.env"
cd "$WORK"

say "building both images"
if ! timeout 900 "${compose[@]}" build >build.log 2>&1; then
    tail -n 40 build.log | sed 's/^/    /'
    fail "image build"
    exit 1
fi
phase_done "image builds"

say "scripts/setup.sh --sandboxes 2 (second build: from cache), up, wait until healthy"
if ! timeout 300 env COMPOSE_PROJECT_NAME=$PROJECT scripts/setup.sh --sandboxes 2 -f compose/ci.override.yml >setup.log 2>&1; then
    sed 's/^/    /' setup.log
    fail "scripts/setup.sh"
    exit 1
fi
pass "scripts/setup.sh built, started and waited until healthy"
phase_done "setup.sh: up + healthy"
token=$(sed -n 's/^ORCH_API_TOKEN=//p' .env)
check "setup.sh wrote a token into .env (${#token} characters)" test "${#token}" -ge 32
check "setup.sh printed the dashboard URL and the token" \
    grep -q "http://127.0.0.1:$http_port/" setup.log
grep -q "$token" setup.log || fail "setup.sh did not print the token"
check "setup.sh created data exports uploads sandbox_io keys" \
    test -d data -a -d exports -a -d uploads -a -d sandbox_io -a -d keys
say "setup.sh again (idempotent, --no-build)"
before_token=$token
check "a second setup.sh run succeeds" \
    logged setup2.log timeout 120 env COMPOSE_PROJECT_NAME=$PROJECT scripts/setup.sh --no-build -f compose/ci.override.yml
check "a second setup.sh run keeps the token" test "$(sed -n 's/^ORCH_API_TOKEN=//p' .env)" = "$before_token"
phase_done "setup.sh rerun"

mapfile -t sandboxes < <("${compose[@]}" ps -q agent-sandbox)
orch=$("${compose[@]}" ps -q cleudocode)
check "2 agent-sandbox containers (kept by the rerun) and 1 cleudocode run" test "${#sandboxes[@]}" -eq 2 -a -n "$orch"

# ---- 3. tasks through the published ports ----------------------------------------------
say "tasks over HTTP (127.0.0.1:$http_port) and with cleudo (tcp://127.0.0.1:$submit_port)"
url=http://127.0.0.1:$http_port
api() {   # METHOD PATH [BODY] -> "STATUS BODY"
    local body=${3:-}
    curl -sS --max-time 40 -o "$WORK/api.out" -w '%{http_code}' -X "$1" \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        ${body:+--data-binary "$body"} "$url$2"
}
field() { "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"r": v}))' "$WORK/api.out" "$1"; }

check "GET /healthz answers 200 without a token" \
    test "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$url/healthz")" = 200
check "an API request without the token is refused (401)" \
    test "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X POST -d '{"argv":["true"]}' "$url/api/tasks")" = 401

# shellcheck disable=SC2016  # $(uname -s) is for the task's shell
code=$(api POST '/api/tasks?wait=30' '{"argv":["sh","-c","echo hello from $(uname -s)"]}')
check "HTTP argv task: 200, succeeded, stdout 'hello from Linux'" \
    test "$code" = 200 -a "$(field 'r["status"] + "|" + r["stdout"]')" = "succeeded|hello from Linux"
code=$(api POST '/api/tasks?wait=30' '{"lang":"python3","code":"import sys\nprint(6*7)\nsys.exit(3)\n"}')
check "HTTP python3 task: failed with exit code 3, stdout 42" \
    test "$code" = 200 -a "$(field 'r["status"] + "|" + str(r["exit_code"]) + "|" + r["stdout"]')" = "failed|3|42"
code=$(api POST '/api/tasks?wait=30' '{"lang":"bash","code":"[[ -w / ]] && echo rw || echo ro; id -u"}')
check "HTTP bash task: the root file system is read-only and the task is not root" \
    test "$code" = 200 -a "$(field 'r["stdout"].split()[0]')" = ro -a "$(field 'r["stdout"].split()[1]')" != 0

export CLEUDO_ENDPOINT=tcp://127.0.0.1:$submit_port CLEUDO_TOKEN=$token
out=$(timeout 60 "$CLEUDO" run -- sh -c 'echo out; echo err >&2; exit 3' 2>"$WORK/cleudo.err") && rc=0 || rc=$?
check "cleudo run: exit code 3, stdout 'out', stderr 'err'" \
    test "$rc" = 3 -a "$out" = out -a "$(cat "$WORK/cleudo.err")" = err
out=$(printf 'print(sum(range(10)))\n' | timeout 60 "$CLEUDO" run --lang python3 - 2>&1) && rc=0 || rc=$?
check "cleudo run --lang python3 -: prints 45" test "$rc" = 0 -a "$out" = 45

# Enough concurrent one-second tasks to need both workers (2 slots each).
ids=()
for i in 1 2 3 4 5 6; do
    code=$(api POST /api/tasks "{\"argv\":[\"sh\",\"-c\",\"sleep 1; echo $i\"]}")
    [[ $code == 201 ]] && ids+=("$(field 'r["id"]')")
done
check "6 concurrent tasks accepted (201)" test "${#ids[@]}" -eq 6
workers_used=()
for id in "${ids[@]}"; do
    code=$(api GET "/api/tasks/$id?wait=30")
    for _ in $(seq 1 60); do
        [[ "$(field 'r["status"]')" == succeeded ]] && break
        sleep 0.5; code=$(api GET "/api/tasks/$id")
    done
    [[ "$(field 'r["status"]')" == succeeded ]] && workers_used+=("$(field 'r["worker"]')")
done
distinct=$(printf '%s\n' "${workers_used[@]}" | sort -u | grep -c . || true)
check "the 6 tasks succeeded, spread over $distinct workers (want 2)" \
    test "${#workers_used[@]}" -eq 6 -a "$distinct" -eq 2
phase_done "tasks"

# ---- 4. the sandbox containers, from docker inspect and from inside ---------------------------
say "inspecting the sandbox containers"
net_internal=$(docker network inspect --format '{{.Internal}}' "${PROJECT}_worker_link")
check "network ${PROJECT}_worker_link is internal" test "$net_internal" = true
for c in "${sandboxes[@]}"; do
    name=$(docker inspect --format '{{.Name}}' "$c"); name=${name#/}
    docker inspect "$c" >"$WORK/inspect.json"
    verdicts=$("$PY" - "$WORK/inspect.json" "$PROJECT" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))[0]
project = sys.argv[2]
hc, cfg, ns = c["HostConfig"], c["Config"], c["NetworkSettings"]
so = hc.get("SecurityOpt") or []
user = (cfg.get("User") or "0").split(":")[0]
def out(ok, what): print(("ok   " if ok else "FAIL ") + what)
out(not hc.get("PortBindings") and not any(ns.get("Ports") or {}) and not hc.get("PublishAllPorts"), "publishes no port")
out(not cfg.get("ExposedPorts"), "exposes no port")
out(hc.get("ReadonlyRootfs") is True, "read-only root file system")
out(user not in ("", "0", "root"), "runs as non-root user %s" % cfg.get("User"))
out([x.upper() for x in (hc.get("CapDrop") or [])] in (["ALL"], ["CAP_ALL"]) and not hc.get("CapAdd"), "CapDrop [ALL], no CapAdd")
out(hc.get("Privileged") is False, "not privileged")
out(any(o in ("no-new-privileges:true", "no-new-privileges=true", "no-new-privileges") for o in so), "no-new-privileges")
out(any(o.startswith("seccomp=") and "landlock_create_ruleset" in o and "CleudoCode addition" in o for o in so), "seccomp: the project's profile (compose/sandbox-seccomp.json)")
out(hc.get("Init") is True, "init: true")
out((hc.get("PidsLimit") or 0) > 0 and hc.get("Memory", 0) > 0 and hc.get("NanoCpus", 0) > 0, "pids, memory and cpu limits set (%s pids, %d MiB, %.2f CPUs)" % (hc.get("PidsLimit"), hc.get("Memory", 0) >> 20, hc.get("NanoCpus", 0) / 1e9))
nets = sorted(ns.get("Networks", {}))
out(nets == [project + "_worker_link"], "only on the internal network (%s)" % ", ".join(nets))
tmpfs = hc.get("Tmpfs") or {}
out("/tmp" in tmpfs and "/srv/cleudo/work" in tmpfs, "tmpfs /tmp and /srv/cleudo/work")
out(all(u.get("Hard", 0) <= 20000 for u in hc.get("Ulimits") or []), "no ulimit above 20000")
PY
)
    while IFS= read -r line; do
        case "$line" in
            "ok   "*) pass "$name: ${line#ok   }" ;;
            *) fail "$name: ${line#FAIL }" ;;
        esac
    done <<<"$verdicts"

    # Inside: no listening TCP socket (state 0A) and no bound UDP socket. Docker's
    # embedded DNS resolver (127.0.0.11, hex 0B00007F, opened by dockerd as root
    # in every container on a user-defined network) is the one exception.
    sockets=$(docker exec "$c" sh -c 'cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6')
    listen=$(awk '$2 ~ /:/ && $4 == "0A" && $2 !~ /^0B00007F:/ {print $2 " uid " $8}' <<<"$sockets")
    check "$name: nothing listens on TCP (/proc/net/tcp, tcp6; Docker's DNS on 127.0.0.11 excepted)" \
        test -z "$listen"
    udp=$(awk '$2 ~ /:/ && $4 == "07" && $2 !~ /^0B00007F:/ {print $2 " uid " $8}' <<<"$sockets")
    check "$name: no bound UDP socket (/proc/net/udp, udp6; Docker's DNS excepted)" test -z "$udp"
    check "$name: a user namespace can be created (seccomp profile allows the worker's isolation)" \
        docker exec "$c" unshare -Ur true
    check "$name: the worker runs as non-root inside" \
        test "$(docker exec "$c" sh -c 'for f in /proc/[0-9]*/comm; do read -r n <"$f"; [ "$n" = agent-sandbox ] && { d=${f%/comm}; awk "/^Uid:/ {print \$3}" "$d/status"; break; }; done')" != 0
done
orch_user=$(docker inspect --format '{{.Config.User}}' "$orch")
check "cleudocode runs as non-root ($orch_user), read-only root, no capabilities" \
    test "${orch_user%%:*}" != 0 -a "$(docker inspect --format '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}}' "$orch")" = "true [ALL]"
bindings=$(docker inspect --format '{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}} {{end}}{{end}}' "$orch")
check "cleudocode publishes its 2 ports on 127.0.0.1 only ($bindings)" test "$bindings" = "127.0.0.1 127.0.0.1 "

# The layers each worker reports, through the orchestrator's submit socket.
say "isolation layers reported by the workers (submit socket: workers)"
layers=$("$PY" - "tcp://127.0.0.1:$submit_port" "$token" <<'PY'
import sys, zmq, msgpack
ctx = zmq.Context()
s = ctx.socket(zmq.REQ)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.RCVTIMEO, 10000)
s.connect(sys.argv[1])
s.send(msgpack.packb({"v": 1, "type": "workers", "req": 1, "token": sys.argv[2]}))
rep = msgpack.unpackb(s.recv(), raw=False)
if rep.get("type") != "workers":
    print("ERROR reply %r" % rep)
    sys.exit(1)
for w in rep["items"]:
    iso = w.get("isolation") or {}
    print("%s %s" % (w.get("worker"), " ".join("%s=%s" % (k, str(v).lower()) for k, v in sorted(iso.items()))))
PY
) || true
printf '%s\n' "$layers" | sed 's/^/    /'
nworkers=$(grep -c . <<<"$layers" || true)
check "the orchestrator knows 2 workers, each with an isolation map" \
    test "$nworkers" -eq 2 -a "$(grep -c 'seccomp=' <<<"$layers" || true)" -eq 2
while read -r w iso; do
    [[ -n $w ]] || continue
    if [[ " $iso " == *" seccomp=true "* && " $iso " =~ \ landlock=[1-9] ]]; then
        pass "worker $w enforces seccomp and Landlock"
    elif [[ $LAYERS_MODE == report ]]; then
        say "note: worker $w does not report seccomp=true and landlock>=1 (CLEUDO_COMPOSE_LAYERS=report: not a failure)"
    else
        fail "worker $w does not report seccomp=true and landlock>=1 (set CLEUDO_COMPOSE_LAYERS=report to only report)"
    fi
done <<<"$layers"
# What a task itself sees: the seccomp filters stacked on it (Docker's + the worker's).
code=$(api POST '/api/tasks?wait=30' '{"argv":["grep","-E","^(Seccomp|Seccomp_filters|NoNewPrivs|CapEff):","/proc/self/status"]}')
say "a task's own view: $(field 'r["stdout"]' | tr '\n\t' '  ')"
phase_done "inspection"

# ---- 5. sizes ------------------------------------------------------------------------
say "image sizes"
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^(cleudocode|cleudocode-sandbox|debian):' | sed 's/^/    /'
total=$((SECONDS - t0))
say "phase times:"
printf '    %s\n' "${timings[@]}"
say "total ${total}s (teardown follows)"
if [[ $failures -gt 0 ]]; then
    say "$failures check(s) FAILED"
    exit 1
fi
say "all checks passed"
