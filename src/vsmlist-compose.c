/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "hex-binary.h"
#include "randgen.h"
#include "ioloop.h"
#include "var-expand.h"
#include "unichar.h"
#include "smtp-address.h"
#include "message-date.h"

#include "vsmlist-settings.h"
#include "vsmlist-author.h"
#include "vsmlist-guard.h"
#include "vsmlist-dkim.h"
#include "vsmlist-compose.h"

#include <gmime/gmime.h>

/* One paragraph: vsmlist_compose_notice() breaks it at 72 columns */
#define VSMLIST_DEFAULT_NOTICE \
	"The %{list_name} list sends this message from %{author} as an " \
	"attachment (%{reason}): sent on as it came, it could be rejected " \
	"or filed as spam by the recipients' mail servers, because the " \
	"list is not the sender's domain. The original message, with its " \
	"signature intact, is attached below. Replies go to the author; " \
	"write to %{list} to reach the list.\n"

/* Columns of a notice line (quoted-printable allows 76) */
#define NOTICE_LINE_MAX 72

void vsmlist_compose_init(void)
{
	static bool initialized = FALSE;

	if (initialized)
		return;
	/* Never shut down: GObject types cannot be registered twice in a
	   process, so GMime stays for the life of the process */
	g_mime_init();
	initialized = TRUE;
}

/* Text a reader may see in a header: no controls, single spaces */
static const char *sanitize_phrase(const char *text, unsigned int max_chars)
{
	string_t *str = t_str_new(strlen(text) + 1);
	unsigned int chars = 0;
	const unsigned char *p = (const unsigned char *)text;
	bool space = FALSE;
	int len;

	if (!uni_utf8_str_is_valid(text)) {
		/* Invalid sequences become U+FFFD */
		string_t *valid = t_str_new(strlen(text));

		if (!uni_utf8_get_valid_data(p, strlen(text), valid))
			p = (const unsigned char *)str_c(valid);
	}
	while (*p != '\0' && chars < max_chars) {
		if (*p < 0x20 || *p == 0x7f || *p == ' ') {
			space = str_len(str) > 0;
			p++;
			continue;
		}
		if (space) {
			str_append_c(str, ' ');
			chars++;
			space = FALSE;
		}
		len = uni_utf8_char_bytes(*p);
		str_append_data(str, p, len);
		p += len;
		chars++;
	}
	if (*p != '\0')
		str_append(str, "\xe2\x80\xa6");	/* ellipsis */
	return str_c(str);
}

const char *
vsmlist_compose_author_name(const struct vsmlist_author_mailbox *mbox)
{
	const char *name = NULL;
	char *decoded;

	if (mbox->name != NULL) {
		decoded = g_mime_utils_header_decode_phrase(NULL, mbox->name);
		if (decoded != NULL) {
			name = t_strdup(decoded);
			g_free(decoded);
		}
	}
	if (name != NULL)
		name = sanitize_phrase(name, VSMLIST_COMPOSE_NAME_MAX);
	/* A decoded name that still looks like an encoded word would be
	   decoded again by some readers (and could smuggle a line break):
	   the address stands in for it */
	if (name == NULL || *name == '\0' || strstr(name, "=?") != NULL) {
		name = sanitize_phrase(t_strdup_printf("%s@%s",
			mbox->localpart, mbox->domain_raw),
			VSMLIST_COMPOSE_NAME_MAX);
	}
	return name;
}

/* Lines ending in CRLF whatever they ended in, a final CRLF included */
static const char *crlf_lines(const char *text)
{
	string_t *str = t_str_new(strlen(text) + 8);
	const char *p;

	for (p = text; *p != '\0'; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n')
			str_append_c(str, '\r');
		str_append_c(str, *p);
	}
	if (str_len(str) < 2 || str_c(str)[str_len(str) - 1] != '\n')
		str_append(str, "\r\n");
	return str_c(str);
}

