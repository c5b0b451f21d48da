/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* The fields of a delivery-status part (RFC 3464 section 2) and the signs
   of an automatic reply in a message's header. */

#include "lib.h"
#include "buffer.h"
#include "str.h"
#include "unichar.h"
#include "istream.h"
#include "message-address.h"
#include "message-header-parser.h"
#include "message-header-decode.h"
#include "smtp-address.h"
#include "smtp-reply.h"
#include "smtp-reply-parser.h"

#include "vsmlist-dsn-private.h"

#include <stddef.h>

static const struct {
	const char *name;
	size_t offset;
} dsn_fields[] = {
	{ "Reporting-MTA",
	  offsetof(struct vsmlist_dsn_block, reporting_mta) },
	{ "Original-Envelope-Id", offsetof(struct vsmlist_dsn_block, envid) },
	{ "Arrival-Date", offsetof(struct vsmlist_dsn_block, arrival_date) },
	{ "Original-Recipient",
	  offsetof(struct vsmlist_dsn_block, original_recipient) },
	{ "Final-Recipient",
	  offsetof(struct vsmlist_dsn_block, final_recipient) },
	{ "Action", offsetof(struct vsmlist_dsn_block, action) },
	{ "Status", offsetof(struct vsmlist_dsn_block, status) },
	{ "Diagnostic-Code", offsetof(struct vsmlist_dsn_block, diagnostic) },
	{ "Remote-MTA", offsetof(struct vsmlist_dsn_block, remote_mta) },
};

/* Subjects of vacation and out-of-office replies, lower-case; matched
   anywhere in the decoded Subject. */
static const char *const auto_reply_subjects[] = {
	"out of office", "out of the office", "automatic reply",
	"auto-reply", "autoreply", "auto reply", "auto-response",
	"autoresponse", "automatic response", "vacation", "on leave",
	"abwesenheitsnotiz", "abwesend", "automatische antwort",
	"r\xc3\xa9ponse automatique", "absence du bureau",
	"respuesta autom\xc3\xa1tica", "fuera de la oficina",
	"risposta automatica", "fuori ufficio",
	"automatisch antwoord", "afwezig", "autosvar",
};

/* A header value as text: NULs and invalid UTF-8 replaced, each run of
   white space (folding included) one space, none around (data stack). */
static const char *dsn_text(const unsigned char *data, size_t size)
{
	const char *text = message_header_strdup(pool_datastack_create(),
						 data, size);
	buffer_t *valid = t_buffer_create(size + 16);
	string_t *str;
	const char *p;

	if (!uni_utf8_get_valid_data((const unsigned char *)text,
				     strlen(text), valid))
		text = t_strndup(valid->data, valid->used);
	str = t_str_new(strlen(text) + 1);
	for (p = text; *p != '\0'; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			str_append_c(str, *p);
		else if (str_len(str) > 0 && p[1] != ' ' && p[1] != '\t' &&
			 p[1] != '\r' && p[1] != '\n' && p[1] != '\0')
			str_append_c(str, ' ');
	}
	return str_c(str);
}

const char *vsmlist_dsn_value_keep(pool_t pool, const char *value)
{
	size_t size;

	if (value == NULL)
		return NULL;
	size = uni_utf8_data_truncate((const unsigned char *)value,
				      strlen(value),
				      VSMLIST_DSN_MAX_VALUE_SIZE);
	return p_strndup(pool, value, size);
}

void vsmlist_dsn_block_read(const unsigned char *data, size_t size,
			    struct vsmlist_dsn_block *block_r)
{
	struct istream *input;
	struct message_header_parser_ctx *parser;
	struct message_header_line *hdr;
	const char **field;
	unsigned int i;

