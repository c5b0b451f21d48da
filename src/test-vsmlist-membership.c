/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* Membership requests driven directly: a mail in memory, the store, the
   secret and the rate limit in a temporary home, a fake transport that
   records what the list sends, and every outcome with its action, log
   line and event fields. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "unlink-directory.h"
#include "mkdir-parents.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-compose.h"
#include "vsmlist-rewrite.h"
#include "vsmlist-store.h"
#include "vsmlist-transport.h"
#include "vsmlist-membership.h"

#include <fcntl.h>
#include <unistd.h>

/* Fri, 27 Nov 2026 10:00:00 +0000 */
#define TEST_NOW 1795773600
#define TEST_DAY (24*3600)

static const char *test_tmpdir;

struct test_sent {
	const char *mail_from, *rcpt, *data;
};

/* What the fake relay got, and how it answers */
static struct {
	pool_t pool;
	ARRAY(struct test_sent) sent;
	int ret;
	enum vsmlist_rcpt_status status;
} test_relay;

static pool_t test_pool;

static int
test_send(void *context ATTR_UNUSED, const struct vsmlist_transaction *trans,
	  struct vsmlist_rcpt_result *results,
	  struct vsmlist_transaction_result *result_r)
{
	struct test_sent *sent;
	string_t *data = t_str_new(1024);
	const unsigned char *p;
	size_t size;

	test_assert(trans->rcpt_count == 1);
	while (i_stream_read_more(trans->input, &p, &size) > 0) {
		str_append_data(data, p, size);
		i_stream_skip(trans->input, size);
	}
	if (test_relay.ret < 1) {
		result_r->error = test_relay.ret == 0 ? "MAIL: 554 no" :
			"connect: refused";
		return test_relay.ret;
	}
	results[0].status = test_relay.status;
	if (test_relay.status != VSMLIST_RCPT_SENT) {
		results[0].reply = "550 5.1.1 no such user";
		return 1;
	}
	sent = array_append_space(&test_relay.sent);
	sent->mail_from = p_strdup(test_relay.pool,
				   smtp_address_encode(trans->mail_from));
	sent->rcpt = p_strdup(test_relay.pool,
			      smtp_address_encode(trans->rcpts[0]));
	sent->data = p_strdup(test_relay.pool, str_c(data));
	result_r->data_reply = t_strdup_printf(
		"250 2.0.0 Ok: queued as M%u", array_count(&test_relay.sent));
	return 1;
}

static const struct vsmlist_transport test_transport = {
	.send = test_send,
};

static const char *test_home(void)
{
	return t_strconcat(test_tmpdir, "/home", NULL);
}

static const char *test_path(const char *name)
{
	return t_strconcat(test_home(), "/vsmlist/", name, NULL);
}

