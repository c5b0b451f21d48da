/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* The distribution pipeline driven directly: a post in memory, members in
   a file, a fake DNS zone and a fake transport, and every outcome with its
   result, log line and event fields. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "test-vsmlist-fake-dns.h"
#include "vsmlist-compose.h"
#include "vsmlist-progress.h"
#include "vsmlist-distribute.h"

#include <fcntl.h>
#include <unistd.h>

static const char *test_tmpdir;

static const struct fake_rr test_zone[] = {
	{ "_dmarc.reject.example", "v=DMARC1; p=reject" },
	{ "_dmarc.none.example", "v=DMARC1; p=none" },
	{ "_dmarc.broken.example", "SERVFAIL" },
	{ "broken.example", "SERVFAIL" },
	{ NULL, NULL }
};

/* A transport that records each transaction and answers as told */
struct test_transport {
	pool_t pool;
	ARRAY_TYPE(const_string) rcpts, senders;
	unsigned int transactions;
	/* Refuse RCPTs whose local part starts with 'r' (5xx) or 'd' (4xx);
	   fail_ret < 1: the whole transaction fails so */
	int fail_ret;
};

static int
test_send(void *context, const struct vsmlist_transaction *trans,
	  struct vsmlist_rcpt_result *results,
	  struct vsmlist_transaction_result *result_r)
{
	struct test_transport *tt = context;
	const unsigned char *data;
	size_t size;
	unsigned int i;

	tt->transactions++;
	const char *sender = p_strdup(tt->pool,
				      smtp_address_encode(trans->mail_from));
	array_push_back(&tt->senders, &sender);
	while (i_stream_read_more(trans->input, &data, &size) > 0)
		i_stream_skip(trans->input, size);
	if (tt->fail_ret < 1) {
		result_r->error = tt->fail_ret == 0 ? "DATA: 554 no" :
			"DATA: 451 later";
		return tt->fail_ret;
	}
	for (i = 0; i < trans->rcpt_count; i++) {
		const char *local = trans->rcpts[i]->localpart;

		if (local[0] == 'r') {
			results[i].status = VSMLIST_RCPT_REJECTED;
			results[i].reply = "550 no such user";
		} else if (local[0] == 'd') {
			results[i].status = VSMLIST_RCPT_DEFERRED;
			results[i].reply = "450 busy";
		} else {
			const char *addr = p_strdup(tt->pool,
				smtp_address_encode(trans->rcpts[i]));

			results[i].status = VSMLIST_RCPT_SENT;
			array_push_back(&tt->rcpts, &addr);
		}
	}
	result_r->data_reply = t_strdup_printf(
		"250 2.0.0 Ok: queued as Q%u", tt->transactions);
	return 1;
}

struct test_run {
	struct test_transport tt;
	struct vsmlist_transport transport;
	struct fake_resolver fake;
	struct vsmlist_dns_resolver resolver;
	struct vsmlist_distribute_params params;
	struct vsmlist_distribute_outcome outcome;
	struct event *event;
	pool_t pool;
};

static const char *test_path(const char *name)
{
	return t_strconcat(test_tmpdir, "/", name, NULL);
}