const char *
vsmlist_compose_address_field(const char *field, const char *phrase,
			      const struct smtp_address *address)
{
	InternetAddressList *list;
	InternetAddress *ia;
	GMimeFormatOptions *options;
	GString *gstr;
	const char *result;

	options = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(options,
						 GMIME_NEWLINE_FORMAT_DOS);
	list = internet_address_list_new();
	ia = internet_address_mailbox_new(phrase,
					  smtp_address_encode(address));
	internet_address_list_add(list, ia);
	g_object_unref(ia);

	gstr = g_string_new(field);
	g_string_append(gstr, ": ");
	internet_address_list_encode(list, options, gstr);
	result = crlf_lines(gstr->str);
	g_string_free(gstr, TRUE);
	g_object_unref(list);
	g_mime_format_options_free(options);
	return result;
}

const char *vsmlist_compose_from(const struct vsmlist_settings *set,
				 const struct vsmlist_author_mailbox *author)
{
	const char *phrase;

	if (author == NULL)
		phrase = sanitize_phrase(set->name, VSMLIST_COMPOSE_NAME_MAX);
	else {
		phrase = t_strdup_printf("%s via %s",
			vsmlist_compose_author_name(author),
			sanitize_phrase(set->name, VSMLIST_COMPOSE_NAME_MAX));
	}
	return vsmlist_compose_address_field("From", phrase, set->address);
}

const char *
vsmlist_compose_unstructured_field(const char *field, const char *text)
{
	GMimeFormatOptions *options;
	char *encoded, *folded;
	const char *result;

	options = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(options,
						 GMIME_NEWLINE_FORMAT_DOS);
	encoded = g_mime_utils_header_encode_text(
		options, sanitize_phrase(text, VSMLIST_COMPOSE_TEXT_MAX),
		"utf-8");
	folded = g_mime_utils_unstructured_header_fold(
		NULL, options, t_strdup_printf("%s: %s", field, encoded));
	result = crlf_lines(folded);
	g_free(folded);
	g_free(encoded);
	g_mime_format_options_free(options);
	return result;
}

static const char *compose_encoded_phrase(const char *phrase)
{
	char *encoded;
	const char *result;

	encoded = g_mime_utils_header_encode_phrase(NULL, phrase, "utf-8");
	result = t_strdup(encoded);
	g_free(encoded);
	return result;
}

static void
list_header_add(ARRAY_TYPE(vsmlist_list_header) *headers, const char *name,
		const char *value)
{
	struct vsmlist_list_header *hdr = array_append_space(headers);

	hdr->name = name;
	hdr->line = t_strdup_printf("%s: %s\r\n", name, value);
}

static const char *list_id_value(const struct vsmlist_settings *set)
{
	return t_strdup_printf("%s <%s>",
		compose_encoded_phrase(sanitize_phrase(
			set->name, VSMLIST_COMPOSE_NAME_MAX)),
		set->list_id);
}

const char *vsmlist_compose_list_id_field(const struct vsmlist_settings *set)
{
	return t_strdup_printf("List-Id: %s\r\n", list_id_value(set));
}

static const char *
list_header_value(const struct vsmlist_settings *set, const char *name)
{
	if (strcasecmp(name, "List-Id") == 0)
		return list_id_value(set);
	if (strcasecmp(name, "List-Post") == 0) {
		return t_strdup_printf("<mailto:%s>",
				       smtp_address_encode(set->address));
	}
	if (strcasecmp(name, "List-Help") == 0)
		return set->list_help;
	if (strcasecmp(name, "List-Owner") == 0)
		return set->list_owner;
	if (strcasecmp(name, "List-Subscribe") == 0)
		return set->list_subscribe;
	if (strcasecmp(name, "List-Unsubscribe") == 0)
		return set->list_unsubscribe;
	if (strcasecmp(name, "List-Archive") == 0)
		return set->list_archive;
	return NULL;
}

