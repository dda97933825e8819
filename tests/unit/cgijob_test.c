/*
 * cgijob_test.c: a CGI script that ends between the job's two reads.
 *
 * The job reads the script's stdout, finds nothing (EAGAIN), then asks
 * the runner's control socket whether the script has ended.  A script
 * that writes and exits in between is "ended" by then, with what it
 * wrote in the pipe: the job must read it, not take the EAGAIN read
 * before for all there was (42 "ended without output" for the header,
 * a body cut short and logged whole for the rest).
 *
 * Linked with -Wl,--wrap=read: the wrapper stands for the script and
 * the runner at exactly that moment (the race is too narrow to hit on
 * purpose with real processes).
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgijob.h"
#include "tap.h"

ssize_t	__real_read(int, void *, size_t);
ssize_t	__wrap_read(int, void *, size_t);

static int	 race_fd = -1;		/* the next read of it finds nothing */
static int	 job_out;		/* the job's end of the script's stdout */
static int	 script_out, runner_ctl;	/* the script's and runner's ends */
static const char *late;		/* what the script writes meanwhile */

ssize_t
__wrap_read(int fd, void *buf, size_t len)
{
	if (fd != race_fd)
		return __real_read(fd, buf, len);
	race_fd = -1;
	/* after this read found the pipe empty: the script writes, exits */
	if (write(script_out, late, strlen(late)) != (ssize_t)strlen(late) ||
	    write(runner_ctl, "exit 0\n", 7) != 7)
		return -1;
	close(script_out);
	close(runner_ctl);
	errno = EAGAIN;
	return -1;
}

/* A job on a fresh pipe and control socket; first: written beforehand. */
static struct cgi_job *
job(const char *first)
{
	int	p[2], s[2];

	if (pipe2(p, O_NONBLOCK) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s) == -1)
		return NULL;
	if (first != NULL && write(p[1], first, strlen(first)) !=
	    (ssize_t)strlen(first))
		return NULL;
	job_out = p[0];
	script_out = p[1];
	runner_ctl = s[1];
	return cgi_job_new(p[0], s[0], "race", "127.0.0.0", 5000, 1 << 20);
}

static void
test_output_written_as_the_script_ends_is_the_header(void)
{
	struct cgi_job		*j = job(NULL);
	struct plan_wait	 w;
	char			 meta[URL_MAX + 1], body[64];
	ssize_t			 n;
	int			 r, status = 0, cut = 1;

	late = "20 text/plain\r\nhello\n";
	race_fd = job_out;
	r = cgi_stream.header(j, 0, &status, meta, &w);
	ok(r == 1 && status == 20 && strcmp(meta, "text/plain") == 0,
	    "output written as the script ends is its header, not 42 "
	    "(got %d %s)", status, meta);
	n = cgi_stream.read(j, body, sizeof(body), 0, &cut, &w);
	ok(n == 6 && memcmp(body, "hello\n", 6) == 0,
	    "and its body follows");
	ok(cgi_stream.read(j, body, sizeof(body), 0, &cut, &w) == -1 && !cut,
	    "then the body is over, whole");
	cgi_stream.finish(j);
}

static void
test_output_written_as_the_script_ends_is_all_sent(void)
{
	struct cgi_job		*j = job("20 text/plain\r\n");
	struct plan_wait	 w;
	char			 meta[URL_MAX + 1], body[64];
	ssize_t			 n;
	int			 status = 0, cut = 1;

	ok(cgi_stream.header(j, 0, &status, meta, &w) == 1 && status == 20,
	    "the header, written before");
	late = "the rest\n";
	race_fd = job_out;
	n = cgi_stream.read(j, body, sizeof(body), 0, &cut, &w);
	ok(n == 9 && memcmp(body, "the rest\n", 9) == 0,
	    "the body written as the script ends is sent, not dropped "
	    "(got %zd)", n);
	ok(cgi_stream.read(j, body, sizeof(body), 0, &cut, &w) == -1 && !cut,
	    "then the body is over, whole");
	cgi_stream.finish(j);
}

int
main(void)
{
	test_output_written_as_the_script_ends_is_the_header();
	test_output_written_as_the_script_ends_is_all_sent();
	return tap_done();
}
