#!/bin/sh
# run.sh - time every profkit conversion against the nearest go tool pprof
# command on the same generated profiles, and write the figures into
# bench/README.md (between its "results" markers). Run by `make bench`.
#
# Environment:
#   PROFKIT, GENPROFILE, MEASURE  the programs (set by make bench)
#   BENCH_GENERATOR      genprofile (default), or gogen: profiles written by
#                        go tool pprof's own package (bench/gogen, built
#                        into $BENCH_DIR/gogen)
#   BENCH_GEN_ARGS       more options for the generator, e.g. --heap
#   BENCH_README         the README to update (unset, or not genprofile's
#                        default profiles: print only)
#   BENCH_SIZES          sizes to run, comma-separated (default small,medium,large)
#   BENCH_RUNS           runs per command, the median is shown (default 5; 3 on large)
#   BENCH_GO_RUNS        runs of each go tool pprof command on small and medium
#                        (default BENCH_RUNS)
#   BENCH_GO_LARGE_RUNS  runs of each go tool pprof command on large (default 1:
#                        each takes about a minute and several GB)
#   BENCH_DIR            where profiles and outputs go (default /tmp/profkit-bench,
#                        /tmp/profkit-bench-gogen for gogen's)
#   GO                   the go command (default go; missing: profkit alone)
set -u

PROFKIT=${PROFKIT:-./profkit}
GENPROFILE=${GENPROFILE:-./bench/genprofile}
BENCH_GENERATOR=${BENCH_GENERATOR:-genprofile}
BENCH_GEN_ARGS=${BENCH_GEN_ARGS:-}
BENCH_SIZES=${BENCH_SIZES:-small,medium,large}
default_dir=/tmp/profkit-bench
[ "$BENCH_GENERATOR" = genprofile ] || default_dir=/tmp/profkit-bench-$BENCH_GENERATOR
BENCH_DIR=${BENCH_DIR:-$default_dir}
BENCH_GO_LARGE_RUNS=${BENCH_GO_LARGE_RUNS:-1}
GO=${GO:-go}
MEASURE=${MEASURE:-./bench/measure}

die() {
	echo "bench: $*" >&2
	exit 1
}
# Time the program itself, as installed, not libtool's wrapper script in
# a build folder (a shell that costs ~15 ms of CPU per run).
real="$(dirname "$PROFKIT")/.libs/$(basename "$PROFKIT")"
if [ -x "$real" ] && head -c 2 "$PROFKIT" | grep -q '#!'; then
	PROFKIT=$real
	LD_LIBRARY_PATH="$(dirname "$real")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
fi
test -x "$MEASURE" || die "$MEASURE is missing (make bench builds it)"
mkdir -p "$BENCH_DIR" || die "cannot create $BENCH_DIR"
case $BENCH_GENERATOR in
genprofile) ;;
gogen)
	GENPROFILE="$BENCH_DIR/gogen"
	gogen_src="$(dirname "$0")/gogen"
	if [ ! -x "$GENPROFILE" ] || [ "$gogen_src/main.go" -nt "$GENPROFILE" ]; then
		echo "bench: building $GENPROFILE" >&2
		GO="$GO" "$gogen_src/build.sh" "$GENPROFILE" || die "cannot build gogen"
	fi
	;;
*) die "unknown BENCH_GENERATOR '$BENCH_GENERATOR' (genprofile or gogen)" ;;
esac
# What made the profiles: they are made again when it changes.
generator="$BENCH_GENERATOR${BENCH_GEN_ARGS:+ $BENCH_GEN_ARGS}"
gen_note=""
[ "$generator" = genprofile ] || gen_note="; profiles by $generator"

PPROF=""
if command -v "$GO" >/dev/null 2>&1; then
	PPROF=$("$GO" tool -n pprof 2>/dev/null) || PPROF=""
	GO_VERSION=$("$GO" version 2>/dev/null)
else
	GO_VERSION="go not found: profkit's figures alone"
fi
# No symbolization: the generated mappings name binaries that do not exist.
export PPROF_BINARY_PATH=/nonexistent PPROF_TMPDIR="$BENCH_DIR"