	i_zero(block_r);
	input = i_stream_create_from_data(data, size);
	parser = message_parse_header_init(input, NULL,
		MESSAGE_HEADER_PARSER_FLAG_SKIP_INITIAL_LWSP |
		MESSAGE_HEADER_PARSER_FLAG_DROP_CR |
		MESSAGE_HEADER_PARSER_FLAG_CLEAN_ONELINE);
	message_parse_header_set_limit(parser, VSMLIST_DSN_MAX_BLOCK_SIZE);
	while (message_parse_header_next(parser, &hdr) > 0) {
		if (hdr->eoh)
			break;
		if (hdr->continues) {
			hdr->use_full_value = TRUE;
			continue;
		}
		for (i = 0; i < N_ELEMENTS(dsn_fields); i++) {
			/* name_len: a NUL in the name ends no match early */
			if (hdr->name_len != strlen(dsn_fields[i].name) ||
			    strcasecmp(hdr->name, dsn_fields[i].name) != 0)
				continue;
			field = PTR_OFFSET(block_r, dsn_fields[i].offset);
			if (*field == NULL) {
				*field = dsn_text(hdr->full_value,
						  hdr->full_value_len);
			}
			break;
		}
	}
	message_parse_header_deinit(&parser);
	i_stream_unref(&input);
}

/* "rfc822; user@example.org": the address of an rfc822 or utf-8 typed
   value (no type: rfc822), parsed the way the member store parses. */
static const struct smtp_address *
dsn_typed_address(pool_t pool, const char *value)
{
	const char *sep, *type = "rfc822", *text = value, *error;
	struct smtp_address *address;

	if (value == NULL)
		return NULL;
	sep = strchr(value, ';');
	if (sep != NULL) {
		type = t_str_trim(t_strdup_until(value, sep), " \t");
		text = t_str_trim(sep + 1, " \t");
	}
	if (strcasecmp(type, "rfc822") != 0 && strcasecmp(type, "utf-8") != 0)
		return NULL;
	/* RFC 5321 allows 256 octets; this bounds what is kept */
	if (strlen(text) > VSMLIST_DSN_MAX_VALUE_SIZE)
		return NULL;
	if (smtp_address_parse_path(pool, text,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				    &address, &error) < 0 ||
	    address->localpart == NULL || address->domain == NULL)
		return NULL;
	return address;
}

/* The first word, as far as white space, ';' or a comment */
static const char *dsn_first_word(const char *value)
{
	const char *end = value;

	while (*end != '\0' && *end != ' ' && *end != '\t' &&
	       *end != ';' && *end != '(')
		end++;
	return t_strdup_until(value, end);
}

static enum vsmlist_dsn_action dsn_action_parse(const char *value)
{
	static const enum vsmlist_dsn_action actions[] = {
		VSMLIST_DSN_ACTION_FAILED, VSMLIST_DSN_ACTION_DELAYED,
		VSMLIST_DSN_ACTION_DELIVERED, VSMLIST_DSN_ACTION_RELAYED,
		VSMLIST_DSN_ACTION_EXPANDED,
	};
	const char *word;
	unsigned int i;

	if (value == NULL)
		return VSMLIST_DSN_ACTION_UNKNOWN;
	word = dsn_first_word(value);
	for (i = 0; i < N_ELEMENTS(actions); i++) {
		if (strcasecmp(word, vsmlist_dsn_action_name(actions[i])) == 0)
			return actions[i];
	}
	return VSMLIST_DSN_ACTION_UNKNOWN;
}

/* status-code = class "." subject "." detail (RFC 3463), followed by
   nothing but white space or a comment */
static void dsn_status_parse(const char *value,
			     struct vsmlist_dsn_status *status_r)
{
	struct smtp_reply_enhanced_code code;
	const char *end;

	i_zero(status_r);
	if (value == NULL)
		return;
	/* smtp_reply_parse_enhanced_code() looks at value[1] first */
	if (value[0] == '\0' ||
	    !smtp_reply_parse_enhanced_code(value, &code, &end)) {
		status_r->malformed = TRUE;
		return;
	}
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0' && *end != '(') {
		status_r->malformed = TRUE;
		return;
	}
	status_r->class = code.x;
	status_r->subject = code.y;
	status_r->detail = code.z;
	status_r->valid = TRUE;
}

