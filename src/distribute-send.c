/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* Sieve glue for sending a post to the members: which transport (the
   lib-smtp client to the relay, or Pigeonhole's sieve_smtp_*), the post's
   progress record, the result's log line and event. The substance is in
   vsmlist-fanout.c, vsmlist-smtp.c and vsmlist-progress.c. */

#include "lib.h"
#include "str.h"
#include "str-sanitize.h"
#include "istream.h"
#include "ostream.h"
#include "message-size.h"
#include "home-expand.h"
#include "settings-parser.h"
#include "iostream-ssl.h"
#include "smtp-address.h"
#include "smtp-submit-settings.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "mail-storage-service.h"

#include "sieve-common.h"
#include "sieve-settings.h"
#include "sieve-actions.h"
#include "sieve-result.h"
#include "sieve-smtp.h"

#include "vsmlist-settings.h"
#include "vsmlist-fanout.h"
#include "vsmlist-smtp.h"
#include "vsmlist-progress.h"
#include "vsmlist-policy.h"
#include "ext-vsmlist-common.h"
#include "distribute-send.h"

/* Dovecot's own default for submission_timeout */
#define DISTRIBUTE_DEFAULT_TIMEOUT_MSECS (30*1000)

struct distribute_sender {
	const struct sieve_action_exec_env *aenv;
	const struct distribute_post *post;

	struct vsmlist_transport transport;
	struct vsmlist_smtp *smtp;
	/* The relay (host:port) or "sieve_smtp" */
	const char *relay;
	struct vsmlist_progress *progress;
	/* The post has no Message-ID: its progress record is found by a
	   digest of its content, which another post may share */
	bool digest_key;
};

/*
 * sieve_smtp_* as the fan-out transport: sendmail_path, sieve-test, the
 * testsuite. One status for the whole transaction.
 */

static int
distribute_sieve_smtp_send(void *context,
			   const struct vsmlist_transaction *trans,
			   struct vsmlist_rcpt_result *results,
			   const char **error_r)
{
	const struct sieve_script_env *senv = context;
	struct sieve_smtp_context *sctx;
	struct ostream *output;
	unsigned int i;
	int ret;

	sctx = sieve_smtp_start(senv, trans->mail_from);
	for (i = 0; i < trans->rcpt_count; i++)
		sieve_smtp_add_rcpt(sctx, trans->rcpts[i]);
	output = sieve_smtp_send(sctx);
	o_stream_nsend_istream(output, trans->input);
	if (trans->input->stream_errno != 0) {
		sieve_smtp_abort(sctx);
		*error_r = "message could not be read";
		return -1;
	}
	ret = sieve_smtp_finish(sctx, error_r);
	if (ret > 0) {
		for (i = 0; i < trans->rcpt_count; i++)
			results[i].status = VSMLIST_RCPT_SENT;
	}
	return ret;
}

/*
 * The relay
 */

/* Dovecot's smtp-submit settings of a delivery process (LMTP, LDA, IMAP),
   or NULL where the host has none: sieve-test and the testsuite, whose
   sieve_smtp_* only print or capture the message. */
static const struct smtp_submit_settings *
distribute_get_submit_settings(struct mail_user *user)
{
	struct setting_parser_context *parser;
	const struct setting_parser_info *const *roots;
	void **sets;
	unsigned int i;

	if (user == NULL || user->_service_user == NULL)
		return NULL;
	parser = mail_storage_service_user_get_settings_parser(
		user->_service_user);
	roots = settings_parser_get_roots(parser);
	sets = settings_parser_get_list(parser);
	for (i = 0; roots[i] != NULL; i++) {
		if (roots[i] == &smtp_submit_setting_parser_info)
			return sets[i];
	}
	return NULL;
}

/* Set up the transport. Returns 1 when a relay speaks to us through
   lib-smtp, 0 for sieve_smtp_*, -1 on error (logged). */
static int
distribute_sender_init(struct distribute_sender *sender,
		       const struct smtp_submit_settings *smtp_set)
{
	const struct sieve_action_exec_env *aenv = sender->aenv;
	const struct vsmlist_settings *set = sender->post->set;
	const struct sieve_script_env *senv = aenv->exec_env->scriptenv;
	struct vsmlist_smtp_settings vset;
	struct ssl_iostream_settings ssl_set;
	const char *host = set->submission_host, *error;

	if (host == NULL && smtp_set != NULL &&
	    smtp_set->submission_host != NULL &&
	    *smtp_set->submission_host != '\0')
		host = smtp_set->submission_host;
	if (smtp_set == NULL || host == NULL) {
		/* No relay: Dovecot's sendmail_path, or a tool */
		if (!sieve_smtp_available(senv)) {
			sieve_result_global_warning(aenv,
				"no means to send mail");
			return -1;
		}
		sender->transport.send = distribute_sieve_smtp_send;
		sender->transport.context = (void *)senv;
		sender->relay = "sieve_smtp";
		return 0;
	}

	i_zero(&vset);
	vset.host = host;
	vset.ssl = (set->submission_ssl != NULL ?
		    set->submission_ssl : smtp_set->submission_ssl);
	vset.my_hostname = smtp_set->hostname;
	vset.timeout_msecs = set->submission_timeout_msecs;
	if (vset.timeout_msecs == 0)
		vset.timeout_msecs = smtp_set->submission_timeout * 1000;
	if (vset.timeout_msecs == 0)
		vset.timeout_msecs = DISTRIBUTE_DEFAULT_TIMEOUT_MSECS;
	vset.debug = senv->user->mail_debug;
	if (vset.ssl != NULL && strcasecmp(vset.ssl, "no") != 0) {
		i_zero(&ssl_set);
		mail_user_init_ssl_client_settings(senv->user, &ssl_set);
		vset.ssl_set = &ssl_set;
	}
	if (vsmlist_smtp_init(&vset, aenv->event, &sender->smtp,
			      &error) < 0) {
		sieve_result_global_error(aenv, "cannot send to the relay: %s",
					  error);
		return -1;
	}
	vsmlist_smtp_get_transport(sender->smtp, &sender->transport);
	sender->relay = vsmlist_smtp_get_relay(sender->smtp);
	return 1;
}

/*
 * Progress
 */

static int
distribute_progress_key(const struct distribute_post *post,
			struct vsmlist_progress_key *key_r,
			const char **error_r)
{
	static const char *const digest_fields[] = {
		"From", "Date", "Subject", NULL
	};
	struct mail *mail = post->mail;
	struct message_size hdr_size;
	struct istream *input;
	const char *value, *values[N_ELEMENTS(digest_fields)];
	unsigned int i;
	int ret;

	i_zero(key_r);
	key_r->list = smtp_address_encode(post->set->address);
	if (mail_get_first_header(mail, "Message-ID", &value) < 0)
		return -1;
	key_r->message_id = value;

	for (i = 0; digest_fields[i] != NULL; i++) {
		if (mail_get_first_header(mail, digest_fields[i],
					  &values[i]) < 0)
			return -1;
		if (values[i] == NULL)
			values[i] = "";
	}
	values[i] = NULL;
	if (mail_get_stream(mail, &hdr_size, NULL, &input) < 0)
		return -1;
	/* The body: trace fields added on the way (Received by LMTP)
	   differ between attempts */
	i_stream_seek(input, hdr_size.physical_size);
	ret = vsmlist_progress_digest(input, values, &key_r->digest, error_r);
	i_stream_seek(input, 0);
	return ret;
}

/* Open the post's progress record. Returns 1 opened (or progress off),
   0 when another delivery works on this post now, -1 on error */
static int
distribute_progress_open(struct distribute_sender *sender)
{
	const struct sieve_action_exec_env *aenv = sender->aenv;
	const struct distribute_post *post = sender->post;
	const struct vsmlist_settings *set = post->set;
	struct sieve_instance *svinst = aenv->exec_env->svinst;
	struct vsmlist_progress_key key;
	const char *dir = set->progress, *home, *error;
	int ret;

	if (dir == NULL)
		return 1;
	if (*dir == '~') {
		home = sieve_environment_get_homedir(svinst);
		if (home == NULL) {
			sieve_result_global_warning(aenv,
				"no home directory for %s: post progress "
				"not recorded", dir);
			return 1;
		}
		dir = home_expand_tilde(dir, home);
	}
	if (distribute_progress_key(post, &key, &error) < 0) {
		(void)sieve_result_mail_error(aenv, post->mail,
			"failed to read the post for its progress record");
		return -1;
	}
	sender->digest_key = (key.message_id == NULL);
	ret = vsmlist_progress_open(dir, &key, set->progress_expire_secs,
				    aenv->event, &sender->progress, &error);
	if (ret < 0) {
		/* Sending without it risks duplicates on a retry only;
		   not sending risks losing the post */
		sieve_result_global_error(aenv, "post progress not "
					  "recorded: %s", error);
		return 1;
	}
	return ret;
}

/*
 * Result
 */

/* How the members got the post, for the log line */
static const char *distribute_form(const char *mitigation)
{
	if (mitigation == NULL || strcmp(mitigation, "none") == 0)
		return "untouched";
	if (strcmp(mitigation, "wrap") == 0)
		return "wrapped";
	if (strcmp(mitigation, "munge") == 0)
		return "munged";
	return mitigation;
}

static void
distribute_log_result(struct distribute_sender *sender, int ret,
		      const struct vsmlist_fanout_result *result)
{
	const struct sieve_action_exec_env *aenv = sender->aenv;
	const struct distribute_post *post = sender->post;
	const struct vsmlist_settings *set = post->set;
	const char *list = smtp_address_encode(set->address);
	string_t *notes = t_str_new(128);

	/* One event per post with the whole decision: what was found,
	   what was done, how the sending went */
	struct event *event =
		sieve_action_create_finish_event(aenv)->
		set_name("vsmlist_distribute_finished")->
		add_str("vsmlist_list", list)->
		add_str("vsmlist_mitigation", post->mitigation != NULL ?
			post->mitigation : "none")->
		add_str("vsmlist_reason", post->mitigation_reason != NULL ?
			post->mitigation_reason : "")->
		add_str("vsmlist_relay", sender->relay)->
		add_int("vsmlist_members", result->members)->
		add_int("vsmlist_recipients", result->sent)->
		add_int("vsmlist_transactions", result->transactions)->
		add_int("vsmlist_failed_recipients",
			result->rejected + result->deferred)->
		add_int("vsmlist_rejected_recipients", result->rejected)->
		add_int("vsmlist_deferred_recipients", result->deferred)->
		add_int("vsmlist_previous_recipients",
			result->previously_sent)->event();

	if (sender->smtp != NULL) {
		event_add_int(event, "vsmlist_connections",
			      vsmlist_smtp_get_connections(sender->smtp));
	}
	if (result->error != NULL)
		event_add_str(event, "error", result->error);
	if (result->rejected > 0) {
		str_printfa(notes, "; %u member(s) rejected",
			    result->rejected);
	}
	if (result->previously_sent > 0 && result->sent > 0) {
		str_printfa(notes, "; %u member(s) got it in an earlier "
			    "attempt", result->previously_sent);
	}
	if (post->policy != NULL) {
		vsmlist_policy_add_event_fields(post->policy, event);
		str_printfa(notes, "; %s",
			    vsmlist_policy_describe(post->policy));
	}

	if (ret < 0) {
		ext_vsmlist_log_error(aenv, event,
			"distribution to the members of %s deferred: %u "
			"sent, %u deferred, %u rejected%s%s: %s "
			"(temporary failure: the retry sends only to the "
			"members who have not got it)", list, result->sent,
			result->deferred, result->rejected,
			result->previously_sent == 0 ? "" :
			t_strdup_printf(", %u in earlier attempts",
					result->previously_sent),
			result->transactions == 0 ? "" :
			t_strdup_printf(" in %u SMTP transaction(s)",
					result->transactions),
			str_sanitize(result->error != NULL ?
				     result->error : "member(s) deferred",
				     512));
	} else if (ret == 0) {
		ext_vsmlist_log_error(aenv, event,
			"not distributed: every one of the %u member(s) of "
			"%s was rejected (last error: %s)", result->members,
			list, str_sanitize(result->error != NULL ?
					   result->error : "see above", 512));
	} else if (result->sent == 0 && sender->digest_key) {
		ext_vsmlist_log(aenv, event,
			"not distributed: a post to %s without Message-ID and "
			"with the same From, Date, Subject and body was "
			"distributed before (message kept: a retry or a "
			"second post, a person can tell)", list);
	} else if (result->sent == 0) {
		ext_vsmlist_log(aenv, event,
			"already distributed to the members of %s by an "
			"earlier delivery of this post: nothing sent", list);
	} else {
		/* The decision and its reason, then how it went out */
		ext_vsmlist_log(aenv, event,
			"distributed to %u member(s) of %s, %s (%s), in %u "
			"SMTP transaction(s), envelope sender <%s>%s",
			result->sent, list, distribute_form(post->mitigation),
			post->mitigation_reason != NULL ?
			post->mitigation_reason : "no DMARC lookup",
			result->transactions,
			smtp_address_encode(set->bounce_address),
			str_c(notes));
	}
}

int distribute_send(const struct sieve_action_exec_env *aenv,
		    const struct distribute_post *post, bool *keep_r)
{
	const struct sieve_execute_env *eenv = aenv->exec_env;
	const struct smtp_submit_settings *smtp_set;
	struct distribute_sender sender;
	struct vsmlist_fanout_params params;
	struct vsmlist_fanout_result result;
	const char *error;
	int ret;

	i_zero(&sender);
	sender.aenv = aenv;
	sender.post = post;

	/* A delivery process has Dovecot's submission settings; the tools
	   (sieve-test, the testsuite) have none: they only show what
	   would be sent, and keep no progress */
	smtp_set = distribute_get_submit_settings(eenv->scriptenv->user);
	if (distribute_sender_init(&sender, smtp_set) < 0)
		return SIEVE_EXEC_FAILURE;

	if (smtp_set != NULL) {
		ret = distribute_progress_open(&sender);
		if (ret <= 0) {
			vsmlist_smtp_deinit(&sender.smtp);
			if (ret < 0)
				return SIEVE_EXEC_TEMP_FAILURE;
			sieve_result_global_log_error(aenv,
				"not distributed now: another delivery of "
				"this post is distributing it (temporary "
				"failure)");
			return SIEVE_EXEC_TEMP_FAILURE;
		}
	}

	i_zero(&params);
	params.transport = &sender.transport;
	params.mail_from = post->set->bounce_address;
	params.rcpts = post->rcpts;
	params.rcpt_count = post->rcpt_count;
	params.batch_size = post->set->batch_size;
	params.message_func = post->message_func;
	params.message_context = post->message_context;
	params.body_8bit = post->has_8bit;
	params.progress = sender.progress;
	params.event = aenv->event;
	ret = vsmlist_fanout_send(&params, &result);

	if (vsmlist_progress_close(&sender.progress, ret >= 0, &error) < 0) {
		sieve_result_global_error(aenv, "post progress not "
					  "recorded: %s", error);
	}
	distribute_log_result(&sender, ret, &result);
	vsmlist_smtp_deinit(&sender.smtp);

	if (ret < 0)
		return SIEVE_EXEC_TEMP_FAILURE;
	if (ret == 0)
		return SIEVE_EXEC_FAILURE;
	/* Only a digest told it apart from an earlier post: better a copy
	   in the list's mailbox than a post silently dropped */
	*keep_r = (result.sent == 0 && sender.digest_key);
	if (*keep_r)
		return SIEVE_EXEC_OK;
	eenv->exec_status->significant_action_executed = TRUE;
	eenv->exec_status->message_forwarded = TRUE;
	return SIEVE_EXEC_OK;
}