static void test_write(const char *name, const char *content)
{
	int fd = open(test_path(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write(fd, content, strlen(content)) < 0)
		i_fatal("write(%s) failed: %m", name);
	i_close_fd(&fd);
}

static const char *test_read(const char *name)
{
	buffer_t *buf = t_buffer_create(256);
	const char *error;

	if (vsmlist_file_read(test_path(name), 65536, buf, &error) <= 0)
		return NULL;
	return t_strndup(buf->data, buf->used);
}

/* A fresh list home with this member file (NULL: none), nothing sent */
static void test_reset(const char *members)
{
	const char *error;

	if (unlink_directory(test_home(), UNLINK_DIRECTORY_FLAG_RMDIR,
			     &error) < 0 && errno != ENOENT)
		i_fatal("%s", error);
	if (mkdir_parents(t_strconcat(test_home(), "/vsmlist", NULL),
			  0700) < 0)
		i_fatal("mkdir failed: %m");
	if (members != NULL)
		test_write("members", members);
	if (test_relay.pool != NULL)
		pool_unref(&test_relay.pool);
	test_relay.pool = pool_alloconly_create("test relay", 4096);
	p_array_init(&test_relay.sent, test_relay.pool, 8);
	test_relay.ret = 1;
	test_relay.status = VSMLIST_RCPT_SENT;
}

/* The list friends@lists.example with these further settings */
static const struct vsmlist_settings *
test_settings_env(const char *home, const char *delimiter,
		  const char *const *extra)
{
	ARRAY_TYPE(const_string) pairs;
	struct vsmlist_settings_env env;
	const struct vsmlist_settings *set;
	const char *error, *const base[] = {
		"sieve_vsmlist_address", "friends@lists.example",
		"sieve_vsmlist_name", "Friends",
	};
	unsigned int i;

	/* The first of a name counts: extra ones override the base */
	t_array_init(&pairs, 16);
	for (; extra != NULL && *extra != NULL; extra++)
		array_push_back(&pairs, extra);
	for (i = 0; i < N_ELEMENTS(base); i++)
		array_push_back(&pairs, &base[i]);
	array_append_zero(&pairs);
	i_zero(&env);
	env.home = home;
	env.recipient_delimiter = delimiter;
	env.lookup = test_vsmlist_lookup;
	env.context = (void *)array_front(&pairs);
	if (vsmlist_settings_load(test_pool, &env, &set, &error) < 0)
		i_fatal("test settings: %s", error);
	return set;
}

static const struct vsmlist_settings *test_settings(const char *const *extra)
{
	return test_settings_env(test_home(), NULL, extra);
}

static const char *
test_mail(const char *from, const char *subject, const char *extra)
{
	return t_strdup_printf("From: %s\r\nTo: friends@lists.example\r\n"
			       "%s%s%sMessage-ID: <req.%u@example.net>\r\n"
			       "%s\r\nbody\r\n", from,
			       subject == NULL ? "" : "Subject: ",
			       subject == NULL ? "" : subject,
			       subject == NULL ? "" : "\r\n",
			       array_count(&test_relay.sent), extra);
}

struct test_request {
	const struct vsmlist_settings *set;
	/* The envelope recipient (NULL: none), the sender ("" for <>) */
	const char *rcpt_to, *mail_from;
	bool no_envelope;
	const char *mail;
	/* 0: strlen(mail) */
	size_t mail_size;
	time_t now;
	/* Warnings and errors the run logs */
	unsigned int warnings;
};

static struct smtp_address *test_address(const char *str)
{
	struct smtp_address *address;
	const char *error;

	if (smtp_address_parse_path(test_pool, str,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL |
				    SMTP_ADDRESS_PARSE_FLAG_ALLOW_EMPTY,
				    &address, &error) < 0)
		i_fatal("test address %s: %s", str, error);
	return address;
}

static enum vsmlist_action_result
test_request_run(const struct test_request *req,
	 struct vsmlist_membership_outcome *outcome_r)
{
	struct vsmlist_delivery params;
	struct istream *input = test_istream_create_data(req->mail,
		req->mail_size != 0 ? req->mail_size : strlen(req->mail));
	struct event *event = event_create(NULL);

	i_zero(&params);
	params.set = req->set;
	params.settings_error = "sieve_vsmlist_dmarc: unknown value 'x'";
	params.input = input;
	params.have_envelope = !req->no_envelope;
	if (!req->no_envelope) {
		params.mail_from = req->mail_from == NULL ?
			test_address("sender@example.net") :
			(*req->mail_from == '\0' ? NULL :
			 test_address(req->mail_from));
		params.rcpt_to = req->rcpt_to == NULL ? NULL :
			test_address(req->rcpt_to);
	}
	params.transport = &test_transport;
	params.relay = "relay.test:25";
	params.now = req->now != 0 ? req->now : TEST_NOW;
	params.event = event;
	if (req->warnings > 0)
		test_expect_errors(req->warnings);
	vsmlist_membership(test_pool, &params, outcome_r);
	test_expect_no_more_errors();
	i_stream_unref(&input);
	event_unref(&event);
	return vsmlist_membership_outcome_action(outcome_r);
}

static const char *
test_field(const struct vsmlist_membership_outcome *outcome,
	   const char *name)
{
	struct event *event = event_create(NULL);
	const char *value;

	vsmlist_membership_outcome_event(outcome, event);
	value = test_vsmlist_event_field(event, name);
	event_unref(&event);
	return value;
}

static const char *test_log(const struct vsmlist_membership_outcome *outcome,
			    bool expect_error)
{
	bool error;
	const char *line = vsmlist_membership_outcome_log(outcome, &error);

	test_assert(error == expect_error);
	return line;
}

/* The n-th mail sent (from 0), or NULL */
static const struct test_sent *test_sent(unsigned int n)
{
	if (n >= array_count(&test_relay.sent))
		return NULL;
	return array_idx(&test_relay.sent, n);
}

/* The first value of a header field of a sent mail, unfolded (RFC 5322
   2.2.3: the line breaks go, the white space stays) */
static const char *test_header(const struct test_sent *sent,
			       const char *name)
{
	const char *p = sent->data, *end, *prefix = t_strconcat(name, ":",
								 NULL);
	string_t *value;

	for (;;) {
		if (strncasecmp(p, prefix, strlen(prefix)) == 0)
			break;
		p = strstr(p, "\r\n");
		if (p == NULL || p[2] == '\r')
			return NULL;
		p += 2;
	}
	value = t_str_new(128);
	p += strlen(prefix);
	for (;;) {
		end = strstr(p, "\r\n");
		str_append_data(value, p, end - p);
		if (end[2] != ' ' && end[2] != '\t')
			break;
		p = end + 2;
	}
	return t_str_trim(str_c(value), " \t");
}

/* The text of a sent mail, its lines joined by spaces (the texts are
   ASCII: their quoted-printable only has soft line breaks) */
static const char *test_body(const struct test_sent *sent)
{
	const char *p = strstr(sent->data, "\r\n\r\n") + 4;
	string_t *text = t_str_new(512);

	for (; *p != '\0'; p++) {
		if (strncmp(p, "=\r\n", 3) == 0)
			p += 2;
		else if (strncmp(p, "\r\n", 2) == 0) {
			str_append_c(text, ' ');
			p++;
		} else {
			str_append_c(text, *p);
		}
	}
	return str_c(text);
}

/* The token of a sent confirmation request */
static const char *test_token(const struct test_sent *sent)
{
	const char *reply_to = test_header(sent, "Reply-To");
	const char *p = reply_to == NULL ? NULL :
		strstr(reply_to, "confirm-");

	if (p == NULL)
		return "";
	return t_strndup(p + 8, VSMLIST_TOKEN_LEN);
}

/* Every mail the list sends about membership has these */
static void test_check_list_mail(const struct test_sent *sent,
				 const char *rcpt)
{
	test_assert_strcmp(sent->mail_from, "friends+bounces@lists.example");
	test_assert_strcmp(sent->rcpt, rcpt);
	test_assert_strcmp(test_header(sent, "From"),
			   "Friends <friends@lists.example>");
	test_assert_strcmp(test_header(sent, "Auto-Submitted"),
			   "auto-replied");
	test_assert_strcmp(test_header(sent, "X-Loop"),
			   "friends@lists.example");
	test_assert_strcmp(test_header(sent, "List-Id"),
			   "Friends <friends.lists.example>");
	test_assert_strcmp(test_header(sent, "Content-Transfer-Encoding"),
			   "quoted-printable");
}

/* Subscribe ann, confirm by the Reply-To address: returns the token */
static const char *test_subscribe_request(const struct vsmlist_settings *set)
{
	struct test_request req = {
		.set = set, .rcpt_to = "friends+subscribe@lists.example",
		.mail = test_mail("Ann <ann@example.net>", "please", ""),
	};
	struct vsmlist_membership_outcome outcome;

	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_CONFIRMATION_SENT);
	return test_token(test_sent(array_count(&test_relay.sent) - 1));
}

