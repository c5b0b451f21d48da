/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "ostream.h"
#include "smtp-address.h"
#include "test-common.h"
#include "vsmlist-fanout.h"

/* A transport that records each transaction and fails on request */
struct test_transaction {
	string_t *envelope;
	buffer_t *data;
	struct ostream *output;
};

struct test_transport {
	ARRAY(struct test_transaction *) transactions;
	/* 1-based transaction number to fail, and how */
	unsigned int fail_at;
	int fail_ret;
};

static void *test_start(void *context, const struct smtp_address *mail_from)
{
	struct test_transport *tt = context;
	struct test_transaction *trans = t_new(struct test_transaction, 1);

	trans->envelope = t_str_new(64);
	trans->data = t_buffer_create(64);
	str_printfa(trans->envelope, "<%s>",
		    smtp_address_encode(mail_from));
	array_push_back(&tt->transactions, &trans);
	return trans;
}

static void test_add_rcpt(void *trans_ctx, const struct smtp_address *rcpt)
{
	struct test_transaction *trans = trans_ctx;

	str_printfa(trans->envelope, " %s", smtp_address_encode(rcpt));
}

static struct ostream *test_send(void *trans_ctx)
{
	struct test_transaction *trans = trans_ctx;

	trans->output = test_ostream_create(trans->data);
	return trans->output;
}

static void test_abort(void *trans_ctx)
{
	struct test_transaction *trans = trans_ctx;

	o_stream_destroy(&trans->output);
	str_append(trans->envelope, " ABORTED");
}

static struct test_transport *test_transport_context;

static int test_finish(void *trans_ctx, const char **error_r)
{
	struct test_transaction *trans = trans_ctx;
	struct test_transport *tt = test_transport_context;

	test_assert(o_stream_finish(trans->output) > 0);
	o_stream_destroy(&trans->output);
	if (array_count(&tt->transactions) == tt->fail_at) {
		*error_r = "550 refused";
		return tt->fail_ret;
	}
	return 1;
}

static struct istream *test_message(void *context)
{
	struct istream *input = test_istream_create(context);

	/* Mail streams are blocking, and o_stream_nsend_istream() needs it */
	input->blocking = TRUE;
	return input;
}

static int
test_fanout(struct test_transport *tt, unsigned int rcpt_count,
	    unsigned int batch_size, struct vsmlist_fanout_result *result_r)
{
	struct vsmlist_transport transport = {
		.start = test_start, .add_rcpt = test_add_rcpt,
		.send = test_send, .abort = test_abort,
		.finish = test_finish, .context = tt,
	};
	ARRAY(const struct smtp_address *) rcpts;
	unsigned int i;

	t_array_init(&tt->transactions, 8);
	t_array_init(&rcpts, rcpt_count);
	for (i = 0; i < rcpt_count; i++) {
		const struct smtp_address *addr = smtp_address_create(
			pool_datastack_create(), t_strdup_printf("m%u", i),
			"example.net");
		array_push_back(&rcpts, &addr);
	}
	test_transport_context = tt;
	return vsmlist_fanout_send(&transport,
				   smtp_address_create_temp("l+bounces",
							    "lists.example"),
				   array_front(&rcpts), rcpt_count,
				   batch_size, test_message, "post\r\n",
				   result_r);
}

static const char *test_envelope(struct test_transport *tt, unsigned int idx)
{
	struct test_transaction *const *trans =
		array_idx(&tt->transactions, idx);
	return str_c((*trans)->envelope);
}

static void test_fanout_batches(void)
{
	struct test_transport tt;
	struct vsmlist_fanout_result result;
	struct test_transaction *const *trans;

	test_begin("fanout: batches of batch_size recipients");
	i_zero(&tt);
	test_assert(test_fanout(&tt, 5, 2, &result) == 1);
	test_assert(array_count(&tt.transactions) == 3);
	test_assert_strcmp(test_envelope(&tt, 0),
		"<l+bounces@lists.example> m0@example.net m1@example.net");
	test_assert_strcmp(test_envelope(&tt, 2),
		"<l+bounces@lists.example> m4@example.net");
	trans = array_idx(&tt.transactions, 2);
	test_assert(buffer_cmp((*trans)->data,
			       &(buffer_t){ .data = "post\r\n", .used = 6 }));
	test_assert(result.recipients == 5 && result.transactions == 3);
	test_assert(result.failed_recipients == 0);
	test_end();

	test_begin("fanout: one transaction when the list fits");
	i_zero(&tt);
	test_assert(test_fanout(&tt, 1000, 1000, &result) == 1);
	test_assert(array_count(&tt.transactions) == 1);
	test_assert(result.recipients == 1000);
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
	test_assert(test_fanout(&tt, 5, 2, &result) == 0);
	test_assert(array_count(&tt.transactions) == 3);
	test_assert(result.recipients == 3);
	test_assert(result.failed_recipients == 2);
	test_assert(result.failed_transactions == 1);
	test_assert_strcmp(result.error, "550 refused");
	test_end();

	test_begin("fanout: a temporary failure stops and reports");
	i_zero(&tt);
	tt.fail_at = 2;
	tt.fail_ret = -1;
	test_assert(test_fanout(&tt, 5, 2, &result) == -1);
	test_assert(array_count(&tt.transactions) == 2);
	test_assert(result.recipients == 2);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_fanout_batches,
		test_fanout_failures,
		NULL
	};
	return test_run(test_functions);
}
