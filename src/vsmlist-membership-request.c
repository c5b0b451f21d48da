/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* What a mail asks of the list and who asks it: every byte here is the
   sender's (fuzzed: src/fuzz-vsmlist-membership.c). */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "message-header-decode.h"
#include "smtp-address.h"

#include "vsmlist-settings.h"
#include "vsmlist-author.h"
#include "vsmlist-store.h"
#include "vsmlist-membership-private.h"

#include <ctype.h>

/* The longest reply prefix word looked for */
#define SUBJECT_PREFIX_MAX_LEN 4

/* Reply and forward prefixes of the common mail clients (English,
   German, Scandinavian, French, Italian, Dutch, Polish, Portuguese,
   Spanish) */
static const char *const subject_prefixes[] = {
	"re", "fw", "fwd", "aw", "wg", "sv", "vs", "antw", "tr", "rif",
	"r", "odp", "res", "rv", "enc", NULL
};

static const char *const request_names[] = {
	[VSMLIST_MEMBERSHIP_REQUEST_NONE] = "none",
	[VSMLIST_MEMBERSHIP_REQUEST_SUBSCRIBE] = "subscribe",
	[VSMLIST_MEMBERSHIP_REQUEST_UNSUBSCRIBE] = "unsubscribe",
	[VSMLIST_MEMBERSHIP_REQUEST_CONFIRM] = "confirm",
};

const char *
vsmlist_membership_request_name(enum vsmlist_membership_request_type type)
{
	i_assert(type < N_ELEMENTS(request_names));
	return request_names[type];
}

static const char *request_token(const char *token, size_t len)
{
	return t_strndup(token, I_MIN(len, VSMLIST_MEMBERSHIP_MAX_TOKEN_LEN));
}

/* The detail of the recipient: after the list's local part and a
   delimiter, else (another name of the list) after the first delimiter,
   as Dovecot splits it. NULL when there is none. */
static const char *
request_detail(const struct vsmlist_settings *set,
	       const struct smtp_address *rcpt_to)
{
	const char *local = rcpt_to->localpart, *list = set->address->localpart;
	size_t list_len = strlen(list);

	if (local == NULL)
		return NULL;
	if (strncasecmp(local, list, list_len) == 0 &&
	    local[list_len] != '\0' &&
	    strchr(set->recipient_delimiter, local[list_len]) != NULL)
		return local + list_len + 1;
	local = strpbrk(local, set->recipient_delimiter);
	return local == NULL ? NULL : local + 1;
}

static bool
request_parse_detail(const char *detail,
		     struct vsmlist_membership_request *request_r)
{
	if (strcasecmp(detail, "subscribe") == 0)
		request_r->type = VSMLIST_MEMBERSHIP_REQUEST_SUBSCRIBE;
	else if (strcasecmp(detail, "unsubscribe") == 0)
		request_r->type = VSMLIST_MEMBERSHIP_REQUEST_UNSUBSCRIBE;
	else if (strncasecmp(detail, "confirm-", 8) == 0) {
		request_r->type = VSMLIST_MEMBERSHIP_REQUEST_CONFIRM;
		request_r->token = request_token(detail + 8,
						 strlen(detail + 8));
	} else {
		return FALSE;
	}
	request_r->from_detail = TRUE;
	return TRUE;
}

static bool subject_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *subject_skip_space(const char *p)
{
	while (subject_is_space(*p))
		p++;
	return p;
}

/* p after one "Re:", "AW:", "Fwd[2]:", "Re (3):", or NULL */
static const char *subject_skip_prefix(const char *p)
{
	const char *start = p;
	char word[SUBJECT_PREFIX_MAX_LEN + 1];

	while (i_isalpha(*p) && p - start <= SUBJECT_PREFIX_MAX_LEN)
		p++;
	if (p == start || p - start > SUBJECT_PREFIX_MAX_LEN)
		return NULL;
	memcpy(word, start, p - start);
	word[p - start] = '\0';
	if (!str_array_icase_find(subject_prefixes, word))
		return NULL;
	p = subject_skip_space(p);
	/* A count some clients add: "Re[2]:", "AW (2):" */
	if (*p == '[' || *p == '(') {
		char close = (*p == '[' ? ']' : ')');

		for (p++; i_isdigit(*p); p++) ;
		if (*p != close)
			return NULL;
		p = subject_skip_space(p + 1);
	}
	return *p == ':' ? p + 1 : NULL;
}

static bool
request_parse_subject(const char *subject,
		      struct vsmlist_membership_request *request_r)
{
	size_t size = strlen(subject);
	string_t *decoded;
	const char *p, *word, *next;

	/* A request is its first words: what is beyond a header line's
	   worth is never looked at */
	size = I_MIN(size, VSMLIST_MEMBERSHIP_MAX_SUBJECT_LEN);
	decoded = t_str_new(size + 1);
	message_header_decode_utf8((const unsigned char *)subject, size,
				   decoded, NULL);
	p = subject_skip_space(str_c(decoded));
	while ((next = subject_skip_prefix(p)) != NULL)
		p = subject_skip_space(next);

