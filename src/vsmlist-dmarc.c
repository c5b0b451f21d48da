/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "str-sanitize.h"

#include "vsmlist-dns.h"
#include "vsmlist-dmarc.h"

#include <libpsl.h>

/* RFC 9989: at most this many queries in the walk, the author's own
   included; longer names jump to the suffix of this many labels. */
#define DMARC_WALK_MAX_QUERIES 8
#define DMARC_WALK_JUMP_LABELS 7

struct vsmlist_psl {
	psl_ctx_t *ctx;
	bool builtin;
};

enum dmarc_query_status {
	DMARC_QUERY_RECORD,
	DMARC_QUERY_NONE,
	DMARC_QUERY_TEMPERROR,
};

/* Q(name): one _dmarc lookup, remembered for the rest of the discovery so
   that the two methods never ask the same thing twice. */
struct dmarc_query {
	const char *name;
	enum dmarc_query_status status;
	/* _dmarc.<name> answered NXDOMAIN */
	bool nxdomain;
	struct vsmlist_dmarc_record record;
	const char *text;
	const char *error;
};

struct dmarc_discovery {
	pool_t pool;
	const struct vsmlist_dns_resolver *resolver;
	struct vsmlist_psl *psl;
	const char *domain;
	HASH_TABLE(const char *, struct dmarc_query *) queries;
	unsigned int lookups;
	/* The author's existence (for np): -1 unknown, 0 no, 1 yes */
	int author_exists;
};

/*
 * Public suffix list
 */

int vsmlist_psl_init(const char *path, struct vsmlist_psl **psl_r,
		     const char **error_r)
{
	struct vsmlist_psl *psl;
	psl_ctx_t *ctx;

	if (path != NULL && *path != '\0') {
		ctx = psl_load_file(path);
		if (ctx == NULL) {
			*error_r = t_strdup_printf(
				"public suffix list %s: cannot be loaded", path);
			return -1;
		}
	} else {
		/* The newer of libpsl's built-in list and the system's */
		ctx = psl_latest(NULL);
		if (ctx == NULL) {
			*error_r = "no public suffix list available "
				"(Debian: install publicsuffix)";
			return -1;
		}
	}
	psl = i_new(struct vsmlist_psl, 1);
	psl->ctx = ctx;
	*psl_r = psl;
	return 0;
}

void vsmlist_psl_deinit(struct vsmlist_psl **_psl)
{
	struct vsmlist_psl *psl = *_psl;

	if (psl == NULL)
		return;
	*_psl = NULL;
	psl_free(psl->ctx);
	i_free(psl);
}

const char *vsmlist_psl_org_domain(struct vsmlist_psl *psl,
				   const char *domain)
{
	return psl_registrable_domain(psl->ctx, domain);
}

/*
 * Names
 */

static unsigned int domain_label_count(const char *domain)
{
	unsigned int count = 1;

	for (; *domain != '\0'; domain++) {
		if (*domain == '.')
			count++;
	}
	return count;
}

/* The suffix of domain that has the given number of labels */
static const char *domain_suffix(const char *domain, unsigned int labels)
{
	unsigned int count = domain_label_count(domain);

	while (count > labels) {
		domain = strchr(domain, '.') + 1;
		count--;
	}
	return domain;
}

static const char *domain_parent(const char *domain)
{
	const char *dot = strchr(domain, '.');

	return (dot == NULL ? NULL : dot + 1);
}

/*
 * Q(name)
 */

