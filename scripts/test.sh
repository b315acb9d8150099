#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install dependencies, build with sanitizers, run the unit tests (meson
# test), each libFuzzer target for 45 s (scripts/fuzz.sh) and every
# tests/netns/t_*.sh, with the IPsec tests in the VM (tests/vm/t_ipsec_*.sh)
# running beside them from the build on.
# Each unit test, fuzz target, netns test and VM test counts as one; the
# last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPO=$PWD

passed=0
failed=0
failures=()

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); failures+=("$1"); }

summary() {
	echo
	echo "===== summary"
	if (( ${#failures[@]} )); then
		printf 'failed: %s\n' "${failures[@]}"
	fi
	echo "$passed passed, $failed failed"
	exit $(( failed > 0 ))
}

echo "===== dependencies (all)"
if ! bash scripts/deps.sh all; then
	fail "deps"
	summary
fi

echo "===== build (build-test/, ASan+UBSan)"
if ! bash scripts/build.sh test; then
	fail "build"
	summary
fi

# The IPsec tests of issue 15 run in a QEMU/TCG guest (tests/vm/README.md):
# its root disk is built once and cached (tests/vm/mkroot.sh; a cold build
# downloads Debian packages), then each tests/vm/t_ipsec_*.sh boots it and
# counts as one test.  The guest keeps about one core busy in TCG while the
# namespace tests mostly wait on timers, so a first VM lane runs from here,
# beside the unit, fuzz and namespace stages, and a second one joins it
# once the namespace stage is over (one after the other, the stages took
# 26.5 minutes: doc/testing.md).  The lanes take tests from one queue,
# longest first; each test's result is one "PASS|FAIL name" line in
# tests/vm/out/stage.results, counted at the end, and each lane's log is
# tests/vm/out/stage-N.log.
SUDO=()
if (( EUID != 0 )); then
	SUDO=(sudo --preserve-env=B)
fi
export B=$REPO/build-test
mkdir -p tests/vm/out
vmres=tests/vm/out/stage.results
vmq=tests/vm/out/stage.queue
: >"$vmres"
rm -f tests/vm/out/stage-*.log tests/vm/out/root.ready
{
	# the long ones first (about 4, 4 and 3 minutes on a quiet machine)
	for n in t_ipsec_hub t_ipsec_faults t_ipsec_ikev2; do
		[[ -f tests/vm/$n.sh ]] && echo "$n"
	done
	for t in tests/vm/t_ipsec_*.sh; do
		n=$(basename "$t" .sh)
		case $n in t_ipsec_hub|t_ipsec_faults|t_ipsec_ikev2) ;; *) echo "$n" ;; esac
	done
} >"$vmq"
# the next test of the queue, or nothing when it is empty
vm_next() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	flock "$vmq.lock" bash -c 'n=$(head -n 1 "$1") && [[ -n $n ]] && sed -i 1d "$1" && echo "$n"' _ "$vmq"
}
vm_lane() {
	local start name out rc
	while name=$(vm_next); do
		out=tests/vm/out/$name.out
		start=$SECONDS
		"${SUDO[@]}" timeout -k 30 900 bash "tests/vm/$name.sh" >"$out" 2>&1
		rc=$?
		if (( rc == 0 )); then
			echo "PASS $name" >>"$vmres"
			echo "PASS $name ($((SECONDS - start)) s; $(grep -o 'boot to init [0-9.?]* s' "$out" | tail -n 1))"
		else
			echo "FAIL $name" >>"$vmres"
			(( rc == 124 )) && echo "(timed out after 900 s)"
			echo "FAIL $name (exit $rc, $((SECONDS - start)) s), last lines of $out:"
			tail -n 150 "$out" | sed 's/^/    /'
		fi
	done
}
vm_first_lane() {
	local start=$SECONDS
	if ! "${SUDO[@]}" timeout -k 30 900 bash tests/vm/mkroot.sh >tests/vm/out/mkroot.out 2>&1; then
		echo "FAIL VM root disk ($((SECONDS - start)) s), last lines:"
		tail -n 40 tests/vm/out/mkroot.out | sed 's/^/    /'
		echo "FAIL root-disk" >>"$vmres"
		return
	fi
	echo "VM root disk ready ($((SECONDS - start)) s): $(tail -n 1 tests/vm/out/mkroot.out)"
	touch tests/vm/out/root.ready
	vm_lane
}
vm_second_lane() {
	# only with a root disk, and never before the first lane has one
	while [[ ! -e tests/vm/out/root.ready ]]; do
		grep -q '^FAIL root-disk' "$vmres" && return
		sleep 5
	done
	vm_lane
}
# If this script ends early (a failed build step, a signal), the VM lanes
# and their running tests end too: a test's `timeout` hands the TERM on to
# the guest's vmrun.sh, which stops QEMU.
vmpids=()
# shellcheck disable=SC2317 # run by the EXIT trap
stop_vm_stage() {
	local kids pid
	for pid in "${vmpids[@]}"; do
		kids=$(pgrep -P "$pid" || true)
		kill "$pid" 2>/dev/null || true
		# shellcheck disable=SC2086 # a list of PIDs
		[[ -z $kids ]] || kill $kids 2>/dev/null || true
	done
}
trap stop_vm_stage EXIT
trap 'exit 143' TERM INT
vm_first_lane >tests/vm/out/stage-1.log 2>&1 &
vmpids+=($!)

