/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "test-vsmlist.h"
#include "test-vsmlist-header-check.h"
#include "vsmlist-compose.h"
#include "vsmlist-post.h"

static const char *const test_pairs[] = {
	"sieve_vsmlist_address", "friends@lists.example",
	"sieve_vsmlist_name", "Friends",
	"sieve_vsmlist_dns_cache", "no",
	NULL
};

static const char *test_original =
	"From: Ann <ann@a.example>\r\n"
	"To: friends@lists.example\r\n"
	"Cc: bob@b.example\r\n"
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
	"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
	"Message-ID: <orig@a.example>\r\n"
	"References: <r1@a.example>\r\n"
	" <r2@a.example>\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; s=s; d=a.example; bh=x;\r\n"
	" h=from:to:subject:list-id; b=x\r\n"
	"\r\n"
	"caf\xc3\xa9\r\n"
	"no final newline";

static const char *test_stream(struct vsmlist_post *post)
{
	struct istream *output = vsmlist_post_create_stream(post);
	const unsigned char *data;
	size_t size;
	string_t *str = t_str_new(1024);

	while (i_stream_read_more(output, &data, &size) > 0) {
		str_append_data(str, data, size);
		i_stream_skip(output, size);
	}
	test_assert(output->stream_errno == 0);
	i_stream_unref(&output);
	return str_c(str);
}

static bool str_ends_with(const char *str, const char *suffix)
{
	size_t len = strlen(str), slen = strlen(suffix);

	return len >= slen && strcmp(str + len - slen, suffix) == 0;
}

static struct vsmlist_post *
test_prepare_data(enum vsmlist_dmarc_mode mode, const void *message,
		  size_t size, pool_t pool)
{
	struct istream *input = test_istream_create_data(message, size);
	ARRAY_TYPE(vsmlist_header_field) *fields;
	struct vsmlist_post *post = NULL;
	struct event *event = event_create(NULL);
	const char *malformed, *error;

	input->blocking = TRUE;
	fields = p_new(pool, ARRAY_TYPE(vsmlist_header_field), 1);
	p_array_init(fields, pool, 16);
	test_assert(vsmlist_message_read_header(input, pool, fields,
						&malformed, &error) == 0);
	test_assert(malformed == NULL);
	test_assert(vsmlist_post_prepare(pool, test_vsmlist_settings(test_pairs),
					 mode, input, fields, NULL, event,
					 &post, &error) == 0);
	i_stream_unref(&input);
	event_unref(&event);
	return post;
}

static struct vsmlist_post *
test_prepare(enum vsmlist_dmarc_mode mode, const char *message, pool_t pool)
{
	return test_prepare_data(mode, message, strlen(message), pool);
}

/* The copy's header is well formed and carries our loop marker */
static void test_assert_header_sound(const char *out)
{
	const unsigned char *data = (const unsigned char *)out;
	const char *problem = test_vsmlist_header_problem(data, strlen(out));

	test_assert_strcmp(problem, NULL);
	test_assert(test_vsmlist_header_has(data, strlen(out), "X-Loop"));
}

static void test_post_wrap(void)
{
	pool_t pool = pool_alloconly_create("test post", 4096);
	struct vsmlist_post *post;
	const char *out, *inner, *boundary_line;

	test_begin("post: wrapped message");
	post = test_prepare(VSMLIST_DMARC_MODE_WRAP, test_original, pool);
	test_assert(post->decision.mitigation == VSMLIST_MITIGATION_WRAP);
	test_assert(post->has_8bit);
	out = test_stream(post);
	test_assert(str_begins(out, "From: Ann via Friends "
			       "<friends@lists.example>\r\n"));
	test_assert(strstr(out, "\r\nReply-To: Ann <ann@a.example>\r\n") != NULL);
	test_assert(strstr(out, "\r\nCc: bob@b.example\r\n") != NULL);
	test_assert(strstr(out, "\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n") != NULL);
	test_assert(strstr(out, "\r\nReferences: <r1@a.example>\r\n <r2@a.example>\r\n") != NULL);
	test_assert(strstr(out, "\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n") != NULL);
	/* A new Message-ID outside; the original's only inside */
	test_assert(strstr(out, "Message-ID: <orig") >
		    strstr(out, "message/rfc822"));
	test_assert(strstr(out, ".vsmlist@lists.example>\r\n") != NULL);
	test_assert(strstr(out, "\r\nList-Id: Friends <friends.lists.example>\r\n") != NULL);
	test_assert(strstr(out, "\r\nMIME-Version: 1.0\r\n") != NULL);
	test_assert(strstr(out, "Content-Type: message/rfc822\r\n"
			   "Content-Transfer-Encoding: 8bit\r\n") != NULL);

	/* The inner message is the original, byte for byte */
	boundary_line = t_strdup_printf("\r\n--%s--\r\n", post->boundary);
	test_assert(str_ends_with(out, boundary_line));
	inner = strstr(out, "Content-Disposition: inline\r\n\r\nFrom: Ann");
	test_assert(inner != NULL);
	if (inner != NULL) {
		inner = strchr(inner, '\n') + 3;
		test_assert_strcmp(t_strndup(inner, strlen(inner) -
					     strlen(boundary_line)),
				   test_original);
	}
	vsmlist_post_free(&post);
	pool_unref(&pool);
	test_end();
}