static void
test_confirm(const struct vsmlist_settings *set, const char *token,
	     struct vsmlist_membership_outcome *outcome_r)
{
	struct test_request req = {
		.set = set,
		.rcpt_to = t_strconcat("friends+confirm-", token,
				       "@lists.example", NULL),
		.mail = test_mail("ann@example.net", "Re: whatever", ""),
	};

	(void)test_request_run(&req, outcome_r);
}

static void test_membership_subscribe(void)
{
	static const char *const owner[] = {
		"sieve_vsmlist_owner", "owner@lists.example", NULL };
	const struct vsmlist_settings *set = test_settings(owner);
	struct vsmlist_membership_outcome outcome;
	const struct test_sent *sent;
	const char *token, *subject, *line;

	test_begin("membership: subscribe sends a confirmation request");
	test_reset("# the friends\nbob@example.net\n");
	token = test_subscribe_request(set);
	sent = test_sent(0);
	test_assert(array_count(&test_relay.sent) == 1);
	test_check_list_mail(sent, "ann@example.net");
	test_assert_strcmp(test_header(sent, "To"), "ann@example.net");
	test_assert_strcmp(test_header(sent, "Reply-To"), t_strconcat(
		"friends+confirm-", token, "@lists.example", NULL));
	test_assert_strcmp(test_header(sent, "In-Reply-To"),
			   "<req.0@example.net>");
	subject = test_header(sent, "Subject");
	test_assert_strcmp(subject, t_strconcat("confirm ", token,
		" (subscribe to friends@lists.example)", NULL));
	test_assert(strstr(test_body(sent), "asked to add ann@example.net to "
			   "the Friends list (friends@lists.example).") !=
		    NULL);
	test_assert(strstr(test_body(sent), t_strconcat("send a message to "
		"friends+confirm-", token, "@lists.example", NULL)) != NULL);
	test_assert(strstr(test_body(sent), "nothing happens without your "
			   "confirmation. The request expires on Mon, 30 Nov "
			   "2026 10:00:00 +0000.") != NULL);
	/* Nothing changed yet; the mail is counted */
	test_assert_strcmp(test_read("members"),
			   "# the friends\nbob@example.net\n");
	test_assert(strstr(test_read("confirm-limit"), "\n1795773600 ") !=
		    NULL);
	test_end();

	test_begin("membership: the confirmation subscribes, welcomes, "
		   "tells the owner");
	test_confirm(set, token, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_SUBSCRIBED);
	test_assert(vsmlist_membership_outcome_action(&outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.token_result == VSMLIST_TOKEN_OK);
	test_assert_strcmp(test_read("members"),
		"# the friends\nbob@example.net\nann@example.net\n");
	test_assert(array_count(&test_relay.sent) == 3);
	sent = test_sent(1);
	test_check_list_mail(sent, "ann@example.net");
	test_assert_strcmp(test_header(sent, "Subject"),
			   "Welcome to the Friends list");
	test_assert(test_header(sent, "Reply-To") == NULL);
	test_assert(strstr(test_body(sent), "To leave it, send a message to "
			   "friends+unsubscribe@lists.example.") != NULL);
	sent = test_sent(2);
	test_check_list_mail(sent, "owner@lists.example");
	test_assert_strcmp(test_header(sent, "Subject"),
			   "Friends: ann@example.net subscribed");
	test_assert(test_header(sent, "In-Reply-To") == NULL);
	line = test_log(&outcome, FALSE);
	test_assert_strcmp(line, "confirmation from ann@example.net: "
		"subscribed to friends@lists.example; welcome sent, queued "
		"as M2; owner notified");
	test_assert_strcmp(test_field(&outcome, "vsmlist_result"),
			   "subscribed");
	test_assert_strcmp(test_field(&outcome, "vsmlist_request"),
			   "confirm");
	test_assert_strcmp(test_field(&outcome, "vsmlist_request_source"),
			   "detail");
	test_assert_strcmp(test_field(&outcome, "vsmlist_address"),
			   "ann@example.net");
	test_assert_strcmp(test_field(&outcome, "vsmlist_token"), "ok");
	test_assert_strcmp(test_field(&outcome, "vsmlist_reply"), "welcome");
	test_assert_strcmp(test_field(&outcome, "vsmlist_owner_notified"),
			   "1");
	test_assert(test_field(&outcome, "error") == NULL);
	test_end();

	test_begin("membership: the same confirmation again: already a member");
	test_confirm(set, token, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_ALREADY_MEMBER);
	test_assert(outcome.reply_sent);
	test_assert_strcmp(test_header(test_sent(3), "Subject"),
			   "Already a member of the Friends list");
	test_assert_strcmp(test_read("members"),
		"# the friends\nbob@example.net\nann@example.net\n");
	test_end();

	test_begin("membership: subscribe as a member: already a member");
	test_reset("Ann@Example.NET\n");
	{
		struct test_request req = {
			.set = set,
			.rcpt_to = "friends+subscribe@lists.example",
			.mail = test_mail("ann@example.net", NULL, ""),
		};
		test_assert(test_request_run(&req, &outcome) ==
			    VSMLIST_ACTION_HANDLED);
	}
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_ALREADY_MEMBER);
	test_assert_strcmp(test_log(&outcome, FALSE),
		"subscribe request from ann@example.net: already a member of "
		"friends@lists.example; reply sent, queued as M1");
	test_end();
}

