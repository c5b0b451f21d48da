/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"

#include "vsmlist-settings.h"
#include "vsmlist-dns.h"
#include "vsmlist-dns-cache.h"
#include "vsmlist-policy.h"

/* nopolicy < none < quarantine < reject; a temporary error is
   resolved by the caller */
static int dmarc_result_rank(const struct vsmlist_dmarc_result *result)
{
	if (result->status != VSMLIST_DMARC_STATUS_POLICY)
		return 0;
	return (int)result->policy;
}

static bool
method_gave(const struct vsmlist_dmarc_method_result *method,
	    const struct vsmlist_dmarc_result *result)
{
	return method->status == result->status &&
		(result->status != VSMLIST_DMARC_STATUS_POLICY ||
		 method->policy == result->policy);
}

const char *
vsmlist_dmarc_result_methods(const struct vsmlist_dmarc_result *result)
{
	bool tree_walk = method_gave(&result->tree_walk, result);
	bool psl = method_gave(&result->psl, result);

	if (tree_walk && psl)
		return "rfc9989,rfc7489";
	return (psl ? "rfc7489" : "rfc9989");
}

static void
policy_discover_domains(pool_t pool, const struct vsmlist_dns_resolver *resolver,
			struct vsmlist_psl *psl, struct vsmlist_policy *policy)
{
	const struct vsmlist_author_mailbox *mbox;
	const struct vsmlist_dmarc_result *best = NULL;
	struct vsmlist_dmarc_result *result;
	bool temperror = FALSE;

	array_foreach(&policy->author.mailboxes, mbox) {
		result = p_new(pool, struct vsmlist_dmarc_result, 1);
		vsmlist_dmarc_discover(resolver, psl, pool, mbox->domain,
				       result);
		if (result->status == VSMLIST_DMARC_STATUS_TEMPERROR) {
			temperror = TRUE;
			if (best == NULL)
				best = result;
		} else if (best == NULL ||
			   best->status == VSMLIST_DMARC_STATUS_TEMPERROR ||
			   dmarc_result_rank(result) > dmarc_result_rank(best))
			best = result;
	}
	if (best == NULL)
		return;
	policy->decisive = best;
	/* Several authors: one unanswered domain leaves the answer open
	   unless another one already says reject */
	if (temperror && !(best->status == VSMLIST_DMARC_STATUS_POLICY &&
			   best->policy == VSMLIST_DMARC_POLICY_REJECT)) {
		policy->status = VSMLIST_DMARC_STATUS_TEMPERROR;
		return;
	}
	policy->status = best->status;
	policy->policy = best->policy;
}

/* Discover through ldns, with the answer cache */
static void
policy_discover_dns(pool_t pool, const struct vsmlist_settings *set,
		    struct vsmlist_psl *psl, struct event *event,
		    struct vsmlist_policy *policy_r)
{
	struct vsmlist_dns_settings dns_set;
	struct vsmlist_dns *dns;
	struct vsmlist_dns_cache *cache = NULL;
	struct vsmlist_dns_resolver resolver;
	const char *error;

	i_zero(&dns_set);
	dns_set.servers = set->dns_servers;
	dns_set.timeout_msecs = set->dns_timeout_msecs;
	if (vsmlist_dns_init(&dns_set, event, &dns, &error) < 0) {
		policy_r->status = VSMLIST_DMARC_STATUS_TEMPERROR;
		policy_r->error = p_strdup_printf(pool, "DNS: %s", error);
		return;
	}
	vsmlist_dns_begin(dns);
	vsmlist_dns_get_resolver(dns, &resolver);
	if (set->dns_cache != NULL) {
		cache = vsmlist_dns_cache_open(set->dns_cache, &resolver,
					       event);
		vsmlist_dns_cache_get_resolver(cache, &resolver);
	}

	policy_discover_domains(pool, &resolver, psl, policy_r);

	policy_r->queries = vsmlist_dns_get_query_count(dns);
	if (cache != NULL) {
		policy_r->cache_hits = vsmlist_dns_cache_get_hits(cache);
		(void)vsmlist_dns_cache_close(&cache);
	}
	vsmlist_dns_deinit(&dns);
}

void vsmlist_policy_discover(pool_t pool, const struct vsmlist_settings *set,
			     const char *const *from_fields, bool lookup,
			     const struct vsmlist_dns_resolver *resolver,
			     struct event *event,
			     struct vsmlist_policy *policy_r)
{
	struct vsmlist_psl *psl;
	const char *error;

