/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"

#include <ldns/ldns.h>

#include "vsmlist-dns-reply.h"

/* RFC 2181 8: a TTL with the most significant bit set is read as 0 */
#define REPLY_MAX_TTL 0x7fffffffU

static unsigned int reply_ttl_value(uint32_t ttl)
{
	return ttl > REPLY_MAX_TTL ? 0 : ttl;
}

static const char *reply_rcode_name(unsigned int rcode)
{
	const ldns_lookup_table *lt;

	lt = ldns_lookup_by_id(ldns_rcodes, (int)rcode);
	if (lt == NULL)
		return t_strdup_printf("rcode %u", rcode);
	return lt->name;
}

static bool
reply_matches_question(const ldns_pkt *reply, const ldns_rdf *qname_rdf)
{
	const ldns_rr_list *question = ldns_pkt_question(reply);
	const ldns_rr *rr;

	if (ldns_rr_list_rr_count(question) == 0) {
		/* FORMERR and the like may come without the question */
		return ldns_pkt_get_rcode(reply) != LDNS_RCODE_NOERROR &&
			ldns_pkt_get_rcode(reply) != LDNS_RCODE_NXDOMAIN;
	}
	if (ldns_rr_list_rr_count(question) != 1)
		return FALSE;
	rr = ldns_rr_list_rr(question, 0);
	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_TXT &&
		ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
		ldns_dname_compare(ldns_rr_owner(rr), qname_rdf) == 0;
}

/* A reply to a non-recursive query: nothing but NS RRs */
static bool reply_is_referral(const ldns_pkt *reply)
{
	const ldns_rr_list *authority = ldns_pkt_authority(reply);
	unsigned int i, count = ldns_rr_list_rr_count(authority);
	bool have_ns = FALSE;

	if (ldns_rr_list_rr_count(ldns_pkt_answer(reply)) > 0)
		return FALSE;
	for (i = 0; i < count; i++) {
		switch (ldns_rr_get_type(ldns_rr_list_rr(authority, i))) {
		case LDNS_RR_TYPE_SOA:
			return FALSE;
		case LDNS_RR_TYPE_NS:
			have_ns = TRUE;
			break;
		default:
			break;
		}
	}
	return have_ns;
}

static const ldns_rr *
reply_find_rr(const ldns_rr_list *list, ldns_rr_type type,
	      const ldns_rdf *owner)
{
	unsigned int i, count = ldns_rr_list_rr_count(list);
	const ldns_rr *rr;

	for (i = 0; i < count; i++) {
		rr = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_type(rr) == type &&
		    ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
		    (owner == NULL ||
		     ldns_dname_compare(ldns_rr_owner(rr), owner) == 0))
			return rr;
	}
	return NULL;
}

/* The character-strings of a TXT RR, joined, appended to str */
static void reply_txt_join(string_t *str, const ldns_rr *rr)
{
	const ldns_rdf *rdf;
	const uint8_t *data;
	size_t i, count = ldns_rr_rd_count(rr), size, len;

	for (i = 0; i < count; i++) {
		rdf = ldns_rr_rdf(rr, i);
		data = ldns_rdf_data(rdf);
		size = ldns_rdf_size(rdf);
		if (size == 0)
			continue;
		len = I_MIN(data[0], size - 1);
		str_append_data(str, data + 1, len);
	}
}

/* min(SOA TTL, SOA MINIMUM) of the authority section (RFC 2308) */
static bool reply_negative_ttl(const ldns_pkt *reply, unsigned int *ttl_r)
{
	const ldns_rr *soa;

	soa = reply_find_rr(ldns_pkt_authority(reply), LDNS_RR_TYPE_SOA,
			    NULL);
	if (soa == NULL || ldns_rr_rd_count(soa) < 7 ||
	    ldns_rdf_size(ldns_rr_rdf(soa, 6)) != 4)
		return FALSE;
	*ttl_r = I_MIN(reply_ttl_value(ldns_rr_ttl(soa)),
		       reply_ttl_value(ldns_rdf2native_int32(
			       ldns_rr_rdf(soa, 6))));
	return TRUE;
}

static void
reply_temperror(pool_t pool, struct vsmlist_dns_answer *answer_r,
		const char *error)
{
	answer_r->status = VSMLIST_DNS_TEMPERROR;
	answer_r->error = p_strdup(pool, error);
	array_clear(&answer_r->txts);
	answer_r->ttl_secs = 0;
}

/* The TXT RRs of the target, each one's strings joined. Returns FALSE
   when they are larger than the bound. */
static bool
reply_collect_txts(const ldns_pkt *reply, const ldns_rdf *target,
		   pool_t pool, struct vsmlist_dns_answer *answer_r,
		   unsigned int *ttl)
{
	const ldns_rr_list *answers = ldns_pkt_answer(reply);
	unsigned int i, count = ldns_rr_list_rr_count(answers);
	size_t total = 0;
	string_t *str = t_str_new(256);
	const ldns_rr *rr;
	const char *txt;

	for (i = 0; i < count; i++) {
		rr = ldns_rr_list_rr(answers, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    ldns_dname_compare(ldns_rr_owner(rr), target) != 0)
			continue;
		str_truncate(str, 0);
		reply_txt_join(str, rr);
		total += str_len(str);
		if (total > VSMLIST_DNS_REPLY_MAX_TXT_BYTES)
			return FALSE;
		/* A NUL byte ends the string: no valid record has one */
		txt = p_strdup(pool, str_c(str));
		array_push_back(&answer_r->txts, &txt);
		*ttl = I_MIN(*ttl, reply_ttl_value(ldns_rr_ttl(rr)));
	}
	return TRUE;
}

