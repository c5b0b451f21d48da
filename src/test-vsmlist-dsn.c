/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* The report samples are files in sieve-tests/dsn/ (DSN_SAMPLES_DIR),
   shared with the integration tests; generated reports are built here. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "unichar.h"
#include "istream.h"
#include "smtp-address.h"
#include "test-common.h"
#include "vsmlist-store.h"
#include "vsmlist-dsn.h"
#include "vsmlist-verp.h"

static pool_t test_pool;

static void test_dsn_stream(struct istream *input, struct vsmlist_dsn *dsn_r)
{
	const char *error;

	p_clear(test_pool);
	test_assert(vsmlist_dsn_parse(test_pool, input, dsn_r, &error) == 0);
}

static void test_dsn_file(const char *name, struct vsmlist_dsn *dsn_r)
{
	struct istream *input;

	input = i_stream_create_file(t_strconcat(DSN_SAMPLES_DIR"/", name,
						 NULL), 4096);
	test_dsn_stream(input, dsn_r);
	test_assert(input->stream_errno == 0);
	i_stream_unref(&input);
}

static void test_dsn_data(const void *data, size_t size,
			  struct vsmlist_dsn *dsn_r)
{
	struct istream *input = i_stream_create_from_data(data, size);

	test_dsn_stream(input, dsn_r);
	i_stream_unref(&input);
}

static const struct vsmlist_dsn_recipient *
test_rcpt(const struct vsmlist_dsn *dsn, unsigned int idx)
{
	return array_idx(&dsn->recipients, idx);
}

static const char *test_addr(const struct smtp_address *address)
{
	return address == NULL ? NULL : smtp_address_encode(address);
}

static bool test_status(const struct vsmlist_dsn_recipient *rcpt,
			unsigned int class, unsigned int subject,
			unsigned int detail)
{
	return rcpt->status.valid && !rcpt->status.malformed &&
		rcpt->status.class == class &&
		rcpt->status.subject == subject &&
		rcpt->status.detail == detail;
}

/* Everything the parser found, one line each, to compare two parses */
static const char *test_dsn_describe(const struct vsmlist_dsn *dsn)
{
	const struct vsmlist_dsn_recipient *rcpt;
	string_t *str = t_str_new(256);

	str_printfa(str, "%d %d %d %s %s %s %u %s %s %s\n", dsn->is_report,
		    dsn->forwarded, dsn->truncated, dsn->envid,
		    dsn->reporting_mta, dsn->arrival_date,
		    dsn->recipients_skipped, dsn->problem,
		    dsn->auto_reply_sign, dsn->bounce_sign);
	array_foreach(&dsn->recipients, rcpt) {
		str_printfa(str, "%s|%s|%s|%s|%s|%u.%u.%u %d %d|%s|%s|%s\n",
			    rcpt->original_recipient_raw,
			    test_addr(rcpt->original_recipient),
			    rcpt->final_recipient_raw,
			    test_addr(rcpt->final_recipient),
			    vsmlist_dsn_action_name(rcpt->action),
			    rcpt->status.class, rcpt->status.subject,
			    rcpt->status.detail, rcpt->status.valid,
			    rcpt->status.malformed, rcpt->status_raw,
			    rcpt->diagnostic, rcpt->remote_mta);
	}
	return str_c(str);
}

static void test_dsn_postfix(void)
{
	const struct vsmlist_dsn_recipient *rcpt;
	struct vsmlist_dsn dsn;
	const char *reason;

	test_begin("dsn: Postfix, failed 5.1.1 with Original-Recipient");
	test_dsn_file("postfix-failed.eml", &dsn);
	test_assert(dsn.is_report && !dsn.forwarded && !dsn.truncated);
	test_assert_strcmp(dsn.reporting_mta, "dns; mx.example.net");
	test_assert_strcmp(dsn.envid, "post-20240604-0001");
	test_assert_strcmp(dsn.arrival_date,
			   "Tue, 4 Jun 2024 10:11:58 +0200 (CEST)");
	test_assert(array_count(&dsn.recipients) == 1);
	test_assert(dsn.recipients_skipped == 0 && dsn.problem == NULL);
	rcpt = test_rcpt(&dsn, 0);
	test_assert_strcmp(test_addr(rcpt->final_recipient), "ann@example.net");
	test_assert_strcmp(rcpt->original_recipient_raw,
			   "rfc822;Ann.Smith@Example.NET");
	/* The list's ORCPT names the member, whatever forwarding did */
	test_assert_strcmp(vsmlist_store_address_key(
		vsmlist_dsn_recipient_address(rcpt)),
		"ann.smith@example.net");
	test_assert(rcpt->action == VSMLIST_DSN_ACTION_FAILED);
	test_assert(test_status(rcpt, 5, 1, 1));
	test_assert(vsmlist_dsn_recipient_is_hard_failure(rcpt));
	test_assert_strcmp(rcpt->diagnostic,
		"smtp; 550 5.1.1 <ann@example.net>: Recipient address "
		"rejected: User unknown in local recipient table");
	test_assert_strcmp(rcpt->remote_mta, "dns; mail.example.net");
	/* Postfix marks its bounces auto-replied: still no auto-reply */
	test_assert_strcmp(dsn.auto_reply_sign, "Auto-Submitted: auto-replied");
	test_assert(!vsmlist_dsn_is_auto_reply(&dsn, &reason));
	test_end();

	test_begin("dsn: Postfix, delayed 4.4.1");
	test_dsn_file("postfix-delayed.eml", &dsn);
	test_assert(dsn.is_report && array_count(&dsn.recipients) == 1);
	rcpt = test_rcpt(&dsn, 0);
	test_assert_strcmp(test_addr(vsmlist_dsn_recipient_address(rcpt)),
			   "carol@slow.example");
	test_assert(rcpt->action == VSMLIST_DSN_ACTION_DELAYED);
	test_assert(test_status(rcpt, 4, 4, 1));
	test_assert(!vsmlist_dsn_recipient_is_hard_failure(rcpt));
	test_assert_strcmp(rcpt->diagnostic, "X-Postfix; connect to "
		"mx.slow.example[198.51.100.7]:25: Connection timed out");
	test_end();
}