static void test_post_untouched(void)
{
	pool_t pool = pool_alloconly_create("test post", 4096);
	struct vsmlist_post *post;
	const char *out;

	test_begin("post: untouched, List-Id left out for DKIM");
	post = test_prepare(VSMLIST_DMARC_MODE_NONE, test_original, pool);
	test_assert(post->decision.mitigation == VSMLIST_MITIGATION_NONE);
	test_assert_strcmp(post->left_out, "List-Id (signed by d=a.example)");
	out = test_stream(post);
	test_assert(str_begins(out, "X-Loop: friends@lists.example\r\n"
		"Sender: <friends+bounces@lists.example>\r\n"
		"List-Post: <mailto:friends@lists.example>\r\n"
		"List-Subscribe: <mailto:friends+subscribe@lists.example>\r\n"
		"List-Unsubscribe: "
		"<mailto:friends+unsubscribe@lists.example>\r\n"
		"Precedence: list\r\n"
		"From: Ann <ann@a.example>\r\n"));
	test_assert(str_ends_with(out, "\r\n\r\ncaf\xc3\xa9\r\nno final newline"));
	vsmlist_post_free(&post);
	pool_unref(&pool);
	test_end();
}

static void test_post_munge(void)
{
	pool_t pool = pool_alloconly_create("test post", 4096);
	struct vsmlist_post *post;
	const char *out;

	test_begin("post: munged From, author to Reply-To or Cc");
	post = test_prepare(VSMLIST_DMARC_MODE_MUNGE, test_original, pool);
	test_assert(post->decision.mitigation == VSMLIST_MITIGATION_MUNGE);
	out = test_stream(post);
	test_assert(str_begins(out, "From: Ann via Friends "
			       "<friends@lists.example>\r\n"
			       "Reply-To: Ann <ann@a.example>\r\n"));
	test_assert(strstr(out, "\r\nFrom: Ann <ann@a.example>") == NULL);
	test_assert(strstr(out, "\r\nCc: bob@b.example\r\n") != NULL);
	vsmlist_post_free(&post);

	post = test_prepare(VSMLIST_DMARC_MODE_MUNGE, t_strconcat(
		"Reply-To: list-of-ann@a.example\r\n", test_original, NULL),
		pool);
	out = test_stream(post);
	test_assert(strstr(out, "Cc: bob@b.example,\r\n Ann <ann@a.example>\r\n") != NULL);
	test_assert(strstr(out, "\r\nReply-To: list-of-ann@a.example\r\n") != NULL);
	test_assert(strstr(out, "\r\nCc: bob@b.example\r\n") == NULL);
	vsmlist_post_free(&post);
	pool_unref(&pool);
	test_end();
}

static void test_post_unusable_author(void)
{
	pool_t pool = pool_alloconly_create("test post", 4096);
	struct vsmlist_post *post;
	const char *out;

	test_begin("post: an unusable author is wrapped, even in munge mode");
	post = test_prepare(VSMLIST_DMARC_MODE_MUNGE,
			    "From: a@b@c.example\r\nSubject: x\r\n\r\nbody\r\n",
			    pool);
	test_assert(post->decision.mitigation == VSMLIST_MITIGATION_WRAP);
	test_assert(strstr(post->decision.reason, "unusable author") != NULL);
	out = test_stream(post);
	test_assert(str_begins(out, "From: Friends <friends@lists.example>\r\n"));
	test_assert(strstr(out, "Reply-To:") == NULL);
	test_assert(strstr(out, "Content-Transfer-Encoding: 7bit\r\n") != NULL);
	vsmlist_post_free(&post);
	pool_unref(&pool);
	test_end();
}

