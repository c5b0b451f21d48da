/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* Sieve glue for sending a post to the members: the transport, the
   result's log line and event. */

#include "lib.h"
#include "str-sanitize.h"
#include "istream.h"
#include "mail-storage.h"
#include "smtp-address.h"

#include "sieve-common.h"
#include "sieve-actions.h"
#include "sieve-result.h"
#include "sieve-smtp.h"

#include "vsmlist-settings.h"
#include "vsmlist-fanout.h"
#include "vsmlist-policy.h"
#include "distribute-send.h"

/* sieve_smtp_* as the fan-out transport */

static void *
distribute_sieve_smtp_start(void *context, const struct smtp_address *mail_from)
{
	return sieve_smtp_start(context, mail_from);
}

static void
distribute_sieve_smtp_add_rcpt(void *trans, const struct smtp_address *rcpt_to)
{
	sieve_smtp_add_rcpt(trans, rcpt_to);
}

static struct ostream *distribute_sieve_smtp_send(void *trans)
{
	return sieve_smtp_send(trans);
}

static void distribute_sieve_smtp_abort(void *trans)
{
	sieve_smtp_abort(trans);
}

static int distribute_sieve_smtp_finish(void *trans, const char **error_r)
{
	return sieve_smtp_finish(trans, error_r);
}

int distribute_send(const struct sieve_action_exec_env *aenv,
		    const struct distribute_post *post)
{
	const struct vsmlist_settings *set = post->set;
	const struct vsmlist_policy *policy = post->policy;
	const struct smtp_address *const *rcpts = post->rcpts;
	unsigned int rcpt_count = post->rcpt_count;
	const struct sieve_execute_env *eenv = aenv->exec_env;
	struct vsmlist_transport transport = {
		.start = distribute_sieve_smtp_start,
		.add_rcpt = distribute_sieve_smtp_add_rcpt,
		.send = distribute_sieve_smtp_send,
		.abort = distribute_sieve_smtp_abort,
		.finish = distribute_sieve_smtp_finish,
		.context = (void *)eenv->scriptenv,
	};
	struct vsmlist_fanout_result result;
	const char *list = smtp_address_encode(set->address);
	int ret;

	if (!sieve_smtp_available(eenv->scriptenv)) {
		sieve_result_global_warning(aenv, "no means to send mail");
		return SIEVE_EXEC_FAILURE;
	}
	ret = vsmlist_fanout_send(&transport, set->bounce_address, rcpts,
				  rcpt_count, set->batch_size,
				  post->message_func, post->message_context,
				  &result);

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
		add_int("vsmlist_recipients", result.recipients)->
		add_int("vsmlist_transactions", result.transactions)->
		add_int("vsmlist_failed_recipients",
			result.failed_recipients)->event();
	const char *dmarc = "";

	if (policy != NULL) {
		vsmlist_policy_add_event_fields(policy, event);
		dmarc = t_strconcat("; ", vsmlist_policy_describe(policy),
				    NULL);
	}

	if (ret < 0) {
		event_add_str(event, "error", result.error);
		sieve_result_event_log(aenv, event,
			"failed to distribute to the members of %s "
			"after %u of %u recipient(s): %s (temporary failure)",
			list, result.recipients, rcpt_count,
			str_sanitize(result.error, 512));
		return SIEVE_EXEC_TEMP_FAILURE;
	}
	if (ret == 0) {
		event_add_str(event, "error", result.error);
		sieve_result_event_log(aenv, event,
			"%u of %u transaction(s) to the members of "
			"%s refused permanently (%u recipient(s)); last "
			"error: %s", result.failed_transactions,
			result.transactions, list, result.failed_recipients,
			str_sanitize(result.error, 512));
		return SIEVE_EXEC_FAILURE;
	}

	eenv->exec_status->significant_action_executed = TRUE;
	eenv->exec_status->message_forwarded = TRUE;
	sieve_result_event_log(aenv, event,
		"distributed to %u member(s) of %s in %u SMTP "
		"transaction(s), envelope sender <%s>%s",
		result.recipients, list, result.transactions,
		smtp_address_encode(set->bounce_address), dmarc);
	return SIEVE_EXEC_OK;
}
