/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-fanout.h"
#include "vsmlist-progress.h"


static const char *test_tmpdir;

/* A transport that records each transaction and answers as told */
struct test_transport {
	pool_t pool;
	/* "<from> rcpt rcpt ..." per transaction */
	ARRAY_TYPE(const_string) envelopes;
	/* What each transaction carried */
	ARRAY_TYPE(const_string) data;
	bool body_8bit;

	/* 1-based transaction number to fail as a whole, and how */
	unsigned int fail_at;
	int fail_ret;
	/* Member local parts refused at RCPT: "r..." 550, "d..." 450 */
	bool refuse_by_name;
	/* Stop reading the message after this many transactions (a
	   broken mail stream) */
	unsigned int break_read_at;
	/* The relay takes this many RCPTs per transaction, 452s the rest */
	unsigned int rcpt_limit;
	/* Send with VERP envelope senders */
	bool verp;
};

/* VERP for the tests: <l+bounces-local@lists.example>; none for "plain" */
static const struct smtp_address *
test_verp_mail_from(void *context ATTR_UNUSED, const struct smtp_address *rcpt)
{
	if (strcmp(rcpt->localpart, "plain") == 0)
		return NULL;
	return smtp_address_create_temp(t_strconcat("l+bounces-",
		rcpt->localpart, NULL), "lists.example");
}

static int
test_send(void *context, const struct vsmlist_transaction *trans,
	  struct vsmlist_rcpt_result *results,
	  struct vsmlist_transaction_result *result_r)
{
	const char **error_r = &result_r->error;
	struct test_transport *tt = context;
	string_t *envelope = t_str_new(64);
	string_t *data = t_str_new(64);
	const unsigned char *p;
	const char *str;
	unsigned int i, n;
	size_t size;

	str_printfa(envelope, "<%s>", smtp_address_encode(trans->mail_from));
	for (i = 0; i < trans->rcpt_count; i++) {
		const char *local = trans->rcpts[i]->localpart;

		str_printfa(envelope, " %s",
			    smtp_address_encode(trans->rcpts[i]));
		if (tt->refuse_by_name && local[0] == 'r') {
			results[i].status = VSMLIST_RCPT_REJECTED;
			results[i].reply = "550 no such user";
		} else if (tt->refuse_by_name && local[0] == 'd') {
			results[i].status = VSMLIST_RCPT_DEFERRED;
			results[i].reply = "450 busy";
		} else if (tt->rcpt_limit > 0 && i >= tt->rcpt_limit) {
			results[i].status = VSMLIST_RCPT_DEFERRED;
			results[i].reply = "452 4.5.3 too many recipients";
			results[i].too_many_rcpts = TRUE;
		}
	}
	n = array_count(&tt->envelopes) + 1;
	str = p_strdup(tt->pool, str_c(envelope));
	array_push_back(&tt->envelopes, &str);
	tt->body_8bit = trans->body_8bit;

	if (n == tt->break_read_at) {
		/* A read error of the message */
		trans->input->stream_errno = EIO;
		*error_r = "transport saw a broken stream";
		return -1;
	}
	while (i_stream_read_more(trans->input, &p, &size) > 0) {
		str_append_data(data, p, size);
		i_stream_skip(trans->input, size);
	}
	str = p_strdup(tt->pool, str_c(data));
	array_push_back(&tt->data, &str);

	if (n == tt->fail_at) {
		*error_r = (tt->fail_ret == 0 ? "DATA: 554 no" :
			    "DATA: 451 later");
		return tt->fail_ret;
	}
	for (i = 0; i < trans->rcpt_count; i++) {
		if (results[i].status == VSMLIST_RCPT_PENDING)
			results[i].status = VSMLIST_RCPT_SENT;
	}
	result_r->data_reply = t_strdup_printf(
		"250 2.0.0 Ok: queued as Q%u", n);
	return 1;
}

static struct istream *test_message(void *context)
{
	return test_istream_create(context);
}

