/*
 * mime.c: the host's `mime` rules first, then the extension table,
 * then libmagic (cached).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <magic.h>

#include "mime.h"
#include "rules.h"

#define DEFAULT_TYPE	"application/octet-stream"
#define SNIFF_BYTES	4096	/* what libmagic gets to look at */
#define CACHE_SLOTS	256

static const struct {
	const char	*ext;
	const char	*type;
} types[] = {
	{ "gmi",	"text/gemini" },
	{ "gemini",	"text/gemini" },
	{ "txt",	"text/plain; charset=utf-8" },
	{ "md",		"text/markdown; charset=utf-8" },
	{ "html",	"text/html; charset=utf-8" },
	{ "htm",	"text/html; charset=utf-8" },
	{ "css",	"text/css" },
	{ "csv",	"text/csv; charset=utf-8" },
	{ "xml",	"application/xml" },
	{ "atom",	"application/atom+xml" },
	{ "rss",	"application/rss+xml" },
	{ "json",	"application/json" },
	{ "pdf",	"application/pdf" },
	{ "zip",	"application/zip" },
	{ "gz",		"application/gzip" },
	{ "tar",	"application/x-tar" },
	{ "png",	"image/png" },
	{ "jpg",	"image/jpeg" },
	{ "jpeg",	"image/jpeg" },
	{ "gif",	"image/gif" },
	{ "webp",	"image/webp" },
	{ "svg",	"image/svg+xml" },
	{ "ico",	"image/vnd.microsoft.icon" },
	{ "mp3",	"audio/mpeg" },
	{ "ogg",	"audio/ogg" },
	{ "opus",	"audio/opus" },
	{ "flac",	"audio/flac" },
	{ "wav",	"audio/wav" },
	{ "mp4",	"video/mp4" },
	{ "webm",	"video/webm" },
	{ "epub",	"application/epub+zip" },
	{ "odt",	"application/vnd.oasis.opendocument.text" },
	{ "docx",	"application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
	{ "pem",	"application/x-pem-file" },
};

struct cache_slot {
	dev_t	dev;
	ino_t	ino;
	time_t	mtime;
	off_t	size;
	char	type[128];
};

static magic_t			 magic;
static struct cache_slot	 cache[CACHE_SLOTS];

int
mime_init(void)
{
	if (magic != NULL)
		return 0;
	if ((magic = magic_open(MAGIC_MIME | MAGIC_ERROR)) == NULL)
		return -1;
	if (magic_load(magic, NULL) == -1) {
		magic_close(magic);
		magic = NULL;
		return -1;
	}
	return 0;
}

const char *
mime_by_name(const char *name)
{
	const char	*dot = strrchr(name, '.');
	size_t		 i;

	if (dot == NULL || dot == name || strchr(dot, '/') != NULL)
		return NULL;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot + 1, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

const char *
mime_extension(const char *type)
{
	size_t	i, n = strlen(type);

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strncasecmp(types[i].type, type, n) == 0 &&
		    (types[i].type[n] == '\0' || types[i].type[n] == ';'))
			return types[i].ext;
	return NULL;
}

static struct cache_slot *
cache_slot(const struct stat *st)
{
	uint64_t h = (uint64_t)st->st_ino * 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)st->st_dev;

	return &cache[(h >> 32) % CACHE_SLOTS];
}

/* libmagic on the first bytes, read with pread: the offset stays 0. */
static const char *
sniff(int fd, const struct stat *st)
{
	struct cache_slot	*c = cache_slot(st);
	char			 buf[SNIFF_BYTES];
	const char		*t;
	ssize_t			 n;

	if (c->ino == st->st_ino && c->dev == st->st_dev &&
	    c->mtime == st->st_mtime && c->size == st->st_size &&
	    c->type[0] != '\0')
		return c->type;
	if (magic == NULL || (n = pread(fd, buf, sizeof(buf), 0)) < 0)
		return DEFAULT_TYPE;
	if ((t = magic_buffer(magic, buf, n)) == NULL ||
	    strlen(t) >= sizeof(c->type) || strchr(t, '\n') != NULL)
		return DEFAULT_TYPE;
	memcpy(c->type, t, strlen(t) + 1);
	/* a charset means something for text only: "application/pdf" */
	if (strncmp(t, "text/", 5) != 0)
		c->type[strcspn(c->type, ";")] = '\0';
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->mtime = st->st_mtime;
	c->size = st->st_size;
	return c->type;
}

const char *
mime_for_file(const struct rules *rs, const char *name, int fd,
    const struct stat *st)
{
	const char	*t;

	if (rs != NULL && (t = rules_mime(rs, name)) != NULL)
		return t;
	if ((t = mime_by_name(name)) != NULL)
		return t;
	return sniff(fd, st);
}