static void test_dsn_exim(void)
{
	const struct vsmlist_dsn_recipient *rcpt;
	struct vsmlist_dsn dsn;
	const char *error;
	struct smtp_address *verp;

	test_begin("dsn: Exim (Action before Final-Recipient, X-Failed-Recipients)");
	test_dsn_file("exim.eml", &dsn);
	test_assert(dsn.is_report && dsn.problem == NULL);
	test_assert_strcmp(dsn.reporting_mta, "dns; smtp.exim.example");
	test_assert(dsn.envid == NULL && dsn.arrival_date == NULL);
	test_assert(array_count(&dsn.recipients) == 1);
	rcpt = test_rcpt(&dsn, 0);
	test_assert(rcpt->original_recipient == NULL);
	test_assert_strcmp(test_addr(vsmlist_dsn_recipient_address(rcpt)),
			   "dave@exim.example");
	test_assert(test_status(rcpt, 5, 0, 0));
	test_assert(vsmlist_dsn_recipient_is_hard_failure(rcpt));
	test_assert_strcmp(rcpt->remote_mta, "dns; mx.exim.example");
	test_assert_strcmp(dsn.bounce_sign, "X-Failed-Recipients");
	/* It went to the member's VERP address, which agrees */
	test_assert(vsmlist_verp_decode(pool_datastack_create(),
		smtp_address_create_temp("friends+bounces-dave=exim.example",
					 "example.org"),
		"friends", "+", &verp, &error) == 1);
	test_assert_strcmp(vsmlist_store_address_key(verp),
			   vsmlist_store_address_key(
				vsmlist_dsn_recipient_address(rcpt)));
	test_end();
}

static void test_dsn_exchange(void)
{
	const struct vsmlist_dsn_recipient *rcpt;
	struct vsmlist_dsn dsn;

	test_begin("dsn: Exchange (CRLF, text part first, 5.1.10)");
	test_dsn_file("exchange.eml", &dsn);
	test_assert(dsn.is_report && dsn.problem == NULL);
	test_assert_strcmp(dsn.reporting_mta,
		"dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com");
	test_assert_strcmp(dsn.arrival_date, "Tue, 4 Jun 2024 11:02:12 +0000");
	test_assert(array_count(&dsn.recipients) == 1);
	rcpt = test_rcpt(&dsn, 0);
	test_assert_strcmp(test_addr(rcpt->final_recipient),
			   "erin@contoso.example");
	test_assert_strcmp(rcpt->final_recipient_raw,
			   "rfc822;erin@contoso.example");
	test_assert(test_status(rcpt, 5, 1, 10));
	test_assert(vsmlist_dsn_recipient_is_hard_failure(rcpt));
	test_assert_strcmp(rcpt->diagnostic, "smtp;550 5.1.10 "
		"RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
		"address lookup");
	/* postmaster@ */
	test_assert(dsn.bounce_sign != NULL);
	test_end();
}

static void test_dsn_gmail(void)
{
	const struct vsmlist_dsn_recipient *rcpt;
	struct vsmlist_dsn dsn;

	test_begin("dsn: Gmail (report-type after boundary, folded fields)");
	test_dsn_file("gmail.eml", &dsn);
	test_assert(dsn.is_report && dsn.problem == NULL);
	test_assert_strcmp(dsn.reporting_mta, "dns; googlemail.com");
	test_assert(array_count(&dsn.recipients) == 1);
	rcpt = test_rcpt(&dsn, 0);
	test_assert_strcmp(test_addr(rcpt->final_recipient),
			   "frank.nonexistent@gmail.com");
	test_assert(test_status(rcpt, 5, 1, 1));
	test_assert(vsmlist_dsn_recipient_is_hard_failure(rcpt));
	test_assert_strcmp(rcpt->remote_mta,
		"dns; gmail-smtp-in.l.google.com. (2a00:1450:400c:c0a::1b, "
		"the server for the domain gmail.com.)");
	test_assert(str_begins(rcpt->diagnostic, "smtp; 550-5.1.1 The email "
			       "account that you tried to reach does not "
			       "exist. Please try 550-5.1.1 double-checking"));
	test_assert(strstr(rcpt->diagnostic, "- gsmtp") != NULL);
	test_end();
}

