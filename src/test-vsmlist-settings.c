/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "smtp-address.h"
#include "test-vsmlist.h"

static int
test_load(const char *user, const char *delim, const char *const *pairs,
	  const struct vsmlist_settings **set_r, const char **error_r)
{
	struct vsmlist_settings_env env;
	struct smtp_address *user_email = NULL;
	const char *error;

	i_zero(&env);
	if (user != NULL &&
	    smtp_address_parse_path(pool_datastack_create(), user,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				    &user_email, &error) < 0)
		i_unreached();
	env.user_email = user_email;
	env.recipient_delimiter = delim;
	env.lookup = test_vsmlist_lookup;
	env.context = (void *)pairs;
	return vsmlist_settings_load(pool_datastack_create(), &env, set_r,
				     error_r);
}

static void test_settings_defaults(void)
{
	static const char *const none[] = { NULL };
	const struct vsmlist_settings *set;
	const char *error;

	test_begin("settings defaults from the user's address");
	test_assert(test_load("friends@Lists.example", NULL, none,
			      &set, &error) == 0);
	test_assert_strcmp(smtp_address_encode(set->address),
			   "friends@Lists.example");
	test_assert_strcmp(set->name, "friends");
	test_assert_strcmp(smtp_address_encode(set->bounce_address),
			   "friends+bounces@Lists.example");
	test_assert_strcmp(set->members, "file:~/vsmlist/members");
	test_assert_strcmp(set->list_id, "friends.lists.example");
	test_assert(set->batch_size == VSMLIST_DEFAULT_BATCH_SIZE);
	test_end();

	test_begin("settings: bounce address follows recipient_delimiter");
	test_assert(test_load("friends@lists.example", "-+", none,
			      &set, &error) == 0);
	test_assert_strcmp(smtp_address_encode(set->bounce_address),
			   "friends-bounces@lists.example");
	test_end();
}

static void test_settings_explicit(void)
{
	static const char *const pairs[] = {
		"sieve_vsmlist_address", " <team@example.org> ",
		"sieve_vsmlist_name", "The Team",
		"sieve_vsmlist_bounce_address", "team-owner@example.org",
		"sieve_vsmlist_members", "file:/srv/lists/team",
		"sieve_vsmlist_batch_size", "50",
		NULL
	};
	const struct vsmlist_settings *set;
	const char *error;

	test_begin("settings given explicitly");
	test_assert(test_load("someone@example.com", NULL, pairs,
			      &set, &error) == 0);
	test_assert_strcmp(smtp_address_encode(set->address),
			   "team@example.org");
	test_assert_strcmp(set->name, "The Team");
	test_assert_strcmp(smtp_address_encode(set->bounce_address),
			   "team-owner@example.org");
	test_assert_strcmp(set->members, "file:/srv/lists/team");
	test_assert(set->batch_size == 50);
	test_end();
}

static void test_settings_errors(void)
{
	static const char *const bad_address[] = {
		"sieve_vsmlist_address", "not an address", NULL };
	static const char *const no_domain[] = {
		"sieve_vsmlist_bounce_address", "postmaster", NULL };
	static const char *const bad_batch[] = {
		"sieve_vsmlist_batch_size", "0", NULL };
	static const char *const huge_batch[] = {
		"sieve_vsmlist_batch_size", "1000000", NULL };
	static const char *const none[] = { NULL };
	const struct vsmlist_settings *set;
	const char *error;

	test_begin("settings errors name the setting");
	test_assert(test_load("a@b.example", NULL, bad_address,
			      &set, &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_address") != NULL);
	test_assert(test_load("a@b.example", NULL, no_domain,
			      &set, &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_bounce_address") != NULL);
	test_assert(test_load("a@b.example", NULL, bad_batch,
			      &set, &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_batch_size") != NULL);
	test_assert(test_load("a@b.example", NULL, huge_batch,
			      &set, &error) < 0);
	/* No address at all to default to */
	test_assert(test_load(NULL, NULL, none, &set, &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_address") != NULL);
	test_end();
}

static void test_settings_list_id(void)
{
	static const char *const quoted[] = {
		"sieve_vsmlist_address", "\"odd list\"@Example.ORG", NULL };
	const struct vsmlist_settings *set;
	const char *error;

	test_begin("settings: list-id from a quoted local part");
	test_assert(test_load(NULL, NULL, quoted, &set, &error) == 0);
	test_assert_strcmp(set->list_id, "odd.list.example.org");
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_settings_defaults,
		test_settings_explicit,
		test_settings_errors,
		test_settings_list_id,
		NULL
	};
	return test_run(test_functions);
}