	i_zero(policy_r);
	policy_r->status = VSMLIST_DMARC_STATUS_NOPOLICY;
	vsmlist_author_parse(pool, from_fields, &policy_r->author);
	/* Only a single author's policy can change the decision (every
	   other post is wrapped): looking up several is work an attacker
	   could multiply */
	if (policy_r->author.status != VSMLIST_AUTHOR_OK || !lookup)
		return;

	if (vsmlist_psl_init(set->psl_file, &psl, &error) < 0) {
		policy_r->status = VSMLIST_DMARC_STATUS_TEMPERROR;
		policy_r->error = p_strdup(pool, error);
		return;
	}
	if (resolver != NULL)
		policy_discover_domains(pool, resolver, psl, policy_r);
	else
		policy_discover_dns(pool, set, psl, event, policy_r);
	vsmlist_psl_deinit(&psl);
}

static const struct vsmlist_dmarc_method_result *
policy_decisive_method(const struct vsmlist_dmarc_result *result)
{
	return (method_gave(&result->tree_walk, result) ?
		&result->tree_walk : &result->psl);
}

static const char *policy_name(const struct vsmlist_policy *policy)
{
	return vsmlist_dmarc_status_name(policy->status, policy->policy);
}

void vsmlist_policy_add_event_fields(const struct vsmlist_policy *policy,
				     struct event *event)
{
	const struct vsmlist_dmarc_result *result = policy->decisive;
	const struct vsmlist_dmarc_method_result *method;

	event_add_str(event, "vsmlist_author_status",
		      vsmlist_author_status_name(policy->author.status));
	event_add_str(event, "vsmlist_dmarc_policy", policy_name(policy));
	event_add_int(event, "vsmlist_dns_queries", policy->queries);
	event_add_int(event, "vsmlist_dns_cache_hits", policy->cache_hits);
	if (policy->error != NULL)
		event_add_str(event, "vsmlist_dmarc_error", policy->error);
	if (result == NULL)
		return;

	method = policy_decisive_method(result);
	event_add_str(event, "vsmlist_author_domain", result->domain);
	event_add_str(event, "vsmlist_dmarc_method",
		      vsmlist_dmarc_result_methods(result));
	if (method->policy_domain != NULL) {
		event_add_str(event, "vsmlist_dmarc_policy_domain",
			      method->policy_domain);
	}
	if (method->org_domain != NULL) {
		event_add_str(event, "vsmlist_dmarc_org_domain",
			      method->org_domain);
	}
	if (method->record != NULL)
		event_add_str(event, "vsmlist_dmarc_record", method->record);
	if (method->error != NULL)
		event_add_str(event, "vsmlist_dmarc_error", method->error);
	if (method->note != NULL)
		event_add_str(event, "vsmlist_dmarc_note", method->note);
}

const char *vsmlist_policy_describe(const struct vsmlist_policy *policy)
{
	const struct vsmlist_dmarc_result *result = policy->decisive;
	const struct vsmlist_dmarc_method_result *method;
	string_t *str = t_str_new(128);

	if (result == NULL) {
		str_printfa(str, "author %s (%s)",
			    vsmlist_author_status_name(policy->author.status),
			    policy->author.reason != NULL ?
			    policy->author.reason : "no usable From");
		if (policy->error != NULL)
			str_printfa(str, ", DMARC: %s", policy->error);
		return str_c(str);
	}
	method = policy_decisive_method(result);
	str_printfa(str, "DMARC policy of %s: %s (%s", result->domain,
		    policy_name(policy), vsmlist_dmarc_result_methods(result));
	if (method->policy_domain != NULL) {
		str_printfa(str, ", _dmarc.%s %s", method->policy_domain,
			    method->policy_tag);
	}
	if (method->error != NULL)
		str_printfa(str, ", %s", method->error);
	if (method->note != NULL)
		str_printfa(str, ", %s", method->note);
	str_printfa(str, "; %u DNS quer%s, %u cached)", policy->queries,
		    policy->queries == 1 ? "y" : "ies", policy->cache_hits);
	if (policy->author.status != VSMLIST_AUTHOR_OK)
		str_printfa(str, ", %s", policy->author.reason);
	return str_c(str);
}
