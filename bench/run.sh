#!/bin/sh
# bench/run.sh: what `make bench` runs.
#
# capsuled and molly-brown side by side in one run, in a network namespace
# of their own (molly-brown listens on every interface; in the namespace
# there is only lo), with the same ECDSA P-256 certificate and the same
# files.  Each case runs against capsuled and then molly-brown, so a busy
# machine slows both alike.
#
# On a 2-core machine the client needs more CPU than the server, so
# requests/s mostly measures the client.  The comparison is server CPU
# per request: user + system time of all the server's processes (from
# /proc/PID/stat, the server and its children) over the requests answered.
#
# Environment: BENCH_SECS (seconds per case, default 4), BENCH_IDLE (idle
# connections, default 10000), BENCH_THREADS (gemload threads, default 2),
# BENCH_KEEP=1 keeps the work directory (logs, configs, raw results).

# shellcheck disable=SC3045 # ulimit -n: dash and bash have it; Linux only
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/config.sh"
gemload=$top/bench/gemload
capsuled=$top/capsuled
secs=${BENCH_SECS:-4}
idle=${BENCH_IDLE:-10000}
threads=${BENCH_THREADS:-2}
cap_port=1965
molly_port=1966
up_port=1967		# the upstream capsuled of the proxy case

say() {
	printf '%s\n' "bench: $*" >&2
}

# Into a network namespace of our own: root gets one from unshare -n,
# others from a user namespace where the kernel allows it.  Without one,
# capsuled runs alone on 127.0.0.1: molly-brown cannot be kept off the
# other interfaces.
if [ -z "${BENCH_NETNS:-}" ]; then
	for u in "unshare -n" "unshare -rn"; do
		if $u true 2>/dev/null; then
			BENCH_NETNS=$u
			export BENCH_NETNS
			exec $u -- sh "$0" "$@"
		fi
	done
	BENCH_NETNS=none
	cap_port=${BENCH_PORT:-19651}
fi
if [ "$BENCH_NETNS" != none ]; then
	ip link set lo up
fi

[ -x "$capsuled" ] || { say "no $capsuled: run make first"; exit 1; }
[ -x "$gemload" ] || { say "no $gemload: run make first"; exit 1; }
molly=$(command -v molly-brown || true)
if [ "$BENCH_NETNS" = none ]; then
	say "no network namespace (needs root or user namespaces):" \
	    "molly-brown skipped"
	molly=
elif [ -z "$molly" ]; then
	say "molly-brown is not installed (apt-get install molly-brown):" \
	    "capsuled alone"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/capsuled-bench.XXXXXX")
pids=
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	for p in $pids; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${BENCH_KEEP:-}" ]; then
		say "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the files -----------------------------------------------------------

# Gemtext of exactly $2 bytes, plain ASCII so both servers send the same.
gemtext() {
	awk -v n="$2" 'BEGIN {
		s = "# A page for the benchmark\n\n"
		for (i = 1; length(s) < n; i++)
			s = s sprintf("* Line %d of a page that both servers " \
			    "serve, byte for byte.\n", i)
		printf "%s", substr(s, 1, n - 1) "\n"
	}' >"$1"
}

make_files() {
	cp -R "$top/capsule" "$tmp/root"
	gemtext "$tmp/root/2k.gmi" 2048
	gemtext "$tmp/root/100k.gmi" 102400
	# an extension no table knows: capsuled asks libmagic
	cp "$tmp/root/2k.gmi" "$tmp/root/2k.benchdata"
	# sparse: 100 MB that cost no disk; TLS encrypts zeros as dearly
	dd if=/dev/zero of="$tmp/root/100m.zip" bs=1 count=0 seek=100000000 \
	    2>/dev/null
	# the strike counter again, for FastCGI (fcgiwrap runs what is there)
	cp -R "$tmp/root/cgi-bin" "$tmp/root/fcgi-bin"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 30 \
	    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
	    2>/dev/null
}

# --- the servers ---------------------------------------------------------

