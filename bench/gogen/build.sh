#!/bin/sh
# build.sh OUT - build gogen into OUT with the github.com/google/pprof/profile
# package that the Go toolchain vendors (go tool pprof's own), copied into a
# temporary module: no network, and no copy of it in our tree.
set -eu
out=${1:?usage: build.sh OUT}
GO=${GO:-go}
src=$(cd "$(dirname "$0")" && pwd)
vendored="$($GO env GOROOT)/src/cmd/vendor/github.com/google/pprof/profile"
test -d "$vendored" || {
	echo "gogen: no $vendored (Debian: golang-go)" >&2
	exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/pprof/profile" "$tmp/gogen"
cp "$vendored"/*.go "$tmp/pprof/profile/"
rm -f "$tmp/pprof/profile"/*_test.go
printf 'module github.com/google/pprof\n\ngo 1.19\n' >"$tmp/pprof/go.mod"
cp "$src/main.go" "$tmp/gogen/"
printf '%s\n' 'module gogen' '' 'go 1.19' '' 'require github.com/google/pprof v0.0.0' \
	'' 'replace github.com/google/pprof => ../pprof' >"$tmp/gogen/go.mod"
case $out in /*) ;; *) out="$(pwd)/$out" ;; esac
cd "$tmp/gogen"
GOFLAGS=-mod=mod GOPROXY=off GOWORK=off $GO build -trimpath -o "$out" .
