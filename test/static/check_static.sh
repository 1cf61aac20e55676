#!/usr/bin/env bash
# Static checks of the Docker deployment and the shell scripts (part of make test).
# Needs no Docker engine and, after the first run, no network.
#
#   test/static/check_static.sh
#
# 1. compose files: `docker-compose config -q` (or `docker compose config -q`) on
#    docker-compose.yml, with compose/ci.override.yml, and compose/stack.yml;
#    then the rules the issue sets (no ports on agent-sandbox, read-only, no
#    capabilities, internal worker link, no ulimit above 20000, ...);
# 2. shellcheck on every shell script in scripts/ and test/;
# 3. dockerfilelint (npm, installed once into $CLEUDO_TOOLS_CACHE, by default
#    ~/.cache/cleudocode) on both Dockerfiles, plus our own Dockerfile rules
#    (no `COPY . .`, no `# syntax=`, a non-root USER, a HEALTHCHECK, multi-stage);
# 4. sandbox-seccomp.json is valid JSON, every rule beyond Docker's default
#    is commented; .dockerignore and .env.example are complete.
# Missing tools (docker-compose, shellcheck) are installed with apt-get when
# running as root; otherwise the script says what to install and fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=/usr/bin/python3     # Debian's python (python3-yaml comes with docker-compose)
CACHE=${CLEUDO_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cleudocode}
DOCKERFILELINT_VERSION=1.8.0

failures=0
pass() { printf '  ok    %s\n' "$*"; }
# verdict GOOD BAD CMD...: pass GOOD when CMD succeeds, else fail BAD.
verdict() { local good=$1 bad=$2; shift 2; if "$@"; then pass "$good"; else fail "$bad"; fi; }
fail() { printf '  FAIL  %s\n' "$*"; failures=$((failures + 1)); }
section() { printf '== %s\n' "$*"; }
not() { ! "$@"; }

need_tools() {
    local missing=() t pkg
    for t in docker-compose:docker-compose shellcheck:shellcheck npm:npm; do
        command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "check_static: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
            { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
    else
        for pkg in "${missing[@]}"; do echo "check_static: missing $pkg (sudo apt-get install $pkg)" >&2; done
        exit 1
    fi
}
need_tools

# ---- 1. compose ------------------------------------------------------------------
section "compose files"
if command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
else
    compose=(docker compose)
fi
# Validate without the developer's .env: the defaults alone must work.
empty_env=$(mktemp)
trap 'rm -f "$empty_env"' EXIT
noenv=(--env-file "$empty_env")
for files in "docker-compose.yml" "docker-compose.yml compose/ci.override.yml" "compose/stack.yml"; do
    args=()
    for f in $files; do args+=(-f "$f"); done
    if out=$("${compose[@]}" "${noenv[@]}" "${args[@]}" config -q 2>&1); then
        pass "config -q: $files"
    else
        fail "config -q: $files: $out"
    fi
done

rules_out=$("${compose[@]}" "${noenv[@]}" -f docker-compose.yml config 2>/dev/null |
    "$PY" -c '
import sys, yaml
c = yaml.safe_load(sys.stdin)
s = c["services"]
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
sbx, orch = s.get("agent-sandbox"), s.get("cleudocode")
check(sbx is not None and orch is not None, "services cleudocode and agent-sandbox exist")
if sbx and orch:
    check("ports" not in sbx and "expose" not in sbx, "agent-sandbox publishes no port")
    check(sbx.get("read_only") is True, "agent-sandbox read_only: true")
    check(sbx.get("cap_drop") == ["ALL"] and not sbx.get("cap_add"), "agent-sandbox cap_drop [ALL], no cap_add")
    so = [str(o) for o in sbx.get("security_opt", [])]
    check(any(o.replace(":", "=", 1) == "no-new-privileges=true" for o in so), "agent-sandbox no-new-privileges")
    check(any(o.startswith("seccomp") and "compose/sandbox-seccomp.json" in o for o in so), "agent-sandbox seccomp=compose/sandbox-seccomp.json")
    check(sbx.get("init") is True, "agent-sandbox init: true")
    user = str(sbx.get("user", "0")).split(":")[0]
    check(user not in ("", "0", "root"), "agent-sandbox runs as a non-root user (%s)" % user)
    for k in ("pids_limit", "mem_limit", "cpus"):
        check(k in sbx, "agent-sandbox sets " + k)
    tmpfs = [t.split(":")[0] for t in sbx.get("tmpfs", [])]
    check("/tmp" in tmpfs, "agent-sandbox has a tmpfs /tmp")
    nets = c.get("networks", {})
    check(list(sbx.get("networks", {})) == ["worker_link"], "agent-sandbox is on worker_link only")
    check(nets.get("worker_link", {}).get("internal") is True, "worker_link is internal")
    check("worker_link" in orch.get("networks", {}) and len(orch.get("networks", {})) == 2, "cleudocode is on worker_link and one public network")
    dep = sbx.get("depends_on", {})
    check(isinstance(dep, dict) and dep.get("cleudocode", {}).get("condition") == "service_healthy", "agent-sandbox waits for a healthy cleudocode")
    ports = orch.get("ports", [])
    check(len(ports) == 2 and all(str(p.get("host_ip", "")) == "127.0.0.1" if isinstance(p, dict) else str(p).startswith("127.0.0.1:") for p in ports), "cleudocode publishes 2 ports, on 127.0.0.1 by default")
    # CURVE keys: each side gets only its own secret, read-only.
    def mounts(svc):
        out = []
        for v in svc.get("volumes", []):
            if isinstance(v, dict):
                out.append((str(v.get("source", "")), str(v.get("target", "")), bool(v.get("read_only"))))
            else:
                parts = str(v).split(":")
                out.append((parts[0], parts[1] if len(parts) > 1 else "", "ro" in parts[2:]))
        return out
    keys = lambda svc: [m for m in mounts(svc) if "/keys" in m[1]]
    ok = lambda svc, want: sorted(m[1].rsplit("/keys/", 1)[-1] for m in keys(svc)) == want and all(m[2] for m in keys(svc))
    check(ok(orch, ["server.key_secret", "workers"]), "cleudocode mounts server.key_secret and workers/ read-only, no worker secret")
    check(ok(sbx, ["server.key", "worker.key_secret"]), "agent-sandbox mounts server.key and worker.key_secret read-only, no server secret")
    env = lambda svc: svc.get("environment") if isinstance(svc.get("environment"), dict) else dict(str(e).split("=", 1) if "=" in str(e) else (str(e), None) for e in (svc.get("environment") or []))
    check(env(orch).get("ORCH_CURVE") in (None, "on") and env(sbx).get("SANDBOX_CURVE") in (None, "on"), "the worker link is not switched to plain mode")
    for name, svc in s.items():
        for lim, v in (svc.get("ulimits") or {}).items():
            vals = [v] if isinstance(v, int) else list(v.values())
            check(all(int(x) <= 20000 for x in vals), "%s ulimit %s <= 20000" % (name, lim))
' 2>&1) || true
while IFS= read -r line; do
    case "$line" in
        "ok   "*) pass "${line#ok   }" ;;
        "FAIL "*) fail "${line#FAIL }" ;;
        *) [[ -z $line ]] || fail "compose rules: $line" ;;
    esac
