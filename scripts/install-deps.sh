#!/usr/bin/env bash
# Install exactly the Debian packages CleudoCode needs to build, run and test.
#
#   scripts/install-deps.sh               install everything missing
#   scripts/install-deps.sh --if-missing  same, but silent and quick when nothing is missing
#   scripts/install-deps.sh --list        print the package list and exit
set -euo pipefail

BUILD_PKGS=(gcc make pkg-config libc6-dev
            libzmq3-dev libczmq-dev libmsgpack-dev libmicrohttpd-dev
            libsqlite3-dev libjansson-dev libseccomp-dev)
TEST_PKGS=(check python3 python3-zmq python3-msgpack python3-pytest python3-jsonschema
           curl procps shellcheck docker-compose chromium groff-base clang libclang-rt-dev
           valgrind)
# Commands that may come from a package other than Debian's (this image's
# nodejs bundles npm and conflicts with Debian's npm): installed only when the
# command is missing.
TEST_CMDS=(npm)
PKGS=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
}

missing_packages() {
    local pkg status
    for pkg in "${PKGS[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [[ "$status" == "install ok installed" ]] || printf '%s\n' "$pkg"
    done
    for pkg in "${TEST_CMDS[@]}"; do
        command -v "$pkg" >/dev/null 2>&1 || printf '%s\n' "$pkg"
    done
}

quiet=0
case "${1:-}" in
    --if-missing) quiet=1 ;;
    --list) printf '%s\n' "${PKGS[@]}" "${TEST_CMDS[@]}"; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    "") ;;
    *) echo "install-deps.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

mapfile -t missing < <(missing_packages)
if [[ ${#missing[@]} -eq 0 ]]; then
    [[ $quiet -eq 1 ]] || echo "install-deps: all ${#PKGS[@]} packages are installed"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: not root; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
