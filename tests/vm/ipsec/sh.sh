#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run one shell command line in the test VM (for debugging):
#   bash tests/vm/vmrun.sh tests/vm/ipsec/sh.sh 'COMMANDS'
set -x
eval "$1"
