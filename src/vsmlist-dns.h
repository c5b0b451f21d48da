#ifndef VSMLIST_DNS_H
#define VSMLIST_DNS_H

#include "array-decl.h"

/* TXT lookups for DMARC discovery: servers from the settings or
   /etc/resolv.conf, one deadline for a whole discovery however many
   servers and queries (and whatever a server sends), rcodes told apart,
   CNAMEs followed, TCP on truncation. The exchange runs on a private
   Dovecot ioloop; the replies are read by vsmlist-dns-reply.h. No Sieve
   dependency. */

enum vsmlist_dns_status {
	/* NOERROR: txts holds the TXT RRs (none: NODATA) */
	VSMLIST_DNS_OK = 0,
	/* The name does not exist (RFC 8020: nor anything below it) */
	VSMLIST_DNS_NXDOMAIN,
	/* SERVFAIL, REFUSED, FORMERR, timeout, network error, bad reply */
	VSMLIST_DNS_TEMPERROR,
};

struct vsmlist_dns_answer {
	enum vsmlist_dns_status status;
	/* TXT RRs owned by the qname or its CNAME target, the
	   character-strings of each RR joined with nothing between them */
	ARRAY_TYPE(const_string) txts;
	/* How long the answer may be cached: the smallest TTL of the RRs
	   used; for NXDOMAIN/NODATA min(SOA TTL, SOA MINIMUM) from the
	   authority section, 0 when there is none */
	unsigned int ttl_secs;
	/* For VSMLIST_DNS_TEMPERROR: what happened, for the log */
	const char *error;
	/* A server's reply to this query gave the answer: always so for OK
	   and NXDOMAIN; for TEMPERROR when a server answered with an error
	   (SERVFAIL, REFUSED, a referral). FALSE for a TEMPERROR no server
	   gave: a timeout, a network error, a query never sent because the
	   discovery's deadline had passed. Such an error says nothing about
	   the name (other names may have used the time up): it is never
	   cached. */
	bool from_server;
};

/* A TXT lookup as the DMARC discovery sees it; the DNS module, the cache
   and the unit tests' fake resolver all provide one. Returns 0 when an
   answer (of any status) was filled in, -1 only on internal error. */
struct vsmlist_dns_resolver {
	int (*lookup_txt)(void *context, const char *qname, pool_t pool,
			  struct vsmlist_dns_answer *answer_r);
	/* TRUE once the discovery's deadline has passed, so that a cache in
	   front of the resolver stops answering too: a walk ends at the
	   deadline however much of it is cached. NULL: no deadline. */
	bool (*deadline_passed)(void *context);
	void *context;
};

struct vsmlist_dns_settings {
	/* "host[:port]" separated by spaces or commas; NULL or empty:
	   the nameservers of /etc/resolv.conf */
	const char *servers;
	/* Bound for one whole discovery (all queries, all servers) */
	unsigned int timeout_msecs;
};

struct vsmlist_dns;

int vsmlist_dns_init(const struct vsmlist_dns_settings *set,
		     struct event *event_parent, struct vsmlist_dns **dns_r,
		     const char **error_r);
void vsmlist_dns_deinit(struct vsmlist_dns **dns);

/* Start a new discovery: the deadline is now + timeout_msecs, and the
   query counter restarts. */
void vsmlist_dns_begin(struct vsmlist_dns *dns);
/* Queries sent (to the network) since vsmlist_dns_begin(): one per UDP
   datagram sent to a server (a resend to a silent server counts again) and
   one per TCP query after a truncated reply */
unsigned int vsmlist_dns_get_query_count(const struct vsmlist_dns *dns);

/* Look up TXT <qname> (absolute, RD set). A query that would pass the
   deadline is not sent: TEMPERROR "timeout". */
int vsmlist_dns_lookup_txt(struct vsmlist_dns *dns, const char *qname,
			   pool_t pool, struct vsmlist_dns_answer *answer_r);

/* The module as a vsmlist_dns_resolver */
void vsmlist_dns_get_resolver(struct vsmlist_dns *dns,
			      struct vsmlist_dns_resolver *resolver_r);

#endif
