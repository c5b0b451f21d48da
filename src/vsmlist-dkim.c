/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"

#include "vsmlist-dkim-test.h"

#include <ctype.h>

struct dkim_signature {
	const char *domain;
	/* Lower-case names from h=, NULL-terminated */
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

/* RFC 6376 3.2: tag-name = ALPHA *ALNUMPUNC */
static bool dkim_tag_name_is_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || !i_isalpha(name[0]))
		return FALSE;
	for (i = 1; i < len; i++) {
		if (!i_isalnum(name[i]) && name[i] != '_')
			return FALSE;
	}
	return TRUE;
}

/* d=: a domain name, so it may reach the log as it is */
static bool dkim_domain_is_valid(const char *domain)
{
	const char *p;

	if (*domain == '\0' || strlen(domain) > 253)
		return FALSE;
	for (p = domain; *p != '\0'; p++) {
		if (!i_isalnum(*p) && *p != '-' && *p != '.' && *p != '_')
			return FALSE;
	}
	return TRUE;
}

/* Parse one signature's tag-list. Returns FALSE for one a verifier
   would reject outright (RFC 6376 3.5 and 6.1.1: a malformed tag-list, a
   duplicate tag, a missing required tag, v other than 1, h= without
   From): such a signature protects no header, so it must not keep the
   list's headers out. */
static bool
dkim_signature_parse(pool_t pool, const char *value,
		     struct dkim_signature *sig_r)
{
	static const char *const required[] = {
		"v", "a", "b", "bh", "d", "h", "s"
	};
	const char *const *tags, *tag, *eq, *h = NULL, *v = NULL;
	ARRAY_TYPE(const_string) seen, names;
	const char *const *name;
	const char *tag_name, *seen_name;
	unsigned int i;
	bool has_from = FALSE;

	i_zero(sig_r);
	t_array_init(&seen, 12);
	for (tags = t_strsplit(dkim_strip_wsp(value), ";"); *tags != NULL;
	     tags++) {
		tag = *tags;
		if (*tag == '\0')
			continue;	/* a trailing ';' is allowed */
		eq = strchr(tag, '=');
		if (eq == NULL || !dkim_tag_name_is_valid(tag, eq - tag))
			return FALSE;
		tag_name = t_strdup_until(tag, eq);
		array_foreach_elem(&seen, seen_name) {
			if (strcmp(seen_name, tag_name) == 0)
				return FALSE;
		}
		array_push_back(&seen, &tag_name);
		if (strcmp(tag_name, "h") == 0)
			h = eq + 1;
		else if (strcmp(tag_name, "v") == 0)
			v = eq + 1;
		else if (strcmp(tag_name, "d") == 0)
			sig_r->domain = p_strdup(pool, t_str_lcase(eq + 1));
	}
	for (i = 0; i < N_ELEMENTS(required); i++) {
		bool found = FALSE;

		array_foreach_elem(&seen, seen_name) {
			if (strcmp(seen_name, required[i]) == 0)
				found = TRUE;
		}
		if (!found)
			return FALSE;
	}
	if (strcmp(v, "1") != 0 || !dkim_domain_is_valid(sig_r->domain))
		return FALSE;

	p_array_init(&names, pool, 16);
	for (name = t_strsplit(h, ":"); *name != NULL; name++) {
		if (**name == '\0')
			continue;
		const char *lname = p_strdup(pool, t_str_lcase(*name));
		if (strcmp(lname, "from") == 0)
			has_from = TRUE;
		array_push_back(&names, &lname);
	}
	if (!has_from)
		return FALSE;
	array_append_zero(&names);
	sig_r->names = array_front(&names);
	return TRUE;
}

struct vsmlist_dkim_coverage *
vsmlist_dkim_coverage_init(pool_t pool, const char *const *signatures)
{
	struct vsmlist_dkim_coverage *coverage;
	struct dkim_signature *sig;

	coverage = p_new(pool, struct vsmlist_dkim_coverage, 1);
	p_array_init(&coverage->signatures, pool, 2);
	for (; signatures != NULL && *signatures != NULL; signatures++) {
		struct dkim_signature parsed;
		bool valid;

		T_BEGIN {
			valid = dkim_signature_parse(pool, *signatures,
						     &parsed);
		} T_END;
		if (valid) {
			sig = array_append_space(&coverage->signatures);
			*sig = parsed;
		}
	}
	return coverage;
}

const char *vsmlist_dkim_covers(const struct vsmlist_dkim_coverage *coverage,
				const char *header_name)
{
	const struct dkim_signature *sig;
	const char *const *name;

	array_foreach(&coverage->signatures, sig) {
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
