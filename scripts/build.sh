#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Configure (once) and build l2tpv3d with Meson and Ninja.
#   scripts/build.sh [release]  -> build/       debugoptimized, no unit tests
#   scripts/build.sh test       -> build-test/  with ASan and UBSan and the
#                                  unit tests (meson test -C build-test)
# The release build needs only `scripts/deps.sh demo`; the test build needs
# cmocka, mandoc and man-db from `scripts/deps.sh` (all).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-release}
case $mode in
release)
	dir=build
	# Without cmocka: the unit tests live in build-test/.
	opts=(--buildtype=debugoptimized -Dtests=false)
	;;
test)
	dir=build-test
	# shellcheck disable=SC2054 # commas separate meson values
	opts=(--buildtype=debugoptimized -Dtests=true -Db_sanitize=address,undefined -Db_lundef=false)
	;;
*)
	echo "usage: $0 [release|test]" >&2
	exit 2
	;;
esac

# A directory left half-configured by an interrupted setup is redone.
if [[ -d $dir && ! -f $dir/build.ninja ]]; then
	rm -rf "$dir"
fi
if [[ ! -f $dir/build.ninja ]]; then
	meson setup "$dir" "${opts[@]}"
fi
ninja -C "$dir"