done <<<"$rules_out"

# ---- 2. shellcheck ----------------------------------------------------------------
section "shellcheck"
mapfile -t scripts < <(
    { find scripts test .ci -type f -name '*.sh' 2>/dev/null
      grep -rlE '^#!(/usr/bin/env |/bin/)(ba)?sh' scripts test .ci 2>/dev/null; } |
    grep -v '/node_modules/' | sort -u)
for f in "${scripts[@]}"; do
    if out=$(shellcheck -x "$f" 2>&1); then pass "$f"; else fail "$f"; printf '%s\n' "$out" | sed 's/^/        /'; fi
done

# ---- 3. Dockerfiles ----------------------------------------------------------------
section "Dockerfiles"
# Read a Dockerfile (continuation lines joined) on stdin.
other_base() { grep -iE '^[[:space:]]*FROM[[:space:]]' | grep -qviE '^[[:space:]]*FROM[[:space:]]+debian:bookworm-slim([[:space:]]|$)'; }
keeps_apt_lists() { grep -E 'apt-get install' | grep -qv 'rm -rf /var/lib/apt/lists'; }
lint="$CACHE/dockerfilelint/node_modules/.bin/dockerfilelint"
if [[ ! -x $lint ]]; then
    echo "check_static: installing dockerfilelint@$DOCKERFILELINT_VERSION into $CACHE/dockerfilelint (once)"
    mkdir -p "$CACHE/dockerfilelint"
    npm install --prefix "$CACHE/dockerfilelint" --no-audit --no-fund --no-save --loglevel=error \
        "dockerfilelint@$DOCKERFILELINT_VERSION" >/dev/null 2>&1 || true
fi
for df in Dockerfile Dockerfile.sandbox; do
    if [[ ! -x $lint ]]; then
        fail "dockerfilelint $df: could not install dockerfilelint (npm registry unreachable?)"
    elif out=$("$lint" "$df" 2>&1); then
        pass "dockerfilelint $df"
    else
        fail "dockerfilelint $df"; printf '%s\n' "$out" | sed 's/^/        /'
    fi
    # Our own rules (the issue's): join continuation lines, drop comments.
    body=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$df" | grep -v '^[[:space:]]*#' || true)
    verdict "$df: no '# syntax=' line" "$df has a '# syntax=' line" \
        not grep -qiE '^#[[:space:]]*syntax[[:space:]]*=' "$df"
    verdict "$df: no COPY of the whole context" "$df copies the whole context (COPY . ...)" \
        not grep -qiE '^[[:space:]]*(COPY|ADD)([[:space:]]+--[^[:space:]]+)*[[:space:]]+\.[[:space:]]' <<<"$body"
    last_user=$(grep -iE '^[[:space:]]*USER[[:space:]]' <<<"$body" | tail -n 1 | awk '{print $2}')
    case "${last_user%%:*}" in
        ""|0|root) fail "$df: the final stage does not switch to a non-root USER" ;;
        *) pass "$df: runs as USER $last_user" ;;
    esac
    verdict "$df: has a HEALTHCHECK" "$df: no HEALTHCHECK" \
        grep -qiE '^[[:space:]]*HEALTHCHECK[[:space:]]+.*CMD' <<<"$body"
    verdict "$df: multi-stage" "$df: not multi-stage" \
        test "$(grep -ciE '^[[:space:]]*FROM[[:space:]]' <<<"$body")" -ge 2
    verdict "$df: every stage FROM debian:bookworm-slim" "$df: a stage is not FROM debian:bookworm-slim" \
        not other_base <<<"$body"
    verdict "$df: no apt lists kept" "$df: an apt-get install layer keeps /var/lib/apt/lists" \
        not keeps_apt_lists <<<"$body"
