#!/usr/bin/env bash
# A private Docker engine for the compose test (make test-compose), kept apart
# from any engine the host already runs.
#
#   scripts/docker-engine.sh start    install missing packages, start dockerd, make the base image
#   scripts/docker-engine.sh stop     stop dockerd and remove its socket, pidfile and run state
#   scripts/docker-engine.sh status   say whether the private engine answers
#   scripts/docker-engine.sh env      print the DOCKER_HOST line to use the engine by hand
#   scripts/docker-engine.sh purge    stop, then also delete the engine's images and the caches
#
# The daemon listens on its own socket (unix:///run/cleudo-docker.sock), keeps its
# images in /var/lib/cleudo-docker and leaves the host's networking alone:
# --iptables=false --ip-masq=false --ip-forward=false and no default bridge.
# Published ports work through docker-proxy (the userland proxy) and compose's
# user-defined bridge networks; containers get no route to the outside world.
# Image builds therefore use the host's network (compose/ci.override.yml).
#
# Docker Hub is not needed: when debian:bookworm-slim is missing it is made here
# with debootstrap from the mirror named in this machine's apt sources, and the
# root filesystem tarball is cached in /var/cache/cleudo-debootstrap.
# Needs root. Environment: CLEUDO_DOCKER_ROOT, CLEUDO_DOCKER_SOCK (see below).
set -euo pipefail

DATA_ROOT=${CLEUDO_DOCKER_ROOT:-/var/lib/cleudo-docker}
EXEC_ROOT=/run/cleudo-docker
SOCK=${CLEUDO_DOCKER_SOCK:-/run/cleudo-docker.sock}
PIDFILE=/run/cleudo-docker.pid
LOG=/var/log/cleudo-docker.log
CACHE=/var/cache/cleudo-debootstrap
BASE_IMAGE=debian:bookworm-slim
SUITE=bookworm
PKGS=(docker.io docker-compose debootstrap)
DOCKER=/usr/bin/docker          # the Debian client (20.10), not any other on PATH

say() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }

dk() { DOCKER_HOST="unix://$SOCK" "$DOCKER" "$@"; }

engine_up() { [[ -S "$SOCK" ]] && dk version --format '{{.Server.Version}}' >/dev/null 2>&1; }

install_packages() {
    local missing=() p
    for p in "${PKGS[@]}"; do
        [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == "install ok installed" ]] \
            || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The Debian package enables docker.service and docker.socket; we start our
    # own daemon instead, so tell invoke-rc.d not to start anything.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 0755 "$policy"; own_policy=1
    fi
    local rc=0
    { apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
      { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }; } || rc=$?
    [[ $own_policy -eq 1 ]] && rm -f "$policy"
    [[ $rc -eq 0 ]] || die "apt-get install ${missing[*]} failed"
}

start_daemon() {
    if engine_up; then say "already running on $SOCK"; return 0; fi
    if [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        die "dockerd (pid $(cat "$PIDFILE")) holds $PIDFILE but does not answer; see $LOG or run: $0 stop"
    fi
    rm -f "$PIDFILE" "$SOCK"
    mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
    say "starting dockerd (data root $DATA_ROOT, socket $SOCK, log $LOG)"
    # setsid: the daemon must not die with the shell that started it, and must
    # not hold the caller's terminal or pipes open.
    setsid /usr/sbin/dockerd \
        --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" \
        --host "unix://$SOCK" --pidfile "$PIDFILE" \
        --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
        --bridge=none --userland-proxy=true \
        --default-ulimit nofile=4096:8192 \
        --log-level warn \
        </dev/null >"$LOG" 2>&1 &
    local i
    for i in $(seq 1 120); do
        engine_up && { say "dockerd $(dk version --format '{{.Server.Version}}') is up after $((i / 4)).$((i % 4 * 25))s"; return 0; }
        [[ -f $PIDFILE ]] || [[ $i -lt 20 ]] || { tail -20 "$LOG" >&2; die "dockerd did not start; see $LOG"; }
        sleep 0.25
    done
    tail -20 "$LOG" >&2
    die "dockerd did not answer on $SOCK within 30 s; see $LOG"
}

# The first Debian mirror in the machine's apt sources that serves $1 (a suite).
apt_mirror_for() {
    local suite=$1 f uris="" suites="" line
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        # deb822: paragraphs of "Key: value" lines separated by blank lines.
        while IFS= read -r line || [[ -n $line ]]; do
            case "$line" in
                URIs:*)   uris=${line#URIs:} ;;
                Suites:*) suites=${line#Suites:} ;;
                "")       if [[ " $suites " == *" $suite "* && -n $uris ]]; then
                              read -r uris _ <<<"$uris"; echo "$uris"; return 0
                          fi
                          uris=""; suites="" ;;
            esac
        done < <(cat "$f"; echo)
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        # deb [options] URI SUITE COMPONENTS...
        awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                           if ($(i+1) == s) { print $i; exit } }' "$f" | grep . && return 0
    done
    return 1
}

