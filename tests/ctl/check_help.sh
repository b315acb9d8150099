#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# l2tpctl's help, from the built binary: `help`, `--help` and `-h` print
# the command list on stdout and exit 0; an unknown first word, or none,
# prints a message and the same list on stderr and exits 2; a bad later
# word names the valid words there.  Every command of the list must be one
# the parser takes: run against a socket that does not exist, it exits 1
# (daemon unreachable), never 2 (usage).  Usage: check_help.sh L2TPCTL
set -uo pipefail
ctl=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nosock=$tmp/none.sock
failed=0

bad() {
	echo "check_help: $*" >&2
	failed=1
}

# run ARGS...: run l2tpctl; sets rc, out and err.
run() {
	rc=0
	"$ctl" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
	out=$(<"$tmp/out")
	err=$(<"$tmp/err")
}

# The commands l2tpctl(8) documents; each must have its line.
want=("show status l2tp" "show config" "show ipsec sa" "tunnel down N" "tunnel up N"
	"clear counters" "monitor" "reload" "help")

# list TEXT: the command lines of a help text ("  WORDS   WHAT").
list() { sed -n '/^Commands:$/,/^Options:$/{/^  [a-z]/p}' <<<"$1"; }

run help
ref=$out
(( rc == 0 )) || bad "'help' exits $rc"
[[ -z $err ]] || bad "'help' writes to stderr: $err"
[[ $out == Usage:\ l2tpctl* ]] || bad "'help' does not start with Usage: $out"
lines=$(list "$out")
for w in "${want[@]}"; do
	grep -qE "^  $w +[^ ]" <<<"$lines" || bad "help lacks a line for '$w'"
done
(( $(wc -l <<<"$lines") == ${#want[@]} )) || bad "help lists $(wc -l <<<"$lines") commands, expected ${#want[@]}"

for opt in --help -h h; do
	run "$opt"
	(( rc == 0 )) || bad "'$opt' exits $rc"
	[[ $out == "$ref" ]] || bad "'$opt' prints another text than 'help'"
	[[ -z $err ]] || bad "'$opt' writes to stderr: $err"
done

# Unknown or missing command: a message, then the list, on stderr.
for args in bogus "bogus show" ""; do
	read -r -a a <<<"$args"
	run "${a[@]}"
	(( rc == 2 )) || bad "'$args' exits $rc, expected 2"
	[[ -z $out ]] || bad "'$args' writes to stdout: $out"
	first=$(head -n 1 <<<"$err")
	if [[ -n $args ]]; then
		[[ $first == "l2tpctl: unknown argument 'bogus'" ]] || bad "'$args': first line is '$first'"
	else
		[[ $first == "l2tpctl: missing command" ]] || bad "no command: first line is '$first'"
	fi
	[[ $(list "$err") == "$(list "$ref")" ]] || bad "'$args' does not list the commands on stderr"
done

# A bad later word: the words valid there, not the whole list.
run show bogus
(( rc == 2 )) || bad "'show bogus' exits $rc, expected 2"
[[ $err == *"valid words: config ipsec status"* ]] || bad "'show bogus' does not name the valid words: $err"
[[ $err != *Commands:* ]] || bad "'show bogus' prints the whole list"

# Every listed command parses.
while read -r line; do
	read -r -a a <<<"${line%%  *}"
	a=("${a[@]/#N/1}")
	[[ ${a[0]} == help ]] && continue
	run -S "$nosock" "${a[@]}"
	(( rc == 1 )) || bad "'${a[*]}' with no daemon exits $rc, expected 1 (${err})"
done < <(list "$ref")

if (( failed )); then
	exit 1
fi
echo "check_help: help, --help, -h, unknown and missing commands; ${#want[@]} commands listed and parsed"
