/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "test-vsmlist.h"
#include "vsmlist-author.h"
#include "vsmlist-dkim.h"
#include "vsmlist-compose.h"

#include <gmime/gmime.h>

static const char *const test_pairs[] = {
	"sieve_vsmlist_address", "friends@lists.example",
	"sieve_vsmlist_name", "Friends",
	NULL
};

static const struct vsmlist_author_mailbox *
test_author(const char *from)
{
	struct vsmlist_author *author = t_new(struct vsmlist_author, 1);
	const char *fields[] = { from, NULL };

	vsmlist_author_parse(pool_datastack_create(), fields, author);
	if (array_count(&author->mailboxes) != 1)
		i_fatal("test author '%s' not parsed", from);
	return array_front(&author->mailboxes);
}

/* Parse a composed From line back as a receiver would: exactly one
   mailbox, the list's address, and the display name it decodes to */
static const char *test_from_roundtrip(const char *line)
{
	InternetAddressList *list;
	InternetAddress *ia;
	const char *value, *name = NULL;

	test_assert(str_begins(line, "From: "));
	test_assert(strstr(line, "\r\n") == line + strlen(line) - 2 ||
		    strstr(line, "\r\n ") != NULL || strstr(line, "\r\n\t"));
	/* Every line of a folded field starts with white space */
	for (const char *p = strchr(line, '\n'); p != NULL && p[1] != '\0';
	     p = strchr(p + 1, '\n'))
		test_assert(p[1] == ' ' || p[1] == '\t');
	value = t_strcut(line + 6, '\0');
	list = internet_address_list_parse(NULL, value);
	test_assert(list != NULL && internet_address_list_length(list) == 1);
	if (list == NULL)
		return "";
	ia = internet_address_list_get_address(list, 0);
	test_assert(INTERNET_ADDRESS_IS_MAILBOX(ia));
	test_assert_strcmp(internet_address_mailbox_get_addr(
		INTERNET_ADDRESS_MAILBOX(ia)), "friends@lists.example");
	name = t_strdup(internet_address_get_name(ia));
	g_object_unref(list);
	return name;
}

static void test_compose_from(void)
{
	const struct vsmlist_settings *set = test_vsmlist_settings(test_pairs);
	const char *line;

	test_begin("compose: From with plain, quoted and encoded names");
	line = vsmlist_compose_from(set, test_author("Ann <ann@a.example>"));
	test_assert_strcmp(line, "From: Ann via Friends <friends@lists.example>\r\n");
	test_assert_strcmp(test_from_roundtrip(vsmlist_compose_from(set,
		test_author("\"Smith, Ann \\\"Boss\\\"\" <ann@a.example>"))),
		"Smith, Ann \"Boss\" via Friends");
	test_assert_strcmp(test_from_roundtrip(vsmlist_compose_from(set,
		test_author("=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <j@a.example>"))),
		"J\xc3\xbcrgen M\xc3\xbcller via Friends");
	/* No display name: the address stands in */
	test_assert_strcmp(test_from_roundtrip(vsmlist_compose_from(set,
		test_author("bob@b.example"))), "bob@b.example via Friends");
	/* Unusable author: the list's own name */
	test_assert_strcmp(test_from_roundtrip(vsmlist_compose_from(set, NULL)),
			   "Friends");
	test_end();
}

static void test_compose_from_hostile(void)
{
	const struct vsmlist_settings *set = test_vsmlist_settings(test_pairs);
	string_t *huge = t_str_new(2100);
	const char *line, *name;
	unsigned int i;

	test_begin("compose: hostile display names cannot inject");
	line = vsmlist_compose_from(set, test_author(
		"\"Evil\\r\\nBcc: victim@x.example\" <e@a.example>"));
	test_assert(strstr(line, "\r\nBcc:") == NULL);
	name = test_from_roundtrip(line);
	test_assert(strchr(name, '\r') == NULL && strchr(name, '\n') == NULL);

	/* An encoded word that decodes to CR LF */
	line = vsmlist_compose_from(set, test_author(
		"=?utf-8?q?a=0D=0ABcc=3A_x=40y?= <e@a.example>"));
	test_assert(strstr(line, "\r\nBcc:") == NULL);
	name = test_from_roundtrip(line);
	test_assert(strchr(name, '\r') == NULL && strchr(name, '\n') == NULL);

	/* A name that looks like an encoded word, literally or after
	   decoding, is not passed on: the address stands in */
	name = test_from_roundtrip(vsmlist_compose_from(set, test_author(
		"\"=?not encoded?= , <x>\" <e@a.example>")));
	test_assert_strcmp(name, "e@a.example via Friends");
	line = vsmlist_compose_from(set, test_author(
		"=?utf-8?b?PT91dGYtOD9xP01hbGxvcnk9MEQ9MEFCY2M9M0FfeD00MGV2aWwuZXhhbXBsZT89?= "
		"<m@a.example>"));
	test_assert_strcmp(test_from_roundtrip(line), "m@a.example via Friends");

	/* 2 KB name: shortened, folded, still one mailbox */
	str_append_c(huge, '"');
	for (i = 0; i < 2048; i++)
		str_append(huge, i % 7 == 0 ? "\xc3\xa9" : "a");
	str_append(huge, "\" <e@a.example>");
	line = vsmlist_compose_from(set, test_author(str_c(huge)));
	name = test_from_roundtrip(line);
	test_assert(strlen(line) < 1000);
	test_assert(str_begins(name, "\xc3\xa9" "aaaaaa"));
	for (const char *p = line, *nl; (nl = strchr(p, '\n')) != NULL;
	     p = nl + 1)
		test_assert(nl - p <= 998);
	test_end();
}

