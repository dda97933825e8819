#!/bin/sh
# bench/ab.sh: compare capsuled builds, interleaved, by server CPU per request.
#
#   sh bench/ab.sh [-p path] [-r rounds] [-s secs] [-w workers] BIN...
#       [-- gemload options]
#
# Each round runs every BIN in turn (a fresh daemon each time, same
# certificate, files and config as bench/run.sh), so a busy machine
# slows them alike; with several rounds the medians mean something even
# when other work shares the CPUs.  Per run and as medians per BIN:
# server CPU per request (utime + stime of the daemon and its children,
# /proc/PID/stat) split into user and system, read(2) and write(2) per
# request (/proc/PID/io; send(2) is not counted there), context
# switches, and TCP segments per request in the namespace (both ends).
# The gemload options default to "-c 32"; the path to /2k.gmi (also
# there: /100k.gmi and /100m.zip, as in run.sh).
#
# In a network namespace of its own like run.sh (root or user
# namespaces); loopback only.

# shellcheck disable=SC3045 # ulimit -n: dash and bash have it
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/config.sh"
gemload=$top/bench/gemload
rounds=3 secs=8 workers=2 path=/2k.gmi

if [ -z "${BENCH_NETNS:-}" ]; then
	for u in "unshare -n" "unshare -rn"; do
		if $u true 2>/dev/null; then
			BENCH_NETNS=$u exec $u -- sh "$0" "$@"
		fi
	done
	echo "ab.sh: needs a network namespace (root or user namespaces)" >&2
	exit 1
fi
ip link set lo up

while getopts p:r:s:w: ch; do
	case $ch in
	p) path=$OPTARG ;;
	r) rounds=$OPTARG ;;
	s) secs=$OPTARG ;;
	w) workers=$OPTARG ;;
	*) echo "usage: ab.sh [-p path] [-r rounds] [-s secs] [-w workers]" \
	    "BIN... [-- gemload options]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
bins=
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	[ -x "$1" ] || { echo "ab.sh: $1: not executable" >&2; exit 2; }
	bins="$bins $(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
	shift
done
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- -c 32
[ -n "$bins" ] || { echo "ab.sh: no capsuled to run" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/capsuled-ab.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir "$tmp/root"
gemtext() {
	awk -v n="$2" 'BEGIN { s = "# A page for the benchmark\n\n"
		for (i = 1; length(s) < n; i++)
			s = s sprintf("* Line %d of a page that both servers " \
			    "serve, byte for byte.\n", i)
		printf "%s", substr(s, 1, n - 1) "\n" }' >"$1"
}
gemtext "$tmp/root/2k.gmi" 2048
gemtext "$tmp/root/100k.gmi" 102400
dd if=/dev/zero of="$tmp/root/100m.zip" bs=1 count=0 seek=100000000 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 30 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost 2>/dev/null
bench_config "$tmp" 1965 "$workers" 11000 >"$tmp/capsuled.ini"

procs() {
	echo "$1"
	pgrep -P "$1" || true
}

# ticks user system reads writes switches, summed over the daemon
counters() {
	for p in $(procs "$1"); do
		sed 's/^.*) //' "/proc/$p/stat"
		cat "/proc/$p/io" "/proc/$p/status"
	done 2>/dev/null | awk '
	    NF > 40 { t += $12 + $13 + $14 + $15; u += $12; s += $13 }
	    $1 == "syscr:" { r += $2 }
	    $1 == "syscw:" { w += $2 }
	    /ctxt_switches/ { c += $2 }
	    END { print t, u, s, r, w, c }'
}

segments() {
	awk '$1 == "Tcp:" { if (!c) { for (i = 2; i <= NF; i++)
		if ($i == "OutSegs") c = i } else print $c }' /proc/net/snmp
}

one() {
	bin=$1
	shift
	"$bin" -d -c "$tmp/capsuled.ini" 2>"$tmp/err" &
	pid=$!
	i=0
	until "$gemload" -c 1 -n 1 -T 2 gemini://localhost:1965/2k.gmi \
	    >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 50 ] || { cat "$tmp/err" >&2; exit 1; }
		sleep 0.1
	done
	c0=$(counters $pid)
	s0=$(segments)
	"$gemload" -j -d "$secs" "$@" "gemini://localhost:1965$path" \
	    >"$tmp/out" 2>"$tmp/gerr" || sed 's/^/  /' "$tmp/gerr" >&2
	c1=$(counters $pid)
	s1=$(segments)
	kill $pid
	wait $pid 2>/dev/null || true
	echo "$c0 $s0 $c1 $s1 $(tail -n 1 "$tmp/out")" | awk \
	    -v hz="$(getconf CLK_TCK)" -v bin="$bin" '{
		for (i = 15; i <= NF; i++) {
			k = $i; sub(/=.*/, "", k); v = $i
			sub(/^[^=]*=/, "", v); r[k] = v
		}
		ok = r["ok"] > 0 ? r["ok"] : 1
		us = 1e6 / hz / ok
		printf "%s cpu=%.0f user=%.0f sys=%.0f reads=%.2f " \
		    "writes=%.2f switches=%.2f segs=%.2f ok=%d errors=%d " \
		    "p50_ms=%.1f resumed=%d mbps=%.0f\n", bin, ($8 - $1) * us,
		    ($9 - $2) * us, ($10 - $3) * us, ($11 - $4) / ok,
		    ($12 - $5) / ok, ($13 - $6) / ok, ($14 - $7) / ok,
		    r["ok"], r["errors"], r["p50_us"] / 1000, r["resumed"],
		    r["mbps"]
	}' | tee -a "$tmp/results"
}

: >"$tmp/results"
r=0
while [ $r -lt "$rounds" ]; do
	for b in $bins; do
		one "$b" "$@"
	done
	r=$((r + 1))
done
echo "medians of $rounds x $secs s, $workers workers, gemload $* $path:"
for b in $bins; do
	grep "^$b " "$tmp/results" | awk -v bin="$b" '
	{ for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k)
		v = $i; sub(/^[^=]*=/, "", v); val[k, NR] = v; keys[k] = i } }
	END {
		printf "%s", bin
		split("cpu user sys reads writes switches segs p50_ms mbps", ks)
		for (j = 1; j <= 9; j++) {
			k = ks[j]; n = 0
			for (i = 1; i <= NR; i++) a[++n] = val[k, i] + 0
			for (i = 2; i <= n; i++)	# insertion sort
				for (m = i; m > 1 && a[m - 1] > a[m]; m--) {
					t = a[m]; a[m] = a[m - 1]; a[m - 1] = t
				}
			printf " %s=%s", k, a[int((n + 1) / 2)]
		}
		printf "\n"
	}'
done