void vsmlist_compose_list_headers(const struct vsmlist_settings *set,
				  bool with_sender,
				  ARRAY_TYPE(vsmlist_list_header) *headers)
{
	static const char *const canonical[] = {
		"List-Id", "List-Post", "List-Help", "List-Owner",
		"List-Subscribe", "List-Unsubscribe", "List-Archive",
	};
	const char *const *name, *value;
	unsigned int i;

	if (with_sender) {
		list_header_add(headers, "Sender", t_strdup_printf(
			"<%s>", smtp_address_encode(set->bounce_address)));
	}
	for (name = set->list_headers; *name != NULL; name++) {
		value = list_header_value(set, *name);
		if (value == NULL)
			continue;
		for (i = 0; i < N_ELEMENTS(canonical); i++) {
			if (strcasecmp(canonical[i], *name) == 0)
				list_header_add(headers, canonical[i], value);
		}
	}
	/* RFC 2076: list traffic; vacation responders (RFC 3834) and MTAs
	   take it as "do not auto-reply" */
	list_header_add(headers, "Precedence", "list");
}

const char *vsmlist_compose_message_id(const struct vsmlist_settings *set)
{
	unsigned char rand[12];

	random_fill(rand, sizeof(rand));
	return t_strdup_printf("<%s.%ld.vsmlist@%s>",
			       binary_to_hex(rand, sizeof(rand)),
			       (long)ioloop_time, set->address->domain);
}

const char *vsmlist_compose_boundary(void)
{
	unsigned char rand[16];

	random_fill(rand, sizeof(rand));
	/* "=_" cannot start a quoted-printable or base64 line's content */
	return t_strdup_printf("=_vsmlist_%s", binary_to_hex(rand,
							    sizeof(rand)));
}

const char *vsmlist_compose_text(const char *template,
				 const char *const *variables,
				 const char *const *values)
{
	ARRAY(struct var_expand_table) table;
	struct var_expand_table *entry;
	string_t *text = t_str_new(512), *crlf;
	const char *error, *p;
	size_t line_start = 0, last_space = 0;

	t_array_init(&table, 8);
	for (; *variables != NULL; variables++, values++) {
		entry = array_append_space(&table);
		entry->long_key = *variables;
		entry->value = *values;
	}
	array_append_zero(&table);
	if (var_expand(text, template, array_front(&table), &error) < 0) {
		/* The settings checked the variables: not reached */
		str_truncate(text, 0);
		str_append(text, template);
	}
	crlf = t_str_new(str_len(text) + 32);
	for (p = str_c(text); *p != '\0'; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			str_append_c(crlf, '\r');
			line_start = str_len(crlf) + 1;
			last_space = 0;
		} else if (*p == ' ') {
			last_space = str_len(crlf);
		}
		str_append_c(crlf, *p);
		/* Expanded names make long lines: break them at a space so
		   that quoted-printable needs no soft breaks */
		if (str_len(crlf) - line_start > NOTICE_LINE_MAX &&
		    last_space > line_start) {
			str_insert(crlf, last_space + 1, "\r\n");
			str_delete(crlf, last_space, 1);
			line_start = last_space + 2;
			last_space = 0;
		}
	}
	if (str_len(crlf) == 0 || str_c(crlf)[str_len(crlf) - 1] != '\n')
		str_append(crlf, "\r\n");
	return str_c(crlf);
}

const char *vsmlist_compose_notice(const struct vsmlist_settings *set,
				   const char *author, const char *reason)
{
	/* In the order of vsmlist_notice_variables[] */
	const char *const values[] = {
		smtp_address_encode(set->address), set->name, author, reason
	};

	i_assert(str_array_length(vsmlist_notice_variables) ==
		 N_ELEMENTS(values));
	return vsmlist_compose_text(set->notice != NULL ? set->notice :
				    VSMLIST_DEFAULT_NOTICE,
				    vsmlist_notice_variables, values);
}

const char *vsmlist_compose_qp(const char *text)
{
	string_t *lf = t_str_new(strlen(text));
	unsigned char *out;
	size_t len;
	int state = -1;
	guint32 save = 0;
	const char *p;

	/* GMime's encoder keeps lines within RFC 2045's 76 octets (Dovecot's
	   may end one with "=20=" past it); it wants bare LF line ends */
	for (p = text; *p != '\0'; p++) {
		if (*p != '\r')
			str_append_c(lf, *p);
	}
	out = t_malloc0(GMIME_QP_ENCODE_LEN(str_len(lf)) + 1);
	len = g_mime_encoding_quoted_encode_close(
		str_data(lf), str_len(lf), out, &state, &save);
	return crlf_lines(t_strndup(out, len));
}

