/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "test-common.h"
#include "vsmlist-dns-reply.h"

#include <ldns/ldns.h>

#define TEST_ID 0x4242
#define TEST_QNAME "_dmarc.example.com"

/* A reply built by ldns, as a server would send it */
struct test_reply {
	uint16_t id;
	const char *qname;
	ldns_pkt_rcode rcode;
	/* RRs in zone file syntax, NULL-terminated; NULL: none */
	const char *const *answer;
	const char *const *authority;
	bool truncated;
	bool no_question;
	bool not_response;
};

static void
test_push_rrs(ldns_pkt *pkt, ldns_pkt_section section,
	      const char *const *rrs)
{
	ldns_rr *rr;

	for (; rrs != NULL && *rrs != NULL; rrs++) {
		if (ldns_rr_new_frm_str(&rr, *rrs, 0, NULL, NULL) !=
		    LDNS_STATUS_OK)
			i_fatal("bad test RR: %s", *rrs);
		ldns_pkt_push_rr(pkt, section, rr);
	}
}

static const unsigned char *
test_reply_wire(const struct test_reply *spec, size_t *size_r)
{
	ldns_pkt *pkt;
	ldns_rdf *qname;
	uint8_t *wire;
	unsigned char *copy;

	qname = ldns_dname_new_frm_str(t_strconcat(
		spec->qname != NULL ? spec->qname : TEST_QNAME, ".", NULL));
	pkt = ldns_pkt_query_new(qname, LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN,
				 LDNS_RD);
	ldns_pkt_set_id(pkt, spec->id != 0 ? spec->id : TEST_ID);
	ldns_pkt_set_qr(pkt, !spec->not_response);
	ldns_pkt_set_ra(pkt, TRUE);
	ldns_pkt_set_tc(pkt, spec->truncated);
	ldns_pkt_set_rcode(pkt, spec->rcode);
	if (spec->no_question) {
		ldns_rr_list_deep_free(ldns_pkt_question(pkt));
		ldns_pkt_set_question(pkt, ldns_rr_list_new());
		ldns_pkt_set_qdcount(pkt, 0);
	}
	test_push_rrs(pkt, LDNS_SECTION_ANSWER, spec->answer);
	test_push_rrs(pkt, LDNS_SECTION_AUTHORITY, spec->authority);
	if (ldns_pkt2wire(&wire, pkt, size_r) != LDNS_STATUS_OK)
		i_fatal("ldns_pkt2wire() failed");
	copy = t_malloc_no0(*size_r);
	memcpy(copy, wire, *size_r);
	free(wire);
	ldns_pkt_free(pkt);
	return copy;
}

static enum vsmlist_dns_reply_kind
test_parse(const struct test_reply *spec, struct vsmlist_dns_answer *answer_r,
	   const char **error_r)
{
	const unsigned char *data;
	size_t size;

	*error_r = NULL;
	data = test_reply_wire(spec, &size);
	return vsmlist_dns_reply_parse(data, size, TEST_ID, TEST_QNAME,
				       pool_datastack_create(), answer_r,
				       error_r);
}

/* The answer of a reply that must be one */
static struct vsmlist_dns_answer test_answer(const struct test_reply *spec)
{
	struct vsmlist_dns_answer answer;
	const char *error;

	test_assert(test_parse(spec, &answer, &error) ==
		    VSMLIST_DNS_REPLY_ANSWER);
	test_assert(answer.from_server);
	return answer;
}

static const char *test_txt(const struct vsmlist_dns_answer *answer,
			    unsigned int idx)
{
	if (idx >= array_count(&answer->txts))
		return "(none)";
	return array_idx_elem(&answer->txts, idx);
}

static void test_dns_reply_txt(void)
{
	static const char *const split[] = {
		TEST_QNAME". 300 IN TXT \"v=DMARC1; \" \"p=reject\"", NULL
	};
	static const char *const two[] = {
		TEST_QNAME". 300 IN TXT \"first\"",
		TEST_QNAME". 100 IN TXT \"second\"",
		"other.example. 10 IN TXT \"not ours\"",
		NULL
	};
	static const char *const nul[] = {
		TEST_QNAME". 300 IN TXT \"v=DMARC1;\\000 p=none\"", NULL
	};
	struct test_reply spec = { .answer = split };
	struct vsmlist_dns_answer answer;

	test_begin("dns reply: the strings of one RR are joined");
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_assert(array_count(&answer.txts) == 1);
	test_assert_strcmp(test_txt(&answer, 0), "v=DMARC1; p=reject");
	test_assert(answer.ttl_secs == 300);
	test_assert(answer.error == NULL);
	test_end();

	test_begin("dns reply: two RRs, other owners ignored, smallest TTL");
	spec.answer = two;
	answer = test_answer(&spec);
	test_assert(array_count(&answer.txts) == 2);
	test_assert_strcmp(test_txt(&answer, 0), "first");
	test_assert_strcmp(test_txt(&answer, 1), "second");
	test_assert(answer.ttl_secs == 100);
	test_end();

	test_begin("dns reply: a NUL byte ends a string");
	spec.answer = nul;
	answer = test_answer(&spec);
	test_assert_strcmp(test_txt(&answer, 0), "v=DMARC1;");
	test_end();

	test_begin("dns reply: the query name in any case, with a dot");
	spec.answer = split;
	spec.qname = "_DMARC.Example.COM";
	answer = test_answer(&spec);
	test_assert_strcmp(test_txt(&answer, 0), "v=DMARC1; p=reject");
	test_end();
}

