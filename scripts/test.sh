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
# counts as one test.  The guest spends most of its time in QEMU's TCG on
# one core while the namespace tests mostly wait on timers, so the whole VM
# stage runs in the background from here, beside the unit, fuzz and
# namespace stages (26.5 minutes in sequence, doc/testing.md); it writes
# its log to tests/vm/out/stage.log and one "PASS|FAIL name" line per test
# to tests/vm/out/stage.results, counted at the end.
SUDO=()
if (( EUID != 0 )); then
	SUDO=(sudo --preserve-env=B)
fi
export B=$REPO/build-test
mkdir -p tests/vm/out
vmlog=tests/vm/out/stage.log
vmres=tests/vm/out/stage.results
: >"$vmlog"
: >"$vmres"
vm_stage() {
	local start name out rc t
	start=$SECONDS
	if ! "${SUDO[@]}" timeout -k 30 900 bash tests/vm/mkroot.sh >tests/vm/out/mkroot.out 2>&1; then
		echo "FAIL VM root disk ($((SECONDS - start)) s), last lines:"
		tail -n 40 tests/vm/out/mkroot.out | sed 's/^/    /'
		echo "FAIL root-disk" >>"$vmres"
		return
	fi
	echo "VM root disk ready ($((SECONDS - start)) s): $(tail -n 1 tests/vm/out/mkroot.out)"
	for t in tests/vm/t_ipsec_*.sh; do
		name=$(basename "$t" .sh)
		out=tests/vm/out/$name.out
		start=$SECONDS
		"${SUDO[@]}" timeout -k 30 400 bash "$t" >"$out" 2>&1
		rc=$?
		if (( rc == 0 )); then
			echo "PASS $name" >>"$vmres"
			echo "PASS $name ($((SECONDS - start)) s; $(grep -o 'boot to init [0-9.?]* s' "$out" | tail -n 1))"
		else
			echo "FAIL $name" >>"$vmres"
			(( rc == 124 )) && echo "(timed out after 400 s)"
			echo "FAIL $name (exit $rc, $((SECONDS - start)) s), last lines of $out:"
			tail -n 150 "$out" | sed 's/^/    /'
		fi
	done
}
# If this script ends early (a failed build step, a signal), the VM stage
# and its running test end too: the test's `timeout` hands the TERM on to
# the guest's vmrun.sh, which stops QEMU.
# shellcheck disable=SC2317 # run by the EXIT trap
stop_vm_stage() {
	local kids
	[[ -n ${vmpid:-} ]] || return 0
	kids=$(pgrep -P "$vmpid" || true)
	kill "$vmpid" 2>/dev/null || true
	# shellcheck disable=SC2086 # a list of PIDs
	[[ -z $kids ]] || kill $kids 2>/dev/null || true
}
trap stop_vm_stage EXIT
trap 'exit 143' TERM INT
vm_stage >"$vmlog" 2>&1 &
vmpid=$!

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

# The VM stage has run beside the stages above since the build; its
# results are counted here, once it is over.
echo "===== VM tests (tests/vm/t_ipsec_*.sh, run beside the stages above)"
wait "$vmpid"
vmpid=''
cat "$vmlog"
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