	word = p;
	while (*p != '\0' && !subject_is_space(*p))
		p++;
	if ((size_t)(p - word) == 9 && strncasecmp(word, "subscribe", 9) == 0)
		request_r->type = VSMLIST_MEMBERSHIP_REQUEST_SUBSCRIBE;
	else if ((size_t)(p - word) == 11 &&
		 strncasecmp(word, "unsubscribe", 11) == 0)
		request_r->type = VSMLIST_MEMBERSHIP_REQUEST_UNSUBSCRIBE;
	else if ((size_t)(p - word) == 7 &&
		 strncasecmp(word, "confirm", 7) == 0) {
		request_r->type = VSMLIST_MEMBERSHIP_REQUEST_CONFIRM;
		word = subject_skip_space(p);
		for (p = word; *p != '\0' && !subject_is_space(*p); p++) ;
		request_r->token = request_token(word, p - word);
	} else {
		return FALSE;
	}
	return TRUE;
}

void vsmlist_membership_request_parse(const struct vsmlist_settings *set,
				      const struct smtp_address *rcpt_to,
				      const char *subject,
				      struct vsmlist_membership_request *request_r)
{
	const char *detail;

	i_zero(request_r);
	if (rcpt_to != NULL) {
		detail = request_detail(set, rcpt_to);
		if (detail != NULL && request_parse_detail(detail, request_r))
			return;
	}
	if (subject != NULL && request_parse_subject(subject, request_r))
		return;
	i_zero(request_r);
}

/* The list's own addresses: itself, and every detail address of it (the
   bounce, subscribe and confirm addresses) */
static bool
requester_is_list(const struct vsmlist_settings *set,
		  const struct smtp_address *address, const char *key)
{
	const char *list = set->address->localpart;
	size_t list_len = strlen(list);

	if (strcmp(key, vsmlist_store_address_key(set->address)) == 0 ||
	    strcmp(key, vsmlist_store_address_key(set->bounce_address)) == 0)
		return TRUE;
	return strcasecmp(address->domain, set->address->domain) == 0 &&
		strncasecmp(address->localpart, list, list_len) == 0 &&
		address->localpart[list_len] != '\0' &&
		strchr(set->recipient_delimiter,
		       address->localpart[list_len]) != NULL;
}

bool vsmlist_membership_address_usable(const struct vsmlist_settings *set,
				       const struct smtp_address *address,
				       const char **reason_r)
{
	const char *key;

	if (address->localpart == NULL || address->domain == NULL) {
		*reason_r = "no local part or no domain";
		return FALSE;
	}
	if (strlen(address->localpart) > VSMLIST_LOCAL_PART_MAX_LEN) {
		*reason_r = t_strdup_printf("its local part is longer than %u "
					    "octets",
					    VSMLIST_LOCAL_PART_MAX_LEN);
		return FALSE;
	}
	key = vsmlist_store_address_key(address);
	if (key == NULL) {
		*reason_r = "it has octets SMTP cannot carry (control "
			"characters or 8-bit octets in its local part)";
		return FALSE;
	}
	if (requester_is_list(set, address, key)) {
		*reason_r = "it is the list's own";
		return FALSE;
	}
	return TRUE;
}

const struct smtp_address *
vsmlist_membership_requester(const struct vsmlist_settings *set,
			     const char *const *from_fields,
			     const char **reason_r)
{
	const struct vsmlist_author_mailbox *mbox;
	struct vsmlist_author author;
	struct smtp_address *address;
	const char *reason;

	vsmlist_author_parse(pool_datastack_create(), from_fields, &author);
	if (author.status == VSMLIST_AUTHOR_NONE ||
	    author.status == VSMLIST_AUTHOR_MALFORMED ||
	    array_count(&author.mailboxes) == 0) {
		*reason_r = t_strdup_printf("no usable From address: %s",
					    author.reason);
		return NULL;
	}
	mbox = array_front(&author.mailboxes);
	address = smtp_address_create(pool_datastack_create(),
				      mbox->localpart, mbox->domain);
	if (!vsmlist_membership_address_usable(set, address, &reason)) {
		/* Not encoded: it may be what SMTP cannot carry */
		*reason_r = t_strdup_printf("the From address %s@%s: %s",
			str_sanitize(mbox->localpart, 80), mbox->domain,
			reason);
		return NULL;
	}
	return address;
}

const char *
vsmlist_membership_describe_none(const struct vsmlist_settings *set,
				 const struct smtp_address *rcpt_to,
				 const char *subject)
{
	const char *detail = rcpt_to == NULL ? NULL :
		request_detail(set, rcpt_to);

	return t_strdup_printf("%s and %s ask for no subscribe, unsubscribe "
		"or confirm", detail == NULL ? "no detail" :
		t_strdup_printf("the detail '%s'", str_sanitize(detail, 64)),
		subject == NULL ? "no Subject" :
		t_strdup_printf("the Subject '%s'", str_sanitize(subject, 64)));
}