static void test_dsn_global(void)
{
	const struct vsmlist_dsn_recipient *rcpt;
	struct vsmlist_dsn dsn;

	test_begin("dsn: RFC 6533 global report in base64, utf-8 addresses");
	test_dsn_file("global-base64.eml", &dsn);
	test_assert(dsn.is_report && dsn.problem == NULL);
	test_assert_strcmp(dsn.envid, "post-20240604-0005");
	test_assert(array_count(&dsn.recipients) == 1);
	rcpt = test_rcpt(&dsn, 0);
	test_assert_strcmp(rcpt->original_recipient_raw,
			   "utf-8; J\xc3\xb6rg@example.de");
	/* Dovecot's SMTP addresses are ASCII: no store holds this one */
	test_assert(rcpt->original_recipient == NULL);
	test_assert_strcmp(test_addr(rcpt->final_recipient),
			   "ivan@example.de");
	test_assert_strcmp(test_addr(vsmlist_dsn_recipient_address(rcpt)),
			   "ivan@example.de");
	test_assert(vsmlist_dsn_recipient_is_hard_failure(rcpt));
	test_assert_strcmp(rcpt->diagnostic, "smtp; 550 5.1.1 Benutzer "
			   "unbekannt \xe2\x80\x93 Postfach existiert nicht");
	test_end();
}

static void test_dsn_qmail(void)
{
	struct vsmlist_dsn dsn;
	struct smtp_address *member;
	const char *reason, *error;

	test_begin("dsn: qmail text bounce, named by its VERP address");
	test_dsn_file("qmail.eml", &dsn);
	test_assert(!dsn.is_report && array_count(&dsn.recipients) == 0);
	test_assert(dsn.problem == NULL);
	test_assert_strcmp(dsn.bounce_sign, "From: MAILER-DAEMON or postmaster");
	test_assert(!vsmlist_dsn_is_auto_reply(&dsn, &reason));
	test_assert(vsmlist_verp_decode(pool_datastack_create(),
		smtp_address_create_temp("friends+bounces-gina=qmail.example",
					 "example.org"),
		"friends", "+", &member, &error) == 1);
	test_assert_strcmp(smtp_address_encode(member), "gina@qmail.example");
	test_end();
}

static void test_dsn_exchange_text(void)
{
	struct vsmlist_dsn dsn;
	const char *reason;

	test_begin("dsn: Exchange plain-text NDR, named by its VERP address");
	test_dsn_file("exchange-text.eml", &dsn);
	/* No report to read: the VERP address names the member */
	test_assert(!dsn.is_report && array_count(&dsn.recipients) == 0);
	test_assert_strcmp(dsn.bounce_sign, "From: MAILER-DAEMON or postmaster");
	/* "Undeliverable:" is a bounce, not an out-of-office reply */
	test_assert(!vsmlist_dsn_is_auto_reply(&dsn, &reason));
	test_end();
}

static void test_dsn_forwarded(void)
{
	const struct vsmlist_dsn_recipient *rcpt;
	struct vsmlist_dsn dsn;

	test_begin("dsn: a report forwarded as message/rfc822");
	test_dsn_file("forwarded.eml", &dsn);
	test_assert(dsn.is_report && dsn.forwarded && !dsn.truncated);
	test_assert_strcmp(dsn.reporting_mta, "dns; forwarder.example");
	test_assert(array_count(&dsn.recipients) == 1);
	rcpt = test_rcpt(&dsn, 0);
	test_assert_strcmp(test_addr(vsmlist_dsn_recipient_address(rcpt)),
			   "jane@gone.example");
	test_assert(vsmlist_dsn_recipient_is_hard_failure(rcpt));
	/* The signs are the forwarder's own header's */
	test_assert(dsn.auto_reply_sign == NULL && dsn.bounce_sign == NULL);
	test_end();
}

static const char test_report_head[] =
	"From: MAILER-DAEMON@mx.example.net\n"
	"Subject: Undelivered Mail Returned to Sender\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/report; report-type=delivery-status;"
	" boundary=bb\n"
	"\n"
	"--bb\n"
	"Content-Type: message/delivery-status\n"
	"\n"
	"Reporting-MTA: dns; mx.example.net\n"
	"\n";