done
verdict "Dockerfile.sandbox: no compiler in the runtime stage" "Dockerfile.sandbox: the runtime stage installs build tools" \
    not grep -qE '(gcc|make|-dev)\b' <(sed -n '/^FROM debian:bookworm-slim$/,$p' Dockerfile.sandbox | grep -v '^[[:space:]]*#')

# ---- 4. seccomp profile, .dockerignore, .env.example ---------------------------------
section "seccomp profile, .dockerignore, .env.example"
seccomp_out=$("$PY" - <<'PY' 2>&1
import json
p = json.load(open("compose/sandbox-seccomp.json"))
assert p.get("defaultAction") == "SCMP_ACT_ERRNO", "defaultAction must stay SCMP_ACT_ERRNO"
assert "moby/moby" in p.get("comment", ""), "the top-level comment must name the source profile"
adds = [r for r in p["syscalls"] if r.get("comment", "").startswith("CleudoCode addition")]
assert adds, "no commented additions"
names = sorted(n for r in adds for n in r["names"])
for r in adds:
    assert r["action"] == "SCMP_ACT_ALLOW" and "includes" not in r, r["names"]
print("additions: " + " ".join(names))
PY
) || seccomp_rc=$?
verdict "sandbox-seccomp.json: $seccomp_out" "sandbox-seccomp.json: $seccomp_out" test "${seccomp_rc:-0}" -eq 0

for entry in .git venv __pycache__ .pytest_cache node_modules build/ data/ sandbox_io/ exports/ uploads/ keys/ .env; do
    verdict ".dockerignore has $entry" ".dockerignore lacks $entry" \
        grep -qE "^(\*\*/)?${entry//./\\.}/?\$" .dockerignore
done

# Every variable docker-compose.yml reads, and every ORCH_/SANDBOX_ variable it
# passes through, is documented in .env.example (as a line or a commented line).
mapfile -t vars < <({ grep -v '^[[:space:]]*#' docker-compose.yml | grep -oE '\$\{[A-Z_][A-Z0-9_]*' | cut -c3-
                      grep -oE '^[[:space:]]+- (ORCH|SANDBOX|CLEUDO)_[A-Z0-9_]+$' docker-compose.yml | awk '{print $2}'; } | sort -u)
for v in "${vars[@]}"; do
    grep -qE "^#?$v=" .env.example || fail ".env.example does not document $v"
done
pass ".env.example documents the ${#vars[@]} variables docker-compose.yml uses"
# The defaults .env.example shows are the programs' own (--help), when built.
for prog in orchestrator agent-sandbox; do
    bin=""
    for b in "build/$prog" "build/test/$prog"; do [[ -x $b ]] && { bin=$b; break; }; done
    if [[ -z $bin ]]; then
        echo "  skip  .env.example defaults of $prog: not built"
        continue
    fi
    drift=$("$bin" --help 2>/dev/null | "$PY" -c '
import re, sys
helpd = {}
for line in sys.stdin:
    m = re.match(r"\s+--\S+ VALUE\s+([A-Z0-9_]+)\s.*\(default: ([^)]*)\)", line)
    if m:
        helpd[m.group(1)] = "" if m.group(2) == "empty" else m.group(2)
bad = []
for line in open(".env.example"):
    m = re.match(r"#?([A-Z][A-Z0-9_]+)=(.*)$", line.strip())
    if m and m.group(1) in helpd and m.group(1) != "SANDBOX_SLOTS" and m.group(2) != helpd[m.group(1)]:
        bad.append("%s=%s (--help: %s)" % (m.group(1), m.group(2), helpd[m.group(1)]))
print("; ".join(bad))
')
    verdict ".env.example shows $prog's defaults (from $bin --help)" ".env.example defaults differ from $bin --help: $drift" \
        test -z "$drift"
done
verdict ".env.example: ORCH_API_TOKEN is empty" ".env.example: ORCH_API_TOKEN must be empty" \
    grep -qE '^ORCH_API_TOKEN=$' .env.example

echo
if [[ $failures -gt 0 ]]; then
    echo "check_static: $failures check(s) failed"
    exit 1
fi
echo "check_static: all checks passed"