void vsmlist_dsn_recipient_init(pool_t pool,
				const struct vsmlist_dsn_block *block,
				struct vsmlist_dsn_recipient *rcpt_r)
{
	i_zero(rcpt_r);
	rcpt_r->original_recipient_raw =
		vsmlist_dsn_value_keep(pool, block->original_recipient);
	rcpt_r->final_recipient_raw =
		vsmlist_dsn_value_keep(pool, block->final_recipient);
	rcpt_r->status_raw = vsmlist_dsn_value_keep(pool, block->status);
	rcpt_r->diagnostic = vsmlist_dsn_value_keep(pool, block->diagnostic);
	rcpt_r->remote_mta = vsmlist_dsn_value_keep(pool, block->remote_mta);
	rcpt_r->original_recipient =
		dsn_typed_address(pool, block->original_recipient);
	rcpt_r->final_recipient =
		dsn_typed_address(pool, block->final_recipient);
	rcpt_r->action = dsn_action_parse(block->action);
	dsn_status_parse(block->status, &rcpt_r->status);
}

static const char *dsn_subject_sign(const char *subject)
{
	const char *lower = t_str_lcase(subject);
	unsigned int i;

	/* Lotus Notes: "AUTO: Ann is out of the office" */
	if (str_begins(lower, "auto:"))
		return "auto:";
	for (i = 0; i < N_ELEMENTS(auto_reply_subjects); i++) {
		if (strstr(lower, auto_reply_subjects[i]) != NULL)
			return auto_reply_subjects[i];
	}
	return NULL;
}

static bool dsn_from_is_mailer_daemon(const unsigned char *data, size_t size)
{
	const struct message_address *addr;

	addr = message_address_parse(pool_datastack_create(), data, size, 1,
				     0);
	return addr != NULL && addr->mailbox != NULL &&
		(strcasecmp(addr->mailbox, "mailer-daemon") == 0 ||
		 strcasecmp(addr->mailbox, "postmaster") == 0);
}

static const char *
dsn_auto_reply_sign(const struct message_header_line *hdr, const char *value)
{
	const char *word = t_str_lcase(dsn_first_word(value));
	const char *sign;
	buffer_t *subject;

	if (strcasecmp(hdr->name, "Auto-Submitted") == 0)
		return strcmp(word, "no") == 0 ? NULL :
			t_strconcat("Auto-Submitted: ", word, NULL);
	if (strcasecmp(hdr->name, "X-Autoreply") == 0 ||
	    strcasecmp(hdr->name, "X-Autorespond") == 0)
		return strcmp(word, "no") == 0 ? NULL : hdr->name;
	if (strcasecmp(hdr->name, "Precedence") == 0)
		return strcmp(word, "auto_reply") == 0 ?
			"Precedence: auto_reply" : NULL;
	if (strcasecmp(hdr->name, "Subject") == 0) {
		subject = t_buffer_create(hdr->full_value_len + 16);
		message_header_decode_utf8(hdr->full_value,
					   hdr->full_value_len, subject, NULL);
		sign = dsn_subject_sign(dsn_text(subject->data,
						 subject->used));
		return sign == NULL ? NULL : t_strconcat("Subject: ", sign,
							 NULL);
	}
	return NULL;
}

void vsmlist_dsn_signs_add(pool_t pool, struct vsmlist_dsn *dsn,
			   const struct message_header_line *hdr)
{
	/* Kept here across the data stack frame: pool may be a data stack
	   pool */
	char auto_reply_sign[128] = "";
	const char *bounce_sign = NULL, *sign;

	T_BEGIN {
		if (strcasecmp(hdr->name, "X-Failed-Recipients") == 0)
			bounce_sign = "X-Failed-Recipients";
		else if (strcasecmp(hdr->name, "From") == 0 &&
			 dsn_from_is_mailer_daemon(hdr->full_value,
						   hdr->full_value_len))
			bounce_sign = "From: MAILER-DAEMON or postmaster";
		if (dsn->auto_reply_sign == NULL) {
			sign = dsn_auto_reply_sign(hdr, dsn_text(
				hdr->full_value, hdr->full_value_len));
			if (sign != NULL) {
				size_t len = uni_utf8_data_truncate(
					(const unsigned char *)sign,
					strlen(sign),
					sizeof(auto_reply_sign) - 1);
				memcpy(auto_reply_sign, sign, len);
				auto_reply_sign[len] = '\0';
			}
		}
	} T_END;
	if (dsn->bounce_sign == NULL)
		dsn->bounce_sign = bounce_sign;
	if (dsn->auto_reply_sign == NULL && auto_reply_sign[0] != '\0')
		dsn->auto_reply_sign = p_strdup(pool, auto_reply_sign);
}
