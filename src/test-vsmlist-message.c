/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "test-common.h"
#include "vsmlist-message.h"

#define TRACE "X-Loop: friends@lists.example\r\n"

static const char *test_read_all(struct istream *output)
{
	const unsigned char *data;
	size_t size;
	string_t *result = t_str_new(256);
	ssize_t ret;

	while ((ret = i_stream_read_more(output, &data, &size)) > 0) {
		str_append_data(result, data, size);
		i_stream_skip(output, size);
	}
	test_assert(ret == -1 && output->stream_errno == 0);
	return str_c(result);
}

static struct istream *test_input(const char *post, size_t max_buffer)
{
	struct istream *input = test_istream_create(post);

	if (max_buffer > 0)
		test_istream_set_max_buffer_size(input, max_buffer);
	return input;
}

static const char *test_untouched(const char *post, size_t max_buffer)
{
	static const struct vsmlist_message_filter filter = {
		.list_localpart = "friends", .list_domain = "lists.example",
		.delimiters = "+-",
	};
	struct istream *input = test_input(post, max_buffer), *output;
	const char *result;

	output = vsmlist_message_prepend(input, TRACE, &filter);
	result = test_read_all(output);
	i_stream_unref(&output);
	i_stream_unref(&input);
	return result;
}

static const char *signed_post =
	"Return-Path: <author@author.example>\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; d=author.example;\r\n"
	"\th=from:to:subject; bh=x; b=y\r\n"
	"From: Author <author@author.example>\r\n"
	"To: friends@lists.example\r\n"
	"Subject: hello\r\n"
	"\r\n"
	"Body line 1\r\n"
	"Return-Path: in the body stays\r\n";

static void test_message_untouched(void)
{
	static const char *expected =
		TRACE
		"DKIM-Signature: v=1; a=rsa-sha256; d=author.example;\r\n"
		"\th=from:to:subject; bh=x; b=y\r\n"
		"From: Author <author@author.example>\r\n"
		"To: friends@lists.example\r\n"
		"Subject: hello\r\n"
		"\r\n"
		"Body line 1\r\n"
		"Return-Path: in the body stays\r\n";

	test_begin("message: untouched copy");
	test_assert_strcmp(test_untouched(signed_post, 0), expected);
	/* The same through a parent that hands out small pieces */
	test_assert_strcmp(test_untouched(signed_post, 16), expected);
	test_end();

	test_begin("message: LF-only post becomes CRLF, no final newline kept");
	test_assert_strcmp(test_untouched(
		"From: a@b.example\nSubject: x\n\nline\nlast", 0),
		TRACE "From: a@b.example\r\nSubject: x\r\n\r\nline\r\nlast");
	test_end();

	test_begin("message: 8-bit bytes pass unchanged");
	test_assert_strcmp(test_untouched(
		"Subject: gr\xc3\xbc\xc3\x9f""e\r\n\r\n\xff\xfe\x80 bytes\r\n", 0),
		TRACE "Subject: gr\xc3\xbc\xc3\x9f""e\r\n\r\n\xff\xfe\x80 bytes\r\n");
	test_end();
}

static void test_message_munge(void)
{
	static const char *const remove[] = { "From", "Cc", NULL };
	const struct vsmlist_message_filter filter = { .remove = remove };
	struct istream *input, *output;

	test_begin("message: prepended fields replace the removed ones");
	input = test_input("From: a@b.example\r\nCc: c@d.example\r\n"
			   "Subject: s\r\n\r\nbody\r\n", 0);
	output = vsmlist_message_prepend(input, "From: new@l.example\r\n",
					 &filter);
	test_assert_strcmp(test_read_all(output),
		"From: new@l.example\r\nSubject: s\r\n\r\nbody\r\n");
	i_stream_unref(&output);
	i_stream_unref(&input);
	test_end();
}

static void test_message_wrap(void)
{
	static const struct vsmlist_message_filter filter = {
		.list_localpart = "friends", .list_domain = "lists.example",
		.delimiters = "+",
	};
	struct istream *input, *output;

	test_begin("message: wrapped keeps the original byte for byte");
	input = test_input("Return-Path: <a@b.example>\r\n"
			   "From: a@b.example\r\n\r\nno final newline", 0);
	output = vsmlist_message_wrap(input, "HEAD\r\n", "BOUND", &filter);
	test_assert_strcmp(test_read_all(output),
		"HEAD\r\nFrom: a@b.example\r\n\r\nno final newline"
		"\r\n--BOUND--\r\n");
	i_stream_unref(&output);
	i_stream_unref(&input);
	test_end();

	test_begin("message: the list's own Delivered-To is not passed on");
	input = test_input("Return-Path: <a@b.example>\r\n"
			   "Delivered-To: Friends@Lists.Example\r\n"
			   "Delivered-To: friends+x@lists.example\r\n"
			   "Delivered-To: friendsx@lists.example\r\n"
			   "Delivered-To: someone@elsewhere.example\r\n"
			   "From: a@b.example\r\n\r\nbody\r\n", 0);
	output = vsmlist_message_wrap(input, "HEAD\r\n", "BOUND", &filter);
	test_assert_strcmp(test_read_all(output),
		"HEAD\r\nDelivered-To: friendsx@lists.example\r\n"
		"Delivered-To: someone@elsewhere.example\r\n"
		"From: a@b.example\r\n\r\nbody\r\n\r\n--BOUND--\r\n");
	i_stream_unref(&output);
	i_stream_unref(&input);
	test_end();
}

