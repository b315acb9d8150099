#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build the libFuzzer targets of tests/fuzz with clang (build-fuzz/, ASan +
# UBSan + libFuzzer) and run each for SECONDS (default 60) on a copy of its
# corpus.  A crash leaves its reproducer in tests/fuzz/out/ and makes the
# script exit 1; rename it into tests/fuzz/corpus/<target>/crash-<what> once
# fixed.  Per target, one line "fuzz: TARGET: N executions, ok|CRASH".
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   scripts/fuzz.sh --build        (build the targets only; runs may then go in parallel)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPO=$PWD
BUILD_ONLY=0
if [[ ${1:-} == --build ]]; then # build every target, run none
	BUILD_ONLY=1
	shift
fi
SECS=${1:-60}
shift || true
TARGETS=("$@")
(( ${#TARGETS[@]} )) || TARGETS=(fuzz_wire fuzz_config fuzz_fsm fuzz_vici)
DIR=build-fuzz
OUTDIR=$REPO/tests/fuzz/out

declare -A MAXLEN=([fuzz_wire]=4200 [fuzz_config]=16384 [fuzz_fsm]=16384 [fuzz_vici]=8192)

if [[ -d $DIR && ! -f $DIR/build.ninja ]]; then
	rm -rf "$DIR"
fi
if [[ ! -f $DIR/build.ninja ]]; then
	# Coverage instrumentation everywhere (fuzzer-no-link), so libFuzzer
	# sees the code under test and not only the target's own file.
	# shellcheck disable=SC2054 # commas separate meson values
	CC=clang meson setup "$DIR" --buildtype=debugoptimized -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link >/dev/null || exit 1
fi
ninja -C "$DIR" "${TARGETS[@]/#/tests/fuzz/}" >/dev/null || exit 1
(( BUILD_ONLY )) && exit 0

mkdir -p "$OUTDIR"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rc=0
for t in "${TARGETS[@]}"; do
	work=$(mktemp -d /tmp/l2tpv3d-fuzz.XXXXXX)
	cp -r "tests/fuzz/corpus/$t/." "$work/"
	log=$OUTDIR/$t.log
	"$DIR/tests/fuzz/$t" -max_total_time="$SECS" -max_len="${MAXLEN[$t]:-4096}" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUTDIR/$t-" "$work" >"$log" 2>&1
	r=$?
	execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
	if (( r == 0 )); then
		echo "fuzz: $t: ${execs:-?} executions in ${SECS} s, ok"
	else
		echo "fuzz: $t: ${execs:-?} executions, CRASH (exit $r), see $log:"
		grep -E 'ERROR|runtime error|property broken|Test unit written' "$log" | head -n 5 | sed 's/^/    /'
		rc=1
	fi
	rm -rf "$work"
done
exit $rc