static void test_compose_list_headers(void)
{
	static const char *const pairs[] = {
		"sieve_vsmlist_address", "friends@lists.example",
		"sieve_vsmlist_name", "Fr\xc3\xbc""nde",
		"sieve_vsmlist_list_headers", "List-Id List-Post List-Help "
			"List-Owner List-Archive",
		"sieve_vsmlist_list_help", "mailto:friends+help@lists.example",
		"sieve_vsmlist_list_owner", "owner@lists.example",
		NULL
	};
	static const char *const defaults[] = {
		"sieve_vsmlist_address", "friends@lists.example",
		"sieve_vsmlist_name", "Fr\xc3\xbc""nde",
		NULL
	};
	static const char *const sigs[] = {
		"v=1; a=rsa-sha256; s=s; bh=x; d=a.example; "
		"h=from:list-id:sender:x-loop; b=x", NULL
	};
	const struct vsmlist_settings *set = test_vsmlist_settings(pairs);
	ARRAY_TYPE(vsmlist_list_header) headers;
	const struct vsmlist_list_header *hdr;
	string_t *all = t_str_new(512), *left_out = t_str_new(64);
	struct vsmlist_dkim_coverage *cov;
	pool_t pool = pool_alloconly_create("test", 512);
	const char *head, *const *replace;

	test_begin("compose: list headers");
	t_array_init(&headers, 8);
	vsmlist_compose_list_headers(set, TRUE, &headers);
	array_foreach(&headers, hdr)
		str_append(all, hdr->line);
	test_assert_strcmp(str_c(all),
		"Sender: <friends+bounces@lists.example>\r\n"
		"List-Id: =?UTF-8?b?RnLDvG5kZQ==?= <friends.lists.example>\r\n"
		"List-Post: <mailto:friends@lists.example>\r\n"
		"List-Help: <mailto:friends+help@lists.example>\r\n"
		"List-Owner: <mailto:owner@lists.example>\r\n"
		"Precedence: list\r\n");
	test_end();

	test_begin("compose: default list headers");
	set = test_vsmlist_settings(defaults);
	t_array_init(&headers, 8);
	vsmlist_compose_list_headers(set, FALSE, &headers);
	str_truncate(all, 0);
	array_foreach(&headers, hdr)
		str_append(all, hdr->line);
	test_assert_strcmp(str_c(all),
		"List-Id: =?UTF-8?b?RnLDvG5kZQ==?= <friends.lists.example>\r\n"
		"List-Post: <mailto:friends@lists.example>\r\n"
		"List-Subscribe: <mailto:friends+subscribe@lists.example>\r\n"
		"List-Unsubscribe: "
		"<mailto:friends+unsubscribe@lists.example>\r\n"
		"Precedence: list\r\n");
	set = test_vsmlist_settings(pairs);
	test_end();

	test_begin("compose: untouched head leaves out what DKIM signs");
	cov = vsmlist_dkim_coverage_init(pool, sigs);
	head = vsmlist_compose_untouched_head(set, cov, &replace, left_out);
	/* What is added replaces the post's own; X-Loop lines stay, and ours
	   is always added */
	test_assert_strcmp(t_strarray_join(replace, " "),
			   "List-Post List-Help List-Owner Precedence");
	test_assert_strcmp(head,
		"X-Loop: friends@lists.example\r\n"
		"List-Post: <mailto:friends@lists.example>\r\n"
		"List-Help: <mailto:friends+help@lists.example>\r\n"
		"List-Owner: <mailto:owner@lists.example>\r\n"
		"Precedence: list\r\n");
	test_assert_strcmp(str_c(left_out),
		"Sender (signed by d=a.example), List-Id (signed by "
		"d=a.example)");
	cov = vsmlist_dkim_coverage_init(pool, NULL);
	head = vsmlist_compose_untouched_head(set, cov, &replace, NULL);
	test_assert(str_begins(head, "X-Loop: friends@lists.example\r\n"
			       "Sender: "));
	pool_unref(&pool);
	test_end();
}

static void test_compose_notice(void)
{
	static const char *const pairs[] = {
		"sieve_vsmlist_address", "friends@lists.example",
		"sieve_vsmlist_notice", "Posted by %{author} to %{list_name} "
			"<%{list}>: %{reason}",
		NULL
	};
	const struct vsmlist_settings *set = test_vsmlist_settings(pairs);
	const char *text, *qp;

	test_begin("compose: notice text and quoted-printable");
	text = vsmlist_compose_notice(test_vsmlist_settings(test_pairs),
				      "J\xc3\xbcrgen", "DMARC policy reject");
	test_assert(strstr(text, "Friends list sends this message from "
			   "J\xc3\xbcrgen") != NULL);
	test_assert(strstr(t_str_replace(t_str_replace(text, '\r', ' '), '\n',
					 ' '), "(DMARC  policy reject)") != NULL ||
		    strstr(text, "(DMARC policy reject)") != NULL);
	test_assert(strstr(text, "\r\n") != NULL && strstr(text, "\r\r") == NULL);
	/* Reflowed at 72 columns */
	for (const char *line = text, *nl; (nl = strchr(line, '\n')) != NULL;
	     line = nl + 1)
		test_assert(nl - line <= 73);
	qp = vsmlist_compose_qp(text);
	for (const char *p = qp; *p != '\0'; p++)
		test_assert((unsigned char)*p < 0x80);
	test_assert(strstr(qp, "J=C3=BCrgen") != NULL);

	text = vsmlist_compose_notice(set, "Ann", "forced");
	test_assert(str_begins(text, "Posted by Ann to friends "
			       "<friends@lists.example>: forced\r\n"));
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_compose_from,
		test_compose_from_hostile,
		test_compose_list_headers,
		test_compose_notice,
		NULL
	};
	vsmlist_compose_init();
	return test_run(test_functions);
}