# The front's upstreams: fcgiwrap and the second capsuled (start_up).
upstreams() {
	printf '%s\n' "cgi = cgi-bin" \
	    "fastcgi = /fcgi-bin/ unix:$tmp/fcgiwrap.sock" \
	    "proxy = /proxied/ gemini://127.0.0.1:$up_port/ sni=localhost" \
	    "    verify=none"
}

start_capsuled() {
	bench_config "$tmp" "$cap_port" auto $((idle + 1000)) "$(upstreams)" \
	    >"$tmp/capsuled.ini"
	"$capsuled" -d -c "$tmp/capsuled.ini" 2>"$tmp/capsuled.err" &
	cap_pid=$!
	pids="$pids $cap_pid"
	cap_url=gemini://localhost:$cap_port
	ready "$cap_url" capsuled
}

start_molly() {
	cat >"$tmp/molly.conf" <<-EOF
	# made by bench/run.sh
	Port = $molly_port
	Hostname = "localhost"
	CertPath = "$tmp/cert.pem"
	KeyPath = "$tmp/key.pem"
	DocBase = "$tmp/root/"
	AccessLog = "$tmp/molly-access.log"
	ErrorLog = "$tmp/molly-error.log"
	EOF
	"$molly" -c "$tmp/molly.conf" >"$tmp/molly.out" 2>&1 &
	molly_pid=$!
	pids="$pids $molly_pid"
	molly_url=gemini://localhost:$molly_port
	ready "$molly_url" molly-brown
}

# The proxy case's upstream: a second capsuled on the same files.
start_up() {
	mkdir -p "$tmp/up"
	ln -sf "$tmp/root" "$tmp/cert.pem" "$tmp/key.pem" "$tmp/up/"
	bench_config "$tmp/up" "$up_port" auto 1000 >"$tmp/up.ini"
	"$capsuled" -d -c "$tmp/up.ini" 2>"$tmp/up.err" &
	up_pid=$!
	pids="$pids $up_pid"
	ready "gemini://localhost:$up_port" "the upstream capsuled"
}

# The FastCGI case's responder: Debian's fcgiwrap, a process per CPU.
start_fcgiwrap() {
	fw_pid=
	fw=$(command -v fcgiwrap || true)
	[ -n "$fw" ] || { say "fcgiwrap is not installed: no FastCGI case"; return 0; }
	# workers run as another user: the socket and the way to it open
	chmod 711 "$tmp"
	(umask 0 && exec "$fw" -c "$(getconf _NPROCESSORS_ONLN)" \
	    -s "unix:$tmp/fcgiwrap.sock" 2>"$tmp/fcgiwrap.err") &
	fw_pid=$!
	pids="$pids $fw_pid"
}

# Stop one server we started and forget it.
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	pids=$(echo "$pids" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# Bounded: five seconds for a server to answer its first request.
ready() {
	i=0
	while [ $i -lt 50 ]; do
		"$gemload" -j -c 1 -n 1 -T 2 "$1/2k.gmi" >/dev/null 2>&1 &&
		    return 0
		sleep 0.1
		i=$((i + 1))
	done
	say "$2 does not answer at $1"
	exit 1
}

# --- measuring -----------------------------------------------------------

# The pids (one or more) and all their descendants (capsuled: parent,
# workers, CGI runner and scripts; fcgiwrap and the scripts it runs).
tree() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v roots="$1" '
	{
		pid = $1
		sub(/^.*\) /, "")
		parent[pid] = $2
	}
	END {
		n = split(roots, r, " ")
		for (i = 1; i <= n; i++)
			mine[r[i]] = 1
		do {
			more = 0
			for (p in parent)
				if (!(p in mine) && (parent[p] in mine)) {
					mine[p] = 1
					more = 1
				}
		} while (more)
		for (p in mine)
			print p
	}'
}