static void test_dns_reply_cname(void)
{
	static const char *const chain[] = {
		TEST_QNAME". 300 IN CNAME a.example.",
		"a.example. 60 IN CNAME b.example.",
		"b.example. 300 IN TXT \"v=DMARC1; p=none\"",
		NULL
	};
	static const char *const loop[] = {
		TEST_QNAME". 300 IN CNAME a.example.",
		"a.example. 300 IN CNAME "TEST_QNAME".",
		NULL
	};
	static const char *const cname_only[] = {
		TEST_QNAME". 300 IN CNAME a.example.", NULL
	};
	static const char *const soa[] = {
		"example. 600 IN SOA ns.example. host.example. 1 3600 600 "
		"86400 120", NULL
	};
	string_t *str = t_str_new(1024);
	const char *long_chain[VSMLIST_DNS_REPLY_MAX_CNAMES + 3];
	struct test_reply spec = { .answer = chain };
	struct vsmlist_dns_answer answer;
	unsigned int i;

	test_begin("dns reply: a CNAME chain is followed");
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_assert_strcmp(test_txt(&answer, 0), "v=DMARC1; p=none");
	test_assert(answer.ttl_secs == 60);
	test_end();

	test_begin("dns reply: a CNAME loop is a temporary error");
	spec.answer = loop;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_TEMPERROR);
	test_assert(strstr(answer.error, "CNAME") != NULL);
	test_end();

	test_begin("dns reply: CNAMEs are followed so far only");
	for (i = 0; i <= VSMLIST_DNS_REPLY_MAX_CNAMES; i++) {
		str_truncate(str, 0);
		if (i == 0)
			str_append(str, TEST_QNAME);
		else
			str_printfa(str, "c%u.example", i);
		str_printfa(str, ". 300 IN CNAME c%u.example.", i + 1);
		long_chain[i] = t_strdup(str_c(str));
	}
	long_chain[i] = t_strdup_printf("c%u.example. 300 IN TXT \"x\"", i);
	long_chain[i + 1] = NULL;
	spec.answer = long_chain;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_TEMPERROR);
	/* one CNAME less is fine */
	long_chain[VSMLIST_DNS_REPLY_MAX_CNAMES] = t_strdup_printf(
		"c%u.example. 300 IN TXT \"x\"", VSMLIST_DNS_REPLY_MAX_CNAMES);
	long_chain[VSMLIST_DNS_REPLY_MAX_CNAMES + 1] = NULL;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_assert_strcmp(test_txt(&answer, 0), "x");
	test_end();

	test_begin("dns reply: NODATA after a CNAME takes the SOA minimum");
	spec.answer = cname_only;
	spec.authority = soa;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_assert(array_count(&answer.txts) == 0);
	test_assert(answer.ttl_secs == 120);
	test_end();
}

static void test_dns_reply_negative(void)
{
	static const char *const soa[] = {
		"example.com. 600 IN SOA ns.example.com. host.example.com. "
		"1 3600 600 86400 300", NULL
	};
	static const char *const soa_small_ttl[] = {
		"example.com. 100 IN SOA ns.example.com. host.example.com. "
		"1 3600 600 86400 3600", NULL
	};
	struct test_reply spec = {
		.rcode = LDNS_RCODE_NXDOMAIN, .authority = soa,
	};
	struct vsmlist_dns_answer answer;

	test_begin("dns reply: NXDOMAIN, TTL min(SOA TTL, SOA MINIMUM)");
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_NXDOMAIN);
	test_assert(array_count(&answer.txts) == 0);
	test_assert(answer.ttl_secs == 300);
	spec.authority = soa_small_ttl;
	answer = test_answer(&spec);
	test_assert(answer.ttl_secs == 100);
	test_end();

	test_begin("dns reply: NXDOMAIN or NODATA without SOA: TTL 0");
	spec.authority = NULL;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_NXDOMAIN);
	test_assert(answer.ttl_secs == 0);
	spec.rcode = LDNS_RCODE_NOERROR;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_assert(array_count(&answer.txts) == 0);
	test_assert(answer.ttl_secs == 0);
	test_end();
}

