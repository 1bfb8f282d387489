#!/bin/sh
# Install the Debian packages profkit needs that are missing: those to
# build it (python3-dev for the Python bindings, built by default), and with --test also those its test suite runs (cmocka, Go for
# go tool pprof, clang for the fuzz targets, xmllint for SVG, Chromium and
# Node.js for the browser tests). Needs root when something is missing;
# does nothing when all is there.
set -eu
packages="build-essential autoconf automake libtool pkg-config libisal-dev
libjansson-dev libxml2-dev libpcre2-dev python3 python3-dev"
if [ "${1:-}" = "--test" ]; then
	packages="$packages libcmocka-dev golang-go clang libclang-rt-14-dev clang-format python3
libxml2-utils chromium"
fi
missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Node.js may come from elsewhere than Debian (with its own npm, which
# Debian's npm package would conflict with): ask for the commands.
if [ "${1:-}" = "--test" ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi
[ -z "$missing" ] && exit 0
echo "install-deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