static void test_dsn_nesting(void)
{
	struct vsmlist_dsn dsn;
	string_t *msg = t_str_new(1024);
	const char *inner = t_strconcat(test_report_head,
		"Final-Recipient: rfc822; nested@example.net\n"
		"Action: failed\nStatus: 5.1.1\n\n--bb--\n", NULL);

	test_begin("dsn: one level of forwarding, not two");
	str_printfa(msg, "Subject: fwd fwd\nMIME-Version: 1.0\n"
		    "Content-Type: message/rfc822\n\n"
		    "Subject: fwd\nMIME-Version: 1.0\n"
		    "Content-Type: message/rfc822\n\n%s", inner);
	test_dsn_data(str_data(msg), str_len(msg), &dsn);
	test_assert(!dsn.is_report && array_count(&dsn.recipients) == 0);

	/* A report's returned original is never searched: its own
	   recipients count, not those of a report inside */
	str_truncate(msg, 0);
	str_printfa(msg, "%s"
		    "Final-Recipient: rfc822; outer@example.net\n"
		    "Action: delayed\nStatus: 4.4.1\n\n"
		    "--bb\nContent-Type: message/rfc822\n\n%s--bb--\n",
		    test_report_head, inner);
	test_dsn_data(str_data(msg), str_len(msg), &dsn);
	test_assert(dsn.is_report && !dsn.forwarded);
	test_assert(array_count(&dsn.recipients) == 1);
	test_assert_strcmp(test_addr(test_rcpt(&dsn, 0)->final_recipient),
			   "outer@example.net");
	test_end();
}

static void test_dsn_not_reports(void)
{
	static const char *const messages[] = {
		/* A report of another type (an MDN) */
		"MIME-Version: 1.0\nContent-Type: multipart/report; "
		"report-type=disposition-notification; boundary=bb\n\n--bb\n"
		"Content-Type: message/delivery-status\n\n"
		"Final-Recipient: rfc822; a@example.net\nAction: failed\n"
		"Status: 5.1.1\n\n--bb--\n",
		/* No multipart/report around it */
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; "
		"boundary=bb\n\n--bb\nContent-Type: message/delivery-status\n"
		"\nFinal-Recipient: rfc822; a@example.net\nAction: failed\n"
		"Status: 5.1.1\n\n--bb--\n",
		"Content-Type: message/delivery-status\n\n"
		"Final-Recipient: rfc822; a@example.net\n",
		/* The status part nested deeper than a direct child */
		"MIME-Version: 1.0\nContent-Type: multipart/report; "
		"report-type=delivery-status; boundary=bb\n\n--bb\n"
		"Content-Type: multipart/mixed; boundary=cc\n\n--cc\n"
		"Content-Type: message/delivery-status\n\n"
		"Final-Recipient: rfc822; a@example.net\n\n--cc--\n--bb--\n",
		"Subject: plain text\n\nFinal-Recipient: rfc822; a@example.net\n",
		"",
	};
	struct vsmlist_dsn dsn;
	unsigned int i;

	test_begin("dsn: not reports");
	for (i = 0; i < N_ELEMENTS(messages); i++) {
		test_dsn_data(messages[i], strlen(messages[i]), &dsn);
		test_assert_idx(!dsn.is_report, i);
		test_assert_idx(array_count(&dsn.recipients) == 0, i);
	}
	test_dsn_data(messages[3], strlen(messages[3]), &dsn);
	test_assert_strcmp(dsn.problem,
			   "multipart/report without a delivery-status part");
	test_end();
}

static void test_dsn_many_recipients(void)
{
	const struct vsmlist_dsn_recipient *rcpt;
	struct vsmlist_dsn dsn;
	string_t *msg = str_new(default_pool, 1024 * 1024);
	unsigned int i;

	test_begin("dsn: 10,000 recipient blocks");
	str_append(msg, test_report_head);
	for (i = 0; i < 10000; i++) {
		str_printfa(msg, "Final-Recipient: rfc822; r%u@example.net\n"
			    "Action: failed\nStatus: 5.1.1\n"
			    "Diagnostic-Code: smtp; 550 5.1.1 no such user\n"
			    "\n", i);
	}
	str_append(msg, "--bb--\n");
	test_dsn_data(str_data(msg), str_len(msg), &dsn);
	test_assert(dsn.is_report && !dsn.truncated);
	test_assert(array_count(&dsn.recipients) ==
		    VSMLIST_DSN_MAX_RECIPIENTS);
	test_assert(dsn.recipients_skipped ==
		    10000 - VSMLIST_DSN_MAX_RECIPIENTS);
	test_assert_strcmp(dsn.problem, "too many recipient blocks "
			   "(the rest counted, not parsed)");
	rcpt = test_rcpt(&dsn, VSMLIST_DSN_MAX_RECIPIENTS - 1);
	test_assert_strcmp(test_addr(rcpt->final_recipient),
			   t_strdup_printf("r%u@example.net",
					   VSMLIST_DSN_MAX_RECIPIENTS - 1));
	test_assert(vsmlist_dsn_recipient_is_hard_failure(rcpt));
	str_free(&msg);
	test_end();
}