static void test_post_munge_folded(void)
{
	static const char *const posts[] = {
		/* From folded right after the colon */
		"From:\r\n Ann <ann@a.example>\r\n"
		"Reply-To: r@a.example\r\nCc: c1@x.example\r\n"
		"X-Other: y\r\nCc: c2@x.example\r\nSubject: s\r\n"
		"\r\nbody\r\n",
		/* No space after the colon */
		"From:Ann <ann@a.example>\r\nReply-To:r@a.example\r\n"
		"Cc:c1@x.example\r\nCc:\r\n c2@x.example\r\n"
		"Subject: s\r\n\r\nbody\r\n",
		/* A bare CR inside a Cc value (found by fuzz-vsmlist-post) */
		"From: Ann <ann@a.example>\r\nReply-To: r@a.example\r\n"
		"Cc: c1@x.example\rX-Injected: 1\r\nCc: c2@x.example\r\n"
		"Subject: s\r\n\r\nbody\r\n",
		/* Every field folded after the colon */
		"From:\r\n Ann <ann@a.example>\r\nReply-To:\r\n r@a.example\r\n"
		"Cc:\r\n c1@x.example\r\nCc:\r\n\tc2@x.example\r\n"
		"Subject:\r\n s\r\n\r\nbody\r\n",
	};
	pool_t pool = pool_alloconly_create("test post", 4096);
	struct vsmlist_post *post;
	const char *out, *hdr_end;
	unsigned int i;

	test_begin("post: munge keeps the header well formed, all Cc merged");
	for (i = 0; i < N_ELEMENTS(posts); i++) {
		post = test_prepare(VSMLIST_DMARC_MODE_MUNGE, posts[i], pool);
		test_assert_idx(post->decision.mitigation ==
				VSMLIST_MITIGATION_MUNGE, i);
		out = test_stream(post);
		test_assert_header_sound(out);
		hdr_end = strstr(out, "\r\n\r\n");
		test_assert_idx(hdr_end != NULL, i);
		if (hdr_end == NULL)
			continue;
		/* Everything of the header stays in the header */
		test_assert_idx(strstr(hdr_end, "Subject:") == NULL, i);
		test_assert_idx(strstr(hdr_end, "X-Loop:") == NULL, i);
		/* One Cc, naming both copies and the author */
		out = t_strndup(out, hdr_end - out);
		test_assert_idx(strstr(out, "c1@x.example") != NULL, i);
		test_assert_idx(strstr(out, "c2@x.example") != NULL, i);
		test_assert_idx(strstr(strstr(out, "\r\nCc:"),
				       "ann@a.example") != NULL, i);
		test_assert_idx(strstr(strstr(out, "\r\nCc:") + 4,
				       "\r\nCc:") == NULL, i);
		vsmlist_post_free(&post);
	}
	pool_unref(&pool);
	test_end();
}

static void test_post_invalid_dkim(void)
{
	pool_t pool = pool_alloconly_create("test post", 4096);
	struct vsmlist_post *post;
	const char *out;

	test_begin("post: an invalid DKIM-Signature leaves out no list header");
	post = test_prepare(VSMLIST_DMARC_MODE_NONE,
		"DKIM-Signature: v=1\r\nFrom: Ann <ann@a.example>\r\n"
		"Subject: s\r\n\r\nbody\r\n", pool);
	out = test_stream(post);
	test_assert_header_sound(out);
	test_assert(strstr(out, "\r\nList-Id: ") != NULL);
	test_assert(strstr(out, "\r\nList-Post: ") != NULL);
	test_assert(strstr(out, "\r\nSender: ") != NULL);
	test_assert_strcmp(post->left_out, "");
	vsmlist_post_free(&post);
	test_end();

	test_begin("post: X-Loop is added even where a signature names it");
	post = test_prepare(VSMLIST_DMARC_MODE_NONE,
		"DKIM-Signature: v=1; a=rsa-sha256; d=a.example; s=s;\r\n"
		" h=from:subject:x-loop:list-id; bh=x; b=y\r\n"
		"From: Ann <ann@a.example>\r\nSubject: s\r\n\r\nbody\r\n",
		pool);
	out = test_stream(post);
	test_assert_header_sound(out);
	test_assert(strstr(out, "\r\nList-Id: ") == NULL);
	vsmlist_post_free(&post);
	pool_unref(&pool);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_post_wrap,
		test_post_untouched,
		test_post_munge,
		test_post_unusable_author,
		test_post_munge_folded,
		test_post_invalid_dkim,
		NULL
	};
	vsmlist_compose_init();
	return test_run(test_functions);
}