static const struct smtp_address *const *
test_members(const char *const *locals, unsigned int *count_r)
{
	ARRAY(const struct smtp_address *) rcpts;
	unsigned int i;

	t_array_init(&rcpts, 16);
	for (i = 0; locals[i] != NULL; i++) {
		const struct smtp_address *addr = smtp_address_create(
			pool_datastack_create(), locals[i], "example.net");
		array_push_back(&rcpts, &addr);
	}
	*count_r = array_count(&rcpts);
	return array_front(&rcpts);
}

static const struct smtp_address *const *
test_numbered_members(unsigned int count)
{
	const char **locals = t_new(const char *, count + 1);
	unsigned int i, n;

	for (i = 0; i < count; i++)
		locals[i] = t_strdup_printf("m%u", i);
	return test_members(locals, &n);
}

static int
test_fanout_run(struct test_transport *tt,
		const struct smtp_address *const *rcpts, unsigned int count,
		unsigned int batch_size, struct vsmlist_progress *progress,
		struct vsmlist_fanout_result *result_r)
{
	struct vsmlist_transport transport = {
		.send = test_send, .context = tt,
	};
	struct vsmlist_fanout_params params;

	/* The fan-out runs each transaction in a data stack frame of its
	   own: keep what it saw elsewhere */
	if (tt->pool == NULL)
		tt->pool = pool_alloconly_create("test transport", 1024);
	p_array_init(&tt->envelopes, tt->pool, 8);
	p_array_init(&tt->data, tt->pool, 8);
	i_zero(&params);
	params.transport = &transport;
	params.mail_from = smtp_address_create_temp("l+bounces",
						    "lists.example");
	params.rcpts = rcpts;
	params.rcpt_count = count;
	params.batch_size = batch_size;
	params.message_func = test_message;
	params.message_context = "post\r\n";
	params.progress = progress;
	if (tt->verp)
		params.verp_mail_from = test_verp_mail_from;
	return vsmlist_fanout_send(&params, result_r);
}

static void test_transport_reset(struct test_transport *tt)
{
	pool_unref(&tt->pool);
	i_zero(tt);
}

static const char *test_envelope(struct test_transport *tt, unsigned int idx)
{
	return array_idx_elem(&tt->envelopes, idx);
}

static void test_fanout_batches(void)
{
	struct test_transport tt;
	struct vsmlist_fanout_result result;

	test_begin("fanout: batches of batch_size recipients");
	i_zero(&tt);
	test_assert(test_fanout_run(&tt, test_numbered_members(5), 5, 2,
				    NULL, &result) == 1);
	test_assert(array_count(&tt.envelopes) == 3);
	test_assert_strcmp(test_envelope(&tt, 0),
		"<l+bounces@lists.example> m0@example.net m1@example.net");
	test_assert_strcmp(test_envelope(&tt, 2),
		"<l+bounces@lists.example> m4@example.net");
	/* Every transaction reads the post from its start */
	test_assert_strcmp(array_idx_elem(&tt.data, 2), "post\r\n");
	test_assert(result.sent == 5 && result.transactions == 3);
	test_assert(result.members == 5);
	test_assert(result.rejected == 0 && result.deferred == 0);
	/* Each transaction's queue id, as the relay named it */
	test_assert_strcmp(result.queue_ids, "Q1,Q2,Q3");
	test_end();

	test_begin("fanout: one transaction when the list fits");
	test_transport_reset(&tt);
	test_assert(test_fanout_run(&tt, test_numbered_members(1000), 1000,
				    1000, NULL, &result) == 1);
	test_assert(array_count(&tt.envelopes) == 1);
	test_assert(result.sent == 1000);
	test_transport_reset(&tt);
	test_end();
}

