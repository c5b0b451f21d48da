/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* vsmlist-dmarc: what would a list decide for this domain?

   vsmlist-dmarc [-d] [-s host[:port]]... [-t timeout] [-p psl-file] DOMAIN...

   One line per domain: "DOMAIN policy=<none|quarantine|reject|nopolicy|
   temperror>" followed by each method's result, the policy and
   organizational domains and the number of DNS queries. Exit status 0
   unless the command line is wrong (64). */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strescape.h"
#include "settings-parser.h"

#include "vsmlist-author.h"
#include "vsmlist-dns.h"
#include "vsmlist-dmarc.h"

#include <stdio.h>
#include <unistd.h>
#include <sysexits.h>

static void ATTR_NORETURN usage(void)
{
	fprintf(stderr,
		"Usage: vsmlist-dmarc [-d] [-s host[:port]]... [-t timeout] "
		"[-p psl-file] DOMAIN...\n"
		"  -s  DNS server (repeatable; default: /etc/resolv.conf)\n"
		"  -t  bound for each domain's whole discovery "
		"(default 2s; e.g. 500ms, 5s)\n"
		"  -p  public suffix list file (default: libpsl's newest)\n"
		"  -d  debug: show every DNS query on stderr\n");
	exit(EX_USAGE);
}

static void
print_value(string_t *line, const char *key, const char *value)
{
	const char *p;
	bool quote = (*value == '\0');

	for (p = value; *p != '\0' && !quote; p++) {
		if (*p == ' ' || *p == '"' || *p == '\\' ||
		    (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			quote = TRUE;
	}
	str_printfa(line, " %s=", key);
	if (!quote) {
		str_append(line, value);
		return;
	}
	str_append_c(line, '"');
	for (p = value; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			str_printfa(line, "\\%c", *p);
		else if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			str_printfa(line, "\\x%02x", (unsigned char)*p);
		else
			str_append_c(line, *p);
	}
	str_append_c(line, '"');
}

static void
print_method(string_t *line, const char *name,
	     const struct vsmlist_dmarc_method_result *method)
{
	print_value(line, name, vsmlist_dmarc_status_name(method->status,
							  method->policy));
	if (method->policy_tag != NULL) {
		print_value(line, t_strconcat(name, ".tag", NULL),
			    method->policy_tag);
	}
	if (method->policy_domain != NULL) {
		print_value(line, t_strconcat(name, ".policy_domain", NULL),
			    method->policy_domain);
	}
	if (method->org_domain != NULL) {
		print_value(line, t_strconcat(name, ".org_domain", NULL),
			    method->org_domain);
	}
	if (method->testing)
		print_value(line, t_strconcat(name, ".testing", NULL), "y");
	if (method->record != NULL) {
		print_value(line, t_strconcat(name, ".record", NULL),
			    method->record);
	}
	if (method->error != NULL) {
		print_value(line, t_strconcat(name, ".error", NULL),
			    method->error);
	}
	if (method->note != NULL) {
		print_value(line, t_strconcat(name, ".note", NULL),
			    method->note);
	}
}

static void
lookup_domain(struct vsmlist_dns *dns, struct vsmlist_psl *psl,
	      const char *arg)
{
	struct vsmlist_dns_resolver resolver;
	struct vsmlist_dmarc_result result;
	string_t *line = t_str_new(256);
	const char *domain, *error;

	str_append(line, arg);
	if (vsmlist_author_domain_normalize(arg, &domain, &error) < 0) {
		/* A list wraps posts from such an author */
		print_value(line, "policy", "nopolicy");
		print_value(line, "error",
			    t_strconcat("invalid domain: ", error, NULL));
		printf("%s\n", str_c(line));
		return;
	}
	vsmlist_dns_begin(dns);
	vsmlist_dns_get_resolver(dns, &resolver);
	vsmlist_dmarc_discover(&resolver, psl, pool_datastack_create(),
			       domain, &result);

	print_value(line, "policy", vsmlist_dmarc_status_name(
		result.status, result.policy));
	if (strcmp(domain, arg) != 0)
		print_value(line, "domain", domain);
	print_method(line, "rfc9989", &result.tree_walk);
	print_method(line, "rfc7489", &result.psl);
	str_printfa(line, " queries=%u", vsmlist_dns_get_query_count(dns));
	printf("%s\n", str_c(line));
	fflush(stdout);
}

int main(int argc, char *argv[])
{
	ARRAY_TYPE(const_string) servers;
	struct vsmlist_dns_settings dns_set;
	struct vsmlist_dns *dns;
	struct vsmlist_psl *psl;
	struct event *event;
	const char *psl_file = NULL, *server, *error;
	bool debug = FALSE;
	int c;

	lib_init();
	i_set_failure_prefix("vsmlist-dmarc: ");
	i_array_init(&servers, 4);
	i_zero(&dns_set);
	dns_set.timeout_msecs = 2000;

	while ((c = getopt(argc, argv, "ds:t:p:h")) != -1) {
		switch (c) {
		case 'd':
			debug = TRUE;
			break;
		case 's':
			server = optarg;
			array_push_back(&servers, &server);
			break;
		case 't':
			if (settings_get_time_msecs(optarg,
						    &dns_set.timeout_msecs,
						    &error) < 0 ||
			    dns_set.timeout_msecs == 0) {
				fprintf(stderr, "vsmlist-dmarc: -t %s: %s\n",
					optarg, dns_set.timeout_msecs == 0 ?
					"must be longer than 0" : error);
				exit(EX_USAGE);
			}
			break;
		case 'p':
			psl_file = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();

	event = event_create(NULL);
	if (debug)
		event_set_forced_debug(event, TRUE);
	if (array_count(&servers) > 0) {
		array_append_zero(&servers);
		dns_set.servers = t_strarray_join(array_front(&servers), " ");
	}
	/* Both fail only for what -p and -s say */
	if (vsmlist_psl_init(psl_file, &psl, &error) < 0)
		i_fatal_status(EX_USAGE, "%s", error);
	if (vsmlist_dns_init(&dns_set, event, &dns, &error) < 0)
		i_fatal_status(EX_USAGE, "DNS: %s", error);

	for (; optind < argc; optind++) T_BEGIN {
		lookup_domain(dns, psl, argv[optind]);
	} T_END;

	vsmlist_dns_deinit(&dns);
	vsmlist_psl_deinit(&psl);
	event_unref(&event);
	array_free(&servers);
	lib_deinit();
	return 0;
}
