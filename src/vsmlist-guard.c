/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str-sanitize.h"
#include "smtp-address.h"

#include "vsmlist-settings.h"
#include "vsmlist-guard.h"

/* RFC 3834: the keyword before any parameters or comments; only "no" lets
   the post through. */
static bool vsmlist_auto_submitted_is_no(const char *value)
{
	const char *end;

	value = t_str_trim(value, " \t\r\n");
	end = value + strcspn(value, " \t\r\n;(");
	return strncasecmp(value, "no", end - value) == 0 && end - value == 2;
}

/* RFC 2919: the identifier is the last <...> of the field */
static bool vsmlist_list_id_matches(const char *value, const char *list_id)
{
	const char *start, *end;

	start = strrchr(value, '<');
	if (start == NULL)
		return FALSE;
	start++;
	end = strchr(start, '>');
	if (end == NULL)
		return FALSE;
	return (size_t)(end - start) == strlen(list_id) &&
		strncasecmp(start, list_id, end - start) == 0;
}

static bool
vsmlist_x_loop_matches(const char *value, const struct smtp_address *address)
{
	struct smtp_address *addr;
	const char *error;

	value = t_str_trim(value, " \t\r\n");
	if (smtp_address_parse_path(pool_datastack_create(), value,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL |
				    SMTP_ADDRESS_PARSE_FLAG_ALLOW_BAD_LOCALPART,
				    &addr, &error) < 0)
		return FALSE;
	return smtp_address_equals_icase(addr, address);
}

bool vsmlist_guard_is_bounce_address(const struct vsmlist_settings *set,
				     const struct smtp_address *address)
{
	const char *local = set->address->localpart;
	size_t len = strlen(local);

	if (address == NULL || address->localpart == NULL ||
	    address->domain == NULL)
		return FALSE;
	if (smtp_address_equals_icase(address, set->bounce_address))
		return TRUE;
	/* <local><delimiter>bounces, and bounces-<member> (VERP) */
	return strcasecmp(address->domain, set->address->domain) == 0 &&
		strncasecmp(address->localpart, local, len) == 0 &&
		address->localpart[len] != '\0' &&
		strchr(set->recipient_delimiter,
		       address->localpart[len]) != NULL &&
		strncasecmp(address->localpart + len + 1, "bounces", 7) == 0 &&
		(address->localpart[len + 8] == '\0' ||
		 address->localpart[len + 8] == '-');
}

const char *vsmlist_guard_check(const struct vsmlist_settings *set,
				const struct vsmlist_guard_input *input)
{
	const char *const *value;

	if (input->have_envelope && input->null_sender)
		return "null envelope sender (a bounce or other notification)";
	/* The bounce address is never a way in: an auto-responder that
	   answers the envelope sender must not reach the members */
	if (input->have_envelope &&
	    vsmlist_guard_is_bounce_address(set, input->rcpt_to)) {
		return t_strdup_printf("addressed to the bounce address <%s>",
			smtp_address_encode(input->rcpt_to));
	}

	for (value = input->auto_submitted;
	     value != NULL && *value != NULL; value++) {
		if (!vsmlist_auto_submitted_is_no(*value)) {
			return t_strdup_printf("Auto-Submitted: %s",
				str_sanitize(t_str_trim(*value, " \t"), 64));
		}
	}
	for (value = input->x_loop; value != NULL && *value != NULL; value++) {
		if (vsmlist_x_loop_matches(*value, set->address)) {
			return t_strdup_printf(
				"mail loop: "VSMLIST_LOOP_HEADER" shows this "
				"list (%s) distributed it already",
				smtp_address_encode(set->address));
		}
	}
	for (value = input->list_id;
	     value != NULL && *value != NULL; value++) {
		if (vsmlist_list_id_matches(*value, set->list_id)) {
			return t_strdup_printf(
				"mail loop: it carries this list's "
				"List-Id <%s>", set->list_id);
		}
	}
	return NULL;
}
