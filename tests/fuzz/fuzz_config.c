/*
 * fuzz_config.c: libFuzzer target for the configuration parser.
 *
 * The input is a whole config file.  Beyond "no crash, no leak" it
 * checks what config.h promises: on success every host has a root, a
 * cert and a key and there is a listen address; on failure the message
 * names the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_ok(const struct config *cf)
{
	size_t	i;

	if (cf->nhosts == 0 || cf->nlisten == 0 ||
	    cf->nlisten > CONFIG_MAX_LISTEN)
		abort();
	for (i = 0; i < cf->nhosts; i++) {
		if (cf->hosts[i].root[0] == '\0' ||
		    cf->hosts[i].cert[0] == '\0' ||
		    cf->hosts[i].key[0] == '\0' ||
		    cf->hosts[i].nfeeds > CONFIG_MAX_FEEDS)
			abort();
		if (config_find_host(cf, cf->hosts[i].name) == NULL)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cf;
	char		*text, err[CONFIG_ERR_MAX];

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	if (config_parse_string(text, "fuzz.ini", "/fuzz", &cf, err,
	    sizeof(err)) == 0) {
		check_ok(&cf);
		config_free(&cf);
	} else if (strncmp(err, "fuzz.ini", 8) != 0)
		abort();
	free(text);
	return 0;
}