static void test_write_file(const char *name, const char *content)
{
	int fd = open(test_path(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write(fd, content, strlen(content)) < 0)
		i_fatal("write(%s) failed: %m", name);
	i_close_fd(&fd);
}

static const struct vsmlist_settings *
test_settings(const char *members, const char *extra_name,
	      const char *extra_value)
{
	const char *pairs[] = {
		"sieve_vsmlist_address", "friends@lists.example",
		"sieve_vsmlist_name", "Friends",
		"sieve_vsmlist_members", t_strconcat("file:",
			test_path(members), NULL),
		"sieve_vsmlist_progress", test_path("progress"),
		"sieve_vsmlist_dns_cache", "no",
		extra_name, extra_value,
		NULL
	};
	return test_vsmlist_settings(pairs);
}

static void
test_run_init(struct test_run *run, const struct vsmlist_settings *set,
	      const char *post)
{
	struct istream *input = test_istream_create(post);

	i_zero(run);
	run->pool = pool_alloconly_create("test distribute", 4096);
	run->tt.pool = run->pool;
	run->tt.fail_ret = 1;
	p_array_init(&run->tt.rcpts, run->pool, 8);
	p_array_init(&run->tt.senders, run->pool, 8);
	run->transport.send = test_send;
	run->transport.context = &run->tt;
	run->fake.zone = test_zone;
	run->fake.queries = str_new(run->pool, 64);
	run->resolver.lookup_txt = fake_lookup_txt;
	run->resolver.context = &run->fake;
	run->event = event_create(NULL);

	input->blocking = TRUE;
	run->params.delivery.set = set;
	run->params.delivery.input = input;
	run->params.delivery.have_envelope = TRUE;
	run->params.delivery.mail_from =
		smtp_address_create(run->pool, "author", "none.example");
	run->params.dmarc_mode = (set == NULL ? VSMLIST_DMARC_MODE_AUTO :
				  set->dmarc_mode);
	run->params.delivery.transport = &run->transport;
	run->params.delivery.relay = "relay.test:25";
	run->params.keep_progress = TRUE;
	run->params.resolver = &run->resolver;
	run->params.delivery.event = run->event;
}

/* warnings: what the run logs on the way (the list as its own member,
   rejected members) */
static enum vsmlist_action_result
test_run_go_warned(struct test_run *run, unsigned int warnings)
{
	if (warnings > 0)
		test_expect_errors(warnings);
	vsmlist_distribute(run->pool, &run->params, &run->outcome);
	test_expect_no_more_errors();
	return vsmlist_distribute_outcome_result(&run->outcome);
}

static enum vsmlist_action_result test_run_go(struct test_run *run)
{
	return test_run_go_warned(run, 0);
}

/* The outcome's log line, and the event field value of name */
static const char *test_log(struct test_run *run, bool *error_r)
{
	return vsmlist_distribute_outcome_log(&run->outcome, error_r);
}

static const char *test_field(struct test_run *run, const char *name)
{
	struct event *event = event_create(NULL);
	const char *value;

	vsmlist_distribute_outcome_event(&run->outcome, event);
	value = test_vsmlist_event_field(event, name);
	event_unref(&event);
	return value;
}

static void test_run_deinit(struct test_run *run)
{
	i_stream_unref(&run->params.delivery.input);
	event_unref(&run->event);
	pool_unref(&run->pool);
}

static const char *test_post(const char *from, const char *message_id,
			     const char *extra)
{
	return t_strdup_printf("From: %s\r\nTo: friends@lists.example\r\n"
			       "Subject: hello\r\n%s%s%s\r\nbody\r\n", from,
			       message_id == NULL ? "" : "Message-ID: ",
			       message_id == NULL ? "" :
			       t_strconcat(message_id, "\r\n", NULL), extra);
}

static void test_distribute_sent(void)
{
	const struct vsmlist_settings *set = test_settings("members", NULL,
							   NULL);
	struct test_run run;
	const char *line;
	bool error;

	test_write_file("members", "a@example.net\nb@example.net\n"
			"# comment\nFriends@lists.example\n");

	test_begin("distribute: an untouched post to every member");
	test_run_init(&run, set, test_post("Ann <ann@none.example>",
					   "<p1@none.example>", ""));
	test_assert(test_run_go_warned(&run, 1) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(run.outcome.status == VSMLIST_DISTRIBUTE_DISTRIBUTED);
	test_assert(run.outcome.decision.mitigation == VSMLIST_MITIGATION_NONE);
	test_assert(run.outcome.policy.policy == VSMLIST_DMARC_POLICY_NONE);
	/* The list is not its own member */
	test_assert(run.outcome.members == 2);
	test_assert(run.outcome.result.sent == 2);
	test_assert_strcmp(run.outcome.message_id, "<p1@none.example>");
	test_assert_strcmp(run.outcome.result.queue_ids, "Q1");
	line = test_log(&run, &error);
	test_assert(!error);
	test_assert(str_begins(line, "distributed to 2 member(s) of "
			       "friends@lists.example, untouched (DMARC "
			       "policy none), in 1 SMTP transaction(s), "
			       "envelope sender <friends+bounces@lists.example>"
			       ", message-id <p1@none.example>, queued as Q1;"));
	test_assert_strcmp(test_field(&run, "vsmlist_outcome"), "distributed");
	test_assert_strcmp(test_field(&run, "vsmlist_mitigation"), "none");
	test_assert_strcmp(test_field(&run, "vsmlist_queue_ids"), "Q1");
	test_assert_strcmp(test_field(&run, "vsmlist_message_id"),
			   "<p1@none.example>");
	test_assert_strcmp(test_field(&run, "vsmlist_recipients"), "2");
	test_run_deinit(&run);
	test_end();

	test_begin("distribute: the same post again: already distributed");
	test_run_init(&run, set, test_post("Ann <ann@none.example>",
					   "<p1@none.example>", ""));
	test_assert(test_run_go_warned(&run, 1) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(run.outcome.status ==
		    VSMLIST_DISTRIBUTE_ALREADY_DISTRIBUTED);
	test_assert(run.tt.transactions == 0);
	test_assert_strcmp(test_field(&run, "vsmlist_outcome"),
			   "already_distributed");
	test_run_deinit(&run);
	test_end();

	test_begin("distribute: a p=reject author is wrapped, new Message-ID");
	test_run_init(&run, set, test_post("Rob <rob@reject.example>",
					   "<p2@reject.example>", ""));
	test_assert(test_run_go_warned(&run, 1) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(run.outcome.decision.mitigation == VSMLIST_MITIGATION_WRAP);
	test_assert(run.outcome.message_id != NULL &&
		    strstr(run.outcome.message_id,
			   ".vsmlist@lists.example>") != NULL);
	test_assert(strstr(test_log(&run, &error), ", wrapped (DMARC policy "
			   "reject)") != NULL);
	test_assert_strcmp(test_field(&run, "vsmlist_dmarc_policy"), "reject");
	test_run_deinit(&run);
	test_end();
}

/* Only a single author's policy can change the decision: several
   authors are wrapped without any lookup (one post could otherwise ask
   the DNS about thousands of mailboxes) */
static void test_distribute_several_authors(void)
{
	const struct vsmlist_settings *set = test_settings("members", NULL,
							   NULL);
	string_t *many = t_str_new(10000 * 24);
	struct test_run run;
	unsigned int i;

	test_begin("distribute: several authors are wrapped, no DNS lookup");
	test_write_file("members", "a@example.net\n");
	test_run_init(&run, set, test_post("rob@reject.example, "
					   "ann@none.example", "<sa1@x>", ""));
	test_assert(test_run_go(&run) == VSMLIST_ACTION_HANDLED);
	test_assert(run.outcome.decision.mitigation == VSMLIST_MITIGATION_WRAP);
	test_assert(run.fake.count == 0);
	test_run_deinit(&run);

	/* 10,000 mailboxes of a domain with a policy: still none */
	for (i = 0; i < 10000; i++)
		str_printfa(many, "%sm%u@reject.example", i == 0 ? "" : ", ", i);
	test_run_init(&run, set, test_post(str_c(many), "<sa2@x>", ""));
	test_assert(test_run_go(&run) == VSMLIST_ACTION_HANDLED);
	test_assert(run.outcome.decision.mitigation == VSMLIST_MITIGATION_WRAP);
	test_assert(run.fake.count == 0);
	test_assert_strcmp(test_field(&run, "vsmlist_author_status"),
			   "several");
	test_run_deinit(&run);

	/* The one author of the same domain is looked up */
	test_run_init(&run, set, test_post("rob@reject.example", "<sa3@x>",
					   ""));
	test_assert(test_run_go(&run) == VSMLIST_ACTION_HANDLED);
	test_assert(run.fake.count > 0);
	test_run_deinit(&run);
	test_end();
}

static void test_distribute_disabled(void)
{
	const struct vsmlist_settings *set = test_settings("members", NULL,
							   NULL);
	struct test_run run;
	bool error;

	test_begin("distribute: disabled members get nothing and are counted");
	test_write_file("members", "a@example.net\nb@example.net\n");
	test_write_file("members.state", "vsmlist-state 1\n"
			"disabled 5 1796000000 1796000000 b@example.net\n");
	test_run_init(&run, set, test_post("ann@none.example", "<d1@x>", ""));
	test_assert(test_run_go(&run) == VSMLIST_ACTION_HANDLED);
	test_assert(run.outcome.members == 1 && run.outcome.disabled == 1);
	test_assert(array_count(&run.tt.rcpts) == 1 &&
		    strcmp(array_idx_elem(&run.tt.rcpts, 0),
			   "a@example.net") == 0);
	test_assert(strstr(test_log(&run, &error), "; 1 disabled member(s) "
			   "left out") != NULL);
	test_assert_strcmp(test_field(&run, "vsmlist_disabled_members"), "1");
	test_run_deinit(&run);

	test_write_file("members", "b@example.net\n");
	test_run_init(&run, set, test_post("ann@none.example", "<d2@x>", ""));
	test_assert(test_run_go(&run) == VSMLIST_ACTION_KEEP);
	test_assert(run.outcome.status == VSMLIST_DISTRIBUTE_NO_MEMBERS);
	test_assert(strstr(test_log(&run, &error), "no enabled members (1 "
			   "disabled") != NULL);
	test_run_deinit(&run);
	i_unlink(test_path("members.state"));
	test_end();
}

static void test_distribute_verp(void)
{
	struct test_run run;
	bool error;

	test_begin("distribute: VERP: each member's own envelope sender");
	test_write_file("members", "a@example.net\nb.c@example.org\n");
	test_run_init(&run, test_settings("members", "sieve_vsmlist_verp",
					  "yes"),
		      test_post("ann@none.example", "<v1@x>", ""));
	test_assert(test_run_go(&run) == VSMLIST_ACTION_HANDLED);
	test_assert(run.tt.transactions == 2);
	test_assert_strcmp(array_idx_elem(&run.tt.senders, 0),
			   "friends+bounces-a=example.net@lists.example");
	test_assert_strcmp(array_idx_elem(&run.tt.senders, 1),
			   "friends+bounces-b.c=example.org@lists.example");
	test_assert(strstr(test_log(&run, &error), "(VERP: each member's "
			   "own)") != NULL);
	test_assert_strcmp(test_field(&run, "vsmlist_verp"), "yes");
	test_run_deinit(&run);
	test_end();
}

static void test_distribute_kept(void)
{
	/* A NUL in a name (the panic of old: no From, so wrapped in auto
	   mode), in a name beside Cc (munge's merge), in a value */
	static const struct {
		const char *data;
		size_t size;
	} nul_posts[] = {
#define NUL_POST(s) { s, sizeof(s) - 1 }
		NUL_POST("Reply-To\0: x@a.example\r\nSubject: y\r\n\r\n"
			 "body\r\n"),
		NUL_POST("From: ann@none.example\r\nReply-To\0: x@a.example\r\n"
			 "Cc: c@a.example\r\n\r\nbody\r\n"),
		NUL_POST("From: ann@none.example\r\nSubject: y\0z\r\n\r\n"
			 "body\r\n"),
#undef NUL_POST
	};
	static const enum vsmlist_dmarc_mode modes[] = {
		VSMLIST_DMARC_MODE_AUTO, VSMLIST_DMARC_MODE_WRAP,
		VSMLIST_DMARC_MODE_MUNGE, VSMLIST_DMARC_MODE_NONE,
	};
	unsigned int i, j;
	const struct vsmlist_settings *set = test_settings("members", NULL,
							   NULL);
	struct test_run run;
	bool error;

	test_write_file("members", "a@example.net\n");
	test_write_file("empty", "# nobody yet\n");

	test_begin("distribute: the guard skips a null sender");
	test_run_init(&run, set, test_post("ann@none.example", "<k1@x>", ""));
	run.params.delivery.mail_from = NULL;
	test_assert(test_run_go(&run) == VSMLIST_ACTION_KEEP);
	test_assert(run.outcome.status == VSMLIST_DISTRIBUTE_SKIPPED);
	test_assert(strstr(test_log(&run, &error), "not distributed: null "
			   "envelope sender") != NULL && !error);
	test_assert_strcmp(test_field(&run, "vsmlist_outcome"), "skipped");
	test_assert(run.tt.transactions == 0);
	test_run_deinit(&run);
	test_end();

	test_begin("distribute: a NUL in the header: malformed, kept, "
		   "in every mode");
	for (i = 0; i < N_ELEMENTS(nul_posts); i++) {
		for (j = 0; j < N_ELEMENTS(modes); j++) {
			test_run_init(&run, set, "");
			i_stream_unref(&run.params.delivery.input);
			run.params.delivery.input = test_istream_create_data(
				nul_posts[i].data, nul_posts[i].size);
			run.params.dmarc_mode = modes[j];
			test_assert_idx(test_run_go(&run) ==
					VSMLIST_ACTION_KEEP, i*10 + j);
			test_assert_idx(run.outcome.status ==
					VSMLIST_DISTRIBUTE_MALFORMED,
					i*10 + j);
			test_assert_strcmp_idx(test_log(&run, &error),
				"not distributed: malformed post: a NUL "
				"byte in the header (message kept)",
				i*10 + j);
			test_assert_strcmp_idx(
				test_field(&run, "vsmlist_skipped"),
				"a NUL byte in the header", i*10 + j);
			test_assert_idx(run.tt.transactions == 0, i*10 + j);
			test_run_deinit(&run);
		}
	}
	test_end();

	test_begin("distribute: no members: kept");
	test_run_init(&run, test_settings("empty", NULL, NULL),
		      test_post("ann@none.example", "<k2@x>", ""));
	test_assert(test_run_go(&run) == VSMLIST_ACTION_KEEP);
	test_assert(run.outcome.status == VSMLIST_DISTRIBUTE_NO_MEMBERS);
	test_assert_strcmp(test_field(&run, "vsmlist_outcome"), "no_members");
	test_assert(strstr(test_log(&run, &error), "has no members") != NULL);
	test_run_deinit(&run);
	test_end();

	test_begin("distribute: invalid settings: the action fails");
	test_run_init(&run, NULL, test_post("ann@none.example", "<k3@x>", ""));
	run.params.delivery.settings_error = "sieve_vsmlist_dmarc: unknown value 'x'";
	test_assert(test_run_go(&run) == VSMLIST_ACTION_FAILURE);
	test_assert(run.outcome.status == VSMLIST_DISTRIBUTE_INVALID_SETTINGS);
	test_assert(strstr(test_log(&run, &error), "invalid settings: "
			   "sieve_vsmlist_dmarc") != NULL && error);
	test_assert_strcmp(test_field(&run, "vsmlist_outcome"),
			   "invalid_settings");
	test_run_deinit(&run);
	test_end();

	test_begin("distribute: same content without Message-ID: kept");
	test_run_init(&run, set, test_post("ann@none.example", NULL, ""));
	test_assert(test_run_go(&run) == VSMLIST_ACTION_HANDLED);
	test_run_deinit(&run);
	test_run_init(&run, set, test_post("ann@none.example", NULL, ""));
	test_assert(test_run_go(&run) == VSMLIST_ACTION_KEEP);
	test_assert(run.outcome.status == VSMLIST_DISTRIBUTE_SAME_CONTENT);
	test_assert_strcmp(test_field(&run, "vsmlist_outcome"),
			   "same_content");
	test_run_deinit(&run);
	test_end();
}

static void test_distribute_failures(void)
{
	const struct vsmlist_settings *set = test_settings("members", NULL,
							   NULL);
	struct vsmlist_progress_key key = {
		.list = "friends@lists.example",
		.message_id = "<f4@x>",
	};
	struct vsmlist_progress *progress;
	struct test_run run;
	const char *error_str;
	bool error;

	test_write_file("members", "a@example.net\nd1@example.net\n"
			"r1@example.net\nb@example.net\n");

	test_begin("distribute: a deferred member defers the delivery");
	test_run_init(&run, set, test_post("ann@none.example", "<f1@x>", ""));
	test_assert(test_run_go_warned(&run, 1) ==
		    VSMLIST_ACTION_TEMPFAIL);
	test_assert(run.outcome.status == VSMLIST_DISTRIBUTE_DEFERRED);
	test_assert(run.outcome.result.sent == 2);
	test_assert(run.outcome.result.rejected == 1);
	test_assert(run.outcome.result.deferred == 1);
	test_assert(strstr(test_log(&run, &error), "deferred: 2 sent, 1 "
			   "deferred, 1 rejected") != NULL && error);
	test_run_deinit(&run);
	test_end();

	test_begin("distribute: the relay refuses the transaction (4xx)");
	test_run_init(&run, set, test_post("ann@none.example", "<f2@x>", ""));
	run.tt.fail_ret = -1;
	test_assert(test_run_go(&run) == VSMLIST_ACTION_TEMPFAIL);
	test_assert_strcmp(run.outcome.reason, "DATA: 451 later");
	test_run_deinit(&run);
	test_end();

	test_begin("distribute: every member refused: the action fails");
	test_write_file("refusing", "r1@example.net\nr2@example.net\n");
	test_run_init(&run, test_settings("refusing", NULL, NULL),
		      test_post("ann@none.example", "<f3@x>", ""));
	test_assert(test_run_go_warned(&run, 2) ==
		    VSMLIST_ACTION_FAILURE);
	test_assert(run.outcome.status == VSMLIST_DISTRIBUTE_FAILED);
	test_assert(strstr(test_log(&run, &error), "every one of the 2 "
			   "member(s)") != NULL && error);
	test_run_deinit(&run);
	test_end();

	test_begin("distribute: another delivery holds the post: concurrent");
	test_run_init(&run, set, test_post("ann@none.example", "<f4@x>", ""));
	/* The digest the pipeline computes: From, Date, Subject, body */
	struct istream *body = test_istream_create("body\r\n");
	const char *const values[] = { "ann@none.example", "", "hello", NULL };
	test_assert(vsmlist_progress_digest(body, values, &key.digest,
					    &error_str) == 0);
	i_stream_unref(&body);
	test_assert(vsmlist_progress_open(test_path("progress"), &key, 3600,
					  NULL, &progress, &error_str) == 1);
	test_assert(test_run_go(&run) == VSMLIST_ACTION_TEMPFAIL);
	test_assert(run.outcome.status == VSMLIST_DISTRIBUTE_CONCURRENT);
	test_assert(run.tt.transactions == 0);
	test_assert_strcmp(test_field(&run, "vsmlist_outcome"), "concurrent");
	(void)vsmlist_progress_close(&progress, FALSE, &error_str);
	test_run_deinit(&run);
	test_end();

	test_begin("distribute: an unreadable member store defers");
	test_run_init(&run, test_settings("missing", NULL, NULL),
		      test_post("ann@none.example", "<f5@x>", ""));
	test_assert(test_run_go(&run) == VSMLIST_ACTION_TEMPFAIL);
	test_assert(strstr(test_log(&run, &error), "failed to read the "
			   "members of friends@lists.example") != NULL);
	test_run_deinit(&run);
	test_end();

	test_begin("distribute: DNS failure with dns_failure=tempfail defers");
	test_write_file("members", "a@example.net\n");
	test_run_init(&run, test_settings("members",
		"sieve_vsmlist_dns_failure", "tempfail"),
		test_post("bob@broken.example", "<f6@x>", ""));
	test_assert(test_run_go(&run) == VSMLIST_ACTION_TEMPFAIL);
	test_assert(run.outcome.decision.mitigation ==
		    VSMLIST_MITIGATION_TEMPFAIL);
	test_assert(strstr(test_log(&run, &error), "not distributed: DNS "
			   "failure") != NULL);
	test_assert_strcmp(test_field(&run, "vsmlist_mitigation"),
			   "tempfail");
	test_assert(run.tt.transactions == 0);
	test_run_deinit(&run);
	test_end();

	test_begin("distribute: no way to send: the action fails");
	test_run_init(&run, set, test_post("ann@none.example", "<f7@x>", ""));
	run.params.delivery.transport = NULL;
	run.params.delivery.transport_error = "no means to send mail";
	test_assert(test_run_go(&run) == VSMLIST_ACTION_FAILURE);
	test_assert_strcmp(test_log(&run, &error), "not distributed: no "
			   "means to send mail (message kept)");
	test_run_deinit(&run);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_distribute_sent,
		test_distribute_several_authors,
		test_distribute_disabled,
		test_distribute_verp,
		test_distribute_kept,
		test_distribute_failures,
		NULL
	};
	vsmlist_compose_init();
	return test_vsmlist_run_in_tmpdir(test_functions, &test_tmpdir);
}
