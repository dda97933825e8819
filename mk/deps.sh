#!/bin/sh
# Check the build dependencies; on Debian as root, install what is missing.
# Prints which package to install otherwise.  Used by `make`, `make run`,
# `make check`.
#   mk/deps.sh          libraries needed to build
#   mk/deps.sh check    also the tools `make check` runs
#   mk/deps.sh deb      also the tools `make deb` runs
set -u
missing=""
need_pc() {	# pkg-config name, Debian package, OpenBSD package
	pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"
	obsd="$obsd $3"
}
need_cmd() {	# command, Debian package
	command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}
obsd=""
need_cmd pkg-config pkg-config
need_cmd cc gcc
need_pc openssl libssl-dev "(base: LibreSSL)"
need_pc libevent libevent-dev "(base: libevent)"
need_pc inih libinih-dev inih
need_pc libmagic libmagic-dev libmagic
if [ "${1:-}" = check ]; then
	need_cmd openssl openssl
	[ -x /usr/bin/python3 ] || missing="$missing python3"
	/usr/bin/python3 -c 'import pytest' 2>/dev/null || missing="$missing python3-pytest"
	# test_feeds: every Atom feed through a real reader's parser
	/usr/bin/python3 -c 'import feedparser' 2>/dev/null || missing="$missing python3-feedparser"
	need_cmd tmux tmux
	need_cmd amfora amfora
	need_cmd haproxy haproxy
	need_cmd mandoc mandoc
	need_cmd gdb gdb	# test_sandbox: open(2) inside a sandboxed worker
fi
# `make deb`, and test_deb in `make check`: Debian's packaging tools
case "${1:-}" in deb|check)
	need_cmd dpkg-buildpackage dpkg-dev
	need_cmd dh debhelper
	need_cmd lintian lintian
esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing$missing (apt-get)" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q $missing >/dev/null 2>&1 ||
	    { apt-get update -q >/dev/null 2>&1 &&
	      apt-get install -y -q $missing >/dev/null; } && exit 0
	echo "deps: apt-get install$missing failed" >&2
	exit 1
fi
echo "deps: missing; install these Debian packages:$missing" >&2
echo "deps: on OpenBSD: pkg_add pkgconf inih libmagic" >&2
exit 1
