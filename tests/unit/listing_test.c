/*
 * listing_test.c: fs_listing and its cache, on a real directory.  A
 * listing is made again exactly when what it shows may have changed: an
 * entry added or removed (the directory's stat), a directory changed in
 * the last seconds (racy), or a symlink among the entries.  A listing
 * reads at most max names, and says when the directory has more.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "tap.h"

static int	rootfd, dfd;
static size_t	max_entries = 1000;

/* Put the directory's times `ago` seconds back: not racy any more. */
static void
age_dir(time_t ago)
{
	struct timespec	ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - ago;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (futimens(dfd, ts) == -1)
		abort();
}

static void
touch(const char *name)
{
	int	fd;

	if ((fd = openat(dfd, name, O_WRONLY | O_CREAT, 0644)) == -1)
		abort();
	close(fd);
}

static fs_hide_fn	 hide;
static char		 hide_arg[32];	/* a name hide() leaves out */

static int
hide_named(void *arg, const char *path)
{
	return strcmp(path + 3, (const char *)arg) == 0;	/* "/d/" */
}

/* The listing of /d/, and how many listings were made meanwhile. */
static char *
list(unsigned long *made)
{
	struct fs_stats	 a, b;
	char		*out;
	size_t		 len;

	fs_get_stats(&a);
	if (fs_listing(rootfd, dfd, "/d/", max_entries, hide, hide_arg, &out,
	    &len) == -1)
		abort();
	fs_get_stats(&b);
	*made = b.listings_made - a.listings_made;
	if (strlen(out) != len)
		abort();
	return out;
}

static void
check(const char *name, int want_made, const char *has, const char *lacks)
{
	unsigned long	 made;
	char		*body = list(&made);

	ok((int)made == want_made && (has == NULL || strstr(body, has)) &&
	    (lacks == NULL || !strstr(body, lacks)), "%s (made %lu)", name,
	    made);
	free(body);
}

/* Two entries at most, whichever the directory gives first. */
static void
capped_has_two(void)
{
	unsigned long	 made;
	char		*body = list(&made), *p;
	int		 n = 0;

	for (p = body; (p = strstr(p, "\n=> ")) != NULL; p++)
		n++;
	ok(n == 2 + 1, "capped: two entries and the parent (%d links)", n);
	free(body);
}

int
main(void)
{
	char	tmpl[] = "/tmp/listing_test.XXXXXX";
	int	fd;

	if (mkdtemp(tmpl) == NULL || (rootfd = open(tmpl, O_RDONLY |
	    O_DIRECTORY)) == -1 || mkdirat(rootfd, "d", 0755) == -1 ||
	    (dfd = openat(rootfd, "d", O_RDONLY | O_DIRECTORY)) == -1)
		abort();
	touch("one.gmi");
	touch("two.gmi");
	age_dir(10);

	check("first request: made", 1, "=> two.gmi two.gmi", NULL);
	check("unchanged: from the cache", 0, "=> one.gmi one.gmi", NULL);

	touch("three.gmi");
	age_dir(9);
	check("an entry added: made again", 1, "three.gmi", NULL);
	check("then cached again", 0, "three.gmi", NULL);

	unlinkat(dfd, "one.gmi", 0);
	age_dir(8);
	check("an entry removed: made again", 1, NULL, "one.gmi");

	touch("four.gmi");	/* the directory's mtime is now: racy */
	check("changed just now: made", 1, "four.gmi", NULL);
	check("still racy: made again", 1, "four.gmi", NULL);
	age_dir(7);
	check("older: made once more", 1, "four.gmi", NULL);
	check("then from the cache", 0, "four.gmi", NULL);

	/* a link to a file outside this directory (inside the root) */
	if ((fd = openat(rootfd, "out.gmi", O_WRONLY | O_CREAT, 0644)) == -1 ||
	    close(fd) == -1 || symlinkat("../out.gmi", dfd, "link.gmi") == -1)
		abort();
	age_dir(6);
	check("with a symlink: made", 1, "=> link.gmi link.gmi", NULL);
	check("with a symlink: never kept", 1, "link.gmi", NULL);
	unlinkat(rootfd, "out.gmi", 0);	/* this directory does not change */
	check("the link's target gone: the link goes too", 1, NULL,
	    "link.gmi");

	/* two.gmi four.gmi link.gmi (gone: not listed) three.gmi */
	unlinkat(dfd, "link.gmi", 0);
	touch("five.gmi");
	age_dir(5);
	max_entries = 2;
	check("capped: a note says there are more", 1, "has more entries",
	    NULL);
	check("capped: the listing is kept too", 0, "has more entries", NULL);
	capped_has_two();
	max_entries = 4;
	check("another cap is another listing", 1, "two.gmi",
	    "has more entries");
	max_entries = 1000;

	hide = hide_named;
	memcpy(hide_arg, "two.gmi", sizeof("two.gmi"));
	check("a name the caller hides is left out", 1, "five.gmi", "two.gmi");
	check("and the listing is kept for that caller", 0, "five.gmi",
	    "two.gmi");
	hide = NULL;
	check("another caller's is another listing", 1, "two.gmi", NULL);

	unlinkat(dfd, "five.gmi", 0);
	unlinkat(dfd, "three.gmi", 0);
	unlinkat(dfd, "four.gmi", 0);
	close(dfd);
	unlinkat(rootfd, "d", AT_REMOVEDIR);
	close(rootfd);
	rmdir(tmpl);
	return tap_done();
}
