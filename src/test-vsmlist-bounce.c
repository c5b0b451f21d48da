/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* What reaches the bounce address, driven with the report samples of
   sieve-tests/dsn/ and a member file: points, VERP, auto-replies, and
   what is no bounce. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-transport.h"
#include "vsmlist-compose.h"
#include "vsmlist-bounce.h"
#include "test-vsmlist-store-kind.h"

#include <fcntl.h>
#include <unistd.h>

#define DAY (24*3600)
#define T0 ((time_t)1796000000)

static const char *test_dir;
static const char *test_owner;

/* What the list sent: "<mail from> <rcpt>: <message>" per transaction */
static ARRAY_TYPE(const_string) test_sent;
static pool_t test_sent_pool;

static int
test_send(void *context ATTR_UNUSED, const struct vsmlist_transaction *trans,
	  struct vsmlist_rcpt_result *results,
	  struct vsmlist_transaction_result *result_r ATTR_UNUSED)
{
	string_t *str = t_str_new(256);
	const unsigned char *data;
	const char *line;
	size_t size;

	str_printfa(str, "%s %s: ", smtp_address_encode(trans->mail_from),
		    smtp_address_encode(trans->rcpts[0]));
	while (i_stream_read_more(trans->input, &data, &size) > 0) {
		str_append_data(str, data, size);
		i_stream_skip(trans->input, size);
	}
	line = p_strdup(test_sent_pool, str_c(str));
	array_push_back(&test_sent, &line);
	results[0].status = VSMLIST_RCPT_SENT;
	return 1;
}

static const struct vsmlist_transport test_transport = {
	.send = test_send,
};

static void test_write(const char *name, const char *content)
{
	const char *path = t_strconcat(test_dir, "/", name, NULL);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write(fd, content, strlen(content)) < 0)
		i_fatal("write(%s) failed: %m", path);
	i_close_fd(&fd);
}

static const struct vsmlist_settings *test_settings(void)
{
	const char *pairs[] = {
		"sieve_vsmlist_address", "friends@example.org",
		"sieve_vsmlist_members", test_store_uri(
			t_strconcat(test_dir, "/members", NULL)),
		"sieve_vsmlist_owner", test_owner,
		NULL
	};
	return test_vsmlist_settings(pairs);
}

static void test_members(const char *members)
{
	test_write(test_store_file("members"),
		   test_store_content("friends@example.org", members));
	i_unlink_if_exists(t_strconcat(test_dir, "/members.state", NULL));
}

static enum vsmlist_bounce_status
test_bounce_input(struct istream *input, const char *rcpt, bool null_sender,
		  time_t now, pool_t pool,
		  struct vsmlist_bounce_outcome *outcome_r)
{
	struct vsmlist_delivery params;
	struct event *event = event_create(NULL);
	struct smtp_address *rcpt_to;
	const char *error;

	if (smtp_address_parse_path(pool, rcpt,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				    &rcpt_to, &error) < 0)
		i_fatal("bad test recipient %s", rcpt);
	i_zero(&params);
	params.set = test_settings();
	params.input = input;
	params.have_envelope = TRUE;
	params.mail_from = null_sender ? NULL :
		smtp_address_create(pool, "someone", "example.com");
	params.rcpt_to = rcpt_to;
	params.transport = &test_transport;
	params.now = now;
	params.event = event;
	vsmlist_bounce(pool, &params, outcome_r);
	event_unref(&event);
	return outcome_r->status;
}

static enum vsmlist_bounce_status
test_bounce_sample(const char *sample, const char *rcpt, time_t now,
		   pool_t pool, struct vsmlist_bounce_outcome *outcome_r)
{
	struct istream *input = i_stream_create_file(
		t_strconcat(DSN_SAMPLES_DIR, "/", sample, NULL), 4096);
	enum vsmlist_bounce_status status;

	status = test_bounce_input(input, rcpt, TRUE, now, pool, outcome_r);
	i_stream_unref(&input);
	return status;
}

