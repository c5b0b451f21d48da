/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "istream.h"
#include "mail-storage.h"

#include "sieve-common.h"
#include "sieve-message.h"
#include "sieve-actions.h"
#include "sieve-result.h"

#include "ext-vsmlist-common.h"
#include "ext-vsmlist-transport.h"
#include "ext-vsmlist-delivery.h"

/* Like Pigeonhole's sieve_result_mail_error() (a temporary failure: the
   MTA retries, imapsieve leaves the message where it is), with the
   action's event, so that every outcome has one */
static int
ext_vsmlist_delivery_read_failed(const struct sieve_action_exec_env *aenv,
				 const struct ext_vsmlist_action_names *names,
				 struct mail *mail)
{
	const char *error = mailbox_get_last_internal_error(mail->box, NULL);
	struct event *event = ext_vsmlist_delivery_event(aenv, names->event);

	event_add_str(event, names->outcome_field, "deferred");
	event_add_str(event, "vsmlist_error", error);
	ext_vsmlist_log_outcome(aenv, event, TRUE, t_strdup_printf(
		"%s: %s (temporary failure)", names->read_error, error));
	return SIEVE_EXEC_TEMP_FAILURE;
}

int ext_vsmlist_delivery_init(const struct sieve_action_exec_env *aenv,
			      const struct ext_vsmlist_action_names *names,
			      struct ext_vsmlist_delivery *delivery_r)
{
	const struct sieve_execute_env *eenv = aenv->exec_env;
	const struct sieve_action *action = aenv->action;
	const struct ext_vsmlist_context *extctx =
		ext_vsmlist_get_context(action->ext);
	struct mail *mail = (action->mail != NULL ?
			     action->mail :
			     sieve_message_get_mail(aenv->msgctx));
	struct vsmlist_delivery *delivery = &delivery_r->delivery;
	struct istream *input;

	i_zero(delivery_r);
	/* Here, in execute, not in commit: a temporary failure must fail
	   the whole delivery before fileinto/keep commit, so that the MTA
	   retries */
	if (mail_get_stream(mail, NULL, NULL, &input) < 0)
		return ext_vsmlist_delivery_read_failed(aenv, names, mail);

	delivery->set = extctx->set;
	delivery->settings_error = extctx->set_error;
	delivery->input = input;
	/* Under imapsieve there is no envelope */
	if ((eenv->flags & SIEVE_EXECUTE_FLAG_NO_ENVELOPE) == 0) {
		delivery->have_envelope = TRUE;
		delivery->mail_from = sieve_message_get_sender(aenv->msgctx);
		delivery->rcpt_to =
			sieve_message_get_orig_recipient(aenv->msgctx);
	}
	if (extctx->set != NULL) {
		ext_vsmlist_transport_init(aenv, extctx->set,
					   &delivery_r->transport);
		delivery->transport = delivery_r->transport->transport;
		delivery->transport_error = delivery_r->transport->error;
		delivery->relay = delivery_r->transport->relay;
	}
	delivery->event = aenv->event;
	/* Everything of this mail lives here and goes with it: an lmtp
	   process delivers many */
	delivery_r->pool = pool_alloconly_create("vsmlist action", 8192);
	return SIEVE_EXEC_OK;
}

struct event *
ext_vsmlist_delivery_event(const struct sieve_action_exec_env *aenv,
			   const char *name)
{
	return sieve_action_create_finish_event(aenv)->
		set_name(name)->event();
}

int ext_vsmlist_delivery_finish(const struct sieve_action_exec_env *aenv,
				struct ext_vsmlist_delivery *delivery,
				enum vsmlist_action_result result,
				bool *keep)
{
	int ret = SIEVE_EXEC_OK;

	ext_vsmlist_transport_deinit(&delivery->transport);
	pool_unref(&delivery->pool);

	switch (result) {
	case VSMLIST_ACTION_HANDLED:
		aenv->exec_env->exec_status->significant_action_executed =
			TRUE;
		*keep = FALSE;
		break;
	case VSMLIST_ACTION_KEEP:
		break;
	case VSMLIST_ACTION_TEMPFAIL:
		ret = SIEVE_EXEC_TEMP_FAILURE;
		break;
	case VSMLIST_ACTION_FAILURE:
		ret = SIEVE_EXEC_FAILURE;
		break;
	}
	return ret;
}
