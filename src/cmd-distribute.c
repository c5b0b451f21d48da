/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str-sanitize.h"
#include "istream.h"
#include "mail-storage.h"
#include "smtp-address.h"

#include "sieve-common.h"
#include "sieve-settings.h"
#include "sieve-address.h"
#include "sieve-ast.h"
#include "sieve-commands.h"
#include "sieve-code.h"
#include "sieve-stringlist.h"
#include "sieve-message.h"
#include "sieve-actions.h"
#include "sieve-validator.h"
#include "sieve-generator.h"
#include "sieve-interpreter.h"
#include "sieve-code-dumper.h"
#include "sieve-result.h"

#include "vsmlist-settings.h"
#include "vsmlist-distribute.h"
#include "ext-vsmlist-common.h"
#include "ext-vsmlist-transport.h"
#include "ext-vsmlist-delivery.h"

/*
 * Distribute command
 *
 * Syntax:
 *   distribute [":members" <addresses: string-list>]
 *              [":dmarc" <mode: string>]
 */

static bool
cmd_distribute_registered(struct sieve_validator *valdtr,
			  const struct sieve_extension *ext,
			  struct sieve_command_registration *cmd_reg);
static bool
cmd_distribute_generate(const struct sieve_codegen_env *cgenv,
			struct sieve_command *cmd);

const struct sieve_command_def distribute_command = {
	.identifier = "distribute",
	.type = SCT_COMMAND,
	.positional_args = 0,
	.subtests = 0,
	.block_allowed = FALSE,
	.block_required = FALSE,
	.registered = cmd_distribute_registered,
	.generate = cmd_distribute_generate,
};

/*
 * Tagged arguments
 */

enum cmd_distribute_optional {
	OPT_END,
	OPT_MEMBERS,
	OPT_DMARC,
};

static bool
cmd_distribute_validate_members_tag(struct sieve_validator *valdtr,
				    struct sieve_ast_argument **arg,
				    struct sieve_command *cmd);

static const struct sieve_argument_def distribute_members_tag = {
	.identifier = "members",
	.validate = cmd_distribute_validate_members_tag,
};

static bool
cmd_distribute_validate_dmarc_tag(struct sieve_validator *valdtr,
				  struct sieve_ast_argument **arg,
				  struct sieve_command *cmd);

static const struct sieve_argument_def distribute_dmarc_tag = {
	.identifier = "dmarc",
	.validate = cmd_distribute_validate_dmarc_tag,
};

/*
 * Operation
 */

static bool
cmd_distribute_operation_dump(const struct sieve_dumptime_env *denv,
			      sieve_size_t *address);
static int
cmd_distribute_operation_execute(const struct sieve_runtime_env *renv,
				 sieve_size_t *address);

const struct sieve_operation_def distribute_operation = {
	.mnemonic = "DISTRIBUTE",
	.ext_def = &vsmlist_extension,
	.code = EXT_VSMLIST_OPERATION_DISTRIBUTE,
	.dump = cmd_distribute_operation_dump,
	.execute = cmd_distribute_operation_execute,
};

/*
 * Action
 */

struct act_distribute_context {
	/* Inline members from :members (valid addresses, NULL-terminated),
	   or NULL for the configured store. Plain strings: the result pool
	   holds nothing that needs a destructor. */
	const char *const *members;
	unsigned int members_count;
	/* :dmarc, or the setting */
	bool dmarc_mode_set;
	enum vsmlist_dmarc_mode dmarc_mode;
};

static int
act_distribute_check_duplicate(const struct sieve_runtime_env *renv,
			       const struct sieve_action *act,
			       const struct sieve_action *act_other);
static void
act_distribute_print(const struct sieve_action *action,
		     const struct sieve_result_print_env *rpenv, bool *keep);
static int
act_distribute_execute(const struct sieve_action_exec_env *aenv,
		       void *tr_context, bool *keep);

