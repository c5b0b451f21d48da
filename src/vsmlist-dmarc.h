#ifndef VSMLIST_DMARC_H
#define VSMLIST_DMARC_H

#include "vsmlist-dmarc-record.h"

/* DMARC policy discovery for one author domain by both methods, the
   stricter result winning (a list must predict the strictest receiver):
   - RFC 9989's DNS tree walk (with np, psd, t), and
   - RFC 7489's public-suffix method (libpsl).
   DNS goes through a struct vsmlist_dns_resolver, so unit tests drive it
   with a fake. No Sieve dependency. */

struct vsmlist_dns_resolver;
struct vsmlist_psl;

enum vsmlist_dmarc_status {
	/* A policy was found (policy holds it) */
	VSMLIST_DMARC_STATUS_POLICY = 0,
	/* No usable DMARC record applies */
	VSMLIST_DMARC_STATUS_NOPOLICY,
	/* A DNS failure left the answer open */
	VSMLIST_DMARC_STATUS_TEMPERROR,
};

struct vsmlist_dmarc_method_result {
	enum vsmlist_dmarc_status status;
	enum vsmlist_dmarc_policy policy;
	/* Where the record came from, and the organizational domain (NULL
	   where not determined) */
	const char *policy_domain, *org_domain;
	/* The record's text */
	const char *record;
	/* Which of p/sp/np was applied */
	const char *policy_tag;
	/* t=y in the record used */
	bool testing;
	/* For TEMPERROR: the DNS error */
	const char *error;
	/* Why a record found on the way was not used (several records,
	   invalid p), for the administrator */
	const char *note;
};

struct vsmlist_dmarc_result {
	const char *domain;
	/* The stricter of the two methods */
	enum vsmlist_dmarc_status status;
	enum vsmlist_dmarc_policy policy;
	struct vsmlist_dmarc_method_result tree_walk;	/* RFC 9989 */
	struct vsmlist_dmarc_method_result psl;		/* RFC 7489 */
	/* DNS lookups made for this domain (cache hits included) */
	unsigned int lookups;
};

/* Public suffix list, loaded once per use; path NULL: the newest of
   libpsl's built-in list and the system's (Debian: publicsuffix). */
int vsmlist_psl_init(const char *path, struct vsmlist_psl **psl_r,
		     const char **error_r);
void vsmlist_psl_deinit(struct vsmlist_psl **psl);
/* The registrable domain (organizational domain) of a lower-case A-label
   domain, or NULL when it is itself a public suffix. */
const char *vsmlist_psl_org_domain(struct vsmlist_psl *psl,
				   const char *domain);

/* Discover the policy of a normalised (lower-case A-label) domain. */
void vsmlist_dmarc_discover(const struct vsmlist_dns_resolver *resolver,
			    struct vsmlist_psl *psl, pool_t pool,
			    const char *domain,
			    struct vsmlist_dmarc_result *result_r);

/* "none", "quarantine", "reject", "nopolicy" or "temperror" */
const char *vsmlist_dmarc_status_name(enum vsmlist_dmarc_status status,
				      enum vsmlist_dmarc_policy policy);

#endif
