/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "message-address.h"

#include "vsmlist-author.h"

#include <ctype.h>
#include <stdlib.h>
#include <idn2.h>

#define VSMLIST_DOMAIN_MAX_LEN 246

const char *vsmlist_author_status_name(enum vsmlist_author_status status)
{
	switch (status) {
	case VSMLIST_AUTHOR_OK:
		return "ok";
	case VSMLIST_AUTHOR_NONE:
		return "none";
	case VSMLIST_AUTHOR_SEVERAL:
		return "several";
	case VSMLIST_AUTHOR_MALFORMED:
		break;
	}
	return "malformed";
}

static int check_labels(const char *domain, const char **error_r)
{
	const char *label = domain, *p;

	if (strlen(domain) > VSMLIST_DOMAIN_MAX_LEN) {
		*error_r = "domain name too long";
		return -1;
	}
	for (p = domain;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label) {
				*error_r = "empty label";
				return -1;
			}
			if (p - label > 63) {
				*error_r = "label longer than 63 octets";
				return -1;
			}
			if (*p == '\0')
				break;
			label = p + 1;
		} else if (!i_isalnum(*p) && *p != '-' && *p != '_') {
			*error_r = t_strdup_printf(
				"invalid character 0x%02x in domain",
				(unsigned char)*p);
			return -1;
		}
	}
	return 0;
}