static void test_membership_subject_route(void)
{
	const struct vsmlist_settings *set = test_settings(NULL);
	struct vsmlist_membership_outcome outcome;
	struct test_request req = { .set = set };
	const char *token;

	test_begin("membership: the Subject route, prefixes stripped");
	test_reset("");
	req.rcpt_to = "friends@lists.example";
	req.mail = test_mail("Ann <ann@example.net>",
			     "Re: AW:Fwd[2]: SUBSCRIBE me", "");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_CONFIRMATION_SENT);
	test_assert(!outcome.request.from_detail);
	test_assert_strcmp(test_field(&outcome, "vsmlist_request_source"),
			   "subject");
	token = test_token(test_sent(0));
	/* A reply to the request, sent to the list's address */
	req.mail = test_mail("ann@example.net", t_strconcat(
		"RE: confirm ", token, " (subscribe to friends@lists.example)",
		NULL), "");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_SUBSCRIBED);
	test_assert_strcmp(test_read("members"), "ann@example.net\n");
	test_end();

	test_begin("membership: under imapsieve only the Subject counts");
	test_reset("");
	req.no_envelope = TRUE;
	req.rcpt_to = "friends+unsubscribe@lists.example";
	req.mail = test_mail("ann@example.net",
			     "=?utf-8?q?subscribe?=", "");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.request.type ==
		    VSMLIST_MEMBERSHIP_REQUEST_SUBSCRIBE);
	req.mail = test_mail("ann@example.net", "hello", "");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_KEEP);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_NO_REQUEST);
	test_end();

	test_begin("membership: no request: kept");
	req.no_envelope = FALSE;
	req.rcpt_to = "friends+help@lists.example";
	req.mail = test_mail("ann@example.net", "subscribes", "");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_KEEP);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_NO_REQUEST);
	test_assert_strcmp(test_log(&outcome, FALSE),
		"no membership request: the detail 'help' and the Subject "
		"'subscribes' ask for no subscribe, unsubscribe or confirm "
		"(message kept)");
	test_assert_strcmp(test_field(&outcome, "vsmlist_request"), "none");
	test_assert(array_count(&test_relay.sent) == 1);
	test_end();
}

static void test_membership_unsubscribe(void)
{
	static const char *const owner[] = {
		"sieve_vsmlist_owner", "owner@lists.example", NULL };
	/* recipient_delimiter "-+": each one separates the detail, the
	   first composes the list's addresses */
	const struct vsmlist_settings *set =
		test_settings_env(test_home(), "-+", owner);
	struct vsmlist_membership_outcome outcome;
	struct test_request req;
	const char *token;

	test_begin("membership: unsubscribe a non-member: not a member");
	test_reset("# members\nbob@example.net # Bob\n\ncarol@example.net\n");
	i_zero(&req);
	req.set = set;
	req.rcpt_to = "Friends+UNSUBSCRIBE@lists.example";
	req.mail = test_mail("ann@example.net", NULL, "");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_NOT_MEMBER);
	test_assert_strcmp(test_header(test_sent(0), "Subject"),
			   "Not a member of the Friends list");
	test_assert(strstr(test_body(test_sent(0)), "To join the list, send "
			   "a message to friends-subscribe@lists.example.") !=
		    NULL);
	test_assert_strcmp(test_log(&outcome, FALSE),
		"unsubscribe request from ann@example.net: not a member of "
		"friends@lists.example; reply sent, queued as M1");
	test_end();

	test_begin("membership: unsubscribe a member after confirmation, "
		   "comments and order kept");
	req.mail = test_mail("Bob <BOB@example.net>", NULL, "");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_CONFIRMATION_SENT);
	test_assert_strcmp(test_header(test_sent(1), "Reply-To"),
		t_strconcat("friends-confirm-", test_token(test_sent(1)),
			    "@lists.example", NULL));
	token = test_token(test_sent(1));
	test_assert(strstr(test_header(test_sent(1), "Subject"),
			   "(unsubscribe from friends@lists.example)") != NULL);
	test_assert_strcmp(test_read("members"),
		"# members\nbob@example.net # Bob\n\ncarol@example.net\n");
	/* The confirmation comes back in upper case */
	req.rcpt_to = t_strconcat("friends+confirm-", t_str_ucase(token),
				  "@lists.example", NULL);
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_UNSUBSCRIBED);
	test_assert_strcmp(test_read("members"),
			   "# members\n\ncarol@example.net\n");
	test_assert_strcmp(test_header(test_sent(2), "Subject"),
			   "You have left the Friends list");
	test_assert_strcmp(test_sent(2)->rcpt, "BOB@example.net");
	test_assert_strcmp(test_header(test_sent(3), "Subject"),
			   "Friends: BOB@example.net unsubscribed");
	test_assert_strcmp(test_log(&outcome, FALSE),
		"confirmation from BOB@example.net: unsubscribed from "
		"friends@lists.example; goodbye sent, queued as M3; owner "
		"notified");
	test_end();

	test_begin("membership: a second confirmation: not a member");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_NOT_MEMBER);
	test_end();
}