static void test_dsn_truncated(void)
{
	struct vsmlist_dsn dsn;
	static const char *const cut_points[] = {
		/* cut inside a field name, after a complete line, in the
		   middle of an address */
		"Act", "Action: failed\n", "Final-Recipient: rfc822; max@ex",
	};
	unsigned int i;

	test_begin("dsn: truncated report");
	test_dsn_file("truncated.eml", &dsn);
	test_assert(dsn.is_report && dsn.truncated);
	test_assert(array_count(&dsn.recipients) == 2);
	test_assert_strcmp(test_addr(test_rcpt(&dsn, 0)->final_recipient),
			   "kim@example.net");
	test_assert_strcmp(test_addr(test_rcpt(&dsn, 1)->final_recipient),
			   "lee@example.net");
	test_assert(test_status(test_rcpt(&dsn, 1), 5, 2, 1));
	/* The cut block is counted, never half-used */
	test_assert(dsn.recipients_skipped == 1);
	test_assert_strcmp(dsn.problem,
			   "delivery-status part not closed (truncated)");

	for (i = 0; i < N_ELEMENTS(cut_points); i++) {
		const char *msg = t_strconcat(test_report_head,
			"Final-Recipient: rfc822; kim@example.net\n"
			"Action: failed\nStatus: 5.1.1\n\n",
			cut_points[i], NULL);
		test_dsn_data(msg, strlen(msg), &dsn);
		test_assert_idx(dsn.truncated, i);
		test_assert_idx(array_count(&dsn.recipients) == 1, i);
		test_assert_idx(dsn.recipients_skipped == 1, i);
	}
	/* Cut right after a blank line: nothing lost, still truncated */
	const char *msg = t_strconcat(test_report_head,
		"Final-Recipient: rfc822; kim@example.net\n\n", NULL);
	test_dsn_data(msg, strlen(msg), &dsn);
	test_assert(dsn.truncated && array_count(&dsn.recipients) == 1 &&
		    dsn.recipients_skipped == 0);
	test_end();
}

static void test_dsn_malformed_status(void)
{
	static const struct {
		const char *raw;
		bool malformed;
		bool hard;
	} expect[] = {
		{ "5.1", TRUE, FALSE },
		{ "9.9.9", TRUE, FALSE },
		{ "5.1.1.1", TRUE, FALSE },
		{ "abc", TRUE, FALSE },
		{ "5.7.1 (delivery not authorized)", FALSE, TRUE },
		{ "4.2.2", FALSE, FALSE },
		{ "5.1.1", FALSE, TRUE },	/* x400 */
		{ "5.1.1", FALSE, FALSE },	/* Action: bounced */
		{ NULL, FALSE, FALSE },		/* no Status */
		{ "5.1.1000", TRUE, FALSE },
		{ "5.1.1", FALSE, TRUE },	/* not an address */
	};
	const struct vsmlist_dsn_recipient *rcpt;
	struct vsmlist_dsn dsn;
	unsigned int i;

	test_begin("dsn: malformed status codes, odd types and actions");
	test_dsn_file("malformed-status.eml", &dsn);
	test_assert(dsn.is_report && dsn.problem == NULL);
	test_assert(array_count(&dsn.recipients) == N_ELEMENTS(expect));
	for (i = 0; i < N_ELEMENTS(expect) &&
		    i < array_count(&dsn.recipients); i++) {
		rcpt = test_rcpt(&dsn, i);
		test_assert_strcmp_idx(rcpt->status_raw, expect[i].raw, i);
		test_assert_idx(rcpt->status.malformed == expect[i].malformed,
				i);
		test_assert_idx(rcpt->status.valid ==
				(expect[i].raw != NULL &&
				 !expect[i].malformed), i);
		test_assert_idx(vsmlist_dsn_recipient_is_hard_failure(rcpt) ==
				expect[i].hard, i);
	}
	/* "RFC822; <s5@example.net>", "Action: Failed (permanent)" */
	rcpt = test_rcpt(&dsn, 4);
	test_assert_strcmp(test_addr(rcpt->final_recipient), "s5@example.net");
	test_assert(rcpt->action == VSMLIST_DSN_ACTION_FAILED);
	test_assert(test_status(rcpt, 5, 7, 1));
	/* x400: kept as text, no address */
	rcpt = test_rcpt(&dsn, 6);
	test_assert_strcmp(rcpt->final_recipient_raw,
			   "x400; /C=DE/ADMD=x/PRMD=y/O=z/S=Schmidt/");
	test_assert(rcpt->final_recipient == NULL &&
		    vsmlist_dsn_recipient_address(rcpt) == NULL);
	test_assert(test_rcpt(&dsn, 7)->action == VSMLIST_DSN_ACTION_UNKNOWN);
	test_assert(test_rcpt(&dsn, 10)->final_recipient == NULL);
	test_end();
}