static void test_fanout_rcpt_results(void)
{
	static const char *const locals[] = {
		"a", "r1", "b", "c", "r2", "e", NULL
	};
	static const char *const all_rejected[] = { "r1", "r2", NULL };
	static const char *const deferred[] = { "a", "d1", "b", NULL };
	const struct smtp_address *const *rcpts;
	struct test_transport tt;
	struct vsmlist_fanout_result result;
	unsigned int count;

	test_begin("fanout: rejected members do not fail the post");
	i_zero(&tt);
	tt.refuse_by_name = TRUE;
	rcpts = test_members(locals, &count);
	test_assert(test_fanout_run(&tt, rcpts, count, 4, NULL,
				    &result) == 1);
	test_assert(result.sent == 4 && result.rejected == 2);
	test_assert(result.deferred == 0 && result.failed_transactions == 0);
	test_assert(result.transactions == 2);
	test_end();

	test_begin("fanout: every member rejected: nobody got it");
	test_transport_reset(&tt);
	tt.refuse_by_name = TRUE;
	rcpts = test_members(all_rejected, &count);
	test_assert(test_fanout_run(&tt, rcpts, count, 10, NULL,
				    &result) == 0);
	test_assert(result.sent == 0 && result.rejected == 2);
	test_end();

	test_begin("fanout: a deferred member defers the post");
	test_transport_reset(&tt);
	tt.refuse_by_name = TRUE;
	rcpts = test_members(deferred, &count);
	test_assert(test_fanout_run(&tt, rcpts, count, 1, NULL,
				    &result) == -1);
	/* ... but the others still go out */
	test_assert(array_count(&tt.envelopes) == 3);
	test_assert(result.sent == 2 && result.deferred == 1);
	test_transport_reset(&tt);
	test_end();
}

static void test_fanout_rcpt_limit(void)
{
	static const char *const only_452[] = { "a", "b", NULL };
	const struct smtp_address *const *rcpts;
	struct test_transport tt;
	struct vsmlist_fanout_result result;
	unsigned int count;

	test_begin("fanout: the relay's recipient limit (452 4.5.3)");
	i_zero(&tt);
	tt.rcpt_limit = 3;
	test_assert(test_fanout_run(&tt, test_numbered_members(7), 7, 5,
				    NULL, &result) == 1);
	test_assert(result.sent == 7 && result.deferred == 0);
	test_assert(array_count(&tt.envelopes) == 3);
	/* those put off first, and no more than the relay takes */
	test_assert_strcmp(test_envelope(&tt, 1), "<l+bounces@lists.example> "
		"m3@example.net m4@example.net m5@example.net");
	test_assert_strcmp(test_envelope(&tt, 2),
		"<l+bounces@lists.example> m6@example.net");
	test_transport_reset(&tt);
	test_end();

	test_begin("fanout: a member put off goes alone if need be");
	i_zero(&tt);
	tt.rcpt_limit = 1;
	rcpts = test_members(only_452, &count);
	/* b gets 452 in the first transaction, goes alone in the second
	   and is taken */
	test_assert(test_fanout_run(&tt, rcpts, count, 2, NULL,
				    &result) == 1);
	test_assert(result.sent == 2 && array_count(&tt.envelopes) == 2);
	test_transport_reset(&tt);
	test_end();
}

static void test_fanout_failures(void)
{
	struct test_transport tt;
	struct vsmlist_fanout_result result;

	test_begin("fanout: a permanent failure does not stop the others");
	i_zero(&tt);
	tt.fail_at = 2;
	tt.fail_ret = 0;
	test_assert(test_fanout_run(&tt, test_numbered_members(5), 5, 2,
				    NULL, &result) == 1);
	test_assert(array_count(&tt.envelopes) == 3);
	test_assert(result.sent == 3);
	test_assert(result.rejected == 2);
	test_assert(result.failed_transactions == 1);
	test_assert_strcmp(result.error, "DATA: 554 no");
	test_end();

	test_begin("fanout: a temporary failure stops and reports");
	test_transport_reset(&tt);
	tt.fail_at = 2;
	tt.fail_ret = -1;
	test_assert(test_fanout_run(&tt, test_numbered_members(5), 5, 2,
				    NULL, &result) == -1);
	test_assert(array_count(&tt.envelopes) == 2);
	test_assert(result.sent == 2);
	/* the failed batch and the one never tried */
	test_assert(result.deferred == 3);
	test_assert_strcmp(result.error, "DATA: 451 later");
	test_end();

	test_begin("fanout: an unreadable message is a temporary failure");
	test_transport_reset(&tt);
	tt.break_read_at = 1;
	test_assert(test_fanout_run(&tt, test_numbered_members(3), 3, 2,
				    NULL, &result) == -1);
	test_assert(result.sent == 0 && result.deferred == 3);
	test_assert(result.error != NULL &&
		    strstr(result.error, "read(") != NULL);
	test_transport_reset(&tt);
	test_end();
}

