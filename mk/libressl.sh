#!/bin/sh
# `make check-libressl`: the whole of `make check` against LibreSSL, the
# TLS library of OpenBSD (where capsuled runs as a service).
#
#   1. LibreSSL from a release tarball (LIBRESSL_TARBALL), static
#      libcrypto and libssl only, into LIBRESSL_CACHE (outside the
#      clone; default ~/.cache/capsuled/libressl), built again only when
#      the tarball's sha256 is not the one the cache was built from.  A
#      .sha256 file beside the tarball (sha256sum's format, as the
#      release ships one) must agree with it.
#   2. A copy of this tree in LIBRESSL_BUILD (default tmp/libressl), so
#      the OpenSSL build's objects here are left alone, built against
#      the cache through pkg-config; no OpenSSL library may be linked
#      (ldd, nm, capsuled -V say so).
#   3. make check there, test_deb left out: it builds the Debian package
#      with Debian's own OpenSSL, which the first round has checked.
#
# `mk/libressl.sh lib` does step 1 alone (CI runs it beside the OpenSSL
# round).  Two runs at once take turns at step 1 (flock on the cache).
set -eu
# every make from here runs as if typed, not as a sub-make of
# check-libressl's (LibreSSL's build has its own -j; tests run make too)
unset MAKEFLAGS MFLAGS MAKELEVEL
cd "$(dirname "$0")/.."
top=$(pwd)
tarball=${LIBRESSL_TARBALL:-../shared/libressl/libressl-4.3.2.tar.gz}
cache=${LIBRESSL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/capsuled/libressl}
build=${LIBRESSL_BUILD:-tmp/libressl}
: "${MAKE:=make}"

say() { echo "check-libressl: $*"; }
die() { echo "check-libressl: $*" >&2; exit 1; }

# rm -rf DIR only when it is missing, empty, or one this script made
# (LIBRESSL_CACHE=~/.cache or LIBRESSL_BUILD=src must never be wiped)
ours() {	# DIR FILE...: one of the FILEs in DIR says it is ours
	d=$1
	shift
	[ -e "$d" ] || return 0
	[ -z "$(ls -A "$d" 2>/dev/null)" ] && return 0
	for f in "$@"; do
		[ -e "$d/$f" ] && return 0
	done
	die "$d is not a directory this script made; name a new one"
}

if [ ! -f "$tarball" ]; then
	case $tarball in /*) where=$tarball ;; *) where=$top/$tarball ;; esac
	echo "check-libressl: no LibreSSL release tarball at $where" >&2
	die "put the portable release there (libressl-4.3.2.tar.gz, from" \
	    "https://ftp.openbsd.org/pub/OpenBSD/LibreSSL/), or name one:" \
	    "make check-libressl LIBRESSL_TARBALL=/path/to/libressl-X.Y.Z.tar.gz"
fi
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
sumfile=${tarball%.tar.gz}.sha256
if [ -f "$sumfile" ] && ! grep -qi "^$sum " "$sumfile"; then
	die "$tarball: sha256 $sum is not the one in $sumfile"
fi

# 1. The library, unless the cache holds this tarball's build already.
mkdir -p "$(dirname "$cache")"
if command -v flock >/dev/null; then
	exec 9>"$cache.lock"
	flock 9
fi
if [ "$(cat "$cache/sha256" 2>/dev/null)" = "$sum" ] &&
    [ -f "$cache/lib/libssl.a" ] && [ -f "$cache/lib/libcrypto.a" ]; then
	say "LibreSSL from $cache (sha256 $sum)"
else
	say "building LibreSSL from $tarball into $cache (about 4 minutes" \
	    "on 2 CPUs; kept for the next run)"
	ours "$cache" sha256 .made-by-check-libressl
	ours "$cache.build" .made-by-check-libressl
	rm -rf "$cache" "$cache.build"
	mkdir -p "$cache" "$cache.build"
	: >"$cache/.made-by-check-libressl"
	: >"$cache.build/.made-by-check-libressl"
	log=$cache.build/log
	tar xzf "$tarball" -C "$cache.build"
	src=$(find "$cache.build" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	[ -n "$src" ] && [ -x "$src/configure" ] ||
	    die "$tarball: no configure script in it (a portable release?)"
	jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
	if ! (cd "$src" &&
	    ./configure --prefix="$cache" --disable-shared --disable-tests &&
	    make -j"$jobs" -C crypto && make -j"$jobs" -C ssl &&
	    make -C crypto install && make -C ssl install &&
	    make -C include install && make install-pkgconfigDATA) \
	    >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		die "the LibreSSL build failed; the whole log is $log"
	fi
	echo "$sum" >"$cache/sha256"	# last: a cut build is never reused
	rm -rf "$cache.build"
fi
exec 9>&-
# first, so that its openssl.pc wins; the user's own path stays after
export PKG_CONFIG_PATH="$cache/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --modversion openssl | grep -q . ||
    die "pkg-config finds no openssl in $PKG_CONFIG_PATH"
[ "${1:-}" = lib ] && exit 0

# 2. A copy of the tree, built against it.
case $build in /*) ;; *) build=$top/$build ;; esac
say "building capsuled against LibreSSL" \
    "$(pkg-config --modversion openssl) in $build"
ours "$build" mk/libressl.sh	# a copy of this tree, from before
rm -rf "$build"
mkdir -p "$build"
tar cf - --exclude=./.git --exclude=./tmp --exclude=./dist \
    --exclude='*.o' . | (cd "$build" && tar xf -)
cd "$build"
$MAKE -s clean >/dev/null
$MAKE -s all
if ldd ./capsuled | grep -E 'lib(ssl|crypto)\.so'; then
	die "capsuled links the shared library above, not LibreSSL"
fi
nm ./capsuled | grep -q ' T SSL_new$' ||
    die "SSL_new is not in the capsuled binary: LibreSSL is not linked in"
lib=$(./capsuled -V)
case $lib in
*LibreSSL*)	say "$lib; ldd: no libssl or libcrypto" ;;
*)		die "capsuled -V says: $lib" ;;
esac

# 3. The suite.
PYTEST_ARGS="--deselect tests/regress/test_deb.py ${PYTEST_ARGS:-}" \
    $MAKE check
