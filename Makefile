# capsuled: a Gemini server.  `make`, `make run`, `make check`, `make bench`.
# POSIX make where possible; `!=` works in GNU make >= 4 and BSD make.

VERSION =	0.1
PREFIX ?=	/usr/local
BINDIR ?=	$(PREFIX)/sbin
LIBEXECDIR ?=	$(PREFIX)/libexec/capsuled
MANDIR ?=	$(PREFIX)/man
SYSCONFDIR ?=	/etc
DESTDIR ?=

CC ?=		cc
PKGS =		openssl libevent inih libmagic
PKG_CFLAGS !=	pkg-config --cflags $(PKGS) 2>/dev/null || true
PKG_LIBS !=	pkg-config --libs $(PKGS) 2>/dev/null || true
WARN =		-Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
		-Wmissing-prototypes -Wformat=2
OPT ?=		-O2 -g
SAN ?=
CFLAGS +=	-std=c11 -D_GNU_SOURCE -D_DEFAULT_SOURCE $(WARN) $(OPT) $(SAN) \
		-DSYSCONFDIR=\"$(SYSCONFDIR)\" -DCAPSULED_VERSION=\"$(VERSION)\" \
		$(PKG_CFLAGS)
LDFLAGS +=	$(SAN)

PURE =		src/url.o src/request.o src/config.o
OBJS =		$(PURE) src/main.o src/tls.o src/server.o src/fs.o src/mime.o \
		src/log.o src/route.o src/cgi.o src/runner.o src/netbio.o
HDRS =		src/*.h

UNIT =		tests/unit/url_test tests/unit/request_test tests/unit/config_test
STRIKE =	capsule/cgi-bin/strike
TOOLS =		bench/gemload bench/floor

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
	$(CC) $(CFLAGS) -pthread -o $@ bench/gemload.c $(LDFLAGS) -lssl -lcrypto -pthread

# OpenSSL's floor: capsuled's own TLS context, in memory (bench/README.md)
bench/floor: bench/floor.c src/tls.o src/config.o src/url.o
	$(CC) $(CFLAGS) -Isrc -o $@ bench/floor.c src/tls.o src/config.o \
	    src/url.o $(LDFLAGS) $(PKG_LIBS)

tests/unit/url_test: tests/unit/url_test.c src/url.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/url_test.c src/url.o $(LDFLAGS)
tests/unit/request_test: tests/unit/request_test.c src/request.o src/url.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/request_test.c src/request.o src/url.o $(LDFLAGS)
tests/unit/config_test: tests/unit/config_test.c src/config.o src/url.o tests/unit/tap.h
	$(CC) $(CFLAGS) -Isrc -o $@ tests/unit/config_test.c src/config.o src/url.o $(LDFLAGS) $(PKG_LIBS)

# The self-signed certificate `make run` serves with: made by capsuled
# itself on first start (it generates missing cert/key files).
run: all
	./capsuled -d -c etc/run.ini

check: deps
	@sh mk/deps.sh check
	@$(MAKE) -s build $(UNIT)
	@sh tests/run

# capsuled and molly-brown side by side: server CPU per request and more.
bench: all
	sh bench/run.sh

# Static analysis: cppcheck and clang-tidy (config in .clang-tidy).
LINT_DEFS =	-D_GNU_SOURCE -DSYSCONFDIR=\"/etc\" -DCAPSULED_VERSION=\"lint\"
lint:
	cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 \
	    --enable=warning,performance,portability -D__linux__ \
	    $(LINT_DEFS) -I src src src/strike bench
	clang-tidy --quiet src/*.c src/strike/*.c bench/*.c -- -std=c11 \
	    $(LINT_DEFS) $(PKG_CFLAGS) -Isrc

clean:
	rm -f capsuled src/*.o $(STRIKE) $(TOOLS) $(UNIT)

.PHONY: all build deps run check bench lint clean