static void test_membership_tokens(void)
{
	const struct vsmlist_settings *set = test_settings(NULL);
	struct vsmlist_membership_outcome outcome;
	struct test_request req;
	const char *token, *forged;

	test_begin("membership: a forged token");
	test_reset("");
	token = test_subscribe_request(set);
	forged = t_strdup_printf("%s%c", t_strndup(token, 23),
				 token[23] == 'a' ? 'b' : 'a');
	test_confirm(set, forged, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_BAD_TOKEN);
	test_assert(outcome.token_result == VSMLIST_TOKEN_FORGED);
	test_assert(vsmlist_membership_outcome_action(&outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert_strcmp(test_read("members"), "");
	test_assert_strcmp(test_header(test_sent(1), "Subject"),
			   "Confirmation for the Friends list not accepted");
	test_assert_strcmp(test_log(&outcome, FALSE), t_strdup_printf(
		"confirmation from ann@example.net: token forged (%s); "
		"reply sent, queued as M2", forged));
	test_assert_strcmp(test_field(&outcome, "vsmlist_token"), "forged");
	test_end();

	test_begin("membership: a token for another address");
	i_zero(&req);
	req.set = set;
	req.rcpt_to = t_strconcat("friends+confirm-", token, "@lists.example",
				  NULL);
	req.mail = test_mail("mallory@example.org", NULL, "");
	req.mail_from = "mallory@example.org";
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_BAD_TOKEN);
	test_assert_strcmp(outcome.address, "mallory@example.org");
	test_assert_strcmp(test_sent(2)->rcpt, "mallory@example.org");
	test_end();

	test_begin("membership: the token checked against the envelope "
		   "sender");
	req.mail_from = "ann@example.net";
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_SUBSCRIBED);
	test_assert_strcmp(outcome.address, "ann@example.net");
	test_assert_strcmp(test_read("members"), "ann@example.net\n");
	test_end();

	test_begin("membership: an expired token");
	test_reset("");
	token = test_subscribe_request(set);
	i_zero(&req);
	req.set = set;
	req.rcpt_to = t_strconcat("friends+confirm-", token, "@lists.example",
				  NULL);
	req.mail = test_mail("ann@example.net", NULL, "");
	req.now = TEST_NOW + 3*TEST_DAY + 1;
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_EXPIRED_TOKEN);
	test_assert(outcome.token_action == VSMLIST_TOKEN_ACTION_SUBSCRIBE);
	test_assert_strcmp(test_read("members"), "");
	test_assert_strcmp(test_header(test_sent(1), "Subject"),
			   "Confirmation for the Friends list expired");
	test_assert(strstr(test_body(test_sent(1)), "To start again, send a "
			   "message to friends+subscribe@lists.example.") !=
		    NULL);
	test_assert_strcmp(test_field(&outcome, "vsmlist_result"),
			   "expired_token");
	/* Still valid at the last second */
	req.now = TEST_NOW + 3*TEST_DAY;
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_SUBSCRIBED);
	test_end();

	test_begin("membership: malformed tokens, any bytes");
	test_reset("");
	req.now = 0;
	req.rcpt_to = "friends+confirm-@lists.example";
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_BAD_TOKEN);
	test_assert(outcome.token_result == VSMLIST_TOKEN_MALFORMED);
	req.rcpt_to = "friends@lists.example";
	req.mail = test_mail("ann@example.net", "confirm \x01\xff\xfe"
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			     "");
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_BAD_TOKEN);
	test_assert(outcome.token_result == VSMLIST_TOKEN_MALFORMED);
	test_assert(strlen(outcome.request.token) <=
		    VSMLIST_MEMBERSHIP_MAX_TOKEN_LEN);
	test_assert(strstr(test_log(&outcome, FALSE), "token malformed (") !=
		    NULL);
	test_assert_strcmp(test_read("members"), "");
	test_end();
}

static void test_membership_closed(void)
{
	static const char *const closed[] = {
		"sieve_vsmlist_subscription", "closed", NULL };
	const struct vsmlist_settings *set = test_settings(closed);
	const struct vsmlist_settings *open_set = test_settings(NULL);
	struct vsmlist_membership_outcome outcome;
	struct test_request req;
	const char *token;

	test_begin("membership: subscription closed");
	test_reset("bob@example.net\n");
	i_zero(&req);
	req.set = set;
	req.rcpt_to = "friends+subscribe@lists.example";
	req.mail = test_mail("ann@example.net", NULL, "");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_CLOSED);
	test_assert_strcmp(test_header(test_sent(0), "Subject"),
			   "The Friends list takes no new members by mail");
	test_assert_strcmp(test_log(&outcome, FALSE),
		"subscribe request from ann@example.net: subscription to "
		"friends@lists.example is closed; reply sent, queued as M1");
	/* A confirmation made while it was open is not carried out */
	token = test_subscribe_request(open_set);
	test_confirm(set, token, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_CLOSED);
	test_assert_strcmp(test_read("members"), "bob@example.net\n");
	test_end();

	test_begin("membership: subscription closed: leaving works");
	req.rcpt_to = "friends+unsubscribe@lists.example";
	req.mail = test_mail("bob@example.net", NULL, "");
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_CONFIRMATION_SENT);
	token = test_token(test_sent(array_count(&test_relay.sent) - 1));
	req.rcpt_to = t_strconcat("friends+confirm-", token, "@lists.example",
				  NULL);
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_UNSUBSCRIBED);
	test_assert_strcmp(test_read("members"), "");
	test_end();
}