static void test_bounce_reports(void)
{
	pool_t pool = pool_alloconly_create("test bounce", 4096);
	struct vsmlist_bounce_outcome outcome;
	const struct vsmlist_bounce_member *member;
	bool error;
	unsigned int day;

	test_begin(test_store_name(
		"bounce: a failed member gets a point, once a day"));
	test_members("Ann.Smith@example.net\nbob@example.org\n");
	test_assert(test_bounce_sample("postfix-failed.eml",
				       "friends+bounces@example.org", T0,
				       pool, &outcome) ==
		    VSMLIST_BOUNCE_SCORED);
	test_assert(array_count(&outcome.members) == 1);
	member = array_front(&outcome.members);
	/* Original-Recipient names the member as the list sent to it */
	test_assert_strcmp(smtp_address_encode(member->address),
			   "Ann.Smith@Example.NET");
	test_assert_strcmp(member->status, "5.1.1");
	test_assert(member->score.points == 1);
	test_assert_strcmp(outcome.envid, "post-20240604-0001");
	test_assert(strstr(vsmlist_bounce_outcome_log(&outcome, &error),
			   "Ann.Smith@Example.NET (5.1.1, 1 point(s))") != NULL);
	test_assert(test_bounce_sample("postfix-failed.eml",
				       "friends+bounces@example.org",
				       T0 + 3600, pool, &outcome) ==
		    VSMLIST_BOUNCE_NOTHING_COUNTED);
	test_end();

	test_begin(test_store_name(
		"bounce: five days of reports disable the member"));
	for (day = 1; day < 5; day++) {
		(void)test_bounce_sample("postfix-failed.eml",
					 "friends+bounces@example.org",
					 T0 + day * DAY, pool, &outcome);
	}
	test_assert(outcome.status == VSMLIST_BOUNCE_SCORED);
	test_assert(outcome.disabled == 1);
	member = array_front(&outcome.members);
	test_assert(member->score.result == VSMLIST_BOUNCE_SCORE_DISABLED &&
		    member->score.points == 5);
	test_assert(strstr(vsmlist_bounce_outcome_log(&outcome, &error),
			   "5 points: disabled") != NULL);
	test_end();

	test_begin(test_store_name(
		"bounce: delayed, non-members and auto-replies count nothing"));
	test_members("carol@slow.example\n");
	test_assert(test_bounce_sample("postfix-delayed.eml",
				       "friends+bounces@example.org", T0,
				       pool, &outcome) ==
		    VSMLIST_BOUNCE_NOTHING_COUNTED);
	test_assert(outcome.hard_failures == 0);
	test_assert(test_bounce_sample("postfix-failed.eml",
				       "friends+bounces@example.org", T0,
				       pool, &outcome) ==
		    VSMLIST_BOUNCE_NOTHING_COUNTED);
	test_assert(outcome.non_members == 1);
	test_assert(test_bounce_sample("vacation.eml",
				       "friends+bounces@example.org", T0,
				       pool, &outcome) ==
		    VSMLIST_BOUNCE_AUTO_REPLY);
	test_end();
	pool_unref(&pool);
}

static void test_bounce_verp(void)
{
	pool_t pool = pool_alloconly_create("test bounce", 4096);
	struct vsmlist_bounce_outcome outcome;
	const struct vsmlist_bounce_member *member;
	struct istream *input;

	test_begin(test_store_name(
		"bounce: a VERP address names its member without a report"));
	test_members("gina@qmail.example\n");
	test_assert(test_bounce_sample("qmail.eml",
		"friends+bounces-gina=qmail.example@example.org", T0, pool,
		&outcome) == VSMLIST_BOUNCE_SCORED);
	test_assert(!outcome.is_report);
	member = array_front(&outcome.members);
	test_assert_strcmp(smtp_address_encode(member->address),
			   "gina@qmail.example");
	test_end();

	test_begin(test_store_name(
		"bounce: an Exchange text NDR to a VERP address scores"));
	test_members("hal@corp.example\n");
	test_assert(test_bounce_sample("exchange-text.eml",
		"friends+bounces-hal=corp.example@example.org", T0, pool,
		&outcome) == VSMLIST_BOUNCE_SCORED);
	test_assert(!outcome.is_report);
	member = array_front(&outcome.members);
	test_assert_strcmp(smtp_address_encode(member->address),
			   "hal@corp.example");
	test_end();

	test_begin(test_store_name(
		"bounce: a VERP member whose report names another address"));
	test_members("ann.forwarded@example.org\n");
	test_assert(test_bounce_sample("postfix-failed.eml",
		"friends+bounces-ann.forwarded=example.org@example.org", T0,
		pool, &outcome) == VSMLIST_BOUNCE_SCORED);
	member = array_front(&outcome.members);
	test_assert_strcmp(smtp_address_encode(member->address),
			   "ann.forwarded@example.org");
	test_end();

	test_begin(test_store_name(
		"bounce: no report, no VERP, or a person's mail: no bounce"));
	test_members("gina@qmail.example\n");
	input = test_istream_create("From: someone@example.com\r\n"
				    "Subject: hello\r\n\r\nhi\r\n");
	test_assert(test_bounce_input(input, "friends+bounces@example.org",
				      FALSE, T0, pool, &outcome) ==
		    VSMLIST_BOUNCE_NOT_A_BOUNCE);
	i_stream_unref(&input);
	/* To a VERP address, but from a person, not a mailer */
	input = test_istream_create("From: someone@example.com\r\n"
				    "Subject: hello\r\n\r\nhi\r\n");
	test_assert(test_bounce_input(input,
		"friends+bounces-gina=qmail.example@example.org", FALSE, T0,
		pool, &outcome) == VSMLIST_BOUNCE_NOT_A_BOUNCE);
	i_stream_unref(&input);
	test_end();
	pool_unref(&pool);
}