static void
dmarc_query_answer(struct dmarc_discovery *disc, struct dmarc_query *query,
		   const struct vsmlist_dns_answer *answer)
{
	const char *const *txts, *error;
	const char *text = NULL;
	unsigned int i, count, found = 0;

	switch (answer->status) {
	case VSMLIST_DNS_TEMPERROR:
		query->status = DMARC_QUERY_TEMPERROR;
		query->error = p_strdup(disc->pool, answer->error);
		return;
	case VSMLIST_DNS_NXDOMAIN:
		query->status = DMARC_QUERY_NONE;
		query->nxdomain = TRUE;
		return;
	case VSMLIST_DNS_OK:
		break;
	}

	query->status = DMARC_QUERY_NONE;
	txts = array_get(&answer->txts, &count);
	for (i = 0; i < count; i++) {
		if (vsmlist_dmarc_record_is_dmarc(txts[i])) {
			found++;
			text = txts[i];
		}
	}
	if (found == 0)
		return;
	if (found > 1) {
		/* RFC 7489 6.6.3 / RFC 9989: several records, none used */
		query->error = "several DMARC records (all discarded)";
		return;
	}
	query->text = p_strdup(disc->pool, text);
	if (vsmlist_dmarc_record_parse(text, &query->record, &error) > 0)
		query->status = DMARC_QUERY_RECORD;
	else
		query->error = p_strdup(disc->pool, error);
}

static const struct dmarc_query *
dmarc_query(struct dmarc_discovery *disc, const char *name)
{
	struct vsmlist_dns_answer answer;
	struct dmarc_query *query;

	query = hash_table_lookup(disc->queries, name);
	if (query != NULL)
		return query;

	query = p_new(disc->pool, struct dmarc_query, 1);
	query->name = p_strdup(disc->pool, name);
	disc->lookups++;
	i_zero(&answer);
	if (disc->resolver->lookup_txt(disc->resolver->context,
				       t_strconcat("_dmarc.", name, NULL),
				       pool_datastack_create(), &answer) < 0) {
		answer.status = VSMLIST_DNS_TEMPERROR;
		answer.error = "internal error";
	}
	dmarc_query_answer(disc, query, &answer);
	hash_table_insert(disc->queries, query->name, query);
	return query;
}

/* RFC 9989: np applies to a non-existent author; that takes a query of
   the author's own name (RFC 8020: NXDOMAIN means nothing is below). */
static int dmarc_author_exists(struct dmarc_discovery *disc)
{
	struct vsmlist_dns_answer answer;

	if (disc->author_exists >= 0)
		return disc->author_exists;
	i_zero(&answer);
	disc->lookups++;
	if (disc->resolver->lookup_txt(disc->resolver->context, disc->domain,
				       pool_datastack_create(), &answer) < 0)
		answer.status = VSMLIST_DNS_TEMPERROR;
	switch (answer.status) {
	case VSMLIST_DNS_NXDOMAIN:
		disc->author_exists = 0;
		break;
	case VSMLIST_DNS_OK:
		disc->author_exists = 1;
		break;
	case VSMLIST_DNS_TEMPERROR:
		/* Unknown: take it as existing; sp or p then apply, and
		   np is usually the stricter only for non-senders */
		return 1;
	}
	return disc->author_exists;
}

static void
method_temperror(struct dmarc_discovery *disc,
		 struct vsmlist_dmarc_method_result *result,
		 const struct dmarc_query *query)
{
	result->status = VSMLIST_DMARC_STATUS_TEMPERROR;
	result->error = p_strdup_printf(disc->pool, "_dmarc.%s: %s",
					query->name, query->error);
}

static void
method_note(struct dmarc_discovery *disc,
	    struct vsmlist_dmarc_method_result *result,
	    const struct dmarc_query *query)
{
	if (query->status == DMARC_QUERY_NONE && query->error != NULL &&
	    result->note == NULL) {
		result->note = p_strdup_printf(disc->pool, "_dmarc.%s: %s",
					       query->name, query->error);
	}
}