const struct sieve_action_def act_distribute = {
	.name = "distribute",
	.flags = SIEVE_ACTFLAG_TRIES_DELIVER,
	.check_duplicate = act_distribute_check_duplicate,
	.print = act_distribute_print,
	.execute = act_distribute_execute,
};

/*
 * Validation
 */

struct cmd_distribute_literal_context {
	struct sieve_validator *valdtr;
	bool valid;
};

static int
cmd_distribute_validate_literal(void *context, struct sieve_ast_argument *arg)
{
	struct cmd_distribute_literal_context *lctx = context;
	string_t *address;
	const char *error;

	/* Variable strings can only be checked at runtime */
	if (arg->argument == NULL || !sieve_argument_is_string_literal(arg))
		return 1;

	address = sieve_ast_argument_str(arg);
	if (!sieve_address_validate_str(address, &error)) {
		sieve_argument_validate_error(
			lctx->valdtr, arg,
			"distribute command: specified member address '%s' "
			"is invalid: %s",
			str_sanitize(str_c(address), 128), error);
		lctx->valid = FALSE;
	}
	return 1;
}

static bool
cmd_distribute_validate_members_tag(struct sieve_validator *valdtr,
				    struct sieve_ast_argument **arg,
				    struct sieve_command *cmd)
{
	struct sieve_ast_argument *tag = *arg, *list;
	struct cmd_distribute_literal_context lctx;

	/* Detach the tag itself */
	*arg = sieve_ast_arguments_detach(*arg, 1);

	if (!sieve_validate_tag_parameter(valdtr, cmd, tag, *arg, NULL, 0,
					  SAAT_STRING_LIST, FALSE))
		return FALSE;

	lctx.valdtr = valdtr;
	lctx.valid = TRUE;
	list = *arg;
	(void)sieve_ast_stringlist_map(&list, &lctx,
				       cmd_distribute_validate_literal);
	if (!lctx.valid)
		return FALSE;

	/* Skip parameter */
	*arg = sieve_ast_argument_next(*arg);
	return TRUE;
}

static bool
cmd_distribute_validate_dmarc_tag(struct sieve_validator *valdtr,
				  struct sieve_ast_argument **arg,
				  struct sieve_command *cmd)
{
	struct sieve_ast_argument *tag = *arg;
	enum vsmlist_dmarc_mode mode;

	*arg = sieve_ast_arguments_detach(*arg, 1);
	if (!sieve_validate_tag_parameter(valdtr, cmd, tag, *arg, NULL, 0,
					  SAAT_STRING, FALSE))
		return FALSE;
	if (sieve_argument_is_string_literal(*arg) &&
	    !vsmlist_dmarc_mode_parse(sieve_ast_argument_strc(*arg), &mode)) {
		sieve_argument_validate_error(
			valdtr, *arg, "distribute command: invalid :dmarc "
			"mode '%s' (use \"auto\", \"wrap\", \"munge\" or "
			"\"none\")",
			str_sanitize(sieve_ast_argument_strc(*arg), 64));
		return FALSE;
	}
	*arg = sieve_ast_argument_next(*arg);
	return TRUE;
}

static bool
cmd_distribute_registered(struct sieve_validator *valdtr,
			  const struct sieve_extension *ext,
			  struct sieve_command_registration *cmd_reg)
{
	sieve_validator_register_tag(valdtr, cmd_reg, ext,
				     &distribute_members_tag, OPT_MEMBERS);
	sieve_validator_register_tag(valdtr, cmd_reg, ext,
				     &distribute_dmarc_tag, OPT_DMARC);
	return TRUE;
}

/*
 * Code generation
 */

static bool
cmd_distribute_generate(const struct sieve_codegen_env *cgenv,
			struct sieve_command *cmd)
{
	sieve_operation_emit(cgenv->sblock, cmd->ext, &distribute_operation);
	return sieve_generate_arguments(cgenv, cmd, NULL);
}

/*
 * Code dump
 */

