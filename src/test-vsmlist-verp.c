/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "smtp-address.h"
#include "test-common.h"
#include "vsmlist-verp.h"

static struct smtp_address *test_address(const char *text)
{
	struct smtp_address *address;
	const char *error;

	if (smtp_address_parse_path(pool_datastack_create(), text,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				    &address, &error) < 0)
		i_fatal("test address %s: %s", text, error);
	return address;
}

/* Decode the recipient given as it would appear in RCPT TO */
static int test_decode(const char *recipient, const char *list,
		       const char *delimiters, const char **member_r)
{
	struct smtp_address *member;
	const char *error;
	int ret;

	ret = vsmlist_verp_decode(pool_datastack_create(),
				  test_address(recipient), list, delimiters,
				  &member, &error);
	*member_r = ret > 0 ? smtp_address_encode(member) :
		(ret < 0 ? error : NULL);
	return ret;
}

static void test_verp_round_trip(void)
{
	static const struct {
		const char *list;
		char delimiter;
		const char *member, *verp;
	} tests[] = {
		{ "friends", '+', "ann@example.net",
		  "friends+bounces-ann=example.net@example.org" },
		{ "friends", '+', "Ann.Smith@Example.NET",
		  "friends+bounces-Ann.Smith=Example.NET@example.org" },
		/* The member's own detail */
		{ "friends", '+', "bob+lists@example.net",
		  "friends+bounces-bob+lists=example.net@example.org" },
		/* '=' in the member's local part: the last '=' separates */
		{ "friends", '+', "a=b@example.net",
		  "friends+bounces-a=b=example.net@example.org" },
		{ "friends", '+', "=x=@example.net",
		  "friends+bounces-=x==example.net@example.org" },
		/* The delimiter, and the list's own local part, in it */
		{ "my-list", '-', "first-last@example.net",
		  "my-list-bounces-first-last=example.net@example.org" },
		{ "friends", '+', "friends+bounces@example.net",
		  "friends+bounces-friends+bounces=example.net@example.org" },
		/* Quoted local parts stay quoted, as a whole */
		{ "friends", '+', "\"john doe\"@example.net",
		  "\"friends+bounces-john doe=example.net\"@example.org" },
		{ "friends", '+', "\"a@b\"@example.net",
		  "\"friends+bounces-a@b=example.net\"@example.org" },
		{ "friends", '+', "\"a\\\"q\"@example.net",
		  "\"friends+bounces-a\\\"q=example.net\"@example.org" },
		{ "friends", '+', "x@[192.0.2.1]",
		  "\"friends+bounces-x=[192.0.2.1]\"@example.org" },
	};
	struct smtp_address *verp;
	const char *member;
	unsigned int i;

	test_begin("verp: encode and decode");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		verp = vsmlist_verp_encode(pool_datastack_create(),
					   tests[i].list, tests[i].delimiter,
					   test_address(tests[i].member),
					   "example.org");
		test_assert_idx(verp != NULL, i);
		if (verp == NULL)
			continue;
		test_assert_strcmp_idx(smtp_address_encode(verp),
				       tests[i].verp, i);
		/* What comes back in RCPT TO decodes to the member */
		test_assert_idx(test_decode(smtp_address_encode(verp),
					    tests[i].list,
					    t_strdup_printf("%c",
						tests[i].delimiter),
					    &member) == 1, i);
		test_assert_strcmp_idx(member,
				       smtp_address_encode(test_address(
						tests[i].member)), i);
	}
	test_end();
}

static void test_verp_encode_refused(void)
{
	test_begin("verp: a domain with '=' cannot be encoded");
	test_assert(vsmlist_verp_encode(pool_datastack_create(), "friends",
		'+', smtp_address_create_temp("x", "[tag:a=b]"),
		"example.org") == NULL);
	test_assert(vsmlist_verp_encode(pool_datastack_create(), "friends",
		'+', smtp_address_create_temp("x", NULL),
		"example.org") == NULL);
	test_end();
}

static void test_verp_not_verp(void)
{
	static const char *const recipients[] = {
		/* The plain bounce address */
		"friends+bounces@example.org",
		"friends@example.org",
		"friends+subscribe@example.org",
		"friends+confirm-abc@example.org",
		/* Another list's */
		"other+bounces-ann=example.net@example.org",
		"friendship+bounces-ann=example.net@example.org",
		"friends+bouncesx-ann=example.net@example.org",
		/* Not the delimiter */
		"friends-bounces-ann=example.net@example.org",
	};
	const char *member;
	unsigned int i;

	test_begin("verp: not a VERP address of the list");
	for (i = 0; i < N_ELEMENTS(recipients); i++) {
		test_assert_idx(test_decode(recipients[i], "friends", "+",
					    &member) == 0, i);
		test_assert_idx(member == NULL, i);
	}
	/* No delimiter configured */
	test_assert(test_decode("friends+bounces-ann=example.net@example.org",
				"friends", "", &member) == 0);
	test_end();
}

static void test_verp_decode_lenient(void)
{
	const char *member;

	test_begin("verp: case and several delimiters");
	test_assert(test_decode("FRIENDS+BOUNCES-ann=example.net@example.org",
				"friends", "+", &member) == 1);
	test_assert_strcmp(member, "ann@example.net");
	/* recipient_delimiter = +- : either comes back */
	test_assert(test_decode("friends-bounces-ann=example.net@example.org",
				"friends", "+-", &member) == 1);
	test_assert_strcmp(member, "ann@example.net");
	test_assert(test_decode("friends+bounces-gina=qmail.example@"
				"example.org", "friends", "+-",
				&member) == 1);
	test_assert_strcmp(member, "gina@qmail.example");
	test_end();
}

static void test_verp_decode_invalid(void)
{
	static const char *const locals[] = {
		"friends+bounces-",
		"friends+bounces-ann",
		"friends+bounces-=example.net",
		"friends+bounces-ann=",
		"friends+bounces-ann=example..net",
		"friends+bounces-ann=exa mple.net",
		"friends+bounces-ann=.example.net",
		"friends+bounces-ann=example.net=",
		"friends+bounces-a\001b=example.net",
		"friends+bounces-j\xc3\xb6rg=example.net",
	};
	struct smtp_address *member;
	const char *error;
	unsigned int i;

	test_begin("verp: the form, but no valid mailbox");
	for (i = 0; i < N_ELEMENTS(locals); i++) {
		/* Built directly: such local parts arrive quoted */
		test_assert_idx(vsmlist_verp_decode(pool_datastack_create(),
			smtp_address_create_temp(locals[i], "example.org"),
			"friends", "+", &member, &error) == -1, i);
		test_assert_idx(member == NULL, i);
	}
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_verp_round_trip,
		test_verp_encode_refused,
		test_verp_not_verp,
		test_verp_decode_lenient,
		test_verp_decode_invalid,
		NULL
	};
	int ret;

	lib_init();
	ret = test_run(test_functions);
	lib_deinit();
	return ret;
}