static void
method_apply(struct dmarc_discovery *disc,
	     struct vsmlist_dmarc_method_result *result,
	     const struct dmarc_query *query, bool subdomain_policy,
	     bool use_np)
{
	const struct vsmlist_dmarc_record *record = &query->record;

	result->status = VSMLIST_DMARC_STATUS_POLICY;
	result->policy_domain = query->name;
	result->record = query->text;
	result->testing = record->testing;
	result->policy = record->p;
	result->policy_tag = "p";
	if (!subdomain_policy)
		return;

	/* RFC 9091/9989: np, else sp, else p for a non-existent
	   subdomain; sp, else p, for an existing one */
	if (use_np && record->np != VSMLIST_DMARC_POLICY_UNSET &&
	    dmarc_author_exists(disc) == 0) {
		result->policy = record->np;
		result->policy_tag = "np";
	} else if (record->sp != VSMLIST_DMARC_POLICY_UNSET) {
		result->policy = record->sp;
		result->policy_tag = "sp";
	}
}

/*
 * RFC 7489: the author's record, else the organizational domain's (from
 * the public suffix list).
 */

static bool rfc7489_record_usable(const struct dmarc_query *query)
{
	/* RFC 7489 6.6.3: without a valid p, only a valid rua saves it */
	return query->status == DMARC_QUERY_RECORD &&
		(!query->record.p_missing || query->record.rua_valid);
}

static void
dmarc_discover_psl(struct dmarc_discovery *disc,
		   struct vsmlist_dmarc_method_result *result)
{
	const struct dmarc_query *query;
	const char *org;

	result->status = VSMLIST_DMARC_STATUS_NOPOLICY;
	org = vsmlist_psl_org_domain(disc->psl, disc->domain);
	result->org_domain = (org == NULL ? disc->domain : org);

	query = dmarc_query(disc, disc->domain);
	if (query->status == DMARC_QUERY_TEMPERROR) {
		method_temperror(disc, result, query);
		return;
	}
	if (rfc7489_record_usable(query)) {
		method_apply(disc, result, query, FALSE, FALSE);
		return;
	}
	method_note(disc, result, query);
	if (org == NULL || strcmp(org, disc->domain) == 0)
		return;

	query = dmarc_query(disc, org);
	if (query->status == DMARC_QUERY_TEMPERROR)
		method_temperror(disc, result, query);
	else if (rfc7489_record_usable(query))
		method_apply(disc, result, query, TRUE, FALSE);
	else
		method_note(disc, result, query);
}

/*
 * RFC 9989 DNS tree walk
 */

static void
dmarc_discover_tree_walk(struct dmarc_discovery *disc,
			 struct vsmlist_dmarc_method_result *result)
{
	ARRAY(const struct dmarc_query *) found;
	const struct dmarc_query *query, *const *records, *org_query = NULL;
	const struct dmarc_query *psd_query = NULL;
	const char *name, *org = NULL;
	unsigned int labels, queries = 1, i, count;

	result->status = VSMLIST_DMARC_STATUS_NOPOLICY;

	/* 1. The author's own record */
	query = dmarc_query(disc, disc->domain);
	if (query->status == DMARC_QUERY_TEMPERROR) {
		method_temperror(disc, result, query);
		return;
	}
	if (query->status == DMARC_QUERY_RECORD) {
		if (query->record.psd == VSMLIST_DMARC_PSD_N)
			result->org_domain = disc->domain;
		method_apply(disc, result, query, FALSE, FALSE);
		return;
	}
	method_note(disc, result, query);

	/* 2. Walk up, remembering records, longest name first */
	t_array_init(&found, 8);
	labels = domain_label_count(disc->domain);
	name = (labels > DMARC_WALK_MAX_QUERIES ?
		domain_suffix(disc->domain, DMARC_WALK_JUMP_LABELS) :
		domain_parent(disc->domain));
	for (; name != NULL && queries < DMARC_WALK_MAX_QUERIES;
	     name = domain_parent(name), queries++) {
		query = dmarc_query(disc, name);
		if (query->status == DMARC_QUERY_TEMPERROR) {
			method_temperror(disc, result, query);
			return;
		}
		if (query->status != DMARC_QUERY_RECORD) {
			method_note(disc, result, query);
			continue;
		}
		array_push_back(&found, &query);
		if (query->record.psd != VSMLIST_DMARC_PSD_U)
			break;
	}

