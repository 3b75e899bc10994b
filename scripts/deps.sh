#!/bin/sh
# Install every Debian package the build, tests, demo and benchmarks need.
# Idempotent: when everything is present it only runs dpkg-query.
set -eu

PKGS="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config
protobuf-c-compiler libprotobuf-c-dev libnng-dev libmbedtls-dev libsodium-dev
libsqlite3-dev sqlite3 libjson-c-dev libinih-dev libcsv-dev libmicrohttpd-dev
libcurl4-openssl-dev libcmocka-dev libcap-dev libcap2-bin libsystemd-dev
systemd systemd-container nginx-light wrk iproute2 curl
openssl procps psmisc bc jq util-linux coreutils"
# DEPS_EXTRA: more for one target (make fuzz: libFuzzer's runtime, which
# clang only recommends)
PKGS="$PKGS ${DEPS_EXTRA:-}"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = "installed" ] || missing="$missing $p"
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The nginx package starts a system instance; tests start their own.
if command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now nginx >/dev/null 2>&1 || true
fi
pkill -x nginx 2>/dev/null || true
exit 0
