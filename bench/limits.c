/*
 * bench/limits.c: what the shared per-client table costs (issue 11).
 *
 *	bench/limits [-n count] [-p procs]
 *
 * procs processes (default 2: this machine's workers) each do count
 * times (default 2,000,000) what a worker does per request with every
 * limit on: open a connection, one request, close; all from one client
 * address (the worst case: one slot, one lock, every process on it).
 * Prints the CPU time per request, first with a table of each process's
 * own (the old way, no lock), then with the one shared table.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "limit.h"
#include "shared.h"

static double
cpu_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void
one(int shared, long count, int out)
{
	struct sockaddr_in	 sin;
	struct limit_rate	 r = { 1000000000, 1, 1000000000 };
	struct limit_key	 k;
	struct limits		*l = NULL;
	double			 t0, ns;
	long			 i;
	int			 slot;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7f000001);
	if (!shared && ((l = limits_new(8192, 1)) == NULL ||
	    limit_key((struct sockaddr *)&sin, sizeof(sin), &k) == -1))
		_exit(1);
	t0 = cpu_ns();
	for (i = 0; i < count; i++) {
		if (shared) {
			slot = shared_limits_open((struct sockaddr *)&sin,
			    sizeof(sin), 1000, i);
			(void)shared_limits_request(slot, &r, i);
			shared_limits_close(slot);
		} else {
			slot = limits_open(l, &k, 1000, i);
			(void)limits_request(l, slot, &r, i);
			limits_close(l, slot);
		}
	}
	ns = (cpu_ns() - t0) / (double)count;
	if (write(out, &ns, sizeof(ns)) != sizeof(ns))
		_exit(1);
	_exit(0);
}

static double
run(int shared, int procs, long count)
{
	double	ns, sum = 0;
	int	p[2], i;

	if (pipe(p) == -1)
		exit(1);
	for (i = 0; i < procs; i++)
		if (fork() == 0) {
			shared_slot_mine(i);
			one(shared, count, p[1]);
		}
	close(p[1]);
	for (i = 0; i < procs; i++) {
		if (read(p[0], &ns, sizeof(ns)) != sizeof(ns))
			exit(1);
		sum += ns;
	}
	close(p[0]);
	while (wait(NULL) > 0)
		;
	return sum / procs;
}

int
main(int argc, char *argv[])
{
	char	err[256];
	long	count = 2000000;
	int	ch, procs = 2;

	while ((ch = getopt(argc, argv, "n:p:")) != -1) {
		if (ch == 'n')
			count = atol(optarg);
		else if (ch == 'p')
			procs = atoi(optarg);
		else {
			fprintf(stderr, "usage: limits [-n count] [-p procs]\n");
			return 2;
		}
	}
	if (count < 1 || procs < 1 || procs > 64 ||
	    shared_init((size_t)procs * 1024, err, sizeof(err)) == -1) {
		fprintf(stderr, "limits: %s\n", count < 1 || procs < 1 ||
		    procs > 64 ? "bad -n or -p" : err);
		return 1;
	}
	printf("%d processes, %ld requests each, one client:\n", procs, count);
	printf("  a table per process:  %6.1f ns CPU per request\n",
	    run(0, procs, count));
	printf("  one shared table:     %6.1f ns CPU per request\n",
	    run(1, procs, count));
	return 0;
}