# utime + stime, and the same of reaped children (a worker that died),
# in clock ticks: fields 14 to 17 of /proc/PID/stat.
cpu_ticks() {
	for p in $(tree "$1"); do
		cat "/proc/$p/stat" 2>/dev/null || true
	done | awk '{ sub(/^.*\) /, ""); s += $12 + $13 + $14 + $15 }
	    END { print s + 0 }'
}

# The sum of a /proc/PID/status field (VmRSS, VmHWM) over the tree, KB.
mem_kb() {
	for p in $(tree "$1"); do
		cat "/proc/$p/status" 2>/dev/null || true
	done | awk -v f="$2:" '$1 == f { s += $2 } END { print s + 0 }'
}

# Start VmHWM afresh (Linux >= 4.0), so a peak is this case's own.
peak_reset() {
	for p in $(tree "$1"); do
		echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true
	done
}

# SYNs the kernel dropped because an accept queue was full (this
# namespace's counters: only our servers listen in it).
overflows() {
	awk '$1 == "TcpExt:" {
		if (!c) {
			for (i = 2; i <= NF; i++)
				if ($i == "ListenOverflows")
					c = i
		} else
			print $c
	}' /proc/net/netstat
}

# record CASE SERVER KEY=VALUE...: one line of the results file.
record() {
	c=$1 s=$2
	shift 2
	printf 'case=%s server=%s %s\n' "$(echo "$c" | tr ' ' _)" "$s" "$*" \
	    >>"$tmp/results"
}

# gemload's key=value line, or a line that says it failed.
gemload_run() {
	if ! "$gemload" -j -t "$threads" "$@" >"$tmp/out" 2>"$tmp/err"; then
		sed 's/^/  /' "$tmp/err" >&2
	fi
	out=$(tail -n 1 "$tmp/out")
	[ -n "$out" ] || out="ok=0 errors=1"
}

# load CASE SERVER PID URL [gemload options]: one timed run.
load() {
	c=$1 s=$2 pid=$3 url=$4
	shift 4
	t0=$(cpu_ticks "$pid")
	o0=$(overflows)
	peak_reset "$pid"
	rss=$(mem_kb "$pid" VmRSS)
	gemload_run "$@" "$url"
	t1=$(cpu_ticks "$pid")
	o1=$(overflows)
	record "$c" "$s" "$out" ticks=$((t1 - t0)) overflows=$((o1 - o0)) \
	    rss_kb="$rss" hwm_kb="$(mem_kb "$pid" VmHWM)"
}

# idle CASE SERVER PID URL: hold $idle handshaken connections; memory.
# First a few requests, 8 at a time, so that every worker has made a
# handshake before "before" is read: a worker's first one pages in the
# TLS code and makes OpenSSL's first-use caches (3.4 MB of its RSS),
# which counted against the held connections would add 0.4 KB to each
# with two workers; and so few that the heap grows by little.
idle() {
	c=$1 s=$2 pid=$3 url=$4
	"$gemload" -j -c 8 -n 32 "$url/2k.gmi" >/dev/null 2>&1 || true
	rss=$(mem_kb "$pid" VmRSS)
	peak_reset "$pid"
	t0=$(cpu_ticks "$pid")
	: >"$tmp/err"
	"$gemload" -j -i -t "$threads" -c "$idle" -d 3 "$url/" \
	    >"$tmp/out" 2>"$tmp/err" &
	gl=$!
	# bounded: gemload gives up on a handshake after 10 s
	i=0
	while [ $i -lt 1200 ] && ! grep -q holding "$tmp/err" &&
	    kill -0 $gl 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	# the server finishes its side of the last handshakes
	sleep 1
	during=$(mem_kb "$pid" VmRSS)
	wait $gl || sed 's/^/  /' "$tmp/err" >&2
	t1=$(cpu_ticks "$pid")
	out=$(tail -n 1 "$tmp/out")
	record "$c" "$s" "$out" ticks=$((t1 - t0)) rss_kb="$rss" \
	    during_kb="$during" \
	    hwm_kb="$(mem_kb "$pid" VmHWM)"
}

