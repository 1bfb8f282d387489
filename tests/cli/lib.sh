# lib.sh - what the shell tests share. Sourced; make check exports PROFKIT,
# TOP_SRCDIR and TOP_BUILDDIR.
set -u
: "${PROFKIT:?run through make check}" "${TOP_SRCDIR:?}" "${TOP_BUILDDIR:?}"
FIXTURES="$TOP_SRCDIR/tests/fixtures/pprof"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/profkit-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
checks=0
failures=0

pass() { checks=$((checks + 1)); }
fail() {
	checks=$((checks + 1))
	failures=$((failures + 1))
	echo "FAIL: $*" >&2
}
# check DESCRIPTION COMMAND...: the command must succeed.
check() {
	local what=$1
	shift
	if "$@"; then pass; else fail "$what"; fi
}
# Automake's exit codes: 0 pass, 1 fail, 77 skip.
finish() {
	echo "$checks checks, $failures failed"
	[ "$checks" -gt 0 ] || { echo "no check ran" >&2; exit 1; }
	[ "$failures" -eq 0 ]
	exit $?
}
have_go() { command -v go >/dev/null 2>&1; }
# go tool pprof -raw, with the environment fixed so output is stable.
pprof_raw() { TZ=UTC PPROF_BINARY_PATH=/nonexistent go tool pprof -raw "$1" 2>/dev/null; }
