# capsuled: a Gemini server.  `make`, `make run`, `make check`, `make bench`.
# POSIX make where possible; `!=` works in GNU make >= 4 and BSD make.

VERSION =	0.1
PREFIX ?=	/usr/local
BINDIR ?=	$(PREFIX)/sbin
LIBEXECDIR ?=	$(PREFIX)/libexec/capsuled
MANDIR ?=	$(PREFIX)/man
SYSCONFDIR ?=	/etc
EXAMPLEDIR ?=	$(PREFIX)/share/examples/capsuled
UNITDIR ?=	$(PREFIX)/lib/systemd/system
RCDIR ?=	/etc/rc.d
DESTDIR ?=
INSTALL ?=	install

CC ?=		cc
PKGS =		openssl libevent inih libmagic
PKG_CFLAGS !=	pkg-config --cflags $(PKGS) 2>/dev/null || true
PKG_LIBS !=	pkg-config --libs $(PKGS) 2>/dev/null || true
SSL_LIBS !=	pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto
WARN =		-Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
		-Wmissing-prototypes -Wformat=2
OPT ?=		-O2 -g
SAN ?=
CFLAGS +=	-std=c11 -D_GNU_SOURCE -D_DEFAULT_SOURCE $(WARN) $(OPT) $(SAN) \
		-DSYSCONFDIR=\"$(SYSCONFDIR)\" -DCAPSULED_VERSION=\"$(VERSION)\" \
		$(PKG_CFLAGS)
LDFLAGS +=	$(SAN)

PURE =		src/url.o src/request.o src/config.o src/proxy.o src/limit.o \
		src/titan.o src/certlist.o src/rules.o src/logfmt.o src/hello.o \
		src/fcgi.o src/scgi.o src/upstream.o
OBJS =		$(PURE) src/main.o src/tlsctx.o src/server.o src/fs.o src/mime.o \
		src/log.o src/route.o src/cgi.o src/runner.o src/feed.o \
		src/netbio.o src/sandbox.o src/latest.o src/cgijob.o \
		src/shared.o src/listen.o src/linger.o src/memstat.o src/proxyin.o \
		src/fdpass.o src/selfpipe.o \
		src/access.o src/upload.o src/writer.o src/metrics.o \
		src/conn.o src/plan.o src/gen.o src/helper.o src/supervise.o \
		src/cgivars.o src/upconn.o src/upjob.o src/upstep.o