	/* 3. The organizational domain among them */
	records = array_get(&found, &count);
	for (i = 0; i < count && org == NULL; i++) {
		if (records[i]->record.psd == VSMLIST_DMARC_PSD_N) {
			org = records[i]->name;
			org_query = records[i];
		}
	}
	for (i = 0; i < count && org == NULL; i++) {
		if (records[i]->record.psd == VSMLIST_DMARC_PSD_Y) {
			psd_query = records[i];
			org = domain_suffix(disc->domain,
				domain_label_count(records[i]->name) + 1);
		}
	}
	if (org == NULL && count > 0) {
		org_query = records[count - 1];
		org = org_query->name;
	}
	if (org == NULL)
		return;
	result->org_domain = p_strdup(disc->pool, org);

	/* 4. The org domain's record, else the PSD's; 5. sp/np */
	if (org_query == NULL && psd_query != NULL) {
		/* The org domain lies between the author and the PSD; it
		   was queried on the way up unless it is the author */
		for (i = 0; i < count; i++) {
			if (strcmp(records[i]->name, org) == 0)
				org_query = records[i];
		}
		if (org_query == NULL)
			org_query = psd_query;
	}
	method_apply(disc, result, org_query, TRUE, TRUE);
}

/*
 * Both
 */

static bool method_stricter(const struct vsmlist_dmarc_method_result *a,
			    const struct vsmlist_dmarc_method_result *b)
{
	if (a->status != VSMLIST_DMARC_STATUS_POLICY)
		return FALSE;
	return b->status != VSMLIST_DMARC_STATUS_POLICY ||
		a->policy > b->policy;
}

void vsmlist_dmarc_discover(const struct vsmlist_dns_resolver *resolver,
			    struct vsmlist_psl *psl, pool_t pool,
			    const char *domain,
			    struct vsmlist_dmarc_result *result_r)
{
	struct dmarc_discovery disc;
	const struct vsmlist_dmarc_method_result *tw, *ps, *best;

	i_zero(&disc);
	disc.pool = pool;
	disc.resolver = resolver;
	disc.psl = psl;
	disc.domain = p_strdup(pool, domain);
	disc.author_exists = -1;
	hash_table_create(&disc.queries, default_pool, 16, str_hash, strcmp);

	i_zero(result_r);
	result_r->domain = disc.domain;
	dmarc_discover_tree_walk(&disc, &result_r->tree_walk);
	dmarc_discover_psl(&disc, &result_r->psl);
	hash_table_destroy(&disc.queries);
	result_r->lookups = disc.lookups;

	/* The stricter wins. A temporary error leaves the answer open
	   unless the other method already says reject. */
	tw = &result_r->tree_walk;
	ps = &result_r->psl;
	best = (method_stricter(ps, tw) ? ps : tw);
	if (best->status == VSMLIST_DMARC_STATUS_NOPOLICY &&
	    ps->status == VSMLIST_DMARC_STATUS_POLICY)
		best = ps;
	if ((tw->status == VSMLIST_DMARC_STATUS_TEMPERROR ||
	     ps->status == VSMLIST_DMARC_STATUS_TEMPERROR) &&
	    !(best->status == VSMLIST_DMARC_STATUS_POLICY &&
	      best->policy == VSMLIST_DMARC_POLICY_REJECT)) {
		result_r->status = VSMLIST_DMARC_STATUS_TEMPERROR;
		return;
	}
	result_r->status = best->status;
	result_r->policy = best->policy;
}

const char *vsmlist_dmarc_status_name(enum vsmlist_dmarc_status status,
				      enum vsmlist_dmarc_policy policy)
{
	switch (status) {
	case VSMLIST_DMARC_STATUS_POLICY:
		return vsmlist_dmarc_policy_name(policy);
	case VSMLIST_DMARC_STATUS_NOPOLICY:
		return "nopolicy";
	case VSMLIST_DMARC_STATUS_TEMPERROR:
		break;
	}
	return "temperror";
}