/* The answer of a reply that matched the query and is not truncated */
static void
reply_fill_answer(const ldns_pkt *reply, const ldns_rdf *qname_rdf,
		  pool_t pool, struct vsmlist_dns_answer *answer_r)
{
	const ldns_rr_list *answers = ldns_pkt_answer(reply);
	const ldns_rdf *target = qname_rdf;
	const ldns_rr *rr;
	unsigned int rcode, hops, ttl = UINT_MAX, neg_ttl;

	rcode = ldns_pkt_get_rcode(reply);
	if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
		reply_temperror(pool, answer_r, reply_rcode_name(rcode));
		return;
	}
	if (rcode == LDNS_RCODE_NOERROR && reply_is_referral(reply)) {
		reply_temperror(pool, answer_r,
				"referral (the server does not recurse)");
		return;
	}
	if (ldns_rr_list_rr_count(answers) +
	    ldns_rr_list_rr_count(ldns_pkt_authority(reply)) +
	    ldns_rr_list_rr_count(ldns_pkt_additional(reply)) >
	    VSMLIST_DNS_REPLY_MAX_RRS) {
		reply_temperror(pool, answer_r, t_strdup_printf(
			"more than %u RRs", VSMLIST_DNS_REPLY_MAX_RRS));
		return;
	}

	for (hops = 0;; hops++) {
		rr = reply_find_rr(answers, LDNS_RR_TYPE_CNAME, target);
		if (rr == NULL || ldns_rr_rd_count(rr) < 1)
			break;
		if (hops == VSMLIST_DNS_REPLY_MAX_CNAMES) {
			reply_temperror(pool, answer_r, t_strdup_printf(
				"more than %u CNAMEs (a loop?)",
				VSMLIST_DNS_REPLY_MAX_CNAMES));
			return;
		}
		ttl = I_MIN(ttl, reply_ttl_value(ldns_rr_ttl(rr)));
		target = ldns_rr_rdf(rr, 0);
	}

	if (rcode == LDNS_RCODE_NOERROR) {
		answer_r->status = VSMLIST_DNS_OK;
		if (!reply_collect_txts(reply, target, pool, answer_r, &ttl)) {
			reply_temperror(pool, answer_r, t_strdup_printf(
				"TXT data larger than %u bytes",
				VSMLIST_DNS_REPLY_MAX_TXT_BYTES));
			return;
		}
	} else {
		answer_r->status = VSMLIST_DNS_NXDOMAIN;
	}
	if (array_count(&answer_r->txts) == 0) {
		/* NXDOMAIN or NODATA */
		if (reply_negative_ttl(reply, &neg_ttl))
			ttl = I_MIN(ttl, neg_ttl);
		else
			ttl = 0;
	}
	answer_r->ttl_secs = ttl;
}

static enum vsmlist_dns_reply_kind
reply_parse_pkt(const unsigned char *data, size_t size,
		const ldns_rdf *qname_rdf, pool_t pool,
		struct vsmlist_dns_answer *answer_r, const char **error_r)
{
	ldns_pkt *reply;
	ldns_status status;
	enum vsmlist_dns_reply_kind kind;

	status = ldns_wire2pkt(&reply, data, size);
	if (status != LDNS_STATUS_OK) {
		*error_r = t_strdup_printf("unparsable reply: %s",
					   ldns_get_errorstr_by_id(status));
		return VSMLIST_DNS_REPLY_FOREIGN;
	}
	if (ldns_pkt_get_opcode(reply) != LDNS_PACKET_QUERY ||
	    !reply_matches_question(reply, qname_rdf)) {
		*error_r = "reply does not match the query";
		kind = VSMLIST_DNS_REPLY_FOREIGN;
	} else if (ldns_pkt_tc(reply)) {
		*error_r = "truncated reply";
		kind = VSMLIST_DNS_REPLY_TRUNCATED;
	} else {
		reply_fill_answer(reply, qname_rdf, pool, answer_r);
		kind = VSMLIST_DNS_REPLY_ANSWER;
	}
	ldns_pkt_free(reply);
	return kind;
}

enum vsmlist_dns_reply_kind
vsmlist_dns_reply_parse(const unsigned char *data, size_t size, uint16_t id,
			const char *qname, pool_t pool,
			struct vsmlist_dns_answer *answer_r,
			const char **error_r)
{
	enum vsmlist_dns_reply_kind kind;
	ldns_rdf *qname_rdf;
	const char *name;

	i_zero(answer_r);
	p_array_init(&answer_r->txts, pool, 2);
	answer_r->status = VSMLIST_DNS_TEMPERROR;
	answer_r->from_server = TRUE;

	/* The header first: a stray datagram costs no parsing. QR is the
	   top bit of the third octet. */
	if (size < VSMLIST_DNS_HEADER_SIZE) {
		*error_r = "reply shorter than a DNS header";
		return VSMLIST_DNS_REPLY_FOREIGN;
	}
	if ((((uint16_t)data[0] << 8) | data[1]) != id ||
	    (data[2] & 0x80) == 0) {
		*error_r = "reply does not match the query";
		return VSMLIST_DNS_REPLY_FOREIGN;
	}

	name = (qname[0] != '\0' && qname[strlen(qname) - 1] == '.') ?
		qname : t_strconcat(qname, ".", NULL);
	qname_rdf = ldns_dname_new_frm_str(name);
	if (qname_rdf == NULL) {
		*error_r = "invalid query name";
		return VSMLIST_DNS_REPLY_FOREIGN;
	}
	kind = reply_parse_pkt(data, size, qname_rdf, pool, answer_r,
			       error_r);
	ldns_rdf_deep_free(qname_rdf);
	return kind;
}