const char *vsmlist_compose_trace_field(const struct vsmlist_settings *set)
{
	return t_strdup_printf(VSMLIST_LOOP_HEADER": %s\r\n",
			       smtp_address_encode(set->address));
}

const char *
vsmlist_compose_untouched_head(const struct vsmlist_settings *set,
			       const struct vsmlist_dkim_coverage *coverage,
			       const char *const **replace_r,
			       string_t *left_out)
{
	ARRAY_TYPE(vsmlist_list_header) headers;
	ARRAY_TYPE(const_string) replace;
	const struct vsmlist_list_header *hdr;
	struct vsmlist_list_header trace;
	string_t *head = t_str_new(256);
	const char *signer;

	t_array_init(&replace, 8);
	t_array_init(&headers, 8);
	trace.name = VSMLIST_LOOP_HEADER;
	trace.line = vsmlist_compose_trace_field(set);
	array_push_back(&headers, &trace);
	vsmlist_compose_list_headers(set, TRUE, &headers);

	array_foreach(&headers, hdr) {
		/* X-Loop is the loop guard's anchor: always added, whatever
		   a signature names (no author has a reason to sign it) */
		signer = (strcmp(hdr->name, VSMLIST_LOOP_HEADER) == 0 ? NULL :
			  vsmlist_dkim_covers(coverage, hdr->name));
		if (signer == NULL) {
			str_append(head, hdr->line);
			/* Other lists' X-Loop lines stay: each marks its own
			   list. Ours replace the rest, unsigned as they are. */
			if (strcmp(hdr->name, VSMLIST_LOOP_HEADER) != 0)
				array_push_back(&replace, &hdr->name);
			continue;
		}
		if (left_out != NULL) {
			if (str_len(left_out) > 0)
				str_append(left_out, ", ");
			str_printfa(left_out, "%s (signed by d=%s)",
				    hdr->name, signer);
		}
	}
	array_append_zero(&replace);
	*replace_r = array_front(&replace);
	return str_c(head);
}

/* A copied header field under its canonical name, its value with its own
   folding, CRLF-terminated; "" when absent or empty */
static const char *
copy_field(const ARRAY_TYPE(vsmlist_header_field) *fields, const char *name)
{
	const struct vsmlist_header_field *field =
		vsmlist_message_header_first(fields, name);
	const char *value;

	if (field == NULL)
		return "";
	value = vsmlist_header_field_value_lines(field);
	return (*value == '\0' ? "" :
		t_strdup_printf("%s: %s\r\n", name, value));
}

static void append_list_headers(const struct vsmlist_settings *set,
				string_t *head)
{
	ARRAY_TYPE(vsmlist_list_header) headers;
	const struct vsmlist_list_header *hdr;

	t_array_init(&headers, 8);
	vsmlist_compose_list_headers(set, FALSE, &headers);
	array_foreach(&headers, hdr)
		str_append(head, hdr->line);
	str_append(head, vsmlist_compose_trace_field(set));
}

/* "Cc: <each Cc field's addresses>, <the author>": one field for all the
   post's Cc fields (a header may have only one), each value keeping its
   own folding, every further line starting with white space */
static void
append_cc_with_author(const struct vsmlist_header_field *from,
		      const ARRAY_TYPE(vsmlist_header_field) *fields,
		      string_t *head)
{
	const struct vsmlist_header_field *field;
	const char *value;
	bool first = TRUE;

	str_append(head, "Cc:");
	array_foreach(fields, field) {
		if (strcasecmp(field->name, "Cc") != 0)
			continue;
		value = vsmlist_header_field_value_lines(field);
		if (*value == '\0')
			continue;
		str_printfa(head, "%s %s", first ? "" : ",\r\n", value);
		first = FALSE;
	}
	str_printfa(head, "%s %s\r\n", first ? "" : ",\r\n",
		    vsmlist_header_field_value_lines(from));
}

