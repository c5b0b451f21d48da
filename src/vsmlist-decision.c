/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"

#include "vsmlist-policy.h"
#include "vsmlist-decision.h"

const char *vsmlist_mitigation_name(enum vsmlist_mitigation mitigation)
{
	switch (mitigation) {
	case VSMLIST_MITIGATION_NONE:
		return "none";
	case VSMLIST_MITIGATION_WRAP:
		return "wrap";
	case VSMLIST_MITIGATION_MUNGE:
		return "munge";
	case VSMLIST_MITIGATION_TEMPFAIL:
		break;
	}
	return "tempfail";
}

static void
decide(struct vsmlist_decision *decision, enum vsmlist_mitigation mitigation,
       const char *reason)
{
	decision->mitigation = mitigation;
	decision->reason = reason;
}

/* A domain list entry matching any of the author domains */
static const char *
author_list_match(const char *const *list, const struct vsmlist_policy *policy,
		  const char **domain_r)
{
	const struct vsmlist_author_mailbox *mbox;
	const char *match;

	array_foreach(&policy->author.mailboxes, mbox) {
		match = vsmlist_domain_list_match(list, mbox->domain);
		if (match != NULL) {
			*domain_r = mbox->domain;
			return match;
		}
	}
	return NULL;
}

void vsmlist_decide(const struct vsmlist_settings *set,
		    enum vsmlist_dmarc_mode mode,
		    const struct vsmlist_policy *policy,
		    struct vsmlist_decision *decision_r)
{
	/* Munging needs one author to put into Reply-To; otherwise, and in
	   auto mode, mitigation is wrapping */
	enum vsmlist_mitigation mitigate =
		(mode == VSMLIST_DMARC_MODE_MUNGE ?
		 VSMLIST_MITIGATION_MUNGE : VSMLIST_MITIGATION_WRAP);
	const char *match, *domain;

	i_zero(decision_r);
	if (mode == VSMLIST_DMARC_MODE_NONE || policy == NULL) {
		decide(decision_r, VSMLIST_MITIGATION_NONE,
		       "DMARC mitigation is off");
		return;
	}
	if (policy->author.status != VSMLIST_AUTHOR_OK) {
		/* Nobody can predict what a receiver makes of it: the
		   wrapped post at least passes as the list's own */
		decide(decision_r, VSMLIST_MITIGATION_WRAP, t_strdup_printf(
			"unusable author (%s)", policy->author.reason));
		return;
	}

	match = author_list_match(set->dmarc_exempt, policy, &domain);
	if (match != NULL) {
		decide(decision_r, VSMLIST_MITIGATION_NONE, t_strdup_printf(
			"%s is exempt (sieve_vsmlist_dmarc_exempt %s)",
			domain, match));
		return;
	}
	if (mode != VSMLIST_DMARC_MODE_AUTO) {
		decide(decision_r, mitigate, t_strdup_printf(
			"sieve_vsmlist_dmarc is %s",
			vsmlist_dmarc_mode_name(mode)));
		return;
	}
	match = author_list_match(set->dmarc_force, policy, &domain);
	if (match != NULL) {
		decide(decision_r, mitigate, t_strdup_printf(
			"%s is forced (sieve_vsmlist_dmarc_force %s)",
			domain, match));
		return;
	}

	switch (policy->status) {
	case VSMLIST_DMARC_STATUS_POLICY:
		if (policy->policy >= VSMLIST_DMARC_POLICY_QUARANTINE) {
			decide(decision_r, mitigate, t_strdup_printf(
				"DMARC policy %s",
				vsmlist_dmarc_policy_name(policy->policy)));
		} else {
			decide(decision_r, VSMLIST_MITIGATION_NONE,
			       "DMARC policy none");
		}
		return;
	case VSMLIST_DMARC_STATUS_NOPOLICY:
		decide(decision_r, VSMLIST_MITIGATION_NONE, "no DMARC policy");
		return;
	case VSMLIST_DMARC_STATUS_TEMPERROR:
		break;
	}

	switch (set->dns_failure) {
	case VSMLIST_DNS_FAILURE_WRAP:
		decide(decision_r, mitigate, "DNS failure "
		       "(sieve_vsmlist_dns_failure=wrap)");
		break;
	case VSMLIST_DNS_FAILURE_TEMPFAIL:
		decide(decision_r, VSMLIST_MITIGATION_TEMPFAIL, "DNS failure "
		       "(sieve_vsmlist_dns_failure=tempfail)");
		break;
	case VSMLIST_DNS_FAILURE_NONE:
		decide(decision_r, VSMLIST_MITIGATION_NONE, "DNS failure "
		       "(sieve_vsmlist_dns_failure=none)");
		break;
	}
}