static void test_membership_reenable(void)
{
	const struct vsmlist_settings *set = test_settings(NULL);
	struct vsmlist_membership_outcome outcome;
	struct vsmlist_store_settings store_set;
	struct vsmlist_store *store;
	struct vsmlist_member_set *members;
	const struct vsmlist_member *member;
	const char *token, *error;

	test_begin("membership: a disabled member's confirmed subscription "
		   "enables it");
	test_reset("ann@example.net\n");
	test_write("members.state", "vsmlist-state 1\n"
		   "disabled 5 1795000000 1795000000 ann@example.net\n");
	token = test_subscribe_request(set);
	test_confirm(set, token, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_SUBSCRIBED);
	test_assert(outcome.reenabled);
	test_assert_strcmp(test_read("members"), "ann@example.net\n");
	test_assert(strstr(test_log(&outcome, FALSE),
			   "(a disabled member: enabled again)") != NULL);
	test_assert_strcmp(test_field(&outcome, "vsmlist_reenabled"), "1");

	i_zero(&store_set);
	if (vsmlist_store_open(set->members, &store_set, &store, &error) < 0 ||
	    vsmlist_store_read(store, test_pool, &members, &error) < 0)
		i_fatal("%s", error);
	member = vsmlist_member_set_lookup(members,
		smtp_address_create_temp("ann", "example.net"));
	test_assert(member != NULL &&
		    member->state == VSMLIST_MEMBER_ENABLED &&
		    member->bounce_points == 0);
	vsmlist_store_close(&store);
	test_end();
}

static void test_membership_dict_store(void)
{
	const char *const dict[] = {
		"sieve_vsmlist_members", t_strconcat("dict:file:",
			test_path("members.dict"), NULL), NULL
	};
	const struct vsmlist_settings *set = test_settings(dict);
	struct vsmlist_membership_outcome outcome;
	struct test_request req = {
		.set = set, .rcpt_to = "friends+unsubscribe@lists.example",
		.mail = test_mail("Dan <dan@example.net>", "bye", ""),
	};
	const char *token;

	/* A request looks its requester up alone, never reading the list:
	   bob's row, which a read would log as invalid, is not touched */
	test_begin("membership: a dict store, the requester looked up alone");
	test_reset(NULL);
	test_write("members.dict",
		"shared/vsmlist/friends@lists.example/member/ann@example.net\n"
		"disabled\n"
		"shared/vsmlist/friends@lists.example/bounce_points/"
		"ann@example.net\n5\n"
		"shared/vsmlist/friends@lists.example/member/bob@example.net\n"
		"paused\n");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_NOT_MEMBER);

	/* ann is disabled: she may confirm to be enabled again */
	token = test_subscribe_request(set);
	test_confirm(set, token, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_SUBSCRIBED);
	test_assert(outcome.reenabled);
	test_assert(strstr(test_read("members.dict"),
			   "/member/ann@example.net\nenabled\n") != NULL);
	test_assert(strstr(test_read("members.dict"),
			   "/bounce_points/ann@example.net\n0\n") != NULL);
	test_end();
}

static void test_membership_rate_limit(void)
{
	static const char *const limit2[] = {
		"sieve_vsmlist_confirm_limit", "2", NULL };
	const struct vsmlist_settings *set = test_settings(limit2);
	struct vsmlist_membership_outcome outcome;
	struct test_request req;
	const char *token;

	test_begin("membership: the rate limit counts every mail");
	test_reset("bob@example.net\n");
	i_zero(&req);
	req.set = set;
	req.rcpt_to = "friends+subscribe@lists.example";
	req.mail = test_mail("bob@example.net", NULL, "");
	/* A reply and a confirmation request count alike */
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_ALREADY_MEMBER);
	req.rcpt_to = "friends+unsubscribe@lists.example";
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_CONFIRMATION_SENT);
	token = test_token(test_sent(1));
	(void)test_request_run(&req, &outcome);
	test_assert(vsmlist_membership_outcome_action(&outcome) ==
		    VSMLIST_ACTION_HANDLED);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_RATE_LIMITED);
	test_assert(outcome.reply == VSMLIST_MEMBERSHIP_REPLY_CONFIRM);
	test_assert(!outcome.reply_sent);
	test_assert(array_count(&test_relay.sent) == 2);
	test_assert_strcmp(test_log(&outcome, FALSE),
		"unsubscribe request from bob@example.net: no confirmation request sent: "
		"rate limit: it had 2 mails about membership in 24 hours");
	test_assert_strcmp(test_field(&outcome, "vsmlist_result"),
			   "rate_limited");
	test_assert_strcmp(test_field(&outcome, "vsmlist_reply_sent"), "0");
	test_end();

	test_begin("membership: over the limit, a confirmed change still "
		   "happens");
	req.rcpt_to = t_strconcat("friends+confirm-", token, "@lists.example",
				  NULL);
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_UNSUBSCRIBED);
	test_assert(!outcome.reply_sent);
	test_assert_strcmp(test_read("members"), "");
	test_assert_strcmp(outcome.note, "no goodbye sent: it had 2 mails "
			   "about membership in 24 hours");
	test_assert(array_count(&test_relay.sent) == 2);
	test_end();

	test_begin("membership: the window is 24 hours, per address");
	req.rcpt_to = "friends+subscribe@lists.example";
	req.now = TEST_NOW + TEST_DAY + 1;
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_CONFIRMATION_SENT);
	req.now = 0;
	req.mail = test_mail("carol@example.net", NULL, "");
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_CONFIRMATION_SENT);
	test_end();
}

