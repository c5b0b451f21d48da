#ifndef TEST_VSMLIST_FAKE_DNS_H
#define TEST_VSMLIST_FAKE_DNS_H

#include "array.h"
#include "str.h"
#include "vsmlist-dns.h"

/* For unit tests and fuzz targets: a DNS resolver below the module
   boundary. */

/* A fake resolver below the module boundary: a zone as a table, every
   query recorded in order. */
struct fake_rr {
	const char *name;
	/* "NXDOMAIN", "SERVFAIL", or TXT strings separated by '|' ("" for
	   NODATA) */
	const char *answer;
};

struct fake_resolver {
	const struct fake_rr *zone;
	string_t *queries;
	unsigned int count;
};

static inline int
fake_lookup_txt(void *context, const char *qname, pool_t pool,
		struct vsmlist_dns_answer *answer_r)
{
	struct fake_resolver *fake = context;
	const struct fake_rr *rr;
	const char *const *txts;

	fake->count++;
	if (str_len(fake->queries) > 0)
		str_append_c(fake->queries, ' ');
	str_append(fake->queries, qname);

	i_zero(answer_r);
	p_array_init(&answer_r->txts, pool, 2);
	for (rr = fake->zone; rr->name != NULL; rr++) {
		if (strcmp(rr->name, qname) == 0)
			break;
	}
	if (rr->name == NULL || strcmp(rr->answer, "NXDOMAIN") == 0) {
		/* RFC 8020: only names in the table and their ancestors
		   exist; an unlisted _dmarc name is NXDOMAIN */
		answer_r->status = VSMLIST_DNS_NXDOMAIN;
		return 0;
	}
	if (strcmp(rr->answer, "SERVFAIL") == 0) {
		answer_r->status = VSMLIST_DNS_TEMPERROR;
		answer_r->error = "SERVFAIL";
		return 0;
	}
	answer_r->status = VSMLIST_DNS_OK;
	for (txts = t_strsplit(rr->answer, "|"); *txts != NULL; txts++) {
		if (**txts != '\0') {
			const char *txt = p_strdup(pool, *txts);
			array_push_back(&answer_r->txts, &txt);
		}
	}
	return 0;
}

#endif