static void test_fanout_8bit(void)
{
	struct istream *input;

	test_begin("fanout: 8-bit detection");
	input = test_istream_create("Subject: x\r\n\r\nplain\r\n");
	test_assert(vsmlist_fanout_is_8bit(input) == 0);
	i_stream_unref(&input);
	input = test_istream_create("Subject: x\r\n\r\nK\xc3\xa4se\r\n");
	test_assert(vsmlist_fanout_is_8bit(input) == 1);
	i_stream_unref(&input);
	test_end();
}

static void test_fanout_verp(void)
{
	struct test_transport tt;
	struct vsmlist_fanout_result result;

	test_begin("fanout: VERP: each member alone, its own envelope sender");
	i_zero(&tt);
	tt.verp = TRUE;
	test_assert(test_fanout_run(&tt, test_numbered_members(3), 3, 1000,
				    NULL, &result) == 1);
	test_assert(array_count(&tt.envelopes) == 3);
	test_assert_strcmp(test_envelope(&tt, 0),
		"<l+bounces-m0@lists.example> m0@example.net");
	test_assert_strcmp(test_envelope(&tt, 2),
		"<l+bounces-m2@lists.example> m2@example.net");
	test_assert(result.sent == 3 && result.transactions == 3);
	/* No VERP form for a member: the list's bounce address */
	test_transport_reset(&tt);
	tt.verp = TRUE;
	const struct smtp_address *plain[] = {
		smtp_address_create_temp("plain", "example.net"),
	};
	test_assert(test_fanout_run(&tt, plain, 1, 1000, NULL, &result) == 1);
	test_assert_strcmp(test_envelope(&tt, 0),
		"<l+bounces@lists.example> plain@example.net");
	test_transport_reset(&tt);
	test_end();

}

static void test_fanout_progress(void)
{
	const char *dir = t_strconcat(test_tmpdir, "/progress", NULL);
	struct vsmlist_progress_key key = {
		.list = "l@lists.example", .message_id = "<p1@x>",
		.digest = "00",
	};
	const struct smtp_address *const *rcpts = test_numbered_members(6);
	struct vsmlist_progress *progress;
	struct test_transport tt;
	struct vsmlist_fanout_result result;
	const char *error;

	test_begin("fanout: a retry sends only to the members left");
	i_zero(&tt);
	tt.fail_at = 2;
	tt.fail_ret = -1;
	test_assert(vsmlist_progress_open(dir, &key, 3600, NULL, &progress,
					  &error) == 1);
	test_assert(test_fanout_run(&tt, rcpts, 6, 2, progress,
				    &result) == -1);
	test_assert(result.sent == 2 && result.deferred == 4);
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);

	/* The retry: m0 and m1 got it, the rest is sent */
	test_transport_reset(&tt);
	test_assert(vsmlist_progress_open(dir, &key, 3600, NULL, &progress,
					  &error) == 1);
	test_assert(test_fanout_run(&tt, rcpts, 6, 2, progress,
				    &result) == 1);
	test_assert(result.sent == 4 && result.previously_sent == 2);
	test_assert(array_count(&tt.envelopes) == 2);
	test_assert_strcmp(test_envelope(&tt, 0),
		"<l+bounces@lists.example> m2@example.net m3@example.net");
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);

	/* Another delivery of the same post: nothing at all */
	test_transport_reset(&tt);
	test_assert(vsmlist_progress_open(dir, &key, 3600, NULL, &progress,
					  &error) == 1);
	test_assert(test_fanout_run(&tt, rcpts, 6, 2, progress,
				    &result) == 1);
	test_assert(result.sent == 0 && result.previously_sent == 6);
	test_assert(array_count(&tt.envelopes) == 0);
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);
	test_transport_reset(&tt);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_fanout_batches,
		test_fanout_rcpt_results,
		test_fanout_rcpt_limit,
		test_fanout_failures,
		test_fanout_8bit,
		test_fanout_verp,
		test_fanout_progress,
		NULL
	};
	return test_vsmlist_run_in_tmpdir(test_functions, &test_tmpdir);
}
