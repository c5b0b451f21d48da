/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "smtp-address.h"
#include "smtp-parser.h"

#include "vsmlist-verp.h"

#define VERP_PREFIX VSMLIST_VERP_DETAIL "-"

struct smtp_address *
vsmlist_verp_encode(pool_t pool, const char *list_localpart, char delimiter,
		    const struct smtp_address *member, const char *domain)
{
	struct smtp_address *verp, *decoded;
	const char *localpart, *error;
	int ret;

	if (member->localpart == NULL || member->domain == NULL ||
	    strchr(member->domain, '=') != NULL)
		return NULL;
	localpart = t_strdup_printf("%s%c%s%s=%s", list_localpart, delimiter,
				    VERP_PREFIX, member->localpart,
				    member->domain);
	verp = smtp_address_create(pool, localpart, domain);

	T_BEGIN {
		ret = vsmlist_verp_decode(pool_datastack_create(), verp,
					  list_localpart,
					  t_strdup_printf("%c", delimiter),
					  &decoded, &error);
		if (ret > 0 && !smtp_address_equals(decoded, member))
			ret = 0;
	} T_END;
	return ret > 0 ? verp : NULL;
}

/* The part of local after <list><delimiter>bounces-, or NULL */
static const char *
verp_detail(const char *local, const char *list_localpart,
	    const char *delimiters)
{
	size_t list_len = strlen(list_localpart);

	if (strncasecmp(local, list_localpart, list_len) != 0)
		return NULL;
	local += list_len;
	if (*local == '\0' || strchr(delimiters, *local) == NULL)
		return NULL;
	local++;
	if (strncasecmp(local, VERP_PREFIX, strlen(VERP_PREFIX)) != 0)
		return NULL;
	return local + strlen(VERP_PREFIX);
}

/* smtp_address_encode() can write it (it asserts that it can) */
static bool verp_localpart_is_encodable(const char *local, const char *end)
{
	for (; local < end; local++) {
		if (!smtp_char_is_qpair(*local))
			return FALSE;
	}
	return TRUE;
}

int vsmlist_verp_decode(pool_t pool, const struct smtp_address *recipient,
			const char *list_localpart, const char *delimiters,
			struct smtp_address **member_r, const char **error_r)
{
	struct smtp_address *member, *parsed;
	const char *detail, *sep, *error;

	*member_r = NULL;
	if (recipient->localpart == NULL || *delimiters == '\0')
		return 0;
	detail = verp_detail(recipient->localpart, list_localpart,
			     delimiters);
	if (detail == NULL)
		return 0;

	/* Domains have no '=': the last one separates */
	sep = strrchr(detail, '=');
	if (sep == NULL || sep == detail || sep[1] == '\0') {
		*error_r = "VERP detail is not <local>=<domain>";
		return -1;
	}
	if (!verp_localpart_is_encodable(detail, sep)) {
		*error_r = "VERP address has a control or 8-bit character";
		return -1;
	}
	member = smtp_address_create(pool, t_strdup_until(detail, sep),
				     sep + 1);
	/* Valid when its encoding parses back to a mailbox with a domain */
	if (smtp_address_parse_mailbox(pool_datastack_create(),
				       smtp_address_encode(member), 0,
				       &parsed, &error) < 0) {
		*error_r = t_strdup_printf("VERP address names no valid "
					   "mailbox: %s", error);
		return -1;
	}
	if (parsed->domain == NULL || !smtp_address_equals(parsed, member)) {
		*error_r = "VERP address names no valid mailbox";
		return -1;
	}
	*member_r = member;
	return 1;
}