static void test_dsn_actions(void)
{
	static const struct {
		const char *address;
		enum vsmlist_dsn_action action;
		bool hard;
	} expect[] = {
		{ "delivered@example.net", VSMLIST_DSN_ACTION_DELIVERED, FALSE },
		{ "relayed@example.net", VSMLIST_DSN_ACTION_RELAYED, FALSE },
		{ "expanded@example.net", VSMLIST_DSN_ACTION_EXPANDED, FALSE },
		{ "delayed@example.net", VSMLIST_DSN_ACTION_DELAYED, FALSE },
		/* failed, but 4.x.x: not for good */
		{ "temporary@example.net", VSMLIST_DSN_ACTION_FAILED, FALSE },
		/* a 5.x.x status with an action that is no failure */
		{ "odd-relayed@example.net", VSMLIST_DSN_ACTION_RELAYED, FALSE },
		{ "odd-delivered@example.net", VSMLIST_DSN_ACTION_DELIVERED,
		  FALSE },
		{ "gone@example.net", VSMLIST_DSN_ACTION_FAILED, TRUE },
	};
	const struct vsmlist_dsn_recipient *rcpt;
	struct vsmlist_dsn dsn;
	unsigned int i;

	test_begin("dsn: only failed with 5.x.x is a hard failure");
	test_dsn_file("actions.eml", &dsn);
	test_assert(dsn.is_report && dsn.problem == NULL);
	test_assert(array_count(&dsn.recipients) == N_ELEMENTS(expect));
	for (i = 0; i < N_ELEMENTS(expect) &&
		    i < array_count(&dsn.recipients); i++) {
		rcpt = test_rcpt(&dsn, i);
		test_assert_strcmp_idx(test_addr(rcpt->final_recipient),
				       expect[i].address, i);
		test_assert_idx(rcpt->action == expect[i].action, i);
		test_assert_idx(vsmlist_dsn_recipient_is_hard_failure(rcpt) ==
				expect[i].hard, i);
	}
	test_end();
}

static void test_dsn_8bit_nul(void)
{
	const struct vsmlist_dsn_recipient *rcpt;
	struct vsmlist_dsn dsn;

	test_begin("dsn: 8-bit and NUL octets");
	test_dsn_file("8bit-nul.eml", &dsn);
	test_assert(dsn.is_report);
	test_assert(uni_utf8_str_is_valid(dsn.reporting_mta));
	test_assert(strstr(dsn.reporting_mta, UNICODE_REPLACEMENT_CHAR_UTF8)
		    != NULL);
	test_assert(array_count(&dsn.recipients) == 3);
	/* A NUL inside the address or after the status */
	rcpt = test_rcpt(&dsn, 0);
	test_assert(rcpt->final_recipient == NULL);
	test_assert(rcpt->status.malformed);
	test_assert(!vsmlist_dsn_recipient_is_hard_failure(rcpt));
	rcpt = test_rcpt(&dsn, 1);
	test_assert_strcmp(test_addr(rcpt->final_recipient),
			   "olga@example.net");
	test_assert(vsmlist_dsn_recipient_is_hard_failure(rcpt));
	test_assert(uni_utf8_str_is_valid(rcpt->diagnostic));
	test_assert(strstr(rcpt->diagnostic, "\xc3\xbc ok") != NULL);
	/* 8-bit local parts are no SMTP address here */
	rcpt = test_rcpt(&dsn, 2);
	test_assert(rcpt->final_recipient == NULL);
	test_assert(uni_utf8_str_is_valid(rcpt->final_recipient_raw));
	test_end();
}

static void test_dsn_block_bounds(void)
{
	struct vsmlist_dsn dsn;
	string_t *msg = t_str_new(64 * 1024);
	const char *rest = "Final-Recipient: rfc822; after@example.net\n"
		"Action: failed\nStatus: 5.1.1\n\n--bb--\n";

	test_begin("dsn: an oversized block is skipped, the next one used");
	str_append(msg, test_report_head);
	str_append(msg, "Final-Recipient: rfc822; big@example.net\n"
		   "Diagnostic-Code: smtp; 550");
	while (str_len(msg) < 3 * VSMLIST_DSN_MAX_BLOCK_SIZE)
		str_append(msg, "\n  more text");
	str_append(msg, "\n\n");
	str_append(msg, rest);
	test_dsn_data(str_data(msg), str_len(msg), &dsn);
	test_assert(dsn.is_report && dsn.recipients_skipped == 1);
	test_assert_strcmp(dsn.problem, "oversized block skipped");
	test_assert(array_count(&dsn.recipients) == 1);
	test_assert_strcmp(test_addr(test_rcpt(&dsn, 0)->final_recipient),
			   "after@example.net");

	/* A long value is cut at VSMLIST_DSN_MAX_VALUE_SIZE */
	str_truncate(msg, 0);
	str_append(msg, test_report_head);
	str_append(msg, "Final-Recipient: rfc822; long@example.net\n"
		   "Diagnostic-Code: smtp; ");
	while (str_len(msg) < 4 * VSMLIST_DSN_MAX_VALUE_SIZE)
		str_append(msg, "\xc3\xbc");
	str_append(msg, "\n\n--bb--\n");
	test_dsn_data(str_data(msg), str_len(msg), &dsn);
	test_assert(array_count(&dsn.recipients) == 1);
	test_assert(strlen(test_rcpt(&dsn, 0)->diagnostic) <=
		    VSMLIST_DSN_MAX_VALUE_SIZE);
	test_assert(strlen(test_rcpt(&dsn, 0)->diagnostic) >=
		    VSMLIST_DSN_MAX_VALUE_SIZE - 4);
	test_assert(uni_utf8_str_is_valid(test_rcpt(&dsn, 0)->diagnostic));

	/* An address too long to keep is no address */
	str_truncate(msg, 0);
	str_append(msg, test_report_head);
	str_append(msg, "Final-Recipient: rfc822; ");
	while (str_len(msg) < 2 * VSMLIST_DSN_MAX_VALUE_SIZE)
		str_append(msg, "abcdefgh.");
	str_append(msg, "x@example.net\nAction: failed\nStatus: 5.1.1\n"
		   "\n--bb--\n");
	test_dsn_data(str_data(msg), str_len(msg), &dsn);
	test_assert(array_count(&dsn.recipients) == 1);
	test_assert(test_rcpt(&dsn, 0)->final_recipient == NULL);
	test_assert(strlen(test_rcpt(&dsn, 0)->final_recipient_raw) ==
		    VSMLIST_DSN_MAX_VALUE_SIZE);
	test_end();
}