# measure NAME RUNS CMD...: run CMD (stdout to $BENCH_DIR/NAME.out) RUNS
# times; sets WALL (median seconds) and RSS (median peak, KB).
measure() {
	m_name=$1 m_runs=$2
	shift 2
	walls="" rsses="" i=0
	while [ "$i" -lt "$m_runs" ]; do
		# The shell truncates NAME.out before the clock starts, so go's
		# output is emptied untimed; profkit's last output is removed
		# untimed too, or its rename would pay for freeing the old file.
		rm -f "$BENCH_DIR"/out.*
		"$MEASURE" "$BENCH_DIR/$m_name.m" "$@" >"$BENCH_DIR/$m_name.out" 2>"$BENCH_DIR/$m_name.err" ||
			die "failed: $* (see $BENCH_DIR/$m_name.err)"
		read -r m_wall m_rss <"$BENCH_DIR/$m_name.m"
		walls="$walls $m_wall"
		rsses="$rsses $m_rss"
		i=$((i + 1))
	done
	WALL=$(echo $walls | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1e9}')
	RSS=$(echo $rsses | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
}

# below A B: A is a figure (not "-") smaller than B.
below() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a != "-" && a + 0 < b + 0)}'; }
size_of() { wc -c <"$1" | tr -d ' '; }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b/1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0 && a > 0) printf "%.1f", a/b; else print "-"}'; }

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
cores=$(nproc 2>/dev/null || echo "?")
ram=$(awk '/^MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo)
os=$( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || uname -s)
machine="$cpu, $cores cores, $ram RAM, $os, kernel $(uname -r); $GO_VERSION; $($PROFKIT --version)"

table="$BENCH_DIR/table.md"
{
	echo "Machine: $machine."
	echo "Run on $(date -u '+%Y-%m-%d %H:%M UTC') by bench/run.sh (BENCH_SIZES=$BENCH_SIZES$gen_note)."
	echo
} >"$table"

for size in $(echo "$BENCH_SIZES" | tr ',' ' '); do
	case $size in
	small | medium) runs=${BENCH_RUNS:-5} goruns=${BENCH_GO_RUNS:-$runs} ;;
	large) runs=${BENCH_RUNS:-3} goruns=$BENCH_GO_LARGE_RUNS ;;
	*) die "unknown size '$size' (small, medium or large)" ;;
	esac
	d="$BENCH_DIR/$size"
	mkdir -p "$d"
	in="$d/cpu.pb.gz"
	# The inputs: the profile; the base of the diff (another variant of the
	# same program); 10 profiles of a tenth of the samples each to merge;
	# the profile as JSON.
	if [ ! -s "$in" ] || [ "$GENPROFILE" -nt "$in" ] ||
		[ "$(cat "$d/generator" 2>/dev/null || echo genprofile)" != "$generator" ]; then
		echo "bench: generating the $size profiles ($generator)" >&2
		rm -f "$d/generator"
		# shellcheck disable=SC2086
		"$GENPROFILE" $BENCH_GEN_ARGS --size "$size" -o "$in" || die "$BENCH_GENERATOR failed"
		# shellcheck disable=SC2086
		"$GENPROFILE" $BENCH_GEN_ARGS --size "$size" --variant 1 -o "$d/base.pb.gz" ||
			die "$BENCH_GENERATOR failed"
		samples=$(awk -v s="$size" 'BEGIN {print s == "small" ? 10000 : s == "medium" ? 200000 : 2000000}')
		k=0
		while [ $k -lt 10 ]; do
			# shellcheck disable=SC2086
			"$GENPROFILE" $BENCH_GEN_ARGS --size "$size" --samples $((samples / 10)) \
				--stacks $((samples / 40)) --variant $k -o "$d/part$k.pb.gz" ||
				die "$BENCH_GENERATOR failed"
			k=$((k + 1))
		done
		"$PROFKIT" convert "$in" -o "$d/cpu.json" || die "JSON conversion failed"
		echo "$generator" >"$d/generator"
	fi
	parts=""
	k=0
	while [ $k -lt 10 ]; do
		parts="$parts $d/part$k.pb.gz"
		k=$((k + 1))
	done
	insize=$(size_of "$in")
	rawsize=$(gzip -dc "$in" | wc -c | tr -d ' ')
	partsize=$(cat $parts | wc -c | tr -d ' ')
	# What the command reads, uncompressed: the "raw profile" of its RSS ratio.
	partsraw=$(gzip -dc $parts | wc -c | tr -d ' ')
	diffraw=$(($(gzip -dc "$d/base.pb.gz" | wc -c | tr -d ' ') + rawsize))
	jsonsize=$(size_of "$d/cpu.json")
	samples=$("$PROFKIT" info "$in" | awk '/^Samples:/ {print $2}')
	stacks=$("$PROFKIT" info "$in" | awk '/^Stacks:/ {print $2}')

	echo "bench: $size: gzip -dc" >&2
	measure gzip "$runs" gzip -dc "$in"
	gzip_wall=$WALL gzip_rss=$RSS

	{
		echo "### $size: $samples samples, $stacks distinct stacks"
		echo
		echo "Input: $(mb "$insize") MB gzipped, $(mb "$rawsize") MB of protobuf; JSON $(mb "$jsonsize") MB;"
		echo "merge reads 10 profiles of a tenth of the samples ($(mb "$partsize") MB in all)."
		echo "Median of $runs runs for profkit; go tool pprof $goruns run(s)."
		echo "Floor: \`gzip -dc\` $gzip_wall s, $((gzip_rss / 1024)) MB, $(mb $(awk -v b="$insize" -v t="$gzip_wall" 'BEGIN {printf "%d", b/t}')) MB/s."
		echo
		echo "| conversion | profkit s | MB/s in | RSS MB | go tool pprof | go s | go RSS MB | time: go ÷ profkit | RSS: go ÷ profkit | RSS ÷ raw input |"
		echo "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"
	} >>"$table"
	missed=""

	o="$BENCH_DIR/out"
	# name | profkit command | bytes read | raw bytes read | go tool pprof flags
	while IFS='|' read -r name pk bytes raw goflags; do
		echo "bench: $size: $name" >&2
		# shellcheck disable=SC2086
		measure "pk" "$runs" $pk
		pk_wall=$WALL pk_rss=$RSS
		rate=$(awk -v b="$bytes" -v t="$pk_wall" 'BEGIN {if (t > 0) printf "%.0f", b/t/1e6; else print "-"}')
		if [ -n "$PPROF" ] && [ -n "$goflags" ]; then
			# shellcheck disable=SC2086
			measure "go" "$goruns" "$PPROF" -symbolize=none $goflags
			go_wall=$WALL go_rss=$RSS
			gocell="\`$(echo "$goflags" | sed "s#$BENCH_DIR/$size/##g; s#part0.pb.gz.*part9.pb.gz#part0..9#")\`"
			speed=$(ratio "$go_wall" "$pk_wall")
			mem=$(ratio "$go_rss" "$pk_rss")
			go_wall_cell=$go_wall go_rss_cell=$((go_rss / 1024))
		else
			gocell="-" speed="-" mem="-" go_wall_cell="-" go_rss_cell="-"
		fi
		rawratio=$(awk -v r="$pk_rss" -v b="$raw" 'BEGIN {printf "%.2f", r*1024/b}')
		echo "| $name | $pk_wall | $rate | $((pk_rss / 1024)) | $gocell | $go_wall_cell | $go_rss_cell | $speed | $mem | $rawratio |" >>"$table"
		# The issue's targets, row by row.
		if [ "$size" != small ]; then
			below "$speed" 20 && missed="$missed; $name: ${speed}× go's speed (target 20×)"
			below "$mem" 10 && missed="$missed; $name: 1/${mem} of go's RSS (target 1/10)"
			below 2 "$rawratio" && missed="$missed; $name: RSS ${rawratio}× the raw input (target 2×)"
		fi
		if [ "$name" = "pprof→folded" ]; then
			folded_ratio=$(ratio "$pk_wall" "$gzip_wall")
			[ "$size" != small ] && below 3 "$folded_ratio" &&
				missed="$missed; pprof→folded: ${folded_ratio}× gzip -dc (target 3×)"
		fi
	done <<EOF
