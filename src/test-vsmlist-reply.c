/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* The list's own mail: every header field, what a hostile Message-ID
   becomes, the quoted-printable text, and the one-recipient transaction
   with each answer of the relay. */

#include "lib.h"
#include "str.h"
#include "istream.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-compose.h"
#include "vsmlist-transport.h"
#include "vsmlist-reply.h"

/* Fri, 27 Nov 2026 10:00:00 +0000 */
#define TEST_DATE 1795773600

static const char *const test_pairs[] = {
	"sieve_vsmlist_address", "friends@lists.example",
	"sieve_vsmlist_name", "Fr\xc3\xbc""nde",
	NULL
};

static const char *test_repeat(char c, unsigned int count)
{
	char *str = t_malloc0(count + 1);

	memset(str, c, count);
	return str;
}

/* Every line ends in CRLF and is at most 78 octets; returns the header */
static const char *test_check_lines(const char *msg)
{
	const char *p, *eol, *end = strstr(msg, "\r\n\r\n");

	test_assert(end != NULL);
	for (p = msg; *p != '\0'; p = eol + 1) {
		eol = strchr(p, '\n');
		test_assert(eol != NULL && eol > p && eol[-1] == '\r');
		if (eol == NULL)
			break;
		test_assert(eol - p - 1 <= 78);
		test_assert(memchr(p, '\r', eol - p - 1) == NULL);
	}
	return end == NULL ? msg : t_strdup_until(msg, end + 2);
}

static void test_reply_compose(void)
{
	const struct vsmlist_settings *set = test_vsmlist_settings(test_pairs);
	struct vsmlist_reply reply;
	const char *msg, *head, *message_id, *body;

	test_begin("reply: the list's own mail");
	i_zero(&reply);
	reply.to = smtp_address_create_temp("john doe", "example.net");
	reply.reply_to = smtp_address_create_temp("friends+confirm-abc",
						   "lists.example");
	reply.subject = "confirm abc (subscribe to friends@lists.example)";
	reply.in_reply_to = " <req1@example.net> (comment)";
	reply.text = "Hello caf\xc3\xa9.\nSecond line.\n";
	reply.date = TEST_DATE;
	msg = vsmlist_reply_compose(set, &reply, &message_id);
	head = test_check_lines(msg);
	test_assert(str_begins(message_id, "<") &&
		    strstr(message_id, ".vsmlist@lists.example>") != NULL);
	test_assert_strcmp(head, t_strconcat(
		"From: =?iso-8859-1?q?Fr=FCnde?= <friends@lists.example>\r\n"
		"To: \"john doe\"@example.net\r\n"
		"Reply-To: friends+confirm-abc@lists.example\r\n"
		"Subject: confirm abc (subscribe to friends@lists.example)\r\n"
		"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
		"Message-ID: ", message_id, "\r\n"
		"In-Reply-To: <req1@example.net>\r\n"
		"References: <req1@example.net>\r\n"
		"Auto-Submitted: auto-replied\r\n"
		"X-Auto-Response-Suppress: All\r\n"
		"List-Id: =?UTF-8?b?RnLDvG5kZQ==?= <friends.lists.example>\r\n"
		"X-Loop: friends@lists.example\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n", NULL));
	body = strstr(msg, "\r\n\r\n") + 4;
	test_assert_strcmp(body, "Hello caf=C3=A9.\r\nSecond line.\r\n");
	test_end();

	test_begin("reply: a UTF-8 Subject is encoded, a long one folded");
	reply.reply_to = NULL;
	reply.in_reply_to = NULL;
	reply.subject = t_strconcat("Gr\xc3\xbc\xc3\x9f""e\r\nBcc: x@y ",
				    test_repeat('a', 300), NULL);
	msg = vsmlist_reply_compose(set, &reply, &message_id);
	head = test_check_lines(msg);
	test_assert(strstr(head, "\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?= "
			   "Bcc: x@y\r\n =?us-ascii?Q?aaa") != NULL);
	/* The line break became a space inside the encoded text: no
	   field of its own */
	test_assert(strstr(head, "\r\nBcc:") == NULL);
	test_assert(strstr(head, "Reply-To:") == NULL);
	test_assert(strstr(head, "In-Reply-To:") == NULL);
	test_end();
}