# each CASE PATH [gemload options]: the case against both servers.
each() {
	c=$1 path=$2
	shift 2
	say "$c"
	load "$c" capsuled "$cap_pid" "$cap_url$path" "$@"
	if [ -n "$molly" ]; then
		load "$c" molly "$molly_pid" "$molly_url$path" "$@"
	fi
}

# --- the report ----------------------------------------------------------

report() {
	awk -v hz="$(getconf CLK_TCK)" '
	function num(x) { return x == "" ? 0 : x + 0 }
	{
		for (i = 1; i <= NF; i++) {
			k = $i
			sub(/=.*/, "", k)
			v = substr($i, length(k) + 2)
			if (k == "case") {
				c = v
				gsub(/_/, " ", c)
			} else if (k == "server")
				s = v
			else
				r[k] = v
		}
		if (!(c in seen)) {
			seen[c] = 1
			order[n++] = c
		}
		mode[c] = r["mode"]
		ok = num(r["ok"])
		rps[c, s] = num(r["rps"])
		p50[c, s] = num(r["p50_us"]) / 1000
		p99[c, s] = num(r["p99_us"]) / 1000
		errs[c, s] = num(r["errors"])
		cpu[c, s] = ok ? num(r["ticks"]) / hz * 1e6 / ok : 0
		hs = num(r["handshakes"])
		if (r["mode"] == "idle") {
			each = ok ? (num(r["during_kb"]) - num(r["rss_kb"])) / ok : 0
			note[c, s] = sprintf("%d held, %.1f KB each, peak %d MB",
			    ok, each, num(r["hwm_kb"]) / 1024)
		} else if (c ~ /resumed/)
			note[c, s] = sprintf("%.1f%% resumed",
			    hs ? 100 * num(r["resumed"]) / hs : 0)
		else if (c ~ /MB file/)
			note[c, s] = sprintf("%.0f MB/s, RSS %d MB, peak %d MB",
			    num(r["mbps"]), num(r["rss_kb"]) / 1024,
			    num(r["hwm_kb"]) / 1024)
		else if (c ~ /KB file/)
			note[c, s] = sprintf("%.0f MB/s", num(r["mbps"]))
		else if (c ~ /^proxy/)
			note[c, s] = "both capsuled processes counted"
		else if (c ~ /FastCGI/)
			note[c, s] = "fcgiwrap and the scripts counted"
		else if (c ~ /^CGI/)
			note[c, s] = "the runner and the scripts counted"
		else if (c ~ /128/)
			note[c, s] = sprintf("p99/p50 %.2f",
			    p50[c, s] ? p99[c, s] / p50[c, s] : 0)
		else if (c ~ /512/)
			note[c, s] = sprintf("ListenOverflows +%d",
			    num(r["overflows"]))
		else
			note[c, s] = ""
		has[c, s] = 1
		delete r
	}
	function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
	END {
		# libmagic, once cached, should cost what the table does
		k = "full, 32 clients"
		for (j = 0; j < 2; j++) {
			s = j ? "molly" : "capsuled"
			if (has["unknown extension", s] && cpu[k, s] > 0)
				note["unknown extension", s] = sprintf("CPU " \
				    "%+.0f%% vs .gmi", 100 * (cpu["unknown " \
				    "extension", s] / cpu[k, s] - 1))
		}
		printf "%-24s %-9s %8s %8s %8s %6s %8s  %s\n", "case",
		    "server", "req/s", "p50 ms", "p99 ms", "errors",
		    "CPU us/r", "notes"
		for (i = 0; i < n; i++) {
			c = order[i]
			for (j = 0; j < 2; j++) {
				s = j ? "molly" : "capsuled"
				if (!has[c, s])
					continue
				printf "%-24s %-9s %8.0f %8.2f %8.2f %6d %8.0f  %s\n",
				    j ? "" : c, s, rps[c, s], p50[c, s],
				    p99[c, s], errs[c, s], cpu[c, s], note[c, s]
			}
			if (has[c, "capsuled"] && has[c, "molly"] &&
			    mode[c] != "idle")
				printf "%-24s %-9s %8s %8s %8s %6s %8s\n", "",
				    "ratio", ratio(rps[c, "capsuled"],
				    rps[c, "molly"]), ratio(p50[c, "capsuled"],
				    p50[c, "molly"]), ratio(p99[c, "capsuled"],
				    p99[c, "molly"]), "",
				    ratio(cpu[c, "capsuled"], cpu[c, "molly"])
		}
	}' "$tmp/results"
}

