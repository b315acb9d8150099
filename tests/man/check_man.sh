#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The man pages in doc/man: lint-free (mandoc -T lint at warning level,
# man --warnings through groff), and complete: every configuration line in
# src/config/config.c's command table appears in l2tpv3d.conf(5), every
# long option of l2tpv3d and l2tpctl in their pages, every l2tpctl command
# word in l2tpctl(8).  A line added to the parser without documentation
# fails here.  Usage: check_man.sh SOURCE_DIR
set -uo pipefail
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
man_dir=$src/doc/man
failed=0

bad() {
	echo "check_man: $*" >&2
	failed=1
}

# Plain text of a page, one paragraph per line (wide, no hyphenation).
render() { mandoc -T utf8 -O width=1000 "$1" | sed 's/.\x08//g'; }

for page in l2tpv3d.8 l2tpv3d.conf.5 l2tpctl.8; do
	f=$man_dir/$page
	[[ -s $f ]] || { bad "$page missing"; continue; }
	out=$(mandoc -T lint -W warning "$f" 2>&1) || true
	[[ -z $out ]] || bad "mandoc lint: $out"
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null) || bad "man -l $page failed"
	[[ -z $out ]] || bad "man --warnings $page: $out"
done

# Configuration lines: the keywords of each entry of commands[], "*"
# standing for any one word (an interface name).
conf=$(render "$man_dir/l2tpv3d.conf.5")
n=0
while IFS= read -r entry; do
	mapfile -t words < <(grep -o '"[^"]*"' <<<"$entry" | tr -d '"')
	re=
	for w in "${words[@]}"; do
		[[ $w == '*' ]] && w='[^ ]+'
		re+="${re:+ }$w"
	done
	n=$((n + 1))
	grep -qiE "(^| )$re( |$)" <<<"$conf" || bad "l2tpv3d.conf.5 lacks '${words[*]}'"
done < <(sed -n '/^static const struct command commands\[\]/,/^};/p' "$src/src/config/config.c" |
	grep -o '{ { "[^}]*}')
(( n >= 20 )) || bad "found only $n configuration lines in config.c"

# Long options: --NAME and its letter.
check_opts() {
	local page=$1 c=$2 text name letter k=0
	text=$(render "$man_dir/$page")
	while IFS=$'\t' read -r name letter; do
		k=$((k + 1))
		grep -qF -- "--$name" <<<"$text" || bad "$page lacks --$name"
		grep -qE -- "(^| )-$letter( |,|$)" <<<"$text" || bad "$page lacks -$letter"
	done < <(sed -n 's/.*{ "\([a-z-]*\)", [a-z_]*_argument, NULL, '"'"'\(.\)'"'"' }.*/\1\t\2/p' "$src/$c")
	(( k >= 3 )) || bad "found only $k options in $c"
}
check_opts l2tpv3d.8 src/daemon/main.c
check_opts l2tpctl.8 src/ctl/l2tpctl.c

# l2tpctl command words: each word of the token tables (src/ctl/parse.c).
ctl=$(render "$man_dir/l2tpctl.8")
k=0
while read -r w; do
	k=$((k + 1))
	grep -qE "(^| )$w( |$)" <<<"$ctl" || bad "l2tpctl.8 lacks the command word '$w'"
done < <(sed -n 's/^[[:space:]]*{ "\([a-z0-9-]*\)", CTL_ACT_[A-Z_]*,.*/\1/p' "$src/src/ctl/parse.c")
(( k >= 10 )) || bad "found only $k command words in src/ctl/parse.c"

if (( failed )); then
	exit 1
fi
echo "check_man: 3 pages lint-free; $n configuration lines, options and l2tpctl words documented"
