/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#define _GNU_SOURCE /* memmem() */
#include "lib.h"
#include "array.h"
#include "str.h"
#include "sort.h"
#include "istream.h"
#include "istream-concat.h"
#include "istream-crlf.h"
#include "istream-header-filter.h"
#include "message-size.h"
#include "message-header-parser.h"

#include "vsmlist-message.h"

/* RFC 5322 2.1.1 */
#define VSMLIST_MAX_LINE_LENGTH 998
#define SCAN_BLOCK 8192

/* Whether the parser's line holds a NUL (RFC 5322 forbids it anywhere in
   a message; where it sits in a name, C strings would cut the line) */
static bool header_line_has_nul(const struct message_header_line *hdr)
{
	return memchr(hdr->name, '\0', hdr->name_len) != NULL ||
		memchr(hdr->value, '\0', hdr->value_len) != NULL;
}

/* A bare CR inside a line (the parser drops only the one before LF) would
   end the line early for some readers of the fields we copy: it becomes a
   space in our copy of the header (the original's bytes are not touched) */
static void header_text_append(string_t *str, const unsigned char *data,
			       size_t size)
{
	size_t start = str_len(str), i;
	unsigned char *p;

	str_append_data(str, data, size);
	p = (unsigned char *)str_c_modifiable(str) + start;
	for (i = 0; i < size; i++) {
		if (p[i] == '\r')
			p[i] = ' ';
	}
}

int vsmlist_message_read_header(struct istream *input, pool_t pool,
				ARRAY_TYPE(vsmlist_header_field) *fields,
				const char **malformed_r, const char **error_r)
{
	struct message_header_parser_ctx *parser;
	struct message_header_line *hdr;
	struct message_size hdr_size;
	struct vsmlist_header_field *field;
	string_t *raw, *value;
	bool skip = FALSE;
	int ret;

	*malformed_r = NULL;
	raw = t_str_new(256);
	value = t_str_new(256);
	i_zero(&hdr_size);
	parser = message_parse_header_init(input, &hdr_size,
					   MESSAGE_HEADER_PARSER_FLAG_DROP_CR);
	/* The parser then keeps no more than this of the header in memory
	   (it cuts values beyond it); we stop storing at the same bound */
	message_parse_header_set_limit(parser, VSMLIST_MESSAGE_MAX_HEADER_SIZE);
	while ((ret = message_parse_header_next(parser, &hdr)) > 0) {
		if (hdr->eoh)
			continue;
		if (*malformed_r == NULL) {
			if (header_line_has_nul(hdr)) {
				*malformed_r = "a NUL byte in the header";
			} else if (hdr_size.physical_size +
				   hdr->value_len >
				   VSMLIST_MESSAGE_MAX_HEADER_SIZE) {
				*malformed_r = t_strdup_printf(
					"a header larger than %u bytes",
					VSMLIST_MESSAGE_MAX_HEADER_SIZE);
			} else if (array_count(fields) >=
				   VSMLIST_MESSAGE_MAX_HEADER_FIELDS) {
				*malformed_r = t_strdup_printf(
					"more than %u header fields",
					VSMLIST_MESSAGE_MAX_HEADER_FIELDS);
			}
		}
		if (*malformed_r != NULL)
			continue;	/* read on, store nothing more */
		if (!hdr->continued) {
			/* A line without a colon (or with an overlong name)
			   is no field: nothing can look it up */
			skip = (hdr->name_len == 0);
			str_truncate(raw, 0);
			str_truncate(value, 0);
			str_append_data(raw, hdr->name, hdr->name_len);
			str_append_data(raw, hdr->middle, hdr->middle_len);
		} else {
			str_append(raw, "\r\n");
			str_append_c(value, ' ');
		}
		header_text_append(raw, hdr->value, hdr->value_len);
		header_text_append(value, hdr->value, hdr->value_len);
		if (hdr->continues || skip)
			continue;
		field = array_append_space(fields);
		field->name = p_strndup(pool, hdr->name, hdr->name_len);
		field->raw = p_strdup(pool, str_c(raw));
		field->value = p_strdup(pool, str_c(value));
	}
	if (*malformed_r == NULL && message_parse_header_has_nuls(parser))
		*malformed_r = "a NUL byte in the header";
	message_parse_header_deinit(&parser);
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(input),
					   i_stream_get_error(input));
		return -1;
	}
	return 0;
}

