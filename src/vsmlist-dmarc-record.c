/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str-sanitize.h"

#include "vsmlist-dmarc-record.h"

#include <ctype.h>

#define IS_WSP(c) ((c) == ' ' || (c) == '\t')

static const char *skip_wsp(const char *p)
{
	while (IS_WSP(*p))
		p++;
	return p;
}

bool vsmlist_dmarc_record_is_dmarc(const char *txt)
{
	const char *p = txt;

	/* RFC 7489 6.3 / RFC 9989: "v" must be the first tag and the record
	   starts with it, without leading white space */
	if (*p++ != 'v')
		return FALSE;
	p = skip_wsp(p);
	if (*p++ != '=')
		return FALSE;
	p = skip_wsp(p);
	if (strncmp(p, "DMARC1", 6) != 0)
		return FALSE;
	p = skip_wsp(p + 6);
	return (*p == '\0' || *p == ';');
}

const char *vsmlist_dmarc_policy_name(enum vsmlist_dmarc_policy policy)
{
	switch (policy) {
	case VSMLIST_DMARC_POLICY_UNSET:
		break;
	case VSMLIST_DMARC_POLICY_NONE:
		return "none";
	case VSMLIST_DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case VSMLIST_DMARC_POLICY_REJECT:
		return "reject";
	}
	return "unset";
}

static bool
parse_policy(const char *value, enum vsmlist_dmarc_policy *policy_r)
{
	if (strcasecmp(value, "none") == 0)
		*policy_r = VSMLIST_DMARC_POLICY_NONE;
	else if (strcasecmp(value, "quarantine") == 0)
		*policy_r = VSMLIST_DMARC_POLICY_QUARANTINE;
	else if (strcasecmp(value, "reject") == 0)
		*policy_r = VSMLIST_DMARC_POLICY_REJECT;
	else
		return FALSE;
	return TRUE;
}

/* rua=: a comma-separated list of DMARC URIs; one with a scheme and
   something after it is enough to count as "a valid URI". */
static bool rua_has_valid_uri(const char *value)
{
	const char *const *uris = t_strsplit(value, ",");
	const char *p;

	for (; *uris != NULL; uris++) {
		p = t_str_trim(*uris, " \t");
		if (!i_isalpha(*p))
			continue;
		while (i_isalnum(*p) || *p == '+' || *p == '-' || *p == '.')
			p++;
		if (*p == ':' && p[1] != '\0' && p[1] != '!')
			return TRUE;
	}
	return FALSE;
}

struct dmarc_tags {
	const char *p, *sp, *np, *psd, *t, *rua;
	bool p_seen, sp_seen, np_seen, psd_seen, t_seen, rua_seen;
	bool duplicate;
};

/* A duplicated p/sp/np keeps the stricter valid value: a list predicts
   the strictest receiver. Other duplicates keep the first. */
static void
dmarc_tag_set(const char **slot, bool *seen, const char *value,
	      bool policy_tag, bool *duplicate)
{
	enum vsmlist_dmarc_policy old_policy, new_policy;

	if (!*seen) {
		*seen = TRUE;
		*slot = value;
		return;
	}
	*duplicate = TRUE;
	if (!policy_tag)
		return;
	if (!parse_policy(value, &new_policy))
		return;
	if (*slot == NULL || !parse_policy(*slot, &old_policy) ||
	    new_policy > old_policy)
		*slot = value;
}

static int dmarc_tags_parse(const char *txt, struct dmarc_tags *tags,
			    const char **error_r)
{
	const char *const *specs = t_strsplit(txt, ";");
	const char *spec, *eq, *name, *value;

	i_zero(tags);
	for (; *specs != NULL; specs++) {
		spec = t_str_trim(*specs, " \t\r\n");
		if (*spec == '\0')
			continue;
		eq = strchr(spec, '=');
		if (eq == NULL) {
			*error_r = t_strdup_printf(
				"tag without '=': '%s'",
				str_sanitize(spec, 32));
			return -1;
		}
		name = t_str_trim(t_strdup_until(spec, eq), " \t");
		value = t_str_trim(eq + 1, " \t");

		if (strcmp(name, "p") == 0)
			dmarc_tag_set(&tags->p, &tags->p_seen, value, TRUE,
				      &tags->duplicate);
		else if (strcmp(name, "sp") == 0)
			dmarc_tag_set(&tags->sp, &tags->sp_seen, value, TRUE,
				      &tags->duplicate);
		else if (strcmp(name, "np") == 0)
			dmarc_tag_set(&tags->np, &tags->np_seen, value, TRUE,
				      &tags->duplicate);
		else if (strcmp(name, "psd") == 0)
			dmarc_tag_set(&tags->psd, &tags->psd_seen, value,
				      FALSE, &tags->duplicate);
		else if (strcmp(name, "t") == 0)
			dmarc_tag_set(&tags->t, &tags->t_seen, value, FALSE,
				      &tags->duplicate);
		else if (strcmp(name, "rua") == 0)
			dmarc_tag_set(&tags->rua, &tags->rua_seen, value,
				      FALSE, &tags->duplicate);
		/* v was checked already; unknown tags are ignored */
	}
	return 0;
}

int vsmlist_dmarc_record_parse(const char *txt,
			       struct vsmlist_dmarc_record *record_r,
			       const char **error_r)
{
	struct dmarc_tags tags;

	i_zero(record_r);
	*error_r = NULL;
	if (!vsmlist_dmarc_record_is_dmarc(txt)) {
		*error_r = "not a DMARC1 record";
		return 0;
	}
	if (dmarc_tags_parse(txt, &tags, error_r) < 0)
		return 0;
	record_r->duplicate_tags = tags.duplicate;
	record_r->rua_valid = (tags.rua != NULL && rua_has_valid_uri(tags.rua));

	if (tags.p == NULL) {
		/* RFC 9989: a record without p is p=none */
		record_r->p = VSMLIST_DMARC_POLICY_NONE;
		record_r->p_defaulted = TRUE;
		record_r->p_missing = TRUE;
	} else if (!parse_policy(tags.p, &record_r->p)) {
		if (!record_r->rua_valid) {
			*error_r = t_strdup_printf(
				"invalid p=%s and no valid rua",
				str_sanitize(tags.p, 32));
			return 0;
		}
		record_r->p = VSMLIST_DMARC_POLICY_NONE;
		record_r->p_defaulted = TRUE;
	}
	if (tags.sp != NULL && !parse_policy(tags.sp, &record_r->sp))
		record_r->sp = VSMLIST_DMARC_POLICY_UNSET;
	if (tags.np != NULL && !parse_policy(tags.np, &record_r->np))
		record_r->np = VSMLIST_DMARC_POLICY_UNSET;
	if (tags.psd != NULL) {
		if (strcasecmp(tags.psd, "y") == 0)
			record_r->psd = VSMLIST_DMARC_PSD_Y;
		else if (strcasecmp(tags.psd, "n") == 0)
			record_r->psd = VSMLIST_DMARC_PSD_N;
	}
	record_r->testing = (tags.t != NULL && strcasecmp(tags.t, "y") == 0);
	return 1;
}
