#!/bin/sh
# `make deb`: build the Debian package from a copy of this tree, so the
# tree stays clean and builds side by side do not collide, then check it
# with lintian (when installed): any error or warning fails.
#   mk/deb.sh OUTDIR
# Leaves capsuled_VERSION_ARCH.deb (and its -dbgsym, .buildinfo and
# .changes) in OUTDIR, and lintian's report in OUTDIR/lintian.txt.
set -eu
out=${1:?usage: mk/deb.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
top=$(pwd)
tmp=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
src="$tmp/capsuled"	# dpkg-buildpackage writes its results in $tmp
mkdir "$src"

# The tracked files and the new ones git does not ignore, as they are
# in the tree now; a file deleted but not yet committed is skipped.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	set -- .
	case $out in	# not the results of earlier builds
	"$top"/*) set -- . ":(exclude)${out#"$top"/}" ;;
	esac
	git -C "$top" ls-files -z --cached --others --exclude-standard \
	    -- "$@" |
	    tar -C "$top" --null --ignore-failed-read -T - -cf - |
	    tar -C "$src" -xf -
else	# an unpacked tarball: everything but what a build makes
	tar -C "$top" --exclude=./.git --exclude="./${out#"$top"/}" -cf - . |
	    tar -C "$src" -xf -
	make -C "$src" -s clean >/dev/null
fi
(cd "$src" && dpkg-buildpackage -us -uc -b -Jauto) >"$out/build.log" 2>&1 ||
    { tail -n 40 "$out/build.log" >&2; echo "deb: build failed:" \
      "$out/build.log" >&2; exit 1; }
changes=
for f in "$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes; do
	mv -f "$f" "$out/"
	echo "deb: $out/${f##*/}"
	case $f in *.changes) changes="$out/${f##*/}" ;; esac
done
if command -v lintian >/dev/null 2>&1; then
	# as root lintian says it would rather not be; the report is the same
	lintian -I --pedantic --fail-on error,warning "$changes" \
	    >"$out/lintian.txt" \
	    2>&1 || { cat "$out/lintian.txt" >&2; echo "deb: lintian:" \
	    "errors or warnings" >&2; exit 1; }
	grep -v 'running with root privileges' "$out/lintian.txt" || true
	echo "deb: lintian: no errors, no warnings"
else
	echo "deb: lintian not installed: the package is not checked"
fi