const char *const *
vsmlist_message_header_values(const ARRAY_TYPE(vsmlist_header_field) *fields,
			      const char *name)
{
	const struct vsmlist_header_field *field;
	ARRAY_TYPE(const_string) values;

	t_array_init(&values, 2);
	array_foreach(fields, field) {
		if (strcasecmp(field->name, name) == 0)
			array_push_back(&values, &field->value);
	}
	if (array_count(&values) == 0)
		return NULL;
	array_append_zero(&values);
	return array_front(&values);
}

const struct vsmlist_header_field *
vsmlist_message_header_first(const ARRAY_TYPE(vsmlist_header_field) *fields,
			     const char *name)
{
	const struct vsmlist_header_field *field;

	array_foreach(fields, field) {
		if (strcasecmp(field->name, name) == 0)
			return field;
	}
	return NULL;
}

const char *vsmlist_header_field_raw_value(const struct vsmlist_header_field *field)
{
	const char *colon = strchr(field->raw, ':');

	/* Only fields with a name and a colon are stored */
	return (colon == NULL ? "" : colon + 1);
}

const char *
vsmlist_header_field_value_lines(const struct vsmlist_header_field *field)
{
	const char *value = vsmlist_header_field_raw_value(field);

	/* Folding right after the colon: start on the first line with text */
	while (*value == ' ' || *value == '\t' || *value == '\r' ||
	       *value == '\n')
		value++;
	return value;
}

/* Delivered-To: <the list, or one of its detail forms>: the list's own
   LMTP hop, which members are not told about */
static bool
message_is_own_hop(const struct vsmlist_message_filter *filter,
		   const struct message_header_line *hdr)
{
	const char *value, *at, *local;
	size_t llen;

	if (filter->list_localpart == NULL ||
	    strcasecmp(hdr->name, "Delivered-To") != 0 ||
	    memchr(hdr->value, '\0', hdr->value_len) != NULL)
		return FALSE;
	value = t_str_trim(t_strndup(hdr->value, hdr->value_len), " \t<>");
	at = strrchr(value, '@');
	if (at == NULL || strcasecmp(at + 1, filter->list_domain) != 0)
		return FALSE;
	local = t_strdup_until(value, at);
	llen = strlen(filter->list_localpart);
	if (strncasecmp(local, filter->list_localpart, llen) != 0)
		return FALSE;
	return local[llen] == '\0' ||
		(filter->delimiters != NULL &&
		 strchr(filter->delimiters, local[llen]) != NULL);
}

static void
message_filter_callback(struct header_filter_istream *input ATTR_UNUSED,
			struct message_header_line *hdr, bool *matched,
			struct vsmlist_message_filter *filter)
{
	if (hdr == NULL || hdr->eoh || hdr->continued || *matched)
		return;
	T_BEGIN {
		*matched = message_is_own_hop(filter, hdr);
	} T_END;
}

/* The original without the filtered headers, CRLF-terminated */
static struct istream *
message_filter(struct istream *input,
	       const struct vsmlist_message_filter *filter)
{
	ARRAY_TYPE(const_string) names;
	const char *return_path = "Return-Path";
	const char *const *remove;

	t_array_init(&names, 4);
	array_push_back(&names, &return_path);
	for (remove = filter->remove; remove != NULL && *remove != NULL;
	     remove++)
		array_push_back(&names, remove);
	/* The filter looks names up by binary search */
	array_sort(&names, i_strcasecmp_p);
	return i_stream_create_header_filter(
		input, HEADER_FILTER_EXCLUDE | HEADER_FILTER_CRLF_PRESERVE,
		array_front(&names), array_count(&names),
		message_filter_callback,
		(struct vsmlist_message_filter *)filter);
}

