/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"

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
#include "ext-vsmlist-delivery.h"

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

static const struct ext_vsmlist_action_names bounce_names = {
	.event = "vsmlist_bounce_finished",
	.outcome_field = "vsmlist_result",
	.read_error = "failed to read the bounce",
};

static int
act_bounce_execute(const struct sieve_action_exec_env *aenv,
		   void *tr_context ATTR_UNUSED, bool *keep)
{
	struct ext_vsmlist_delivery delivery;
	struct vsmlist_bounce_outcome outcome;
	struct event *event;
	const char *line;
	bool error;
	int ret;

	ret = ext_vsmlist_delivery_init(aenv, &bounce_names, &delivery);
	if (ret != SIEVE_EXEC_OK)
		return ret;
	delivery.delivery.now = ioloop_time;
	vsmlist_bounce(delivery.pool, &delivery.delivery, &outcome);

	/* One event and one log line for every outcome */
	event = ext_vsmlist_delivery_event(aenv, bounce_names.event);
	vsmlist_bounce_outcome_event(&outcome, event);
	line = vsmlist_bounce_outcome_log(&outcome, &error);
	ext_vsmlist_log_outcome(aenv, event, error, line);
	return ext_vsmlist_delivery_finish(aenv, &delivery,
		vsmlist_bounce_outcome_result(&outcome), keep);
}