static void test_dns_reply_errors(void)
{
	static const char *const referral[] = {
		"example.com. 3600 IN NS ns.example.com.", NULL
	};
	struct test_reply spec = { .rcode = LDNS_RCODE_SERVFAIL };
	struct vsmlist_dns_answer answer;

	test_begin("dns reply: an error rcode is a temporary error");
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_TEMPERROR);
	test_assert_strcmp(answer.error, "SERVFAIL");
	spec.rcode = LDNS_RCODE_REFUSED;
	answer = test_answer(&spec);
	test_assert_strcmp(answer.error, "REFUSED");
	test_end();

	test_begin("dns reply: FORMERR without the question is an answer");
	spec.rcode = LDNS_RCODE_FORMERR;
	spec.no_question = TRUE;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_TEMPERROR);
	test_assert_strcmp(answer.error, "FORMERR");
	test_end();

	test_begin("dns reply: a referral is a temporary error");
	i_zero(&spec);
	spec.authority = referral;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_TEMPERROR);
	test_assert(strstr(answer.error, "referral") != NULL);
	test_end();
}

static void test_dns_reply_foreign(void)
{
	static const char *const txt[] = {
		TEST_QNAME". 300 IN TXT \"v=DMARC1; p=none\"", NULL
	};
	struct test_reply spec = { .answer = txt };
	struct vsmlist_dns_answer answer;
	const unsigned char *data;
	const char *error;
	size_t size;

	test_begin("dns reply: not a reply to this query");
	spec.id = TEST_ID + 1;
	test_assert(test_parse(&spec, &answer, &error) ==
		    VSMLIST_DNS_REPLY_FOREIGN);
	test_assert(strstr(error, "does not match") != NULL);
	spec.id = 0;
	spec.not_response = TRUE;
	test_assert(test_parse(&spec, &answer, &error) ==
		    VSMLIST_DNS_REPLY_FOREIGN);
	spec.not_response = FALSE;
	spec.qname = "_dmarc.other.example";
	test_assert(test_parse(&spec, &answer, &error) ==
		    VSMLIST_DNS_REPLY_FOREIGN);
	/* NOERROR without a question proves nothing */
	spec.qname = NULL;
	spec.no_question = TRUE;
	test_assert(test_parse(&spec, &answer, &error) ==
		    VSMLIST_DNS_REPLY_FOREIGN);
	test_end();

	test_begin("dns reply: short or unparsable");
	spec.no_question = FALSE;
	data = test_reply_wire(&spec, &size);
	test_assert(vsmlist_dns_reply_parse(data, 11, TEST_ID, TEST_QNAME,
					    pool_datastack_create(), &answer,
					    &error) ==
		    VSMLIST_DNS_REPLY_FOREIGN);
	test_assert(strstr(error, "header") != NULL);
	test_assert(vsmlist_dns_reply_parse(data, size - 1, TEST_ID,
					    TEST_QNAME,
					    pool_datastack_create(), &answer,
					    &error) ==
		    VSMLIST_DNS_REPLY_FOREIGN);
	test_assert(strstr(error, "unparsable") != NULL);
	test_end();

	test_begin("dns reply: truncated");
	spec.truncated = TRUE;
	test_assert(test_parse(&spec, &answer, &error) ==
		    VSMLIST_DNS_REPLY_TRUNCATED);
	test_end();
}

static void test_dns_reply_bounds(void)
{
	const char *rrs[VSMLIST_DNS_REPLY_MAX_RRS + 2];
	string_t *big = t_str_new(300);
	struct test_reply spec = { .answer = rrs };
	struct vsmlist_dns_answer answer;
	unsigned int i, count;

	test_begin("dns reply: more RRs than the bound");
	for (i = 0; i <= VSMLIST_DNS_REPLY_MAX_RRS; i++) {
		rrs[i] = t_strdup_printf(TEST_QNAME". 300 IN TXT \"%u\"", i);
	}
	rrs[i] = NULL;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_TEMPERROR);
	test_assert(strstr(answer.error, "RRs") != NULL);
	test_assert(array_count(&answer.txts) == 0);
	rrs[VSMLIST_DNS_REPLY_MAX_RRS] = NULL;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_assert(array_count(&answer.txts) == VSMLIST_DNS_REPLY_MAX_RRS);
	test_end();

	test_begin("dns reply: more TXT data than the bound");
	str_append_c(big, '"');
	for (i = 0; i < 255; i++)
		str_append_c(big, 'x');
	str_append_c(big, '"');
	count = VSMLIST_DNS_REPLY_MAX_TXT_BYTES / 255 + 1;
	for (i = 0; i < count; i++) {
		rrs[i] = t_strdup_printf(TEST_QNAME". 300 IN TXT \"%u\" %s",
					 i, str_c(big));
	}
	rrs[i] = NULL;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_TEMPERROR);
	test_assert(strstr(answer.error, "TXT data") != NULL);
	test_assert(array_count(&answer.txts) == 0);
	test_end();

	test_begin("dns reply: a TTL with the top bit set is 0");
	rrs[0] = TEST_QNAME". 2147483648 IN TXT \"v=DMARC1; p=none\"";
	rrs[1] = NULL;
	answer = test_answer(&spec);
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_assert(answer.ttl_secs == 0);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_dns_reply_txt,
		test_dns_reply_cname,
		test_dns_reply_negative,
		test_dns_reply_errors,
		test_dns_reply_foreign,
		test_dns_reply_bounds,
		NULL
	};
	return test_run(test_functions);
}