static void test_dsn_no_per_message_block(void)
{
	struct vsmlist_dsn dsn;
	const char *msg =
		"MIME-Version: 1.0\nContent-Type: multipart/report; "
		"report-type=delivery-status; boundary=bb\n\n--bb\n"
		"Content-Type: message/delivery-status\n\n\n\n"
		"Final-Recipient: rfc822; first@example.net\r\n"
		"Action: failed\r\nStatus: 5.1.1\r\n\r\n\r\n"
		"Final-Recipient: rfc822; second@example.net\n"
		"Action: failed\nStatus: 5.1.2\n"
		"\n--bb--\n";

	test_begin("dsn: no per-message block, extra blank lines, mixed EOLs");
	test_dsn_data(msg, strlen(msg), &dsn);
	test_assert(dsn.is_report && dsn.reporting_mta == NULL);
	test_assert_strcmp(dsn.problem, "no per-message fields");
	test_assert(array_count(&dsn.recipients) == 2);
	test_assert_strcmp(test_addr(test_rcpt(&dsn, 0)->final_recipient),
			   "first@example.net");
	test_assert(test_status(test_rcpt(&dsn, 1), 5, 1, 2));
	test_end();
}

static void test_dsn_chunked_input(void)
{
	static const char *const samples[] = {
		"postfix-failed.eml", "exchange.eml", "gmail.eml",
		"global-base64.eml", "truncated.eml", "malformed-status.eml",
		"8bit-nul.eml", "forwarded.eml",
	};
	/* Dovecot's MIME parser needs a header line (Content-Type with its
	   boundary) to fit into the stream's buffer */
	static const size_t chunk_sizes[] = { 64, 100, 333, 1000 };
	struct vsmlist_dsn dsn;
	struct istream *input;
	const unsigned char *chunk;
	const char *whole;
	buffer_t *data;
	size_t size;
	unsigned int i, j;

	test_begin("dsn: same result however the input is read");
	for (i = 0; i < N_ELEMENTS(samples); i++) {
		data = t_buffer_create(8192);
		input = i_stream_create_file(t_strconcat(DSN_SAMPLES_DIR"/",
							 samples[i], NULL),
					     4096);
		while (i_stream_read_more(input, &chunk, &size) > 0) {
			buffer_append(data, chunk, size);
			i_stream_skip(input, size);
		}
		i_stream_unref(&input);

		test_dsn_data(data->data, data->used, &dsn);
		whole = t_strdup(test_dsn_describe(&dsn));
		for (j = 0; j < N_ELEMENTS(chunk_sizes); j++) {
			input = test_istream_create_data(data->data,
							 data->used);
			test_istream_set_size(input, 0);
			test_istream_set_max_buffer_size(input,
							 chunk_sizes[j]);
			test_istream_set_size(input, data->used);
			test_dsn_stream(input, &dsn);
			test_assert_strcmp_idx(test_dsn_describe(&dsn), whole,
					       i * 100 + j);
			i_stream_unref(&input);
		}
	}
	test_end();
}

static void test_dsn_reads_no_further(void)
{
	struct vsmlist_dsn dsn;
	struct istream *input;
	string_t *msg = t_str_new(256 * 1024);
	size_t original_size;

	test_begin("dsn: reading stops at the end of the status part");
	str_append(msg, test_report_head);
	str_append(msg, "Final-Recipient: rfc822; kim@example.net\n"
		   "Action: failed\nStatus: 5.1.1\n\n"
		   "--bb\nContent-Type: message/rfc822\n\n"
		   "Subject: the returned original\n\n");
	original_size = str_len(msg);
	while (str_len(msg) < original_size + 200 * 1024)
		str_append(msg, "a long line of the returned original\n");
	str_append(msg, "--bb--\n");
	input = i_stream_create_from_data(str_data(msg), str_len(msg));
	test_dsn_stream(input, &dsn);
	test_assert(array_count(&dsn.recipients) == 1 && !dsn.truncated);
	test_assert(input->v_offset < original_size);
	i_stream_unref(&input);
	test_end();
}