/* What vsmlist_message_read_header() says of a header (a body follows) */
static const char *test_header_malformed(string_t *header)
{
	ARRAY_TYPE(vsmlist_header_field) fields;
	struct istream *input;
	const char *malformed, *error;

	str_append(header, "\r\nbody\r\n");
	t_array_init(&fields, 8);
	input = test_istream_create_data(str_data(header), str_len(header));
	test_assert(vsmlist_message_read_header(input, pool_datastack_create(),
						&fields, &malformed,
						&error) == 0);
	i_stream_unref(&input);
	return malformed;
}

static void test_message_header(void)
{
	ARRAY_TYPE(vsmlist_header_field) fields;
	const struct vsmlist_header_field *field;
	const char *const *values, *malformed, *error;
	struct istream *input;

	test_begin("message: header fields raw and unfolded");
	t_array_init(&fields, 8);
	input = test_input(signed_post, 0);
	test_assert(vsmlist_message_read_header(input, pool_datastack_create(),
						&fields, &malformed,
						&error) == 0);
	test_assert(malformed == NULL);
	test_assert(array_count(&fields) == 5);
	field = vsmlist_message_header_first(&fields, "dkim-signature");
	test_assert_strcmp(field->raw,
		"DKIM-Signature: v=1; a=rsa-sha256; d=author.example;\r\n"
		"\th=from:to:subject; bh=x; b=y");
	test_assert_strcmp(field->value,
		"v=1; a=rsa-sha256; d=author.example; \th=from:to:subject; "
		"bh=x; b=y");
	values = vsmlist_message_header_values(&fields, "SUBJECT");
	test_assert(values != NULL && strcmp(values[0], "hello") == 0 &&
		    values[1] == NULL);
	test_assert(vsmlist_message_header_values(&fields, "Cc") == NULL);
	i_stream_unref(&input);
	test_end();

	test_begin("message: header bounds and lines without a field name");
	t_array_init(&fields, 8);
	input = test_istream_create("no colon here\r\nA: 1\r\n"
				    "B:\r\n 2\r\n\r\nbody");
	test_assert(vsmlist_message_read_header(input, pool_datastack_create(),
						&fields, &malformed,
						&error) == 0);
	test_assert(malformed == NULL && array_count(&fields) == 2);
	field = vsmlist_message_header_first(&fields, "B");
	test_assert_strcmp(vsmlist_header_field_raw_value(field), "\r\n 2");
	test_assert_strcmp(vsmlist_header_field_value_lines(field), "2");
	i_stream_unref(&input);

	string_t *big = t_str_new(VSMLIST_MESSAGE_MAX_HEADER_SIZE + 2048);
	while (str_len(big) <= VSMLIST_MESSAGE_MAX_HEADER_SIZE) {
		str_append(big, "X-Filler: ");
		for (unsigned int i = 0; i < 900; i++)
			str_append_c(big, 'a' + i % 26);
		str_append(big, "\r\n");
	}
	malformed = test_header_malformed(big);
	test_assert(malformed != NULL && strstr(malformed, "larger than") != NULL);

	str_truncate(big, 0);
	for (unsigned int i = 0; i <= VSMLIST_MESSAGE_MAX_HEADER_FIELDS; i++)
		str_append(big, "A: b\r\n");
	malformed = test_header_malformed(big);
	test_assert(malformed != NULL &&
		    strstr(malformed, "header fields") != NULL);
	test_end();
}

static void test_message_scan(void)
{
	struct vsmlist_message_scan scan;
	struct istream *input;
	string_t *big = t_str_new(40000);
	const char *error;
	unsigned int i;

	test_begin("message: scan finds the boundary across blocks");
	for (i = 0; i < 8190; i++)
		str_append_c(big, i % 64 == 63 ? '\n' : 'a');
	str_append(big, "=_vsmlist_boundary_here\nmore");
	input = test_input(str_c(big), 0);
	test_assert(vsmlist_message_scan(input, "=_vsmlist_boundary",
					 &scan, &error) == 0);
	test_assert(scan.contains_boundary);
	test_assert(!scan.has_8bit && !scan.has_nul && !scan.has_long_lines);
	test_assert(scan.size == str_len(big));
	test_assert(vsmlist_message_scan(input, "=_vsmlist_other",
					 &scan, &error) == 0);
	test_assert(!scan.contains_boundary);
	i_stream_unref(&input);
	test_end();

	test_begin("message: scan reports 8-bit, NUL and long lines");
	input = test_istream_create_data("a\x80" "b\0c\r\n", 7);
	test_assert(vsmlist_message_scan(input, "x-y", &scan, &error) == 0);
	test_assert(scan.has_8bit && scan.has_nul && !scan.has_long_lines);
	i_stream_unref(&input);
	str_truncate(big, 0);
	for (i = 0; i < 999; i++)
		str_append_c(big, 'x');
	input = test_input(str_c(big), 0);
	test_assert(vsmlist_message_scan(input, "x-y", &scan, &error) == 0);
	test_assert(scan.has_long_lines && !scan.has_8bit);
	i_stream_unref(&input);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_message_untouched,
		test_message_munge,
		test_message_wrap,
		test_message_header,
		test_message_scan,
		NULL
	};
	return test_run(test_functions);
}