static bool
cmd_distribute_operation_dump(const struct sieve_dumptime_env *denv,
			      sieve_size_t *address)
{
	int opt_code = 0;

	sieve_code_dumpf(denv, "DISTRIBUTE");
	sieve_code_descend(denv);

	for (;;) {
		int opt;

		if ((opt = sieve_opr_optional_dump(denv, address,
						   &opt_code)) < 0)
			return FALSE;
		if (opt == 0)
			break;

		switch (opt_code) {
		case OPT_MEMBERS:
			if (!sieve_opr_stringlist_dump(denv, address,
						       "members"))
				return FALSE;
			break;
		case OPT_DMARC:
			if (!sieve_opr_string_dump(denv, address, "dmarc"))
				return FALSE;
			break;
		default:
			return FALSE;
		}
	}
	return TRUE;
}

/*
 * Code execution
 */

static int
cmd_distribute_read_members(const struct sieve_runtime_env *renv,
			    struct sieve_stringlist *list,
			    struct act_distribute_context *actx)
{
	pool_t pool = sieve_result_pool(renv->result);
	ARRAY_TYPE(const_string) members;
	struct smtp_address *address;
	string_t *item = NULL;
	const char *member, *error;
	int ret;

	p_array_init(&members, pool, 16);
	while ((ret = sieve_stringlist_next_item(list, &item)) > 0) {
		if (smtp_address_parse_path(pool_datastack_create(),
					    str_c(item),
					    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
					    &address, &error) < 0) {
			/* error is set */
		} else if (address->localpart == NULL ||
			   address->domain == NULL) {
			error = "Missing domain";
		} else {
			member = p_strdup(pool, str_c(item));
			array_push_back(&members, &member);
			continue;
		}
		sieve_runtime_warning(
			renv, NULL, "distribute command: specified member "
			"address '%s' is invalid: %s (skipped)",
			str_sanitize(str_c(item), 128), error);
	}
	if (ret < 0) {
		sieve_runtime_trace_error(renv, "invalid members string list");
		return SIEVE_EXEC_BIN_CORRUPT;
	}
	actx->members_count = array_count(&members);
	array_append_zero(&members);
	actx->members = array_front(&members);
	return SIEVE_EXEC_OK;
}

static int
cmd_distribute_operation_execute(const struct sieve_runtime_env *renv,
				 sieve_size_t *address)
{
	const struct sieve_extension *this_ext = renv->oprtn->ext;
	struct sieve_stringlist *members_list = NULL;
	string_t *dmarc = NULL;
	struct act_distribute_context *actx;
	int opt_code = 0, ret;

	for (;;) {
		int opt;

		if ((opt = sieve_opr_optional_read(renv, address,
						   &opt_code)) < 0)
			return SIEVE_EXEC_BIN_CORRUPT;
		if (opt == 0)
			break;

		switch (opt_code) {
		case OPT_MEMBERS:
			ret = sieve_opr_stringlist_read(renv, address,
							"members",
							&members_list);
			break;
		case OPT_DMARC:
			ret = sieve_opr_string_read(renv, address, "dmarc",
						    &dmarc);
			break;
		default:
			sieve_runtime_trace_error(
				renv, "unknown optional operand");
			ret = SIEVE_EXEC_BIN_CORRUPT;
		}
		if (ret <= 0)
			return ret;
	}

	actx = p_new(sieve_result_pool(renv->result),
		     struct act_distribute_context, 1);
	if (members_list != NULL) {
		ret = cmd_distribute_read_members(renv, members_list, actx);
		if (ret <= 0)
			return ret;
	}
	if (dmarc != NULL) {
		if (!vsmlist_dmarc_mode_parse(str_c(dmarc),
					      &actx->dmarc_mode)) {
			sieve_runtime_error(renv, NULL, "distribute command: "
				"invalid :dmarc mode '%s'",
				str_sanitize(str_c(dmarc), 64));
			return SIEVE_EXEC_FAILURE;
		}
		actx->dmarc_mode_set = TRUE;
	}

	if (sieve_runtime_trace_active(renv, SIEVE_TRLVL_ACTIONS)) {
		const struct ext_vsmlist_context *extctx =
			ext_vsmlist_get_context(this_ext);

		sieve_runtime_trace(renv, 0, "distribute action");
		sieve_runtime_trace_descend(renv);
		if (actx->members != NULL) {
			sieve_runtime_trace(renv, 0, "distribute message to "
					    "%u member(s) given by :members",
					    actx->members_count);
		} else if (extctx->set != NULL) {
			sieve_runtime_trace(renv, 0, "distribute message to "
					    "the members in %s",
					    extctx->set->members);
		}
	}

	if (sieve_result_add_action(renv, this_ext, "distribute",
				    &act_distribute, NULL, actx, 0,
				    FALSE) < 0)
		return SIEVE_EXEC_FAILURE;
	return SIEVE_EXEC_OK;
}

