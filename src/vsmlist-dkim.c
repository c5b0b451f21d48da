/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"

#include "vsmlist-dkim.h"

struct dkim_signature {
	const char *domain;
	/* Lower-case names from h=, NULL-terminated; NULL if unparsable */
	const char *const *names;
};

struct vsmlist_dkim_coverage {
	ARRAY(struct dkim_signature) signatures;
};

/* RFC 6376 3.2: tag-list, white space (FWS) allowed around everything */
static const char *dkim_strip_wsp(const char *value)
{
	string_t *str = t_str_new(strlen(value));

	for (; *value != '\0'; value++) {
		if (*value != ' ' && *value != '\t' &&
		    *value != '\r' && *value != '\n')
			str_append_c(str, *value);
	}
	return str_c(str);
}

static void
dkim_signature_parse(pool_t pool, const char *value,
		     struct dkim_signature *sig_r)
{
	const char *const *tags, *tag, *h = NULL;
	ARRAY_TYPE(const_string) names;
	const char *const *name;

	i_zero(sig_r);
	for (tags = t_strsplit(dkim_strip_wsp(value), ";"); *tags != NULL;
	     tags++) {
		tag = *tags;
		if (str_begins(tag, "h="))
			h = tag + 2;
		else if (str_begins(tag, "d="))
			sig_r->domain = p_strdup(pool, t_str_lcase(tag + 2));
	}
	if (sig_r->domain == NULL)
		sig_r->domain = "(no d=)";
	if (h == NULL || *h == '\0')
		return;

	p_array_init(&names, pool, 16);
	for (name = t_strsplit(h, ":"); *name != NULL; name++) {
		if (**name == '\0')
			continue;
		const char *lname = p_strdup(pool, t_str_lcase(*name));
		array_push_back(&names, &lname);
	}
	array_append_zero(&names);
	sig_r->names = array_front(&names);
}

struct vsmlist_dkim_coverage *
vsmlist_dkim_coverage_init(pool_t pool, const char *const *signatures)
{
	struct vsmlist_dkim_coverage *coverage;
	struct dkim_signature *sig;

	coverage = p_new(pool, struct vsmlist_dkim_coverage, 1);
	p_array_init(&coverage->signatures, pool, 2);
	for (; signatures != NULL && *signatures != NULL; signatures++) {
		sig = array_append_space(&coverage->signatures);
		T_BEGIN {
			dkim_signature_parse(pool, *signatures, sig);
		} T_END;
	}
	return coverage;
}

const char *vsmlist_dkim_covers(const struct vsmlist_dkim_coverage *coverage,
				const char *header_name)
{
	const struct dkim_signature *sig;
	const char *const *name;

	array_foreach(&coverage->signatures, sig) {
		if (sig->names == NULL)
			return sig->domain;
		for (name = sig->names; *name != NULL; name++) {
			if (strcasecmp(*name, header_name) == 0)
				return sig->domain;
		}
	}
	return NULL;
}

unsigned int
vsmlist_dkim_signature_count(const struct vsmlist_dkim_coverage *coverage)
{
	return array_count(&coverage->signatures);
}