echo "===== unit tests (meson test)"
testlog=build-test/meson-logs/testlog.json
rm -f "$testlog"
meson test -C build-test --print-errorlogs
rc=$?
before=$failed
if [[ -s $testlog ]]; then
	while IFS=$'\t' read -r name result; do
		case $result in
		OK|EXPECTEDFAIL) pass ;;
		SKIP) ;;
		*) fail "unit: $name ($result)" ;;
		esac
	done < <(jq -r '[.name, .result] | @tsv' "$testlog")
fi
if (( rc != 0 && failed == before )); then
	fail "unit: meson test exited with $rc"
fi

echo "===== fuzzing (scripts/fuzz.sh, 45 s per target, two at a time)"
if ! bash scripts/fuzz.sh --build; then
	fail "fuzz: build"
else
	# one target per CPU: the first two together, then the third
	for batch in "fuzz_wire fuzz_config" "fuzz_fsm fuzz_vici"; do
		declare -A fpid=()
		for t in $batch; do
			bash scripts/fuzz.sh 45 "$t" &
			fpid[$t]=$!
		done
		for t in $batch; do
			if wait "${fpid[$t]}"; then
				pass
			else
				fail "fuzz: $t"
			fi
		done
		unset fpid
	done
fi

echo "===== namespace tests (tests/netns)"
mkdir -p tests/netns/out
for t in tests/netns/t_*.sh; do
	name=$(basename "$t" .sh)
	out=tests/netns/out/$name.out
	start=$SECONDS
	"${SUDO[@]}" timeout -k 30 300 bash "$t" >"$out" 2>&1
	rc=$?
	if (( rc == 0 )); then
		pass
		echo "PASS $name ($((SECONDS - start)) s)"
	else
		fail "netns: $name"
		(( rc == 124 )) && echo "(timed out after 300 s)"
		echo "FAIL $name (exit $rc, $((SECONDS - start)) s), last lines of $out:"
		tail -n 150 "$out" | sed 's/^/    /'
	fi
done

# The first VM lane has run beside the stages above since the build; a
# second one takes the rest of the queue with it now; their results are
# counted once both are over.
echo "===== VM tests (tests/vm/t_ipsec_*.sh, the first lane beside the stages above)"
vm_second_lane >tests/vm/out/stage-2.log 2>&1 &
vmpids+=($!)
wait "${vmpids[@]}"
vmpids=()
for l in 1 2; do
	echo "-- lane $l"
	cat "tests/vm/out/stage-$l.log"
done
while read -r verdict name; do
	if [[ $verdict == PASS ]]; then pass; else fail "vm: $name"; fi
done < "$vmres"

# The benchmark's smoke variant (1 round of 3 s, NIC-like WAN): counts as one test, passes
# if the script runs and prints its table; no figure is asserted.
echo "===== benchmark smoke (bench/bench.sh --smoke)"
out=tests/netns/out/bench-smoke.out
start=$SECONDS
# the NIC-like profile only: every mode and figure runs (the plain-veth
# profile is the same code on another WAN; bench.sh runs both by default)
if "${SUDO[@]}" env B="$B" OUT="$REPO/tests/netns/out/bench-smoke" PROFILES=nic timeout -k 30 400 \
	bash bench/bench.sh --smoke >"$out" 2>&1 && grep -q 'TCP 1 stream' "$out"; then
	pass
	echo "PASS bench smoke ($((SECONDS - start)) s)"
	grep -A 14 'NIC-like WAN' "$out" | sed 's/^/    /'
else
	fail "bench: smoke"
	echo "FAIL bench smoke ($((SECONDS - start)) s), last lines of $out:"
	tail -n 40 "$out" | sed 's/^/    /'
fi

summary