static void test_dsn_datastack_pool(void)
{
	struct vsmlist_dsn dsn;
	struct istream *input;
	const char *error, *expected;

	test_begin("dsn: the result in a data stack pool");
	test_dsn_file("postfix-failed.eml", &dsn);
	expected = t_strdup(test_dsn_describe(&dsn));
	input = i_stream_create_file(DSN_SAMPLES_DIR"/postfix-failed.eml",
				     4096);
	test_assert(vsmlist_dsn_parse(pool_datastack_create(), input, &dsn,
				      &error) == 0);
	test_assert_strcmp(test_dsn_describe(&dsn), expected);
	i_stream_unref(&input);
	test_end();
}

static void test_dsn_auto_reply(void)
{
	static const struct {
		const char *header;
		const char *sign;
	} tests[] = {
		{ "Subject: Out of Office: Picnic\n", "Subject: out of office" },
		{ "Subject: AUTO: Ann is out of the office\n", "Subject: auto:" },
		{ "Subject: =?utf-8?q?R=C3=A9ponse_automatique?=\n",
		  "Subject: r\xc3\xa9ponse automatique" },
		{ "Subject: Abwesenheitsnotiz: Picnic\n",
		  "Subject: abwesenheitsnotiz" },
		{ "X-Autoreply: yes\nSubject: Re: Picnic\n", "X-Autoreply" },
		{ "X-Autorespond: Picnic\n", "X-Autorespond" },
		{ "Precedence: auto_reply\n", "Precedence: auto_reply" },
		{ "Auto-Submitted: auto-generated\n",
		  "Auto-Submitted: auto-generated" },
		/* Not auto-replies */
		{ "Subject: Re: Picnic\nAuto-Submitted: no\n", NULL },
		{ "Precedence: bulk\nSubject: Picnic\n", NULL },
	};
	struct vsmlist_dsn dsn;
	const char *msg, *reason;
	unsigned int i;

	test_begin("dsn: auto-replies told apart");
	test_dsn_file("vacation.eml", &dsn);
	test_assert(!dsn.is_report && dsn.bounce_sign == NULL);
	test_assert(vsmlist_dsn_is_auto_reply(&dsn, &reason));
	test_assert_strcmp(reason, "Subject: automatic reply");

	for (i = 0; i < N_ELEMENTS(tests); i++) {
		msg = t_strconcat("From: Ann <ann@example.net>\n",
				  tests[i].header, "\nI am away.\n", NULL);
		test_dsn_data(msg, strlen(msg), &dsn);
		test_assert_idx(vsmlist_dsn_is_auto_reply(&dsn, &reason) ==
				(tests[i].sign != NULL), i);
		test_assert_strcmp_idx(dsn.auto_reply_sign, tests[i].sign, i);
	}

	/* An MTA's text bounce may carry Auto-Submitted too */
	msg = "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
		"Auto-Submitted: auto-replied\nSubject: failure notice\n\n"
		"Sorry.\n";
	test_dsn_data(msg, strlen(msg), &dsn);
	test_assert(!vsmlist_dsn_is_auto_reply(&dsn, &reason));
	test_assert_strcmp(dsn.bounce_sign, "From: MAILER-DAEMON or postmaster");
	test_end();
}

static void test_dsn_read_error(void)
{
	struct vsmlist_dsn dsn;
	struct istream *input;
	const char *error;

	test_begin("dsn: read error");
	input = i_stream_create_file("/nonexistent/vsmlist-dsn", 4096);
	test_assert(vsmlist_dsn_parse(test_pool, input, &dsn, &error) < 0);
	test_assert(strstr(error, "/nonexistent/vsmlist-dsn") != NULL);
	i_stream_unref(&input);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_dsn_postfix,
		test_dsn_exim,
		test_dsn_exchange,
		test_dsn_gmail,
		test_dsn_global,
		test_dsn_qmail,
		test_dsn_exchange_text,
		test_dsn_forwarded,
		test_dsn_nesting,
		test_dsn_not_reports,
		test_dsn_many_recipients,
		test_dsn_truncated,
		test_dsn_malformed_status,
		test_dsn_actions,
		test_dsn_8bit_nul,
		test_dsn_block_bounds,
		test_dsn_no_per_message_block,
		test_dsn_chunked_input,
		test_dsn_reads_no_further,
		test_dsn_datastack_pool,
		test_dsn_auto_reply,
		test_dsn_read_error,
		NULL
	};
	int ret;

	lib_init();
	test_pool = pool_alloconly_create("test dsn", 1024 * 64);
	ret = test_run(test_functions);
	pool_unref(&test_pool);
	lib_deinit();
	return ret;
}
