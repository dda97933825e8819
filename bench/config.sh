# shellcheck shell=sh
# bench/config.sh: the capsuled config every benchmark runs with, so
# run.sh and ab.sh measure the same server.  Sourced by both.
#
#   bench_config DIR PORT WORKERS MAX_CONNECTIONS [HOST_LINES] >FILE
#
# DIR holds root/, cert.pem, key.pem and the access log; HOST_LINES, more
# of the host's keys (run.sh's CGI, FastCGI and proxy cases).

bench_config() {
	cat <<-EOF
	; made by bench/config.sh
	[server]
	listen = 127.0.0.1:$2
	workers = $3
	access_log = $1/capsuled-access.log
	; long enough to hold idle connections while they ramp up
	request_timeout = 120
	max_connections = $4
	; every client is 127.0.0.1: no per-client limits here
	rate_limit = 0
	max_per_client = 0
	; started as root, workers need a user (ignored otherwise)
	user = nobody

	[host localhost]
	root = $1/root
	cert = $1/cert.pem
	key = $1/key.pem
	${5:-}
	EOF
}
