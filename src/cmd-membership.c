/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
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
#include "vsmlist-membership.h"
#include "ext-vsmlist-common.h"
#include "ext-vsmlist-transport.h"

/*
 * Membership command
 *
 * Syntax:
 *   membership
 *
 * The request is in the mail (doc/vsmlist.md, "Joining and leaving").
 */

static bool
cmd_membership_generate(const struct sieve_codegen_env *cgenv,
			struct sieve_command *cmd);

const struct sieve_command_def membership_command = {
	.identifier = "membership",
	.type = SCT_COMMAND,
	.positional_args = 0,
	.subtests = 0,
	.block_allowed = FALSE,
	.block_required = FALSE,
	.generate = cmd_membership_generate,
};

/*
 * Operation
 */

static int
cmd_membership_operation_execute(const struct sieve_runtime_env *renv,
				 sieve_size_t *address);

const struct sieve_operation_def membership_operation = {
	.mnemonic = "MEMBERSHIP",
	.ext_def = &vsmlist_extension,
	.code = EXT_VSMLIST_OPERATION_MEMBERSHIP,
	.execute = cmd_membership_operation_execute,
};

/*
 * Action
 */

static int
act_membership_check_duplicate(const struct sieve_runtime_env *renv,
			       const struct sieve_action *act,
			       const struct sieve_action *act_other);
static void
act_membership_print(const struct sieve_action *action,
		     const struct sieve_result_print_env *rpenv, bool *keep);
static int
act_membership_execute(const struct sieve_action_exec_env *aenv,
		       void *tr_context, bool *keep);

const struct sieve_action_def act_membership = {
	.name = "membership",
	.check_duplicate = act_membership_check_duplicate,
	.print = act_membership_print,
	.execute = act_membership_execute,
};

/*
 * Code generation
 */

static bool
cmd_membership_generate(const struct sieve_codegen_env *cgenv,
			struct sieve_command *cmd)
{
	sieve_operation_emit(cgenv->sblock, cmd->ext, &membership_operation);
	return TRUE;
}

/*
 * Code execution
 */

static int
cmd_membership_operation_execute(const struct sieve_runtime_env *renv,
				 sieve_size_t *address ATTR_UNUSED)
{
	const struct sieve_extension *this_ext = renv->oprtn->ext;

	sieve_runtime_trace(renv, SIEVE_TRLVL_ACTIONS, "membership action");
	if (sieve_result_add_action(renv, this_ext, "membership",
				    &act_membership, NULL, NULL, 0,
				    FALSE) < 0)
		return SIEVE_EXEC_FAILURE;
	return SIEVE_EXEC_OK;
}

/*
 * Action implementation
 */

static int
act_membership_check_duplicate(const struct sieve_runtime_env *renv,
			       const struct sieve_action *act ATTR_UNUSED,
			       const struct sieve_action *act_other ATTR_UNUSED)
{
	/* One request per mail: a second membership is dropped */
	sieve_runtime_warning(renv, NULL, "membership command: the request "
			      "is already handled by an earlier membership "
			      "action (ignored)");
	return 1;
}

static void
act_membership_print(const struct sieve_action *action ATTR_UNUSED,
		     const struct sieve_result_print_env *rpenv,
		     bool *keep ATTR_UNUSED)
{
	/* Whether the message is kept depends on what it asks */
	sieve_result_action_printf(rpenv, "handle a list membership request");
}

/* The Sieve environment as the module's parameters */
static void
act_membership_params(const struct sieve_action_exec_env *aenv,
		      const struct ext_vsmlist_context *extctx,
		      const struct ext_vsmlist_transport *transport,
		      struct istream *input,
		      struct vsmlist_membership_params *params_r)
{
	const struct sieve_execute_env *eenv = aenv->exec_env;

	i_zero(params_r);
	params_r->set = extctx->set;
	params_r->settings_error = extctx->set_error;
	params_r->input = input;
	/* Under imapsieve only the Subject says what is asked */
	if ((eenv->flags & SIEVE_EXECUTE_FLAG_NO_ENVELOPE) == 0) {
		params_r->have_envelope = TRUE;
		params_r->mail_from = sieve_message_get_sender(aenv->msgctx);
		params_r->rcpt_to =
			sieve_message_get_orig_recipient(aenv->msgctx);
	}
	if (transport != NULL) {
		params_r->transport = transport->transport;
		params_r->transport_error = transport->error;
		params_r->relay = transport->relay;
	}
	params_r->event = aenv->event;
}

/* One event and one log line for every outcome */
static void
act_membership_report(const struct sieve_action_exec_env *aenv,
		      const struct vsmlist_membership_outcome *outcome)
{
	struct event *event =
		sieve_action_create_finish_event(aenv)->
		set_name("vsmlist_membership_finished")->event();
	const char *line;
	bool error;

	vsmlist_membership_outcome_event(outcome, event);
	line = vsmlist_membership_outcome_log(outcome, &error);
	ext_vsmlist_log_outcome(aenv, event, error, line);
}

static int
act_membership_execute(const struct sieve_action_exec_env *aenv,
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
	struct vsmlist_membership_params params;
	struct vsmlist_membership_outcome outcome;
	struct istream *input;
	pool_t pool;
	int ret = SIEVE_EXEC_OK;

	/* Here, not in commit: a temporary failure must fail the delivery
	   before keep commits, so that the MTA retries */
	if (mail_get_stream(mail, NULL, NULL, &input) < 0) {
		return sieve_result_mail_error(aenv, mail,
					       "failed to read the request");
	}
	if (extctx->set != NULL)
		ext_vsmlist_transport_init(aenv, extctx->set, &transport);
	act_membership_params(aenv, extctx, transport, input, &params);

	pool = pool_alloconly_create("vsmlist membership", 4096);
	vsmlist_membership(pool, &params, &outcome);
	ext_vsmlist_transport_deinit(&transport);
	act_membership_report(aenv, &outcome);

	switch (vsmlist_membership_outcome_action(&outcome)) {
	case VSMLIST_MEMBERSHIP_ACTION_HANDLED:
		eenv->exec_status->significant_action_executed = TRUE;
		*keep = FALSE;
		break;
	case VSMLIST_MEMBERSHIP_ACTION_KEEP:
		break;
	case VSMLIST_MEMBERSHIP_ACTION_TEMPFAIL:
		ret = SIEVE_EXEC_TEMP_FAILURE;
		break;
	case VSMLIST_MEMBERSHIP_ACTION_FAILURE:
		ret = SIEVE_EXEC_FAILURE;
		break;
	}
	pool_unref(&pool);
	return ret;
}
