#ifndef VSMLIST_DNS_REPLY_H
#define VSMLIST_DNS_REPLY_H

#include "vsmlist-dns.h"

/* The bytes of a reply to a TXT query, turned into a vsmlist_dns_answer:
   no network and no state, so it is unit tested and fuzzed on its own.
   ldns parses the message; this module decides what it means. What a
   reply can make us keep is bounded, whoever sent it. No Sieve
   dependency. */

/* A DNS message starts with a header of this size */
#define VSMLIST_DNS_HEADER_SIZE 12
/* RRs of the answer, authority and additional sections together */
#define VSMLIST_DNS_REPLY_MAX_RRS 256
/* The TXT data of an answer, its RRs' strings together */
#define VSMLIST_DNS_REPLY_MAX_TXT_BYTES 32768
/* CNAMEs followed within one answer */
#define VSMLIST_DNS_REPLY_MAX_CNAMES 8

enum vsmlist_dns_reply_kind {
	/* Not a reply to this query: shorter than a header, another ID, not
	   a response, another question, unparsable. Over UDP it is ignored
	   (the real reply may still come). */
	VSMLIST_DNS_REPLY_FOREIGN,
	/* TC set: the query is to be asked again over TCP */
	VSMLIST_DNS_REPLY_TRUNCATED,
	/* The server's answer: OK or NXDOMAIN, or TEMPERROR for an error
	   rcode, a referral, a CNAME chain too long, a reply beyond the
	   bounds (answer->error says which) */
	VSMLIST_DNS_REPLY_ANSWER,
};

/* Parse data as the reply to the query <id> for TXT <qname> (with or
   without the final dot, any case). For VSMLIST_DNS_REPLY_ANSWER fills
   answer_r (TXTs allocated from pool, from_server set); otherwise sets
   error_r to what is wrong, for the log. */
enum vsmlist_dns_reply_kind
vsmlist_dns_reply_parse(const unsigned char *data, size_t size, uint16_t id,
			const char *qname, pool_t pool,
			struct vsmlist_dns_answer *answer_r,
			const char **error_r);

#endif