static struct istream *
message_concat(struct istream *head, struct istream *body,
	       struct istream *tail, const char *name)
{
	struct istream *inputs[4], *concat, *output;
	unsigned int i = 0;

	inputs[i++] = head;
	inputs[i++] = body;
	if (tail != NULL)
		inputs[i++] = tail;
	inputs[i] = NULL;
	concat = i_stream_create_concat(inputs);
	for (i = 0; inputs[i] != NULL; i++)
		i_stream_unref(&inputs[i]);
	output = i_stream_create_crlf(concat);
	i_stream_unref(&concat);
	i_stream_set_name(output, name);
	return output;
}

static struct istream *string_stream(const char *str)
{
	return i_stream_create_copy_from_data(str, strlen(str));
}

struct istream *
vsmlist_message_prepend(struct istream *input, const char *prepend,
			const struct vsmlist_message_filter *filter)
{
	return message_concat(string_stream(prepend),
			      message_filter(input, filter), NULL,
			      t_strdup_printf("vsmlist copy(%s)",
					      i_stream_get_name(input)));
}

struct istream *
vsmlist_message_wrap(struct istream *input, const char *head,
		     const char *boundary,
		     const struct vsmlist_message_filter *filter)
{
	/* The CRLF before the delimiter belongs to it (RFC 2046 5.1.1): the
	   original keeps its last line ending, or its lack of one */
	return message_concat(string_stream(head),
			      message_filter(input, filter),
			      string_stream(t_strdup_printf("\r\n--%s--\r\n",
							    boundary)),
			      t_strdup_printf("vsmlist wrapped(%s)",
					      i_stream_get_name(input)));
}

/* Whether the boundary occurs in the data, given the last blen-1 octets
   of the previous block in window (carry of them): a boundary that spans
   two blocks is found too. */
static bool
scan_boundary(unsigned char *window, size_t *carry, const char *boundary,
	      size_t blen, const unsigned char *data, size_t size)
{
	size_t take;

	while (size > 0) {
		take = I_MIN(size, SCAN_BLOCK);
		memcpy(window + *carry, data, take);
		if (memmem(window, *carry + take, boundary, blen) != NULL)
			return TRUE;
		if (*carry + take >= blen - 1) {
			memmove(window, window + *carry + take - (blen - 1),
				blen - 1);
			*carry = blen - 1;
		} else {
			*carry += take;
		}
		data += take;
		size -= take;
	}
	return FALSE;
}

int vsmlist_message_scan(struct istream *input, const char *boundary,
			 struct vsmlist_message_scan *scan_r,
			 const char **error_r)
{
	size_t blen = (boundary == NULL ? 0 : strlen(boundary));
	size_t size, i, carry = 0, line_len = 0;
	const unsigned char *data;
	unsigned char *window = NULL;

	i_zero(scan_r);
	if (blen > 0)
		window = t_malloc_no0(blen + SCAN_BLOCK);
	i_stream_seek(input, 0);
	while (i_stream_read_more(input, &data, &size) > 0) {
		for (i = 0; i < size; i++) {
			if (data[i] >= 0x80)
				scan_r->has_8bit = TRUE;
			else if (data[i] == '\0')
				scan_r->has_nul = TRUE;
			if (data[i] == '\n')
				line_len = 0;
			else if (data[i] != '\r' &&
				 ++line_len > VSMLIST_MAX_LINE_LENGTH)
				scan_r->has_long_lines = TRUE;
		}
		if (blen > 0 && !scan_r->contains_boundary &&
		    scan_boundary(window, &carry, boundary, blen, data, size))
			scan_r->contains_boundary = TRUE;
		scan_r->size += size;
		i_stream_skip(input, size);
	}
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(input),
					   i_stream_get_error(input));
		return -1;
	}
	return 0;
}
