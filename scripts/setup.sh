#!/usr/bin/env bash
# Set up and start CleudoCode with Docker: one command, safe to run again.
#
#   scripts/setup.sh                  check Docker, prepare directories and .env, build, start, wait
#   scripts/setup.sh --sandboxes N    run N agent-sandbox containers (default 1, or as many as run now)
#   scripts/setup.sh --no-build       start with the images already built
#   scripts/setup.sh -f FILE          add a compose override file (repeatable)
#   scripts/setup.sh --help           this text
#
# It creates data/ exports/ uploads/ sandbox_io/ keys/, copies .env.example to
# .env when .env is missing and writes a fresh random API token into .env when
# ORCH_API_TOKEN is empty there, builds the images, creates the worker link's
# CURVE keys in keys/ when it is empty (`orchestrator keygen`, in the image),
# runs `up -d`, waits until every container is healthy and prints the dashboard
# URL, the token and a cleudo example. Uses `docker compose`, or `docker-compose`
# when the plugin is missing. Nothing it does destroys state: data/, keys/ and
# .env are only ever added to.
set -euo pipefail

cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

sandboxes=""
build=1
overrides=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --sandboxes) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]{0,2}$ ]] || die "--sandboxes needs a number from 1 to 999"
                     sandboxes=$2; shift 2 ;;
        --sandboxes=*) sandboxes=${1#*=}; [[ $sandboxes =~ ^[1-9][0-9]{0,2}$ ]] || die "--sandboxes needs a number from 1 to 999"
                       shift ;;
        --no-build) build=0; shift ;;
        -f) [[ $# -ge 2 && -f $2 ]] || die "-f needs an existing compose file"
            overrides+=(-f "$2"); shift 2 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

# ---- Docker ----------------------------------------------------------------
command -v docker >/dev/null 2>&1 || die "Docker is not installed.
  Debian/Ubuntu:  sudo apt-get install docker.io docker-compose   (or Docker's own docker-ce packages)
  Other systems:  https://docs.docker.com/engine/install/
  Then run this script again."

if ! docker_err=$(docker version --format '{{.Server.Version}}' 2>&1 >/dev/null); then
    case "$docker_err" in
        *"permission denied"*)
            die "Docker is running but ${USER:-this user} may not use it:
  ${docker_err%%$'\n'*}
  Fix:  sudo usermod -aG docker ${USER:-\$USER}   then log out and in again (or run this script with sudo)." ;;
        *)
            die "Docker is installed but the engine does not answer:
  ${docker_err%%$'\n'*}
  Fix:  sudo systemctl start docker   (or: sudo service docker start; Docker Desktop: start it)" ;;
    esac
fi

if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
else
    die "neither 'docker compose' (the Compose plugin) nor 'docker-compose' is installed.
  Debian/Ubuntu:  sudo apt-get install docker-compose-plugin   (Docker's repository)
              or: sudo apt-get install docker-compose          (Debian's)"
fi
compose+=(-f docker-compose.yml "${overrides[@]}")
say "using ${compose[*]}"

# ---- .env --------------------------------------------------------------------
new_env=0
if [[ ! -f .env ]]; then
    cp .env.example .env
    chmod 600 .env
    new_env=1
    say "created .env from .env.example"
fi

env_get() {   # the last value of $1 in .env ("" when absent)
    sed -n "s/^$1=//p" .env | tail -n 1
}
env_set() {   # replace $1's active line, or append one
    local key=$1 value=$2 tmp
    tmp=$(mktemp .env.XXXXXX)
    if grep -q "^$key=" .env; then
        awk -v k="$key" -v v="$value" 'index($0, k "=") == 1 { print k "=" v; next } { print }' .env >"$tmp"
    else
        { cat .env; printf '%s=%s\n' "$key" "$value"; } >"$tmp"
    fi
    chmod 600 "$tmp"
    mv "$tmp" .env
}

if [[ -z "$(env_get ORCH_API_TOKEN)" ]]; then
    # 32 bytes of randomness, URL-safe: 43 printable characters.
    token=$(head -c 32 /dev/urandom | base64 | tr -d '=\n' | tr '+/' '-_')
    env_set ORCH_API_TOKEN "$token"
    say "wrote a fresh API token to .env (ORCH_API_TOKEN)"
fi

# A user without root cannot chown the directories to the images' users
# (10000/10001): let the containers run as this user instead. Only when .env
# is new, so a deliberate choice in .env always wins.
if [[ $new_env -eq 1 && $(id -u) -ne 0 ]]; then
    env_set CLEUDO_UID "$(id -u)"
    env_set CLEUDO_GID "$(id -g)"
    env_set CLEUDO_SANDBOX_UID "$(id -u)"
    say "the containers will run as uid $(id -u), gid $(id -g) (CLEUDO_UID in .env)"
fi

# ---- directories ---------------------------------------------------------------
setting() {   # $1 from the environment, else .env, else $2
    local v=${!1:-}
    [[ -n $v ]] || v=$(env_get "$1")
    printf '%s' "${v:-$2}"
}
uid=$(setting CLEUDO_UID 10000)
gid=$(setting CLEUDO_GID 10000)
sbx_uid=$(setting CLEUDO_SANDBOX_UID 10001)
data_dir=$(setting CLEUDO_DATA_DIR ./data)
exports_dir=$(setting CLEUDO_EXPORTS_DIR ./exports)
uploads_dir=$(setting CLEUDO_UPLOADS_DIR ./uploads)
io_dir=$(setting CLEUDO_SANDBOX_IO_DIR ./sandbox_io)
keys_dir=$(setting CLEUDO_KEYS_DIR ./keys)

mkdir -p "$data_dir" "$exports_dir" "$uploads_dir" "$io_dir" "$keys_dir"
chmod 700 "$keys_dir" "$data_dir"
if [[ $(id -u) -eq 0 ]]; then
    # The orchestrator owns its state; sandbox_io is shared through the group:
    # the sandboxes write there and the orchestrator reads.
    chown "$uid:$gid" "$data_dir" "$exports_dir" "$uploads_dir"
    chown "$sbx_uid:$gid" "$io_dir"
    chmod 2770 "$io_dir"
else
    for d in "$data_dir" "$exports_dir" "$uploads_dir" "$io_dir"; do
        owner=$(stat -c %u "$d")
        [[ $owner == "$uid" || $owner == "$sbx_uid" ]] || say "warning: $d belongs to uid $owner, not $uid: the containers may not write it (run with sudo, or set CLEUDO_UID/CLEUDO_GID/CLEUDO_SANDBOX_UID in .env)"
    done
fi
say "state directories: $data_dir $exports_dir $uploads_dir $io_dir $keys_dir"

# ---- build and start -------------------------------------------------------------
if [[ -z $sandboxes ]]; then
    # Keep the current number of sandboxes on a rerun.
    sandboxes=$("${compose[@]}" ps -q agent-sandbox 2>/dev/null | grep -c . || true)
    [[ $sandboxes -ge 1 ]] || sandboxes=1
fi
if [[ $build -eq 1 ]]; then
    say "building the images (the first build takes a few minutes)"
    DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-1} COMPOSE_DOCKER_CLI_BUILD=${COMPOSE_DOCKER_CLI_BUILD:-1} \
        "${compose[@]}" build
fi
# ---- CURVE keys of the worker link -------------------------------------------------
# `orchestrator keygen` (from the image just built) writes, when keys/ is empty:
#   server.key_secret, workers/worker.key   mounted into cleudocode (read-only)
#   server.key, worker.key_secret           mounted into every agent-sandbox (read-only)
# Existing keys are never replaced (remove keys/* yourself to make new ones).
key_files=(server.key server.key_secret worker.key_secret)
if [[ -z $(ls -A "$keys_dir") ]]; then
    image=$(setting CLEUDO_IMAGE cleudocode:latest)
    say "creating the worker link's CURVE keys in $keys_dir (orchestrator keygen)"
    docker image inspect "$image" >/dev/null 2>&1 || die "image $image is missing: run without --no-build"
    keys_abs=$(cd "$keys_dir" && pwd)
    docker run --rm --network none --user "$(id -u):$(id -g)" --entrypoint /usr/local/bin/orchestrator \
        -v "$keys_abs:/keys" "$image" keygen /keys >/dev/null \
        || die "orchestrator keygen failed (see above)"
    if [[ $(id -u) -eq 0 ]]; then
        # Each container reads its own secret: the orchestrator's user the
        # server's, the sandboxes' user the worker's. Public files are 0644.
        chown "$uid:$gid" "$keys_dir/server.key_secret" "$keys_dir/server.key"
        chown "$sbx_uid:$gid" "$keys_dir/worker.key_secret"
    fi
fi
for f in "${key_files[@]}"; do
    [[ -f $keys_dir/$f ]] || die "$keys_dir/$f is missing (keys/ is not empty, so setup.sh makes none):
  move $keys_dir away and run setup.sh again for new keys, or complete it (docs/DOCKER.md, Keys)"
done
ls "$keys_dir"/workers/*.key >/dev/null 2>&1 \
    || die "$keys_dir/workers/ has no worker certificate (*.key): no sandbox could connect (docs/DOCKER.md, Keys)"
say "worker link keys: $keys_dir (CURVE; the orchestrator admits the workers in $keys_dir/workers)"

say "starting cleudocode and $sandboxes agent-sandbox container(s)"
"${compose[@]}" up -d --scale "agent-sandbox=$sandboxes"

# ---- wait until healthy ------------------------------------------------------------
say "waiting until every container is healthy"
deadline=$((SECONDS + 120))
while :; do
    mapfile -t ids < <("${compose[@]}" ps -q)
    states=$(docker inspect --format '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "${ids[@]}" 2>/dev/null || true)
    if [[ ${#ids[@]} -ge $((sandboxes + 1)) ]] && ! grep -qv ' running healthy$' <<<"$states"; then
        break
    fi
    if grep -qE ' (exited|dead) | unhealthy$' <<<"$states" || [[ $SECONDS -ge $deadline ]]; then
        printf '%s\n' "$states" >&2
        "${compose[@]}" logs --tail 30 >&2 || true
        die "the stack did not become healthy (states and logs above)"
    fi
    sleep 2
done

bind=$(setting CLEUDO_BIND_ADDR 127.0.0.1)
[[ $bind != 0.0.0.0 ]] || bind=127.0.0.1
http_port=$(setting CLEUDO_HTTP_PORT 8080)
submit_port=$(setting CLEUDO_SUBMIT_PORT 5555)
token=$(env_get ORCH_API_TOKEN)

cat <<TXT

  CleudoCode is running ($sandboxes sandbox container(s)).
    Dashboard:  http://$bind:$http_port/
    API token:  $token      (in .env; keep it secret)
    Try it:
      curl -H "Authorization: Bearer $token" -d '{"argv":["echo","hi"]}' 'http://$bind:$http_port/api/tasks?wait=5'
      export CLEUDO_ENDPOINT=tcp://$bind:$submit_port CLEUDO_TOKEN=$token
      build/cleudo run -- sh -c 'echo hello from the sandbox'        (after make; or, with no build on the host:)
      ${compose[*]} exec cleudocode cleudo run -- sh -c 'echo hello from the sandbox'
    More sandboxes: scripts/setup.sh --no-build --sandboxes 4
    Logs:           ${compose[*]} logs -f
    Stop:           ${compose[*]} down          (state stays in $data_dir)
TXT
