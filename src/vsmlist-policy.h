#ifndef VSMLIST_POLICY_H
#define VSMLIST_POLICY_H

#include "vsmlist-author.h"
#include "vsmlist-dmarc.h"

struct vsmlist_settings;

/* The DMARC policy that applies to one post: its author from From:, and
   when there is exactly one usable author, that domain's policy discovered
   through DNS (settings' servers, one deadline for the whole post, the
   answer cache). A post with no single usable author is wrapped whatever
   the policies say, so nothing is looked up for it. No Sieve
   dependency. */

struct vsmlist_policy {
	struct vsmlist_author author;

	/* Effective over all usable author domains; NOPOLICY when there is
	   no usable author (the decision treats that case itself) */
	enum vsmlist_dmarc_status status;
	enum vsmlist_dmarc_policy policy;
	/* The discovery that decided, NULL without a usable author */
	const struct vsmlist_dmarc_result *decisive;

	/* DNS queries sent, lookups answered from the cache */
	unsigned int queries, cache_hits;
	/* Why status is TEMPERROR without a DNS answer (setup failed) */
	const char *error;
};

/* lookup=FALSE parses the author only (modes wrap and munge need no
   DNS answer to decide). resolver: NULL to ask the settings' DNS servers
   through the answer cache; unit tests and fuzz targets give a fake. */
void vsmlist_policy_discover(pool_t pool, const struct vsmlist_settings *set,
			     const char *const *from_fields, bool lookup,
			     const struct vsmlist_dns_resolver *resolver,
			     struct event *event,
			     struct vsmlist_policy *policy_r);

/* "rfc9989", "rfc7489" or "rfc9989,rfc7489": which discovery method(s)
   gave the effective result of a domain */
const char *vsmlist_dmarc_result_methods(const struct vsmlist_dmarc_result *result);

/* Structured event fields: vsmlist_author_status, vsmlist_author_domain,
   vsmlist_dmarc_policy (none/quarantine/reject/nopolicy/temperror),
   vsmlist_dmarc_method, vsmlist_dmarc_policy_domain,
   vsmlist_dmarc_org_domain, vsmlist_dmarc_record, vsmlist_dns_queries,
   vsmlist_dns_cache_hits, vsmlist_dmarc_error */
void vsmlist_policy_add_event_fields(const struct vsmlist_policy *policy,
				     struct event *event);
/* One readable phrase for the log line, e.g. "DMARC policy of
   example.com: reject (rfc9989,rfc7489, from _dmarc.example.com p=)" */
const char *vsmlist_policy_describe(const struct vsmlist_policy *policy);

#endif