static void test_bounce_forged_flood(void)
{
	pool_t pool = pool_alloconly_create("test bounce", 4096);
	struct vsmlist_bounce_outcome outcome;
	const struct vsmlist_bounce_member *member;
	unsigned int i;

	test_begin(test_store_name(
		"bounce: forged reports cannot disable faster than "
		"a day a point"));
	test_members("Ann.Smith@example.net\n");
	for (i = 0; i < 50; i++) {
		(void)test_bounce_sample("postfix-failed.eml",
					 "friends+bounces@example.org",
					 T0 + i * 60, pool, &outcome);
	}
	test_assert(outcome.status == VSMLIST_BOUNCE_NOTHING_COUNTED);
	test_assert(array_count(&outcome.members) == 1);
	member = array_front(&outcome.members);
	test_assert(member->score.points == 1);
	test_end();
	pool_unref(&pool);
}

static void test_bounce_notices(void)
{
	pool_t pool = pool_alloconly_create("test bounce", 4096);
	struct vsmlist_bounce_outcome outcome;
	struct istream *input;
	const char *const *sent;
	unsigned int day, count;

	array_clear(&test_sent);
	test_owner = "owner@example.org";

	test_begin("bounce: a disabled member and the owner are told");
	test_members("Ann.Smith@example.net\n");
	for (day = 0; day < 5; day++) {
		(void)test_bounce_sample("postfix-failed.eml",
					 "friends+bounces@example.org",
					 T0 + day * DAY, pool, &outcome);
	}
	test_assert(outcome.disabled == 1 && outcome.note == NULL);
	sent = array_get(&test_sent, &count);
	test_assert(count == 2);
	if (count == 2) {
		test_assert(str_begins(sent[0], "friends+bounces@example.org "
				       "Ann.Smith@Example.NET: "));
		test_assert(strstr(sent[0], "Auto-Submitted: auto-replied") !=
			    NULL);
		test_assert(strstr(sent[0], "friends+subscribe@example.org") !=
			    NULL);
		test_assert(str_begins(sent[1], "friends+bounces@example.org "
				       "owner@example.org: "));
		test_assert(strstr(sent[1], "doveadm vsmlist enable") != NULL);
		test_assert(strstr(sent[1], "disabled after 5 bounces") != NULL);
	}
	test_end();

	test_begin("bounce: what is no bounce goes to the owner as it came");
	array_clear(&test_sent);
	input = test_istream_create("From: someone@example.com\r\n"
				    "Subject: a question\r\n\r\nhello\r\n");
	test_assert(test_bounce_input(input, "friends+bounces@example.org",
				      FALSE, T0, pool, &outcome) ==
		    VSMLIST_BOUNCE_FORWARDED);
	i_stream_unref(&input);
	sent = array_get(&test_sent, &count);
	test_assert(count == 1 &&
		    str_begins(sent[0], "friends+bounces@example.org "
			       "owner@example.org: X-Loop: "
			       "friends@example.org\r\nFrom: "
			       "someone@example.com\r\n"));
	test_assert(vsmlist_bounce_outcome_result(&outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_end();

	test_owner = NULL;
	pool_unref(&pool);
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_use_file_store,
		test_bounce_reports,
		test_bounce_verp,
		test_bounce_forged_flood,
		test_use_dict_store,
		test_bounce_reports,
		test_bounce_verp,
		test_bounce_forged_flood,
		test_bounce_notices,
		NULL
	};
	int ret;

	vsmlist_compose_init();
	test_sent_pool = pool_alloconly_create("test sent", 4096);
	p_array_init(&test_sent, test_sent_pool, 8);
	ret = test_vsmlist_run_in_tmpdir(test_functions, &test_dir);
	pool_unref(&test_sent_pool);
	return ret;
}
