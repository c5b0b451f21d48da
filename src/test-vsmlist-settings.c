/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-store.h"

#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

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
	env.home = "/home/l";
	env.base_dir = "/run/dovecot";
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
	test_assert_strcmp(set->members, "file:/home/l/vsmlist/members");
	test_assert_strcmp(set->list_id, "friends.lists.example");
	test_assert(set->batch_size == VSMLIST_DEFAULT_BATCH_SIZE);
	test_assert(set->dmarc_mode == VSMLIST_DMARC_MODE_AUTO);
	test_assert(set->dns_failure == VSMLIST_DNS_FAILURE_WRAP);
	test_assert(set->dns_servers == NULL);
	test_assert(set->dns_timeout_msecs == 2000);
	test_assert_strcmp(set->dns_cache, "/home/l/vsmlist/dns-cache");
	test_assert(set->psl_file == NULL);
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
		"sieve_vsmlist_dmarc", "Wrap",
		"sieve_vsmlist_dns_failure", "tempfail",
		"sieve_vsmlist_dns_servers", "127.0.0.1:5353 [::1]:53",
		"sieve_vsmlist_dns_timeout", "500ms",
		"sieve_vsmlist_dns_cache", "no",
		"sieve_vsmlist_psl_file", "/srv/psl.dat",
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
	test_assert(set->dmarc_mode == VSMLIST_DMARC_MODE_WRAP);
	test_assert(set->dns_failure == VSMLIST_DNS_FAILURE_TEMPFAIL);
	test_assert_strcmp(set->dns_servers, "127.0.0.1:5353 [::1]:53");
	test_assert(set->dns_timeout_msecs == 500);
	test_assert(set->dns_cache == NULL);
	test_assert_strcmp(set->psl_file, "/srv/psl.dat");
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
	static const char *const bad_mode[] = {
		"sieve_vsmlist_dmarc", "sometimes", NULL };
	static const char *const bad_failure[] = {
		"sieve_vsmlist_dns_failure", "panic", NULL };
	static const char *const bad_timeout[] = {
		"sieve_vsmlist_dns_timeout", "soon", NULL };
	static const char *const zero_timeout[] = {
		"sieve_vsmlist_dns_timeout", "0", NULL };
	static const char *const bad_notice[] = {
		"sieve_vsmlist_notice", "from %{sender}", NULL };
	static const char *const bad_notice_file[] = {
		"sieve_vsmlist_notice", "file:/nonexistent/notice", NULL };
	static const char *const bad_force[] = {
		"sieve_vsmlist_dmarc_force", "gmail.com a..b", NULL };
	static const char *const bad_list_header[] = {
		"sieve_vsmlist_list_headers", "List-Id Subject", NULL };
	static const char *const sender_list_header[] = {
		"sieve_vsmlist_list_headers", "List-Id, Sender", NULL };
	static const char *const none[] = { NULL };
	const struct vsmlist_settings *set;
	const char *error;

	test_begin("settings errors name the setting");
	test_assert(test_load("a@b.example", NULL, bad_notice, &set, &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_notice") != NULL &&
		    strstr(error, "sender") != NULL);
	test_assert(test_load("a@b.example", NULL, bad_notice_file,
			      &set, &error) < 0);
	test_assert(strstr(error, "/nonexistent/notice") != NULL);
	test_assert(test_load("a@b.example", NULL, bad_force, &set, &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_dmarc_force: invalid domain "
			   "'a..b'") != NULL);
	test_assert(test_load("a@b.example", NULL, bad_list_header,
			      &set, &error) < 0);
	test_assert(strstr(error, "'Subject'") != NULL);
	/* Accepted once and then ignored: an error now */
	test_assert(test_load("a@b.example", NULL, sender_list_header,
			      &set, &error) < 0);
	test_assert(strstr(error, "'Sender' is not a List-* header") != NULL);
	test_assert(test_load("a@b.example", NULL, bad_mode, &set, &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_dmarc: unknown value "
			   "'sometimes' (use auto, wrap, munge, none)") != NULL);
	test_assert(test_load("a@b.example", NULL, bad_failure,
			      &set, &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_dns_failure") != NULL);
	test_assert(test_load("a@b.example", NULL, bad_timeout,
			      &set, &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_dns_timeout") != NULL);
	test_assert(test_load("a@b.example", NULL, zero_timeout,
			      &set, &error) < 0);
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

static void test_settings_mitigation(void)
{
	static const char *const pairs[] = {
		"sieve_vsmlist_dmarc_force", "Gmail.COM, *.forced.example "
			"b\xc3\xbc""cher.example.",
		"sieve_vsmlist_dmarc_exempt", ".own.example",
		"sieve_vsmlist_list_headers", "list-id, List-Unsubscribe",
		"sieve_vsmlist_list_unsubscribe", "https://l.example/u",
		"sieve_vsmlist_list_help", "help@l.example",
		"sieve_vsmlist_list_owner", "<mailto:o@l.example>",
		NULL
	};
	const struct vsmlist_settings *set;
	const char *error;

	test_begin("settings: force/exempt lists, list headers");
	test_assert(test_load("a@b.example", NULL, pairs, &set, &error) == 0);
	test_assert_strcmp(t_strarray_join(set->dmarc_force, " "),
		"gmail.com forced.example xn--bcher-kva.example");
	test_assert_strcmp(t_strarray_join(set->dmarc_exempt, " "),
			   "own.example");
	test_assert_strcmp(t_strarray_join(set->list_headers, " "),
			   "list-id List-Unsubscribe");
	test_assert_strcmp(set->list_unsubscribe, "<https://l.example/u>");
	test_assert_strcmp(set->list_help, "<mailto:help@l.example>");
	test_assert_strcmp(set->list_owner, "<mailto:o@l.example>");
	test_assert(set->list_archive == NULL);
	test_assert_strcmp(vsmlist_domain_list_match(set->dmarc_force,
		"mail.gmail.com"), "gmail.com");
	test_assert(vsmlist_domain_list_match(set->dmarc_force,
		"notgmail.com") == NULL);
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

static void test_settings_fanout(void)
{
	static const char *const given[] = {
		"sieve_vsmlist_submission_host", "relay.example:2525",
		"sieve_vsmlist_submission_ssl", "STARTTLS",
		"sieve_vsmlist_submission_timeout", "5s",
		"sieve_vsmlist_progress", "/var/spool/vsmlist/%u",
		"sieve_vsmlist_progress_expire", "2d",
		NULL
	};
	static const char *const no_progress[] = {
		"sieve_vsmlist_progress", "no", NULL };
	static const char *const bad_host[] = {
		"sieve_vsmlist_submission_host", "relay.example:smtp", NULL };
	static const char *const bad_ssl[] = {
		"sieve_vsmlist_submission_ssl", "yes", NULL };
	static const char *const bad_timeout[] = {
		"sieve_vsmlist_submission_timeout", "0", NULL };
	static const char *const bad_expire[] = {
		"sieve_vsmlist_progress_expire", "forever", NULL };
	static const char *const relative_progress[] = {
		"sieve_vsmlist_progress", "vsmlist/progress", NULL };
	static const char *const relative_members[] = {
		"sieve_vsmlist_members", "file:lists/members", NULL };
	static const char *const relative_cache[] = {
		"sieve_vsmlist_dns_cache", "cache", NULL };
	static const char *const relative_notice[] = {
		"sieve_vsmlist_notice", "file:notice.txt", NULL };
	static const char *const none[] = { NULL };
	const struct vsmlist_settings *set;
	const char *error;

	test_begin("settings: fan-out defaults");
	test_assert(test_load("l@example.org", NULL, none, &set, &error) == 0);
	test_assert(set->submission_host == NULL);
	test_assert(set->submission_ssl == VSMLIST_RELAY_SSL_UNSET);
	test_assert(set->submission_timeout_msecs == 0);
	test_assert_strcmp(set->progress, "/home/l/vsmlist/progress");
	test_assert(set->progress_expire_secs == 7*24*3600);
	test_end();

	test_begin("settings: fan-out given");
	test_assert(test_load("l@example.org", NULL, given, &set,
			      &error) == 0);
	test_assert_strcmp(set->submission_host, "relay.example");
	test_assert(set->submission_port == 2525);
	test_assert(set->submission_ssl == VSMLIST_RELAY_SSL_STARTTLS);
	test_assert(set->submission_timeout_msecs == 5000);
	test_assert_strcmp(set->progress, "/var/spool/vsmlist/%u");
	test_assert(set->progress_expire_secs == 2*24*3600);
	test_assert(test_load("l@example.org", NULL, no_progress, &set,
			      &error) == 0);
	test_assert(set->progress == NULL);
	test_end();

	test_begin("settings: fan-out errors name the setting");
	test_assert(test_load("l@example.org", NULL, bad_host, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_submission_host") != NULL);
	test_assert(test_load("l@example.org", NULL, bad_ssl, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_submission_ssl: unknown "
			   "value 'yes'") != NULL);
	test_assert(test_load("l@example.org", NULL, bad_timeout, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_submission_timeout") != NULL);
	test_assert(test_load("l@example.org", NULL, bad_expire, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_progress_expire") != NULL);
	/* Not the lmtp process's working directory */
	test_assert(test_load("l@example.org", NULL, relative_progress, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_progress") != NULL &&
		    strstr(error, "relative") != NULL);
	test_end();

	test_begin("settings: one rule for paths: ~/ or absolute");
	test_assert(test_load("l@example.org", NULL, relative_members, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_members: 'lists/members' is "
			   "a relative path") != NULL);
	test_assert(test_load("l@example.org", NULL, relative_cache, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_dns_cache") != NULL);
	test_assert(test_load("l@example.org", NULL, relative_notice, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_notice") != NULL);
	test_end();
}

static void test_settings_membership(void)
{
	static const char *const given[] = {
		"sieve_vsmlist_owner", "Owner@Example.org",
		"sieve_vsmlist_subscription", "Closed",
		"sieve_vsmlist_confirm_expire", "12h",
		"sieve_vsmlist_confirm_limit", "5",
		"sieve_vsmlist_welcome", "Hello %{address}, this is "
			"%{list_name} (%{list}); leave: %{unsubscribe}",
		"sieve_vsmlist_goodbye", "Bye from %{list}",
		NULL
	};
	static const char *const odd_local[] = {
		"sieve_vsmlist_address", "\"odd list\"@example.org", NULL };
	static const char *const bad_owner[] = {
		"sieve_vsmlist_owner", "owner", NULL };
	static const char *const bad_subscription[] = {
		"sieve_vsmlist_subscription", "open", NULL };
	static const char *const bad_expire[] = {
		"sieve_vsmlist_confirm_expire", "soon", NULL };
	static const char *const zero_expire[] = {
		"sieve_vsmlist_confirm_expire", "0", NULL };
	static const char *const long_expire[] = {
		"sieve_vsmlist_confirm_expire", "400d", NULL };
	static const char *const zero_limit[] = {
		"sieve_vsmlist_confirm_limit", "0", NULL };
	static const char *const bad_limit[] = {
		"sieve_vsmlist_confirm_limit", "three", NULL };
	static const char *const bad_welcome[] = {
		"sieve_vsmlist_welcome", "Hi %{author}", NULL };
	static const char *const bad_goodbye_file[] = {
		"sieve_vsmlist_goodbye", "file:/nonexistent/goodbye", NULL };
	static const char *const relative_welcome[] = {
		"sieve_vsmlist_welcome", "file:welcome.txt", NULL };
	static const char *const none[] = { NULL };
	const struct vsmlist_settings *set;
	const char *error;

	test_begin("settings: membership defaults");
	test_assert(test_load("friends@lists.example", NULL, none, &set,
			      &error) == 0);
	test_assert(set->owner == NULL);
	test_assert(set->subscription == VSMLIST_SUBSCRIPTION_CONFIRM);
	test_assert(set->confirm_expire_secs == 3*24*3600);
	test_assert(set->confirm_limit == 3);
	test_assert(set->welcome == NULL && set->goodbye == NULL);
	test_assert_strcmp(set->token_secret, "/home/l/vsmlist/secret");
	test_assert_strcmp(set->confirm_limit_file,
			   "/home/l/vsmlist/confirm-limit");
	test_assert_strcmp(t_strarray_join(set->list_headers, " "),
		"List-Id List-Post List-Subscribe List-Unsubscribe");
	test_assert_strcmp(set->list_subscribe,
			   "<mailto:friends+subscribe@lists.example>");
	test_assert_strcmp(set->list_unsubscribe,
			   "<mailto:friends+unsubscribe@lists.example>");
	test_assert_strcmp(smtp_address_encode(
		vsmlist_settings_detail_address(pool_datastack_create(), set,
						"confirm-abc")),
		"friends+confirm-abc@lists.example");
	test_end();

	test_begin("settings: membership addresses follow the delimiter");
	test_assert(test_load("friends@lists.example", "-+", none, &set,
			      &error) == 0);
	test_assert_strcmp(set->list_subscribe,
			   "<mailto:friends-subscribe@lists.example>");
	/* A quoted local part: what a URI cannot hold is %-encoded */
	test_assert(test_load(NULL, NULL, odd_local, &set, &error) == 0);
	test_assert_strcmp(set->list_unsubscribe,
		"<mailto:%22odd%20list+unsubscribe%22@example.org>");
	test_end();

	test_begin("settings: membership given");
	test_assert(test_load("friends@lists.example", NULL, given, &set,
			      &error) == 0);
	test_assert_strcmp(smtp_address_encode(set->owner),
			   "Owner@Example.org");
	test_assert(set->subscription == VSMLIST_SUBSCRIPTION_CLOSED);
	test_assert(set->confirm_expire_secs == 12*3600);
	test_assert(set->confirm_limit == 5);
	test_assert_strcmp(set->goodbye, "Bye from %{list}");
	test_assert(strstr(set->welcome, "%{unsubscribe}") != NULL);
	test_end();

	test_begin("settings: membership errors name the setting");
	test_assert(test_load("l@example.org", NULL, bad_owner, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_owner") != NULL);
	test_assert(test_load("l@example.org", NULL, bad_subscription, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_subscription: unknown value "
			   "'open' (use confirm, closed)") != NULL);
	test_assert(test_load("l@example.org", NULL, bad_expire, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_confirm_expire") != NULL);
	test_assert(test_load("l@example.org", NULL, zero_expire, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_confirm_expire") != NULL);
	test_assert(test_load("l@example.org", NULL, long_expire, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_confirm_expire: '400d' is "
			   "not from 1s to 365d") != NULL);
	test_assert(test_load("l@example.org", NULL, zero_limit, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_confirm_limit") != NULL);
	test_assert(test_load("l@example.org", NULL, bad_limit, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_confirm_limit: 'three'") !=
		    NULL);
	test_assert(test_load("l@example.org", NULL, bad_welcome, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_welcome") != NULL &&
		    strstr(error, "%{unsubscribe}") != NULL);
	test_assert(test_load("l@example.org", NULL, bad_goodbye_file, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_goodbye") != NULL &&
		    strstr(error, "/nonexistent/goodbye") != NULL);
	test_assert(test_load("l@example.org", NULL, relative_welcome, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_welcome") != NULL &&
		    strstr(error, "relative") != NULL);
	test_end();
}

static void test_settings_bounces(void)
{
	static const char *const given[] = {
		"sieve_vsmlist_verp", "yes",
		"sieve_vsmlist_bounce_reset", "14d",
		"sieve_vsmlist_bounce_threshold", "3",
		NULL
	};
	static const char *const zero_reset[] = {
		"sieve_vsmlist_bounce_reset", "0", NULL };
	static const char *const bad_reset[] = {
		"sieve_vsmlist_bounce_reset", "a week", NULL };
	static const char *const zero_threshold[] = {
		"sieve_vsmlist_bounce_threshold", "0", NULL };
	static const char *const big_threshold[] = {
		"sieve_vsmlist_bounce_threshold", "1001", NULL };
	static const char *const bad_threshold[] = {
		"sieve_vsmlist_bounce_threshold", "five", NULL };
	static const char *const bad_verp[] = {
		"sieve_vsmlist_verp", "maybe", NULL };
	static const char *const none[] = { NULL };
	const struct vsmlist_settings *set;
	const char *error;

	test_begin("settings: bounces, defaults");
	test_assert(test_load("l@example.org", NULL, none, &set, &error) == 0);
	test_assert(!set->verp);
	test_assert(set->bounce_reset_secs == 7*24*3600);
	test_assert(set->bounce_threshold == 5);
	test_end();

	test_begin("settings: bounces, given");
	test_assert(test_load("l@example.org", NULL, given, &set, &error) == 0);
	test_assert(set->verp);
	test_assert(set->bounce_reset_secs == 14*24*3600);
	test_assert(set->bounce_threshold == 3);
	test_end();

	test_begin("settings: bounces, errors name the setting");
	test_assert(test_load("l@example.org", NULL, zero_reset, &set,
			      &error) < 0);
	test_assert_strcmp(error, "sieve_vsmlist_bounce_reset: must be "
			   "longer than 0");
	test_assert(test_load("l@example.org", NULL, bad_reset, &set,
			      &error) < 0);
	test_assert(str_begins(error, "sieve_vsmlist_bounce_reset: "));
	test_assert(test_load("l@example.org", NULL, zero_threshold, &set,
			      &error) < 0);
	test_assert_strcmp(error, "sieve_vsmlist_bounce_threshold: '0' is "
			   "not a number from 1 to 1000");
	test_assert(test_load("l@example.org", NULL, big_threshold, &set,
			      &error) < 0);
	test_assert(strstr(error, "'1001'") != NULL);
	test_assert(test_load("l@example.org", NULL, bad_threshold, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_bounce_threshold: 'five'") !=
		    NULL);
	test_assert(test_load("l@example.org", NULL, bad_verp, &set,
			      &error) < 0);
	test_assert(strstr(error, "sieve_vsmlist_verp") != NULL);
	test_end();
}

static void test_settings_store(void)
{
	static const char *const dict[] = {
		"sieve_vsmlist_members", "dict:proxy::vsmlist",
		"sieve_vsmlist_members_timeout", "2500ms",
		NULL
	};
	static const char *const bad_timeout[] = {
		"sieve_vsmlist_members_timeout", "0", NULL };
	static const char *const sql[] = {
		"sieve_vsmlist_members", "sql:members", NULL };
	static const char *const none[] = { NULL };
	struct vsmlist_store_settings store_set;
	struct vsmlist_store *store;
	const struct vsmlist_settings *set;
	struct event *event = event_create(NULL);
	const char *error;

	test_begin("settings: the member store's");
	test_assert(test_load("l@example.org", NULL, none, &set, &error) == 0);
	test_assert_strcmp(set->members, "file:/home/l/vsmlist/members");
	test_assert(set->members_timeout_msecs == 30000);
	test_assert(test_load("l@example.org", NULL, dict, &set, &error) == 0);
	test_assert_strcmp(set->members, "dict:proxy::vsmlist");
	test_assert(set->members_timeout_msecs == 2500);
	vsmlist_settings_store(set, event, &store_set);
	test_assert_strcmp(store_set.home, "/home/l");
	test_assert_strcmp(store_set.base_dir, "/run/dovecot");
	test_assert(store_set.timeout_msecs == 2500);
	test_assert(store_set.event_parent == event);
	test_assert(smtp_address_equals(store_set.list_address,
					set->address));
	/* A URI no store takes: every action's error names the setting */
	test_assert(test_load("l@example.org", NULL, sql, &set, &error) == 0);
	test_assert(vsmlist_settings_open_store(set, event, &store,
						&error) < 0);
	test_assert(store == NULL);
	test_assert(str_begins(error, "sieve_vsmlist_members: member store "
			       "'sql:members': unknown store type"));
	test_assert(test_load("l@example.org", NULL, bad_timeout, &set,
			      &error) < 0);
	test_assert_strcmp(error, "sieve_vsmlist_members_timeout: must be "
			   "longer than 0");
	event_unref(&event);
	test_end();
}

static void test_write(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write(fd, content, strlen(content)) < 0)
		i_fatal("write(%s) failed: %m", path);
	i_close_fd(&fd);
}

static void test_settings_file(void)
{
	char dir_template[] = "/tmp/test-vsmlist-settings.XXXXXX";
	static const char *const none[] = { NULL };
	struct vsmlist_settings_env env;
	const struct vsmlist_settings *set;
	const char *dir, *pairs[5], *error;

	test_begin("settings: the list's settings file");
	dir = mkdtemp(dir_template);
	if (dir == NULL)
		i_fatal("mkdtemp() failed: %m");
	if (mkdir(t_strconcat(dir, "/vsmlist", NULL), 0700) < 0)
		i_fatal("mkdir() failed: %m");
	test_write(t_strconcat(dir, "/vsmlist/settings", NULL),
		   "# Friends of X\n"
		   "sieve_vsmlist_name = Friends of X\n"
		   "\n"
		   "sieve_vsmlist_notice = \"Quoted,  as people write\"\n"
		   "sieve_vsmlist_dmarc=wrap\n");
	i_zero(&env);
	env.home = dir;
	env.lookup = test_vsmlist_lookup;
	env.user_email = smtp_address_create_temp("x", "lists.example");
	/* The file comes before userdb fields and plugin { } */
	pairs[0] = "sieve_vsmlist_dmarc"; pairs[1] = "none";
	pairs[2] = "sieve_vsmlist_batch_size"; pairs[3] = "7";
	pairs[4] = NULL;
	env.context = (void *)pairs;
	test_assert(vsmlist_settings_load(pool_datastack_create(), &env, &set,
					  &error) == 0);
	test_assert_strcmp(set->name, "Friends of X");
	test_assert_strcmp(set->notice, "Quoted,  as people write");
	test_assert(set->dmarc_mode == VSMLIST_DMARC_MODE_WRAP);
	test_assert(set->batch_size == 7);

	/* A line that is no list setting names the file and line */
	test_write(t_strconcat(dir, "/vsmlist/settings", NULL),
		   "sieve_vsmlist_name = ok\nmail_location = evil\n");
	test_assert(vsmlist_settings_load(pool_datastack_create(), &env, &set,
					  &error) < 0);
	test_assert(strstr(error, "vsmlist/settings:2: 'mail_location' is "
			   "no list setting") != NULL);
	/* Another file named by the setting; "no" for none */
	test_write(t_strconcat(dir, "/other", NULL), "sieve_vsmlist_name = O\n");
	pairs[0] = "sieve_vsmlist_settings_file"; pairs[1] = "~/other";
	test_assert(vsmlist_settings_load(pool_datastack_create(), &env, &set,
					  &error) == 0);
	test_assert_strcmp(set->name, "O");
	pairs[1] = "no";
	test_assert(vsmlist_settings_load(pool_datastack_create(), &env, &set,
					  &error) == 0);
	test_assert_strcmp(set->name, "x");
	/* Without a home the default file is simply not there */
	env.home = NULL;
	env.context = (void *)none;
	test_assert(vsmlist_settings_load(pool_datastack_create(), &env, &set,
					  &error) < 0 ||
		    strcmp(set->name, "x") == 0);
	(void)unlink_directory(dir, UNLINK_DIRECTORY_FLAG_RMDIR, &error);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_settings_defaults,
		test_settings_explicit,
		test_settings_errors,
		test_settings_mitigation,
		test_settings_list_id,
		test_settings_fanout,
		test_settings_membership,
		test_settings_store,
		test_settings_bounces,
		test_settings_file,
		NULL
	};
	return test_run(test_functions);
}
