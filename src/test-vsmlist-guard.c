/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "test-vsmlist.h"
#include "smtp-address.h"
#include "vsmlist-guard.h"

static const char *const test_list_pairs[] = {
	"sieve_vsmlist_address", "friends@lists.example", NULL
};

static const char *test_guard(const struct vsmlist_guard_input *input)
{
	return vsmlist_guard_check(test_vsmlist_settings(test_list_pairs),
				   input);
}

static void test_guard_envelope(void)
{
	struct vsmlist_guard_input input;

	test_begin("guard: envelope sender");
	i_zero(&input);
	input.have_envelope = TRUE;
	test_assert(test_guard(&input) == NULL);
	input.null_sender = TRUE;
	test_assert(strstr(test_guard(&input), "null envelope sender") != NULL);
	/* imapsieve: no envelope, nothing to check */
	input.have_envelope = FALSE;
	test_assert(test_guard(&input) == NULL);
	test_end();
}

static void test_guard_bounce_address(void)
{
	static const char *const custom[] = {
		"sieve_vsmlist_address", "team@lists.example",
		"sieve_vsmlist_bounce_address", "team-owner@bounces.example",
		NULL
	};
	static const struct {
		const char *local, *domain;
		bool bounce;
	} cases[] = {
		{ "friends+bounces", "lists.example", TRUE },
		{ "Friends+Bounces", "LISTS.example", TRUE },
		{ "friends+bounces-m=example.net", "lists.example", TRUE },
		{ "friends+bouncesx", "lists.example", FALSE },
		{ "friends+bounce", "lists.example", FALSE },
		{ "friends+bounces", "other.example", FALSE },
		{ "friends", "lists.example", FALSE },
		{ "friends+subscribe", "lists.example", FALSE },
		{ "friendsbounces", "lists.example", FALSE },
	};
	struct vsmlist_guard_input input;
	unsigned int i;

	test_begin("guard: the bounce address is never a way in");
	i_zero(&input);
	input.have_envelope = TRUE;
	for (i = 0; i < N_ELEMENTS(cases); i++) {
		input.rcpt_to = smtp_address_create_temp(cases[i].local,
							 cases[i].domain);
		test_assert_idx((test_guard(&input) != NULL) ==
				cases[i].bounce, i);
	}
	/* No envelope (imapsieve): nothing to check */
	input.have_envelope = FALSE;
	test_assert(test_guard(&input) == NULL);
	/* A bounce address of its own */
	input.have_envelope = TRUE;
	input.rcpt_to = smtp_address_create_temp("team-owner",
						 "bounces.example");
	test_assert(strstr(vsmlist_guard_check(test_vsmlist_settings(custom),
					       &input),
			   "bounce address <team-owner@bounces.example>") != NULL);
	test_end();
}

static void test_guard_auto_submitted(void)
{
	static const char *const no[] = { " No (a person wrote it)", NULL };
	static const char *const no_params[] = { "no; owner=x", NULL };
	static const char *const replied[] = { "auto-replied", NULL };
	static const char *const generated[] = { "Auto-Generated (bot)", NULL };
	static const char *const notno[] = { "nope", NULL };
	static const char *const two[] = { "no", "auto-generated", NULL };
	struct vsmlist_guard_input input;
	const char *reason;

	test_begin("guard: Auto-Submitted");
	i_zero(&input);
	input.auto_submitted = no;
	test_assert(test_guard(&input) == NULL);
	input.auto_submitted = no_params;
	test_assert(test_guard(&input) == NULL);
	input.auto_submitted = replied;
	reason = test_guard(&input);
	test_assert(reason != NULL &&
		    strstr(reason, "Auto-Submitted: auto-replied") != NULL);
	input.auto_submitted = generated;
	test_assert(test_guard(&input) != NULL);
	input.auto_submitted = notno;
	test_assert(test_guard(&input) != NULL);
	input.auto_submitted = two;
	test_assert(test_guard(&input) != NULL);
	test_end();
}

static void test_guard_loop(void)
{
	static const char *const ours[] = { " Friends@Lists.Example", NULL };
	static const char *const ours_brackets[] = {
		"other@x.example", "<friends@lists.example>", NULL };
	static const char *const theirs[] = { "friends@other.example", NULL };
	static const char *const junk[] = { "\"\x01@@", NULL };
	static const char *const id_ours[] = {
		"Friends list <friends.LISTS.example>", NULL };
	static const char *const id_theirs[] = {
		"<friends.lists.example.evil>", "<other.example>", NULL };
	static const char *const id_broken[] = { "<friends.lists.example", NULL };
	struct vsmlist_guard_input input;
	const char *reason;

	test_begin("guard: our own output (X-Loop, List-Id)");
	i_zero(&input);
	input.x_loop = ours;
	reason = test_guard(&input);
	test_assert(reason != NULL && strstr(reason, "X-Loop") != NULL);
	input.x_loop = ours_brackets;
	test_assert(test_guard(&input) != NULL);
	input.x_loop = theirs;
	test_assert(test_guard(&input) == NULL);
	input.x_loop = junk;
	test_assert(test_guard(&input) == NULL);
	input.x_loop = NULL;

	input.list_id = id_ours;
	reason = test_guard(&input);
	test_assert(reason != NULL && strstr(reason, "List-Id") != NULL);
	input.list_id = id_theirs;
	test_assert(test_guard(&input) == NULL);
	input.list_id = id_broken;
	test_assert(test_guard(&input) == NULL);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_guard_envelope,
		test_guard_bounce_address,
		test_guard_auto_submitted,
		test_guard_loop,
		NULL
	};
	return test_run(test_functions);
}
