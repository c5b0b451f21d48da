/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "istream.h"
#include "test-vsmlist.h"
#include "vsmlist-message.h"

static const char *const test_list_pairs[] = {
	"sieve_vsmlist_address", "friends@lists.example", NULL
};

static const char *test_untouched(const char *post, size_t max_buffer)
{
	struct istream *input, *output;
	const unsigned char *data;
	size_t size;
	string_t *result = t_str_new(256);
	ssize_t ret;

	input = test_istream_create(post);
	if (max_buffer > 0)
		test_istream_set_max_buffer_size(input, max_buffer);
	output = vsmlist_message_untouched(
		input, test_vsmlist_settings(test_list_pairs));
	while ((ret = i_stream_read_more(output, &data, &size)) > 0) {
		str_append_data(result, data, size);
		i_stream_skip(output, size);
	}
	test_assert(ret == -1 && output->stream_errno == 0);
	i_stream_unref(&output);
	i_stream_unref(&input);
	return str_c(result);
}

static void test_message_untouched(void)
{
	static const char *post =
		"Return-Path: <author@author.example>\r\n"
		"DKIM-Signature: v=1; a=rsa-sha256; d=author.example;\r\n"
		"\th=from:to:subject; bh=x; b=y\r\n"
		"From: Author <author@author.example>\r\n"
		"To: friends@lists.example\r\n"
		"Subject: hello\r\n"
		"\r\n"
		"Body line 1\r\n"
		"Return-Path: in the body stays\r\n";
	static const char *expected =
		"X-Loop: friends@lists.example\r\n"
		"DKIM-Signature: v=1; a=rsa-sha256; d=author.example;\r\n"
		"\th=from:to:subject; bh=x; b=y\r\n"
		"From: Author <author@author.example>\r\n"
		"To: friends@lists.example\r\n"
		"Subject: hello\r\n"
		"\r\n"
		"Body line 1\r\n"
		"Return-Path: in the body stays\r\n";

	test_begin("message: untouched copy");
	test_assert_strcmp(test_untouched(post, 0), expected);
	/* The same through a parent that hands out small pieces */
	test_assert_strcmp(test_untouched(post, 16), expected);
	test_end();
}

static void test_message_untouched_lf(void)
{
	test_begin("message: LF-only post becomes CRLF, no final newline kept");
	test_assert_strcmp(test_untouched(
		"From: a@b.example\nSubject: x\n\nline\nlast", 0),
		"X-Loop: friends@lists.example\r\n"
		"From: a@b.example\r\nSubject: x\r\n\r\nline\r\nlast");
	test_end();
}

static void test_message_untouched_8bit(void)
{
	test_begin("message: 8-bit bytes pass unchanged");
	test_assert_strcmp(test_untouched(
		"Subject: gr\xc3\xbc\xc3\x9f""e\r\n\r\n\xff\xfe\x80 bytes\r\n", 0),
		"X-Loop: friends@lists.example\r\n"
		"Subject: gr\xc3\xbc\xc3\x9f""e\r\n\r\n\xff\xfe\x80 bytes\r\n");
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_message_untouched,
		test_message_untouched_lf,
		test_message_untouched_8bit,
		NULL
	};
	return test_run(test_functions);
}
