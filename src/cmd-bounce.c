/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "istream.h"
#include "mail-storage.h"

#include "sieve-common.h"
#include "sieve-commands.h"
#include "sieve-code.h"
#include "sieve-message.h"
#include "sieve-actions.h"
#include "sieve-validator.h"
#include "sieve-generator.h"
#include "sieve-interpreter.h"
#include "sieve-code-dumper.h"
#include "sieve-result.h"

#include "vsmlist-settings.h"
#include "vsmlist-bounce.h"
#include "ext-vsmlist-common.h"
#include "ext-vsmlist-transport.h"

/*
 * Bounce command
 *
 * Syntax:
 *   bounce
 *
 * For mail to the bounce address (doc/vsmlist.md, "Bounces"): delivery
 * reports score the members they name, automatic replies are dropped,
 * anything else goes to the owner.
 */

static bool
cmd_bounce_generate(const struct sieve_codegen_env *cgenv,
			struct sieve_command *cmd);

const struct sieve_command_def bounce_command = {
	.identifier = "bounce",
	.type = SCT_COMMAND,
	.positional_args = 0,
	.subtests = 0,
	.block_allowed = FALSE,
	.block_required = FALSE,
	.generate = cmd_bounce_generate,
};

/*
 * Operation
 */

static int
cmd_bounce_operation_execute(const struct sieve_runtime_env *renv,
				 sieve_size_t *address);

const struct sieve_operation_def bounce_operation = {
	.mnemonic = "BOUNCE",
	.ext_def = &vsmlist_extension,
	.code = EXT_VSMLIST_OPERATION_BOUNCE,
	.execute = cmd_bounce_operation_execute,
};

/*
 * Action
 */

static int
act_bounce_check_duplicate(const struct sieve_runtime_env *renv,
			       const struct sieve_action *act,
			       const struct sieve_action *act_other);
static void
act_bounce_print(const struct sieve_action *action,
		     const struct sieve_result_print_env *rpenv, bool *keep);
static int
act_bounce_execute(const struct sieve_action_exec_env *aenv,
		       void *tr_context, bool *keep);

const struct sieve_action_def act_bounce = {
	.name = "bounce",
	.check_duplicate = act_bounce_check_duplicate,
	.print = act_bounce_print,
	.execute = act_bounce_execute,
};

/*
 * Code generation
 */

static bool
cmd_bounce_generate(const struct sieve_codegen_env *cgenv,
			struct sieve_command *cmd)
{
	sieve_operation_emit(cgenv->sblock, cmd->ext, &bounce_operation);
	return TRUE;
}

/*
 * Code execution
 */

static int
cmd_bounce_operation_execute(const struct sieve_runtime_env *renv,
				 sieve_size_t *address ATTR_UNUSED)
{
	const struct sieve_extension *this_ext = renv->oprtn->ext;

	sieve_runtime_trace(renv, SIEVE_TRLVL_ACTIONS, "bounce action");
	if (sieve_result_add_action(renv, this_ext, "bounce",
				    &act_bounce, NULL, NULL, 0,
				    FALSE) < 0)
		return SIEVE_EXEC_FAILURE;
	return SIEVE_EXEC_OK;
}

/*
 * Action implementation
 */

static int
act_bounce_check_duplicate(const struct sieve_runtime_env *renv,
			       const struct sieve_action *act ATTR_UNUSED,
			       const struct sieve_action *act_other ATTR_UNUSED)
{
	/* One bounce is counted once: a second bounce is dropped */
	sieve_runtime_warning(renv, NULL, "bounce command: the message is "
			      "already handled by an earlier bounce action "
			      "(ignored)");
	return 1;
}

static void
act_bounce_print(const struct sieve_action *action ATTR_UNUSED,
		     const struct sieve_result_print_env *rpenv,
		     bool *keep ATTR_UNUSED)
{
	/* Whether the message is kept depends on what it is */
	sieve_result_action_printf(rpenv, "handle a bounce of the list");
}

/* The Sieve environment as the module's parameters */
static void
act_bounce_params(const struct sieve_action_exec_env *aenv,
		      const struct ext_vsmlist_context *extctx,
		      const struct ext_vsmlist_transport *transport,
		      struct istream *input,
		      struct vsmlist_bounce_params *params_r)
{
	const struct sieve_execute_env *eenv = aenv->exec_env;

	i_zero(params_r);
	params_r->set = extctx->set;
	params_r->settings_error = extctx->set_error;
	params_r->input = input;
	/* Under imapsieve there is no envelope, and no VERP address */
	if ((eenv->flags & SIEVE_EXECUTE_FLAG_NO_ENVELOPE) == 0) {
		params_r->have_envelope = TRUE;
		params_r->mail_from = sieve_message_get_sender(aenv->msgctx);
		params_r->rcpt_to =
			sieve_message_get_orig_recipient(aenv->msgctx);
	}
	if (transport != NULL) {
		params_r->transport = transport->transport;
		params_r->transport_error = transport->error;
	}
	params_r->now = ioloop_time;
	params_r->event = aenv->event;
}

/* One event and one log line for every outcome */
static void
act_bounce_report(const struct sieve_action_exec_env *aenv,
		      const struct vsmlist_bounce_outcome *outcome)
{
	struct event *event =
		sieve_action_create_finish_event(aenv)->
		set_name("vsmlist_bounce_finished")->event();
	const char *line;
	bool error;

	vsmlist_bounce_outcome_event(outcome, event);
	line = vsmlist_bounce_outcome_log(outcome, &error);
	ext_vsmlist_log_outcome(aenv, event, error, line);
}

static int
act_bounce_execute(const struct sieve_action_exec_env *aenv,
		       void *tr_context ATTR_UNUSED, bool *keep)
{
	const struct sieve_execute_env *eenv = aenv->exec_env;
	const struct sieve_action *action = aenv->action;
	const struct ext_vsmlist_context *extctx =
		ext_vsmlist_get_context(action->ext);
	struct mail *mail = (action->mail != NULL ?
			     action->mail :
			     sieve_message_get_mail(aenv->msgctx));
	struct ext_vsmlist_transport *transport = NULL;
	struct vsmlist_bounce_params params;
	struct vsmlist_bounce_outcome outcome;
	struct istream *input;
	pool_t pool;
	int ret = SIEVE_EXEC_OK;

	/* Here, not in commit: a temporary failure must fail the delivery
	   before keep commits, so that the MTA retries */
	if (mail_get_stream(mail, NULL, NULL, &input) < 0) {
		return sieve_result_mail_error(aenv, mail,
					       "failed to read the bounce");
	}
	if (extctx->set != NULL)
		ext_vsmlist_transport_init(aenv, extctx->set, &transport);
	act_bounce_params(aenv, extctx, transport, input, &params);

	pool = pool_alloconly_create("vsmlist bounce", 4096);
	vsmlist_bounce(pool, &params, &outcome);
	ext_vsmlist_transport_deinit(&transport);
	act_bounce_report(aenv, &outcome);

	switch (vsmlist_bounce_outcome_result(&outcome)) {
	case VSMLIST_BOUNCE_RESULT_HANDLED:
		eenv->exec_status->significant_action_executed = TRUE;
		*keep = FALSE;
		break;
	case VSMLIST_BOUNCE_RESULT_KEEP:
		break;
	case VSMLIST_BOUNCE_RESULT_TEMPFAIL:
		ret = SIEVE_EXEC_TEMP_FAILURE;
		break;
	case VSMLIST_BOUNCE_RESULT_FAILURE:
		ret = SIEVE_EXEC_FAILURE;
		break;
	}
	pool_unref(&pool);
	return ret;
}
