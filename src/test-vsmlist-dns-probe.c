/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* test-vsmlist-dns-probe [-d] [-s host:port ...] [-t msecs] NAME...

   Runs one discovery: vsmlist_dns_begin(), then TXT NAME for each NAME in
   order. Prints per name one line

     NAME status=ok|nxdomain|temperror ttl=N txts=["...",...] error=...

   (the TXTs as JSON strings, each byte outside printable ASCII as \u00XX;
   the error, possibly empty, runs to the end of the line), then

     queries=N elapsed_ms=N

   -d logs the module's debug lines to stderr. Exit code 0 unless a lookup
   had an internal error (2) or the usage was wrong (1). */

#include "lib.h"
#include "array.h"
#include "str.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "vsmlist-dns.h"

static const char *const status_names[] = {
	[VSMLIST_DNS_OK] = "ok",
	[VSMLIST_DNS_NXDOMAIN] = "nxdomain",
	[VSMLIST_DNS_TEMPERROR] = "temperror",
};

static void json_append_str(string_t *dest, const char *src)
{
	const unsigned char *p;

	str_append_c(dest, '"');
	for (p = (const unsigned char *)src; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			str_append_c(dest, '\\');
			str_append_c(dest, *p);
		} else if (*p < 0x20 || *p >= 0x7f) {
			str_printfa(dest, "\\u%04x", *p);
		} else {
			str_append_c(dest, *p);
		}
	}
	str_append_c(dest, '"');
}

static uint64_t now_msecs(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		i_fatal("clock_gettime() failed: %m");
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void)
{
	fprintf(stderr, "Usage: test-vsmlist-dns-probe [-d] "
		"[-s host[:port]]... [-t msecs] NAME...\n");
	exit(1);
}

int main(int argc, char *argv[])
{
	struct vsmlist_dns_settings set;
	struct vsmlist_dns_answer answer;
	struct vsmlist_dns *dns;
	struct event *event;
	string_t *servers, *line;
	const char *error, *const *txt;
	uint64_t start;
	int c, ret = 0;

	lib_init();
	i_zero(&set);
	set.timeout_msecs = 5000;
	servers = str_new(default_pool, 64);
	event = event_create(NULL);

	while ((c = getopt(argc, argv, "ds:t:")) > 0) {
		switch (c) {
		case 'd':
			event_set_forced_debug(event, TRUE);
			break;
		case 's':
			if (str_len(servers) > 0)
				str_append_c(servers, ' ');
			str_append(servers, optarg);
			break;
		case 't':
			if (str_to_uint(optarg, &set.timeout_msecs) < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	set.servers = str_c(servers);

	if (vsmlist_dns_init(&set, event, &dns, &error) < 0)
		i_fatal("%s", error);

	start = now_msecs();
	vsmlist_dns_begin(dns);
	line = str_new(default_pool, 256);
	for (; optind < argc; optind++) T_BEGIN {
		if (vsmlist_dns_lookup_txt(dns, argv[optind],
					   pool_datastack_create(),
					   &answer) < 0) {
			ret = 2;
		} else {
			str_truncate(line, 0);
			str_printfa(line, "%s status=%s ttl=%u txts=[",
				    argv[optind], status_names[answer.status],
				    answer.ttl_secs);
			array_foreach(&answer.txts, txt) {
				if (txt != array_front(&answer.txts))
					str_append_c(line, ',');
				json_append_str(line, *txt);
			}
			str_printfa(line, "] error=%s",
				    answer.error == NULL ? "" : answer.error);
			printf("%s\n", str_c(line));
		}
	} T_END;
	printf("queries=%u elapsed_ms=%llu\n",
	       vsmlist_dns_get_query_count(dns),
	       (unsigned long long)(now_msecs() - start));
	fflush(stdout);

	vsmlist_dns_deinit(&dns);
	event_unref(&event);
	str_free(&line);
	str_free(&servers);
	lib_deinit();
	return ret;
}