pprof→pprof|$PROFKIT convert $in -o $o.pb.gz|$insize|$rawsize|-proto $in
pprof→JSON|$PROFKIT convert $in -o $o.json|$insize|$rawsize|-raw $in
JSON→pprof|$PROFKIT convert $d/cpu.json -o $o.pb.gz|$jsonsize|$rawsize|-proto $in
pprof→folded|$PROFKIT convert $in -o $o.folded|$insize|$rawsize|-traces $in
pprof→SVG|$PROFKIT convert $in -o $o.svg|$insize|$rawsize|-traces $in
pprof→callgrind|$PROFKIT convert $in -o $o.callgrind|$insize|$rawsize|-callgrind $in
pprof→speedscope|$PROFKIT convert $in -o $o.speedscope.json|$insize|$rawsize|-traces $in
top|$PROFKIT top $in|$insize|$rawsize|-text $in
merge of 10|$PROFKIT merge $parts -o $o.pb.gz|$partsize|$partsraw|-proto $parts
diff|$PROFKIT diff $d/base.pb.gz $in -o $o.pb.gz|$(($(size_of "$d/base.pb.gz") + insize))|$diffraw|-proto -base $d/base.pb.gz $in
EOF
	{
		echo
		echo "pprof→folded takes $folded_ratio× the time of \`gzip -dc\` (target: at most 3×)."
		if [ -n "$missed" ]; then
			echo
			echo "Targets missed here: ${missed#; }."
		elif [ "$size" != small ]; then
			echo
			echo "Every row meets the speed and memory targets."
		fi
		echo
	} >>"$table"
done
rm -f "$BENCH_DIR/out".* "$BENCH_DIR"/pk.out "$BENCH_DIR"/go.out

cat "$table"
# The README's results are genprofile's; other profiles are printed only.
if [ -n "${BENCH_README:-}" ] && [ -f "$BENCH_README" ] && [ "$generator" = genprofile ]; then
	awk -v table="$table" '
		/<!-- results: begin -->/ {print; while ((getline line < table) > 0) print line; skip = 1; next}
		/<!-- results: end -->/ {skip = 0}
		!skip {print}
	' "$BENCH_README" >"$BENCH_README.tmp" && mv "$BENCH_README.tmp" "$BENCH_README"
	echo "bench: wrote $BENCH_README" >&2
fi
