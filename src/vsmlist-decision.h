#ifndef VSMLIST_DECISION_H
#define VSMLIST_DECISION_H

#include "vsmlist-settings.h"

struct vsmlist_policy;

/* Whether a post goes out untouched, wrapped or munged (the product's "What a post goes through", step
   4). No Sieve dependency. */

enum vsmlist_mitigation {
	VSMLIST_MITIGATION_NONE = 0,
	VSMLIST_MITIGATION_WRAP,
	VSMLIST_MITIGATION_MUNGE,
	/* A DNS failure under dns_failure=tempfail: retry the delivery */
	VSMLIST_MITIGATION_TEMPFAIL,
};

struct vsmlist_decision {
	enum vsmlist_mitigation mitigation;
	/* Why, for the log line and the event */
	const char *reason;
};

/* mode is the per-call :dmarc or else the setting. policy is NULL when
   nothing was looked up (mode none). */
void vsmlist_decide(const struct vsmlist_settings *set,
		    enum vsmlist_dmarc_mode mode,
		    const struct vsmlist_policy *policy,
		    struct vsmlist_decision *decision_r);

const char *vsmlist_mitigation_name(enum vsmlist_mitigation mitigation);

#endif