int vsmlist_author_domain_normalize(const char *domain, const char **domain_r,
				    const char **error_r)
{
	size_t len = strlen(domain);
	const char *p;
	bool ascii = TRUE;
	uint8_t *alabels;
	int rc;

	if (len > 0 && domain[len - 1] == '.')
		domain = t_strndup(domain, --len);
	if (len == 0) {
		*error_r = "empty domain";
		return -1;
	}
	for (p = domain; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			ascii = FALSE;
	}
	if (!ascii) {
		rc = idn2_lookup_u8((const uint8_t *)domain, &alabels,
				    IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		if (rc != IDN2_OK) {
			*error_r = t_strdup_printf("invalid IDN: %s",
						   idn2_strerror(rc));
			return -1;
		}
		domain = t_strdup((const char *)alabels);
		idn2_free(alabels);
	}
	domain = t_str_lcase(domain);
	if (check_labels(domain, error_r) < 0)
		return -1;
	*domain_r = domain;
	return 0;
}

/* message_address_parse() turns a@b@c.example into domain "b" without an
   error, so count the '@' of each top-level address ourselves: outside
   quoted strings, comments and domain literals. */
static bool field_has_multi_at_address(const char *field)
{
	unsigned int ats = 0, comment_depth = 0;
	bool quoted = FALSE, literal = FALSE;
	const char *p;

	for (p = field; *p != '\0'; p++) {
		if (*p == '\\' && (quoted || comment_depth > 0 || literal)) {
			if (p[1] != '\0')
				p++;
			continue;
		}
		if (quoted) {
			if (*p == '"')
				quoted = FALSE;
		} else if (comment_depth > 0) {
			if (*p == '(')
				comment_depth++;
			else if (*p == ')')
				comment_depth--;
		} else if (literal) {
			if (*p == ']')
				literal = FALSE;
		} else if (*p == '"') {
			quoted = TRUE;
		} else if (*p == '(') {
			comment_depth++;
		} else if (*p == '[') {
			literal = TRUE;
		} else if (*p == ',' || *p == ';' || *p == ':') {
			ats = 0;
		} else if (*p == '@') {
			if (++ats > 1)
				return TRUE;
		}
	}
	return FALSE;
}

/* A fully qualified domain ("a@example.com.") is not RFC 5322 syntax, but
   it names the same domain: drop such a dot (outside quotes and comments)
   so that the parser accepts it. */
static const char *field_strip_trailing_dots(const char *field)
{
	string_t *out = t_str_new(strlen(field));
	unsigned int comment_depth = 0;
	bool quoted = FALSE;
	const char *p, *next;

	for (p = field; *p != '\0'; p++) {
		if (*p == '\\' && (quoted || comment_depth > 0) &&
		    p[1] != '\0') {
			str_append_data(out, p, 2);
			p++;
			continue;
		}
		if (quoted)
			quoted = (*p != '"');
		else if (comment_depth > 0)
			comment_depth += (*p == '(' ? 1 : (*p == ')' ? -1 : 0));
		else if (*p == '"')
			quoted = TRUE;
		else if (*p == '(')
			comment_depth++;
		else if (*p == '.' && p > field && i_isalnum(p[-1])) {
			for (next = p + 1; *next == ' ' || *next == '\t';)
				next++;
			if (*next == '>' || *next == ',' || *next == '(' ||
			    *next == '\0')
				continue;
		}
		str_append_c(out, *p);
	}
	return str_c(out);
}

static void
author_malformed(struct vsmlist_author *author, pool_t pool,
		 const char *reason)
{
	author->status = VSMLIST_AUTHOR_MALFORMED;
	author->reason = p_strdup(pool, reason);
	array_clear(&author->mailboxes);
}

/* Returns FALSE when the field makes the author malformed */
static bool
author_parse_field(pool_t pool, const char *field,
		   struct vsmlist_author *author)
{
	struct message_address *addr;
	struct vsmlist_author_mailbox *mbox;
	const char *domain, *error;

	if (field_has_multi_at_address(field)) {
		author_malformed(author, pool, t_strdup_printf(
			"more than one '@' in an address: %s",
			str_sanitize(field, 128)));
		return FALSE;
	}
	addr = message_address_parse(pool_datastack_create(),
				     (const unsigned char *)field,
				     strlen(field),
				     VSMLIST_AUTHOR_MAX_MAILBOXES + 1, 0);
	for (struct message_address *a = addr; a != NULL; a = a->next) {
		if (a->invalid_syntax) {
			field = field_strip_trailing_dots(field);
			addr = message_address_parse(
				pool_datastack_create(),
				(const unsigned char *)field,
				strlen(field),
				VSMLIST_AUTHOR_MAX_MAILBOXES + 1, 0);
			break;
		}
	}
	for (; addr != NULL; addr = addr->next) {
		if (addr->domain == NULL) {
			author_malformed(author, pool, "group syntax");
			return FALSE;
		}
		if (addr->invalid_syntax || *addr->mailbox == '\0') {
			author_malformed(author, pool, t_strdup_printf(
				"invalid address: %s",
				str_sanitize(field, 128)));
			return FALSE;
		}
		if (*addr->domain == '[') {
			author_malformed(author, pool,
					 "domain literal has no DMARC policy");
			return FALSE;
		}
		if (vsmlist_author_domain_normalize(addr->domain, &domain,
						    &error) < 0) {
			author_malformed(author, pool, t_strdup_printf(
				"domain '%s': %s",
				str_sanitize(addr->domain, 128), error));
			return FALSE;
		}
		mbox = array_append_space(&author->mailboxes);
		mbox->name = (addr->name == NULL || *addr->name == '\0' ?
			      NULL : p_strdup(pool, addr->name));
		mbox->localpart = p_strdup(pool, addr->mailbox);
		mbox->domain_raw = p_strdup(pool, addr->domain);
		mbox->domain = p_strdup(pool, domain);
	}
	return TRUE;
}

void vsmlist_author_parse(pool_t pool, const char *const *from_fields,
			  struct vsmlist_author *author_r)
{
	unsigned int field_count = 0, count;

	i_zero(author_r);
	p_array_init(&author_r->mailboxes, pool, 2);

	for (; from_fields != NULL && *from_fields != NULL; from_fields++) {
		if (field_count == VSMLIST_AUTHOR_MAX_MAILBOXES ||
		    array_count(&author_r->mailboxes) >
		    VSMLIST_AUTHOR_MAX_MAILBOXES) {
			/* Several authors already: the rest changes nothing
			   but the cost */
			author_r->status = VSMLIST_AUTHOR_SEVERAL;
			author_r->reason = "too many From fields or mailboxes";
			return;
		}
		field_count++;
		if (!author_parse_field(pool, *from_fields, author_r))
			return;
	}
	if (array_count(&author_r->mailboxes) > VSMLIST_AUTHOR_MAX_MAILBOXES) {
		author_r->status = VSMLIST_AUTHOR_SEVERAL;
		author_r->reason = "too many mailboxes in From";
		return;
	}

	count = array_count(&author_r->mailboxes);
	if (count == 0) {
		author_r->status = VSMLIST_AUTHOR_NONE;
		author_r->reason = (field_count == 0 ? "no From field" :
				    "no mailbox in From");
	} else if (field_count > 1) {
		author_r->status = VSMLIST_AUTHOR_SEVERAL;
		author_r->reason = "several From fields";
	} else if (count > 1) {
		author_r->status = VSMLIST_AUTHOR_SEVERAL;
		author_r->reason = "several mailboxes in From";
	} else {
		author_r->status = VSMLIST_AUTHOR_OK;
	}
}