static void test_membership_guard(void)
{
	static const struct {
		const char *mail_from, *extra, *reason;
	} tests[] = {
		{ "", "", "null envelope sender" },
		{ NULL, "Auto-Submitted: auto-replied\r\n",
		  "Auto-Submitted: auto-replied" },
		{ NULL, "X-Loop: friends@lists.example\r\n", "mail loop" },
		{ NULL, "List-Id: Friends <friends.lists.example>\r\n",
		  "mail loop" },
	};
	const struct vsmlist_settings *set = test_settings(NULL);
	struct vsmlist_membership_outcome outcome;
	struct test_request req;
	unsigned int i;

	test_begin("membership: the guard: ignored and kept");
	test_reset("");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		i_zero(&req);
		req.set = set;
		req.rcpt_to = "friends+subscribe@lists.example";
		req.mail_from = tests[i].mail_from;
		req.mail = test_mail("ann@example.net", NULL, tests[i].extra);
		test_assert_idx(test_request_run(&req, &outcome) ==
				VSMLIST_ACTION_KEEP, i);
		test_assert_idx(outcome.result ==
				VSMLIST_MEMBERSHIP_IGNORED, i);
		test_assert_idx(str_begins(outcome.reason, tests[i].reason), i);
		test_assert_idx(str_begins(test_log(&outcome, FALSE),
			"membership request ignored: "), i);
		test_assert_strcmp_idx(test_field(&outcome, "vsmlist_result"),
				       "ignored", i);
	}
	test_assert(array_count(&test_relay.sent) == 0);
	test_assert(test_read("confirm-limit") == NULL);
	test_end();
}

static void test_membership_requesters(void)
{
	static const struct {
		const char *from, *address;
	} tests[] = {
		/* Usable: the first mailbox, its domain in A-labels */
		{ "\"Doe, John\" <\"john doe\"@example.net>",
		  "\"john doe\"@example.net" },
		{ "(comment) ann (more) @ example.net (x)", "ann@example.net" },
		{ "Ann <ann@b\xc3\xbc""cher.example>",
		  "ann@xn--bcher-kva.example" },
		{ "=?utf-8?q?B=C3=BCcher?= <ann@EXAMPLE.net.>",
		  "ann@example.net" },
		{ "ann@example.net, bob@example.net", "ann@example.net" },
		/* Refused */
		{ "a@b@c.example", NULL },
		{ "caf\xc3\xa9@example.net", NULL },
		{ "a\x01""b@example.net", NULL },
		{ "undisclosed-recipients:;", NULL },
		{ "no address here", NULL },
		{ "ann@[192.0.2.1]", NULL },
		{ "ann@", NULL },
		{ "friends@lists.example", NULL },
		{ "Friends+Bounces@lists.example", NULL },
		{ "friends+confirm-x@LISTS.example", NULL },
	};
	const struct vsmlist_settings *set = test_settings(NULL);
	struct vsmlist_membership_outcome outcome;
	struct test_request req;
	unsigned int i, sent;

	test_begin("membership: hostile requesters");
	test_reset("");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		sent = array_count(&test_relay.sent);
		i_zero(&req);
		req.set = set;
		req.rcpt_to = "friends+subscribe@lists.example";
		req.mail = test_mail(tests[i].from, NULL, "");
		(void)test_request_run(&req, &outcome);
		if (tests[i].address == NULL) {
			test_assert_idx(outcome.result ==
				VSMLIST_MEMBERSHIP_INVALID_REQUESTER, i);
			test_assert_idx(vsmlist_membership_outcome_action(
				&outcome) == VSMLIST_ACTION_KEEP, i);
			test_assert_idx(array_count(&test_relay.sent) == sent,
					i);
			test_assert_idx(str_begins(test_log(&outcome, FALSE),
				"subscribe request refused: "), i);
			continue;
		}
		test_assert_idx(outcome.result ==
				VSMLIST_MEMBERSHIP_CONFIRMATION_SENT, i);
		test_assert_strcmp_idx(outcome.address, tests[i].address, i);
		test_assert_strcmp_idx(test_sent(sent)->rcpt,
				       tests[i].address, i);
	}
	/* 65 octets of local part */
	req.mail = test_mail("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			     "aaaaaaaaaaaaaa@example.net", NULL, "");
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_INVALID_REQUESTER);
	test_assert(strstr(outcome.reason, "longer than 64") != NULL);
	test_end();

	test_begin("membership: a confirmation from an unusable From uses "
		   "the envelope sender");
	test_reset("");
	req.rcpt_to = "friends+confirm-aaaa@lists.example";
	req.mail = test_mail("a@b@c.example", NULL, "");
	req.mail_from = "ann@example.net";
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_BAD_TOKEN);
	test_assert_strcmp(outcome.address, "ann@example.net");
	/* Never the list's own addresses, not even from the envelope */
	req.mail_from = "friends+bounces@lists.example";
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_INVALID_REQUESTER);
	test_assert(array_count(&test_relay.sent) == 1);
	test_end();
}

