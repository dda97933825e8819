#!/bin/sh
# The include graph of src/ must have no circle (DESIGN.md, "Floors").
#
#   mk/floors.sh        check: exit 1 and name a circle when there is one
#   mk/floors.sh -p     print each module with the floor it stands on:
#                       0 includes none of ours, n includes floors < n
#
# A module is a name: x.c and x.h are both "x" (a header stands for its
# source), so x.c including y.h is the edge x -> y.  Only #include "..."
# lines count; system headers are not ours.  strike/ is a program of
# its own and is left out.
set -eu
cd "$(dirname "$0")/../src"

edges() {
	for f in *.c *.h; do
		m=${f%.*}
		sed -n 's/^#[ 	]*include[ 	]*"\([^"]*\)\.h".*/\1/p' "$f" |
		while read -r d; do
			[ "$d" = "$m" ] || echo "$m $d"
		done
		echo "$m $m"	# every module is a node, even alone
	done | sort -u
}

if [ "${1:-}" = -p ]; then
	edges | awk '
	{ if ($1 != $2) dep[$1] = dep[$1] " " $2; node[$1]; node[$2] }
	function floor(m,    n, i, d, f, best) {
		if (m in memo) return memo[m]
		if (m in busy) return -1
		busy[m] = 1
		best = 0
		n = split(dep[m], d, " ")
		for (i = 1; i <= n; i++) {
			f = floor(d[i])
			if (f < 0) return -1
			if (f + 1 > best) best = f + 1
		}
		delete busy[m]
		return memo[m] = best
	}
	END {
		for (m in node) {
			f = floor(m)
			if (f < 0) {
				print "circle: " m
				continue
			}
			line[f] = line[f] " " m
		}
		for (f in line)
			printf "%d:%s\n", f, line[f]
	}' | sort -rn | while read -r f rest; do
		# names sorted within a floor, so the picture is stable
		printf '%s %s\n' "$f" "$(echo "$rest" | tr ' ' '\n' | sort |
		    tr '\n' ' ' | sed 's/ $//')"
	done
	exit 0
fi

out=$(edges | tsort 2>&1 >/dev/null) || true
if [ -n "$out" ]; then
	echo "floors: the include graph of src/ has a circle:" >&2
	echo "$out" | sed 's/^tsort: /  /' >&2
	exit 1
fi
