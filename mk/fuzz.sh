#!/bin/sh
# The fuzz targets: every tests/fuzz/fuzz_NAME.c, with its corpus in
# tests/corpus/NAME/ (seeds and every past crash input, kept forever).
#
#   mk/fuzz.sh run      build each target with clang and libFuzzer
#                       (address and undefined sanitizers) and run it for
#                       FUZZ_SECONDS (default 60) over its corpus; new
#                       inputs and crashes go to tmp/fuzz/NAME/, never
#                       into the committed corpus.  FUZZ_TARGETS="config"
#                       limits the run to some targets.
#   mk/fuzz.sh regress  build each target without libFuzzer, with $CC and
#                       $CFLAGS (so a sanitizer build checks too), as
#                       tests/fuzz/fuzz_NAME_regress: replays the corpus,
#                       prints TAP; tests/run runs it.
#
# The Makefile passes CC, CFLAGS, LDFLAGS, LIBS and FUZZ_SRCS (the pure
# modules every target may call).  tests/fuzz/NAME.srcs names more
# sources for one target (it stubs what they need); NAME.dict is a
# libFuzzer dictionary, NAME.options more libFuzzer flags.
set -eu
cd "$(dirname "$0")/.."
mode=${1:-run}
: "${FUZZ_SECONDS:=60}" "${FUZZ_SRCS:=}" "${LIBS:=}" "${CFLAGS:=}"
: "${LDFLAGS:=}" "${CC:=cc}" "${FUZZ_CC:=clang}" "${FUZZ_TARGETS:=}"

targets() {
	for f in tests/fuzz/fuzz_*.c; do
		[ -f "$f" ] || continue
		n=${f#tests/fuzz/fuzz_}
		n=${n%.c}
		if [ -n "$FUZZ_TARGETS" ]; then
			case " $FUZZ_TARGETS " in *" $n "*) ;; *) continue ;; esac
		fi
		echo "$n"
	done
}

srcs() {
	echo "$FUZZ_SRCS"
	[ -f "tests/fuzz/$1.srcs" ] && cat "tests/fuzz/$1.srcs"
	true
}

regress() {
	for n in $(targets); do
		# shellcheck disable=SC2086,SC2046
		$CC $CFLAGS -Isrc -DFUZZ_CORPUS="\"tests/corpus/$n\"" \
		    -o "tests/fuzz/fuzz_${n}_regress" "tests/fuzz/fuzz_$n.c" \
		    tests/fuzz/regress_main.c $(srcs "$n") $LDFLAGS $LIBS
	done
}

run() {
	command -v "$FUZZ_CC" >/dev/null ||
	    { echo "fuzz: $FUZZ_CC not found (apt-get install clang" \
	    "libclang-rt-14-dev)" >&2; exit 1; }
	status=0
	for n in $(targets); do
		bin=tests/fuzz/fuzz_$n work=tmp/fuzz/$n
		mkdir -p "$work" "tests/corpus/$n"
		# shellcheck disable=SC2086
		$FUZZ_CC $CFLAGS -O1 -g -fno-omit-frame-pointer \
		    -fsanitize=fuzzer,address,undefined \
		    -fno-sanitize-recover=all -Isrc -o "$bin" \
		    "tests/fuzz/fuzz_$n.c" $(srcs "$n") $LIBS
		dict= opts=
		[ -f "tests/fuzz/$n.dict" ] && dict=-dict=tests/fuzz/$n.dict
		[ -f "tests/fuzz/$n.options" ] && opts=$(cat "tests/fuzz/$n.options")
		echo "fuzz: $n for ${FUZZ_SECONDS}s"
		# shellcheck disable=SC2086
		if ! "./$bin" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
		    -artifact_prefix="$work/" $dict $opts "$work" "tests/corpus/$n" \
		    >"$work.log" 2>&1; then
			status=1
			tail -n 40 "$work.log"
			echo "fuzz: $n FAILED; the input is in $work/" \
			    "(fix, then add it to tests/corpus/$n/)"
		fi
		sed -n 's/^stat::number_of_executed_units: */  runs: /p;
		    s/^stat::average_exec_per_sec: */  exec\/s: /p;
		    s/^stat::peak_rss_mb: */  peak MB: /p' "$work.log"
	done
	return $status
}

# The binaries; tmp/fuzz (the grown corpus) is kept: it helps next time.
clean() {
	for f in tests/fuzz/fuzz_*; do
		case $f in *.c|*.h|*.dict|*.options|*.srcs) ;; *) rm -f "$f" ;; esac
	done
}

case $mode in
regress)	regress ;;
clean)		clean ;;
run)		run ;;
*)		echo "usage: mk/fuzz.sh run|regress|clean" >&2; exit 1 ;;
esac