static void test_membership_long_list_name(void)
{
	static const char *const long_local[] = {
		"sieve_vsmlist_address",
		"the-thirty-two-octet-list-name-x@lists.example", NULL };
	struct vsmlist_membership_outcome outcome;
	struct test_request req;
	const char *confirm;

	test_begin("membership: a confirm address over 64 octets: a note");
	test_reset("");
	i_zero(&req);
	req.set = test_settings(long_local);
	req.rcpt_to = "the-thirty-two-octet-list-name-x+subscribe@lists.example";
	req.mail = test_mail("ann@example.net", NULL, "");
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_CONFIRMATION_SENT);
	test_assert(array_count(&test_relay.sent) == 1);
	if (array_count(&test_relay.sent) == 0)
		return;
	confirm = test_header(test_sent(0), "Reply-To");
	test_assert(strchr(confirm, '@') - confirm == 65);
	test_assert_strcmp(outcome.note, "the confirm address's local part is "
			   "longer than 64 octets: confirmations rely on the "
			   "Subject");
	/* The Subject route confirms */
	req.rcpt_to = "the-thirty-two-octet-list-name-x@lists.example";
	req.mail = test_mail("ann@example.net", t_strconcat("Re: ",
		test_header(test_sent(0), "Subject"), NULL), "");
	(void)test_request_run(&req, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_SUBSCRIBED);
	test_end();
}

static void test_membership_failures(void)
{
	const struct vsmlist_settings *set = test_settings(NULL);
	struct vsmlist_membership_outcome outcome;
	struct test_request req;
	const char *token;

	i_zero(&req);
	req.set = set;
	req.rcpt_to = "friends+subscribe@lists.example";
	req.mail = test_mail("ann@example.net", NULL, "");

	test_begin("membership: the relay fails temporarily: deferred");
	test_reset("");
	test_relay.ret = -1;
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_TEMPFAIL);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_DEFERRED);
	test_assert_strcmp(test_log(&outcome, TRUE),
		"subscribe request from ann@example.net: connect: refused "
		"(temporary failure)");
	test_assert_strcmp(test_field(&outcome, "error"), "connect: refused");
	test_reset("");
	test_relay.status = VSMLIST_RCPT_DEFERRED;
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_TEMPFAIL);
	test_end();

	test_begin("membership: the relay refuses the requester: failed");
	test_reset("");
	test_relay.status = VSMLIST_RCPT_REJECTED;
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_FAILURE);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_FAILED);
	test_assert_strcmp(outcome.reason, "the relay refused "
			   "ann@example.net: 550 5.1.1 no such user");
	test_end();

	test_begin("membership: the welcome fails after the change: a note");
	test_reset("");
	token = test_subscribe_request(set);
	test_relay.ret = -1;
	test_confirm(set, token, &outcome);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_SUBSCRIBED);
	test_assert_strcmp(outcome.note, "no welcome sent: connect: refused");
	test_assert_strcmp(test_read("members"), "ann@example.net\n");
	test_relay.ret = 1;
	test_end();

	test_begin("membership: the store cannot be read: deferred");
	test_reset(NULL);
	if (mkdir(test_path("members"), 0700) < 0)
		i_fatal("mkdir() failed: %m");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_TEMPFAIL);
	test_assert(str_begins(outcome.reason, "member store: "));
	test_assert(array_count(&test_relay.sent) == 0);
	test_end();

	test_begin("membership: no member file: failed");
	test_reset(NULL);
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_FAILURE);
	test_assert(strstr(outcome.reason, "does not exist") != NULL);
	test_end();

	test_begin("membership: a secret nobody else may read");
	test_reset("");
	test_write("secret", "0123456789abcdef0123456789abcdef");
	if (chmod(test_path("secret"), 0644) < 0)
		i_fatal("chmod() failed: %m");
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_FAILURE);
	test_assert(str_begins(outcome.reason, "confirmation secret: "));
	test_end();

	test_begin("membership: no home: failed");
	req.set = test_settings_env(NULL, NULL, (const char *const []){
		"sieve_vsmlist_members", "file:/nonexistent/members",
		"sieve_vsmlist_dns_cache", "no",
		"sieve_vsmlist_progress", "no", NULL });
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_FAILURE);
	test_assert(strstr(outcome.reason, "no home directory") != NULL);
	test_end();

	test_begin("membership: invalid settings, a malformed mail");
	req.set = NULL;
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_FAILURE);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_INVALID_SETTINGS);
	test_assert(strstr(test_log(&outcome, TRUE), "sieve_vsmlist_dmarc") !=
		    NULL);
	req.set = set;
	req.mail = "From: ann@example.net\r\nSubject: sub\0scribe\r\n\r\n";
	req.mail_size = 46;
	test_assert(test_request_run(&req, &outcome) ==
		    VSMLIST_ACTION_KEEP);
	test_assert(outcome.result == VSMLIST_MEMBERSHIP_MALFORMED);
	test_end();
}

static void test_membership_teardown(void)
{
	pool_unref(&test_relay.pool);
	pool_unref(&test_pool);
}

static void test_membership_setup(void)
{
	test_pool = pool_alloconly_create("test membership", 65536);
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_membership_setup,
		test_membership_subscribe,
		test_membership_subject_route,
		test_membership_unsubscribe,
		test_membership_tokens,
		test_membership_closed,
		test_membership_reenable,
		test_membership_dict_store,
		test_membership_rate_limit,
		test_membership_guard,
		test_membership_requesters,
		test_membership_long_list_name,
		test_membership_failures,
		test_membership_teardown,
		NULL
	};
	int ret;

	vsmlist_compose_init();
	ret = test_vsmlist_run_in_tmpdir(test_functions, &test_tmpdir);
	return ret;
}