# --- the run -------------------------------------------------------------

# 10,000 held connections need as many descriptors in each server and in
# gemload: raise the limit here, for this run only.
need=$((idle + 1000))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $need ]; then
	ulimit -n $need 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $need ]; then
		idle=$(($(ulimit -n) - 1000))
		say "the fd limit is $(ulimit -n): $idle idle connections"
	fi
fi

# Other work on the machine takes CPU from client and servers alike:
# then requests/s means little, CPU per request still holds.
load0=$(cut -d' ' -f1-3 /proc/loadavg)
make_files
start_fcgiwrap
start_up
start_capsuled
[ -z "$molly" ] || start_molly
: >"$tmp/results"

each "full, 32 clients" /2k.gmi -c 32 -d "$secs"
each "full, 128 clients" /2k.gmi -c 128 -d "$secs"
each "full, 512 clients" /2k.gmi -c 512 -d "$secs"
each "resumed, 32 clients" /2k.gmi -c 32 -d "$secs" -r
each "100 KB file" /100k.gmi -c 32 -d "$secs"
each "100 MB file" /100m.zip -c 2 -d "$secs"
# the first request fills libmagic's cache; the case measures the rest
"$gemload" -j -n 1 -c 1 "$cap_url/2k.benchdata" >/dev/null 2>&1 || true
each "unknown extension" /2k.benchdata -c 32 -d "$secs"
# Upstreams, capsuled alone: the strike counter as CGI (a fork and exec
# per request) and under fcgiwrap (still an exec per request, fcgiwrap's;
# capsuled's part is the FastCGI exchange instead of the runner's); a
# page through the proxy, the two capsuled processes counted together.
say "CGI, FastCGI (strike counter)"
load "CGI (strike counter)" capsuled "$cap_pid" \
    "$cap_url/cgi-bin/strike" -c 8 -d "$secs"
if [ -n "$fw_pid" ]; then
	load "FastCGI (fcgiwrap)" capsuled "$cap_pid $fw_pid" \
	    "$cap_url/fcgi-bin/strike" -c 8 -d "$secs"
fi
say "proxy, 2 KB page"
load "proxy, 2 KB page" capsuled "$cap_pid $up_pid" \
    "$cap_url/proxied/2k.gmi" -c 32 -d "$secs"
# Fresh servers: a heap grown by the cases before has room for many
# idle connections without growing, and "KB each" would understate.
say "$idle idle connections (servers restarted)"
stop "$cap_pid"
start_capsuled
idle "$idle idle connections" capsuled "$cap_pid" "$cap_url"
if [ -n "$molly" ]; then
	stop "$molly_pid"
	start_molly
	idle "$idle idle connections" molly "$molly_pid" "$molly_url"
fi

echo
echo "capsuled $(git -C "$top" describe --always --dirty 2>/dev/null ||
    echo '?') vs molly-brown $(dpkg-query -W -f '${Version}' molly-brown \
    2>/dev/null || echo '?'); $(openssl version | cut -d' ' -f1-2);" \
    "$(getconf _NPROCESSORS_ONLN) CPUs; gemload: $threads threads," \
    "$secs s per case; ECDSA P-256, TLS 1.3"
echo "load average before $load0, after $(cut -d' ' -f1-3 /proc/loadavg)"
report
echo "CPU us/r: server user+system CPU per answered request;" \
    "ratio: capsuled/molly"
echo "idle: req/s, p50, p99 and CPU are of the handshakes; KB each:" \
    "RSS while held less RSS before, per connection"