const char *
vsmlist_compose_munge_head(const struct vsmlist_settings *set,
			   const struct vsmlist_author_mailbox *author,
			   const ARRAY_TYPE(vsmlist_header_field) *fields,
			   const char *const **remove_r)
{
	static const char *const remove_from[] = { "From", NULL };
	static const char *const remove_from_cc[] = { "From", "Cc", NULL };
	const struct vsmlist_header_field *from;
	string_t *head = t_str_new(512);

	str_append(head, vsmlist_compose_from(set, author));
	from = vsmlist_message_header_first(fields, "From");
	if (from == NULL ||
	    *vsmlist_header_field_value_lines(from) == '\0') {
		/* Not reached: a post without a usable author is wrapped */
		*remove_r = remove_from;
	} else if (vsmlist_message_header_first(fields, "Reply-To") == NULL) {
		/* The author's own field value with its folding: a long one
		   stays within the line limit */
		str_printfa(head, "Reply-To: %s\r\n",
			    vsmlist_header_field_value_lines(from));
		*remove_r = remove_from;
	} else {
		/* The author chose where replies go; keep it, and keep the
		   author reachable as a copy recipient */
		append_cc_with_author(from, fields, head);
		*remove_r = remove_from_cc;
	}
	append_list_headers(set, head);
	return str_c(head);
}

const char *vsmlist_compose_wrap_head(const struct vsmlist_settings *set,
				      const struct vsmlist_wrap_params *params)
{
	static const char *const copied[] = {
		"To", "Cc", "Subject", "Date", "In-Reply-To", "References",
	};
	const struct vsmlist_header_field *from, *reply_to;
	const char *author_name;
	string_t *head = t_str_new(2048);
	unsigned int i;

	str_append(head, vsmlist_compose_from(set, params->author));
	/* Replies go where the author wanted them */
	reply_to = vsmlist_message_header_first(params->fields, "Reply-To");
	from = vsmlist_message_header_first(params->fields, "From");
	if (reply_to != NULL &&
	    *vsmlist_header_field_value_lines(reply_to) != '\0') {
		str_printfa(head, "Reply-To: %s\r\n",
			    vsmlist_header_field_value_lines(reply_to));
	} else if (params->author != NULL && from != NULL) {
		str_printfa(head, "Reply-To: %s\r\n",
			    vsmlist_header_field_value_lines(from));
	}
	for (i = 0; i < N_ELEMENTS(copied); i++)
		str_append(head, copy_field(params->fields, copied[i]));
	if (vsmlist_message_header_first(params->fields, "Date") == NULL) {
		str_printfa(head, "Date: %s\r\n",
			    message_date_create(ioloop_time));
	}
	str_printfa(head, "Message-ID: %s\r\n", params->message_id);
	append_list_headers(set, head);
	str_printfa(head,
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"%s\"\r\n"
		/* RFC 2045 6.4: a multipart says what its parts hold */
		"Content-Transfer-Encoding: %s\r\n"
		"\r\n"
		"This is a message in MIME format: a notice from the list "
		"and the\r\noriginal message as an attachment.\r\n"
		"\r\n--%s\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"Content-Disposition: inline\r\n"
		"\r\n", params->boundary, params->inner_cte, params->boundary);

	author_name = (params->author != NULL ?
		       vsmlist_compose_author_name(params->author) :
		       "an unknown author");
	str_append(head, vsmlist_compose_qp(vsmlist_compose_notice(
		set, author_name, params->reason)));
	if (str_len(head) < 2 || str_c(head)[str_len(head) - 1] != '\n')
		str_append(head, "\r\n");
	str_printfa(head,
		"\r\n--%s\r\n"
		"Content-Type: message/rfc822\r\n"
		"Content-Transfer-Encoding: %s\r\n"
		"Content-Disposition: inline\r\n"
		"\r\n", params->boundary, params->inner_cte);
	return str_c(head);
}