make_base_image() {
    if dk image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return 0; fi
    local tarball="$CACHE/$SUITE-minbase.tar"
    if [[ ! -s $tarball ]]; then
        local mirror security dir
        mirror=$(apt_mirror_for "$SUITE") || die "no apt source for suite $SUITE in /etc/apt; cannot debootstrap $BASE_IMAGE"
        security=$(apt_mirror_for "$SUITE-security" || true)
        say "debootstrap --variant=minbase $SUITE from $mirror (cached in $tarball)"
        mkdir -p "$CACHE"
        dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
        # shellcheck disable=SC2064  # expand $dir now
        trap "rm -rf '$dir'" EXIT
        debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
            "$SUITE" "$dir" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
            || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed; see $CACHE/debootstrap.log"; }
        # What the official slim image does: apt sources in deb822 form, no docs,
        # man pages or locales from later installs, no apt caches kept.
        rm -f "$dir/etc/apt/sources.list"
        {
            printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                "$mirror" "$SUITE" "$SUITE"
            [[ -z $security ]] || printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                "$security" "$SUITE"
        } >"$dir/etc/apt/sources.list.d/debian.sources"
        cat >"$dir/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
        cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
        printf 'Acquire::GzipIndexes "true";\n' >"$dir/etc/apt/apt.conf.d/docker-gzip-indexes"
        printf 'APT::AutoRemove::SuggestsImportant "false";\n' >"$dir/etc/apt/apt.conf.d/docker-autoremove-suggests"
        rm -rf "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* \
               "$dir"/usr/share/locale/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
               "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log "$dir"/var/log/apt/*
        : >"$dir/etc/hostname"
        tar --numeric-owner -C "$dir" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$dir"; trap - EXIT
    fi
    say "importing $tarball as $BASE_IMAGE"
    dk import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$tarball" "$BASE_IMAGE" >/dev/null
}

stop_daemon() {
    local pid=""
    [[ -f $PIDFILE ]] && pid=$(cat "$PIDFILE")
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        say "stopping dockerd (pid $pid)"
        kill -TERM "$pid"
        local i
        for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then say "dockerd still alive after 30 s; sending SIGKILL"; kill -KILL "$pid" || true; fi
    else
        say "not running"
    fi
    # dockerd's own containerd leaves with it; what remains is run state only.
    rm -f "$PIDFILE" "$SOCK"
    if [[ -d $EXEC_ROOT ]]; then
        # Mounts (netns, overlay) left by a killed daemon would keep the directory busy.
        local m
        while read -r m; do
            umount -l "$m" || true
        done < <(awk -v r="$EXEC_ROOT" 'index($2, r) == 1 {print $2}' /proc/self/mounts | sort -r)
        rm -rf "$EXEC_ROOT"
    fi
}

[[ $# -eq 1 ]] || { usage >&2; exit 2; }
case "$1" in
    -h|--help) usage; exit 0 ;;
    env) echo "export DOCKER_HOST=unix://$SOCK"; exit 0 ;;
    status) if engine_up; then say "running on $SOCK"; exit 0; else say "not running"; exit 1; fi ;;
esac
[[ $(id -u) -eq 0 ]] || die "needs root (it installs packages and starts dockerd)"
case "$1" in
    start) install_packages; start_daemon; make_base_image ;;
    stop) stop_daemon ;;
    purge) stop_daemon; rm -rf "$DATA_ROOT" "$CACHE" "$LOG" ;;
    *) usage >&2; exit 2 ;;
esac