HDRS =		src/*.h
# config.o and what it calls (the rules and upstream lines' parsers)
CONFIG_OBJS =	src/config.o src/rules.o src/upstream.o src/certlist.o src/url.o
# metrics.o with what it calls in the parent (the rendering is pure)
METRICS_DEPS =	src/metrics.o src/shared.o src/limit.o src/log.o src/logfmt.o \
		src/url.o

UNIT =		tests/unit/url_test tests/unit/request_test tests/unit/config_test \
		tests/unit/feed_test tests/unit/log_test tests/unit/proxy_test \
		tests/unit/limit_test tests/unit/listing_test \
		tests/unit/latest_test tests/unit/titan_test tests/unit/certlist_test \
		tests/unit/rules_test tests/unit/metrics_test tests/unit/route_test \
		tests/unit/cgijob_test \
		tests/unit/fcgi_test tests/unit/scgi_test tests/unit/upstream_test \
		tests/unit/hello_test
STRIKE =	capsule/cgi-bin/strike
TOOLS =		bench/gemload bench/floor bench/limits bench/counting

all: deps
	@$(MAKE) -s build

build: capsuled $(STRIKE) $(TOOLS)

deps:
	@sh mk/deps.sh

capsuled: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(PKG_LIBS)

$(OBJS): $(HDRS)

.c.o:
	$(CC) $(CFLAGS) -c -o $@ $<

$(STRIKE): src/strike/strike.c
	$(CC) $(CFLAGS) -o $@ src/strike/strike.c $(LDFLAGS) -linih

bench/gemload: bench/gemload.c
	$(CC) $(CFLAGS) -pthread -o $@ bench/gemload.c $(LDFLAGS) $(SSL_LIBS) -pthread

# the shared per-client table's lock, alone (bench/README.md)
bench/limits: bench/limits.c src/shared.o src/limit.o
	$(CC) $(CFLAGS) -Isrc -o $@ bench/limits.c src/shared.o src/limit.o $(LDFLAGS)

# a worker's counting and its access-log line, alone (bench/README.md)
bench/counting: bench/counting.c $(METRICS_DEPS)
	$(CC) $(CFLAGS) -Isrc -o $@ bench/counting.c $(METRICS_DEPS) $(LDFLAGS)

# OpenSSL's floor: capsuled's own TLS context, in memory (bench/README.md)
bench/floor: bench/floor.c src/tlsctx.o src/hello.o $(CONFIG_OBJS)
	$(CC) $(CFLAGS) -Isrc -o $@ bench/floor.c src/tlsctx.o src/hello.o \
	    $(CONFIG_OBJS) $(LDFLAGS) $(PKG_LIBS)

tests/unit/url_test: tests/unit/url_test.c src/url.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/url_test.c src/url.o $(LDFLAGS)
tests/unit/request_test: tests/unit/request_test.c src/request.o src/url.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/request_test.c src/request.o src/url.o $(LDFLAGS)
tests/unit/config_test: tests/unit/config_test.c $(CONFIG_OBJS) tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/config_test.c $(CONFIG_OBJS) $(LDFLAGS) $(PKG_LIBS)
tests/unit/rules_test: tests/unit/rules_test.c src/rules.o src/url.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/rules_test.c src/rules.o src/url.o $(LDFLAGS)
tests/unit/feed_test: tests/unit/feed_test.c tests/unit/files.h src/feed.o src/fs.o $(CONFIG_OBJS) tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/feed_test.c src/feed.o src/fs.o $(CONFIG_OBJS) $(LDFLAGS) $(PKG_LIBS)

tests/unit/latest_test: tests/unit/latest_test.c tests/unit/files.h src/latest.o src/feed.o src/fs.o $(CONFIG_OBJS) tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/latest_test.c src/latest.o src/feed.o src/fs.o $(CONFIG_OBJS) $(LDFLAGS) $(PKG_LIBS)
tests/unit/titan_test: tests/unit/titan_test.c src/titan.o src/request.o src/url.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/titan_test.c src/titan.o src/request.o src/url.o $(LDFLAGS)
tests/unit/certlist_test: tests/unit/certlist_test.c src/certlist.o src/url.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/certlist_test.c src/certlist.o src/url.o $(LDFLAGS)

tests/unit/hello_test: tests/unit/hello_test.c src/hello.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/hello_test.c src/hello.o $(LDFLAGS)

# the routing table without the engine: no conn.o, no server.o
ROUTE_OBJS =	src/route.o src/plan.o src/access.o src/certlist.o src/cgi.o \
		src/cgivars.o \
		src/cgijob.o src/fdpass.o src/upload.o src/titan.o \
		src/request.o src/url.o src/config.o src/rules.o src/fs.o \
		src/upstream.o src/upstep.o src/upjob.o src/upconn.o \
		src/fcgi.o src/scgi.o src/proxy.o \
		src/feed.o src/latest.o src/mime.o src/log.o src/logfmt.o \
		src/metrics.o src/shared.o src/limit.o src/tlsctx.o src/hello.o
tests/unit/route_test: tests/unit/route_test.c tests/unit/files.h $(ROUTE_OBJS) tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/route_test.c $(ROUTE_OBJS) $(LDFLAGS) $(PKG_LIBS)
# read(2) wrapped: the script ends between the job's two reads
tests/unit/cgijob_test: tests/unit/cgijob_test.c $(ROUTE_OBJS) tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/cgijob_test.c $(ROUTE_OBJS) \
	    $(LDFLAGS) -Wl,--wrap=read $(PKG_LIBS)

tests/unit/fcgi_test: tests/unit/fcgi_test.c src/fcgi.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/fcgi_test.c src/fcgi.o $(LDFLAGS)
tests/unit/scgi_test: tests/unit/scgi_test.c src/scgi.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/scgi_test.c src/scgi.o $(LDFLAGS)

tests/unit/upstream_test: tests/unit/upstream_test.c src/upstream.o src/rules.o src/certlist.o src/url.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/upstream_test.c src/upstream.o src/rules.o src/certlist.o src/url.o $(LDFLAGS)

tests/unit/limit_test: tests/unit/limit_test.c src/limit.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/limit_test.c src/limit.o $(LDFLAGS)

# Fuzzing: every tests/fuzz/fuzz_NAME.c with its corpus tests/corpus/NAME
# (see mk/fuzz.sh).  `make fuzz` runs each with libFuzzer (clang) for
# FUZZ_SECONDS (FUZZTIME works too); `make check` replays every corpus.
# What the targets may call: the pure modules, and feed.c with fs.c.
FUZZ_SRCS =	$(PURE:.o=.c) src/feed.c src/fs.c
FUZZTIME ?=	60
FUZZ_SECONDS ?=	$(FUZZTIME)
FUZZCC ?=	clang
FUZZ_ENV =	CC="$(CC)" CFLAGS="$(CFLAGS)" LDFLAGS="$(LDFLAGS)" \
		LIBS="$(PKG_LIBS)" FUZZ_SRCS="$(FUZZ_SRCS)" \
		FUZZ_SECONDS="$(FUZZ_SECONDS)" FUZZ_CC="$(FUZZCC)"

fuzz: deps
	@$(FUZZ_ENV) sh mk/fuzz.sh run

fuzz-regress:
	@$(FUZZ_ENV) sh mk/fuzz.sh regress

tests/unit/listing_test: tests/unit/listing_test.c src/fs.o src/url.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/listing_test.c src/fs.o src/url.o $(LDFLAGS)

tests/unit/log_test: tests/unit/log_test.c src/logfmt.o src/url.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/log_test.c src/logfmt.o src/url.o $(LDFLAGS)

tests/unit/metrics_test: tests/unit/metrics_test.c $(METRICS_DEPS) tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/metrics_test.c $(METRICS_DEPS) $(LDFLAGS)

tests/unit/proxy_test: tests/unit/proxy_test.c src/proxy.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/proxy_test.c src/proxy.o $(LDFLAGS)

# The self-signed certificate `make run` serves with: made by capsuled
# itself on first start (it generates missing cert/key files).
run: all
	./capsuled -d -c etc/run.ini

check: deps
	@sh mk/deps.sh check
	@sh mk/floors.sh
	@$(MAKE) -s build $(UNIT) fuzz-regress
	@sh tests/run

# The whole of `make check` again with LibreSSL, OpenBSD's TLS library,
# built static from a release tarball into a cache outside the clone and
# reused while the tarball is the same; capsuled is built against it in
# a copy of the tree (tmp/libressl), so the objects here stay OpenSSL's.
# mk/libressl.sh says more (LIBRESSL_CACHE, LIBRESSL_BUILD).
LIBRESSL_TARBALL ?= ../shared/libressl/libressl-4.3.2.tar.gz
check-libressl: deps
	@sh mk/deps.sh check
	@LIBRESSL_TARBALL="$(LIBRESSL_TARBALL)" MAKE="$(MAKE)" \
	    sh mk/libressl.sh

# capsuled and molly-brown side by side: server CPU per request and more.
bench: all
	sh bench/run.sh

# Static analysis: cppcheck and clang-tidy (config in .clang-tidy).
LINT_DEFS =	-D_GNU_SOURCE -DSYSCONFDIR=\"/etc\" -DCAPSULED_VERSION=\"lint\"
lint:
	sh mk/floors.sh
	cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 \
	    --enable=warning,performance,portability -D__linux__ \
	    $(LINT_DEFS) -I src src src/strike bench
	clang-tidy --quiet src/*.c src/strike/*.c bench/*.c -- -std=c11 \
	    $(LINT_DEFS) $(PKG_CFLAGS) -Isrc
	@# the OpenBSD branches, compiled for syntax and types only
	for f in `grep -l __OpenBSD__ src/*.c`; do \
	    $(CC) -fsyntax-only $(CFLAGS) -U__linux__ -D__OpenBSD__ \
	    -include mk/openbsd.h $$f || exit 1; done

# install and uninstall: POSIX make and sh only, so BSD make runs them
# too.  The service file goes where this system's init looks (rc.d on
# OpenBSD, a systemd unit elsewhere); both are kept with the examples.
# The paths in the service files and man pages follow the variables.
SED_PATHS =	sed -e 's|/usr/local/sbin|$(BINDIR)|g' \
		    -e 's|/usr/local/libexec/capsuled|$(LIBEXECDIR)|g' \
		    -e 's|/usr/local/share/examples/capsuled|$(EXAMPLEDIR)|g' \
		    -e 's|/etc/capsuled.ini|$(SYSCONFDIR)/capsuled.ini|g'

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(EXAMPLEDIR) $(DESTDIR)$(SYSCONFDIR)
	$(INSTALL) -m 0755 capsuled $(DESTDIR)$(BINDIR)/capsuled
	$(INSTALL) -m 0755 $(STRIKE) $(DESTDIR)$(LIBEXECDIR)/strike
	$(SED_PATHS) man/capsuled.8 >$(DESTDIR)$(MANDIR)/man8/capsuled.8
	$(SED_PATHS) man/capsuled.ini.5 >$(DESTDIR)$(MANDIR)/man5/capsuled.ini.5
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/capsuled.8 \
	    $(DESTDIR)$(MANDIR)/man5/capsuled.ini.5
	$(INSTALL) -m 0644 etc/capsuled.ini $(DESTDIR)$(EXAMPLEDIR)/capsuled.ini
	$(INSTALL) -m 0644 capsule/.data/disputes.ini \
	    $(DESTDIR)$(EXAMPLEDIR)/disputes.ini
	$(INSTALL) -m 0644 etc/admins.example $(DESTDIR)$(EXAMPLEDIR)/admins
	$(SED_PATHS) etc/capsuled.service >$(DESTDIR)$(EXAMPLEDIR)/capsuled.service
	$(SED_PATHS) etc/rc.d/capsuled >$(DESTDIR)$(EXAMPLEDIR)/capsuled.rc
	chmod 0644 $(DESTDIR)$(EXAMPLEDIR)/capsuled.service
	chmod 0755 $(DESTDIR)$(EXAMPLEDIR)/capsuled.rc
	@if [ -f $(DESTDIR)$(SYSCONFDIR)/capsuled.ini ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/capsuled.ini"; \
	else \
		echo "$(INSTALL) -m 0644 etc/capsuled.ini $(DESTDIR)$(SYSCONFDIR)/capsuled.ini"; \
		$(INSTALL) -m 0644 etc/capsuled.ini $(DESTDIR)$(SYSCONFDIR)/capsuled.ini; \
	fi
	@if [ "`uname -s`" = OpenBSD ]; then \
		echo "$(INSTALL) -m 0555 capsuled.rc $(DESTDIR)$(RCDIR)/capsuled"; \
		$(INSTALL) -d $(DESTDIR)$(RCDIR) && \
		$(INSTALL) -m 0555 $(DESTDIR)$(EXAMPLEDIR)/capsuled.rc \
		    $(DESTDIR)$(RCDIR)/capsuled; \
	else \
		echo "$(INSTALL) -m 0644 capsuled.service $(DESTDIR)$(UNITDIR)/capsuled.service"; \
		$(INSTALL) -d $(DESTDIR)$(UNITDIR) && \
		$(INSTALL) -m 0644 $(DESTDIR)$(EXAMPLEDIR)/capsuled.service \
		    $(DESTDIR)$(UNITDIR)/capsuled.service; \
	fi

# Leaves $(SYSCONFDIR)/capsuled.ini: it is the admin's config by now.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/capsuled $(DESTDIR)$(LIBEXECDIR)/strike \
	    $(DESTDIR)$(MANDIR)/man8/capsuled.8 \
	    $(DESTDIR)$(MANDIR)/man5/capsuled.ini.5 \
	    $(DESTDIR)$(EXAMPLEDIR)/capsuled.ini \
	    $(DESTDIR)$(EXAMPLEDIR)/disputes.ini \
	    $(DESTDIR)$(EXAMPLEDIR)/admins \
	    $(DESTDIR)$(EXAMPLEDIR)/capsuled.service \
	    $(DESTDIR)$(EXAMPLEDIR)/capsuled.rc \
	    $(DESTDIR)$(UNITDIR)/capsuled.service $(DESTDIR)$(RCDIR)/capsuled
	-rmdir $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(EXAMPLEDIR) 2>/dev/null

# The Debian package (debian/): built by dpkg-buildpackage from a copy
# of the tree and checked by lintian; the .deb lands in $(DEBOUT).  As
# root on Debian, what the build needs is installed first (mk/deps.sh).
DEBOUT ?=	dist
deb:
	@sh mk/deps.sh deb
	@sh mk/deb.sh $(DEBOUT)

.PHONY: deb

# mandoc -Tlint, less the two messages that depend on which manuals this
# machine has installed (relayd(8) is OpenBSD's; capsuled.ini(5) is ours
# and not installed yet), so the result is the same everywhere.
lint-man:
	@out=`mandoc -Tlint man/capsuled.8 man/capsuled.ini.5 2>&1 | \
	    grep -v -e 'referenced manual not found' -e 'outdated mandoc.db'`; \
	    if [ -n "$$out" ]; then echo "$$out"; exit 1; fi

clean:
	rm -f capsuled src/*.o $(STRIKE) $(TOOLS) $(UNIT)
	@sh mk/fuzz.sh clean

.PHONY: all build deps run check check-libressl bench lint lint-man install \
	uninstall clean fuzz fuzz-regress