static void test_reply_message_ids(void)
{
	static const struct {
		const char *field, *reference;
	} tests[] = {
		{ "<a.b@c.example>", "<a.b@c.example>" },
		{ "junk <x@y> <z@w>", "<x@y>" },
		{ "<\"quoted id\"@c.example>", NULL },
		{ "<a\xc3\xa9@c.example>", NULL },
		/* Dovecot drops the white space: one harmless token */
		{ "<a\r\n Bcc: x@y>", "<aBcc:x@y>" },
		{ "no id at all", NULL },
		{ "", NULL },
	};
	const struct vsmlist_settings *set = test_vsmlist_settings(test_pairs);
	struct vsmlist_reply reply;
	const char *msg, *message_id, *expected;
	unsigned int i;

	test_begin("reply: only a clean message id is referred to");
	i_zero(&reply);
	reply.to = smtp_address_create_temp("ann", "example.net");
	reply.subject = "s";
	reply.text = "t";
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		reply.in_reply_to = tests[i].field;
		msg = vsmlist_reply_compose(set, &reply, &message_id);
		(void)test_check_lines(msg);
		if (tests[i].reference == NULL) {
			test_assert_idx(strstr(msg, "In-Reply-To:") == NULL &&
					strstr(msg, "References:") == NULL, i);
			continue;
		}
		expected = t_strdup_printf("\r\nIn-Reply-To: %s\r\n"
			"References: %s\r\n", tests[i].reference,
			tests[i].reference);
		test_assert_idx(strstr(msg, expected) != NULL, i);
	}
	/* Longer than a header line should carry */
	reply.in_reply_to = t_strdup_printf("<%s@c.example>",
					    test_repeat('a', 300));
	msg = vsmlist_reply_compose(set, &reply, &message_id);
	test_assert(strstr(msg, "In-Reply-To:") == NULL);
	test_end();
}

struct test_transport {
	/* What send() returns, and the recipient's status when it is 1 */
	int ret;
	enum vsmlist_rcpt_status status;
	unsigned int transactions;
	const char *mail_from, *rcpt;
	string_t *data;
};

static int
test_send(void *context, const struct vsmlist_transaction *trans,
	  struct vsmlist_rcpt_result *results,
	  struct vsmlist_transaction_result *result_r)
{
	struct test_transport *tt = context;
	const unsigned char *data;
	size_t size;

	tt->transactions++;
	tt->mail_from = t_strdup(smtp_address_encode(trans->mail_from));
	test_assert(trans->rcpt_count == 1);
	test_assert(!trans->body_8bit);
	tt->rcpt = t_strdup(smtp_address_encode(trans->rcpts[0]));
	str_truncate(tt->data, 0);
	while (i_stream_read_more(trans->input, &data, &size) > 0) {
		str_append_data(tt->data, data, size);
		i_stream_skip(trans->input, size);
	}
	if (tt->ret < 1) {
		result_r->error = tt->ret == 0 ? "DATA: 554 no" :
			"connect: refused";
		return tt->ret;
	}
	results[0].status = tt->status;
	if (tt->status != VSMLIST_RCPT_SENT)
		results[0].reply = "550 no such user";
	result_r->data_reply = "250 2.0.0 Ok: queued as R1";
	return 1;
}

static void test_reply_send(void)
{
	static const struct {
		int ret;
		enum vsmlist_rcpt_status status;
		int expected;
		const char *error;
	} tests[] = {
		{ 1, VSMLIST_RCPT_SENT, 1, NULL },
		{ 1, VSMLIST_RCPT_REJECTED, 0, "550 no such user" },
		{ 1, VSMLIST_RCPT_DEFERRED, -1, "550 no such user" },
		{ 0, VSMLIST_RCPT_PENDING, 0, "DATA: 554 no" },
		{ -1, VSMLIST_RCPT_PENDING, -1, "connect: refused" },
	};
	const struct vsmlist_settings *set = test_vsmlist_settings(test_pairs);
	struct test_transport tt;
	struct vsmlist_transport transport = {
		.send = test_send, .context = &tt,
	};
	const struct smtp_address *to =
		smtp_address_create_temp("ann", "example.net");
	const char *queue_id, *error;
	unsigned int i;
	int ret;

	test_begin("reply: one transaction, one recipient, each answer");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		i_zero(&tt);
		tt.ret = tests[i].ret;
		tt.status = tests[i].status;
		tt.data = t_str_new(128);
		error = NULL;
		ret = vsmlist_reply_send(set, &transport, to, "Subject: x\r\n"
					 "\r\nbody\r\n", &queue_id, &error);
		test_assert_idx(ret == tests[i].expected, i);
		test_assert_idx(tt.transactions == 1, i);
		test_assert_strcmp_idx(tt.mail_from,
				       "friends+bounces@lists.example", i);
		test_assert_strcmp_idx(tt.rcpt, "ann@example.net", i);
		test_assert_strcmp_idx(str_c(tt.data),
				       "Subject: x\r\n\r\nbody\r\n", i);
		if (ret > 0) {
			test_assert_strcmp_idx(queue_id, "R1", i);
		} else {
			test_assert_idx(queue_id == NULL, i);
			test_assert_strcmp_idx(error, tests[i].error, i);
		}
	}
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_reply_compose,
		test_reply_message_ids,
		test_reply_send,
		NULL
	};

	vsmlist_compose_init();
	return test_run(test_functions);
}
