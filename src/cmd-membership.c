/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"

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
#include "ext-vsmlist-delivery.h"

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

static const struct ext_vsmlist_action_names membership_names = {
	.event = "vsmlist_membership_finished",
	.outcome_field = "vsmlist_result",
	.read_error = "failed to read the request",
};

static int
act_membership_execute(const struct sieve_action_exec_env *aenv,
		       void *tr_context ATTR_UNUSED, bool *keep)
{
	struct ext_vsmlist_delivery delivery;
	struct vsmlist_membership_outcome outcome;
	struct event *event;
	const char *line;
	bool error;
	int ret;

	ret = ext_vsmlist_delivery_init(aenv, &membership_names, &delivery);
	if (ret != SIEVE_EXEC_OK)
		return ret;
	vsmlist_membership(delivery.pool, &delivery.delivery, &outcome);

	/* One event and one log line for every outcome */
	event = ext_vsmlist_delivery_event(aenv, membership_names.event);
	vsmlist_membership_outcome_event(&outcome, event);
	line = vsmlist_membership_outcome_log(&outcome, &error);
	ext_vsmlist_log_outcome(aenv, event, error, line);
	return ext_vsmlist_delivery_finish(aenv, &delivery,
		vsmlist_membership_outcome_action(&outcome), keep);
}