/*
 * Action implementation
 */

static int
act_distribute_check_duplicate(const struct sieve_runtime_env *renv,
			       const struct sieve_action *act ATTR_UNUSED,
			       const struct sieve_action *act_other ATTR_UNUSED)
{
	/* A post is distributed once per delivery: a second distribute
	   (e.g. in sieve_before and the list's own script) is dropped. */
	sieve_runtime_warning(renv, NULL, "distribute command: the message "
			      "is already distributed by an earlier "
			      "distribute action (ignored)");
	return 1;
}

static void
act_distribute_print(const struct sieve_action *action,
		     const struct sieve_result_print_env *rpenv, bool *keep)
{
	const struct act_distribute_context *actx = action->context;

	if (actx->members != NULL) {
		sieve_result_action_printf(rpenv, "distribute message to %u "
					   "list member(s)",
					   actx->members_count);
	} else {
		sieve_result_action_printf(rpenv, "distribute message to the "
					   "list members");
	}
	*keep = FALSE;
}

static const struct ext_vsmlist_action_names distribute_names = {
	.event = "vsmlist_distribute_finished",
	.outcome_field = "vsmlist_outcome",
	.read_error = "failed to read the post",
};

static int
act_distribute_execute(const struct sieve_action_exec_env *aenv,
		       void *tr_context ATTR_UNUSED, bool *keep)
{
	const struct act_distribute_context *actx = aenv->action->context;
	const struct vsmlist_settings *set;
	struct ext_vsmlist_delivery delivery;
	struct vsmlist_distribute_params params;
	struct vsmlist_distribute_outcome outcome;
	enum vsmlist_action_result result;
	struct event *event;
	const char *line;
	bool error;
	int ret;

	ret = ext_vsmlist_delivery_init(aenv, &distribute_names, &delivery);
	if (ret != SIEVE_EXEC_OK)
		return ret;
	set = delivery.delivery.set;
	i_zero(&params);
	params.delivery = delivery.delivery;
	params.dmarc_mode = (actx->dmarc_mode_set || set == NULL ?
			     actx->dmarc_mode : set->dmarc_mode);
	params.inline_members = actx->members;
	params.keep_progress = (delivery.transport != NULL &&
				delivery.transport->delivery);
	vsmlist_distribute(delivery.pool, &params, &outcome);

	/* One event and one log line for every outcome */
	event = ext_vsmlist_delivery_event(aenv, distribute_names.event);
	vsmlist_distribute_outcome_event(&outcome, event);
	if (delivery.transport != NULL) {
		event_add_int(event, "vsmlist_connections",
			ext_vsmlist_transport_connections(delivery.transport));
	}
	line = vsmlist_distribute_outcome_log(&outcome, &error);
	ext_vsmlist_log_outcome(aenv, event, error, line);

	result = vsmlist_distribute_outcome_result(&outcome);
	if (result == VSMLIST_ACTION_HANDLED)
		aenv->exec_env->exec_status->message_forwarded = TRUE;
	return ext_vsmlist_delivery_finish(aenv, &delivery, result, keep);
}
