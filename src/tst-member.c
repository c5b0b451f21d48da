/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str-sanitize.h"
#include "mail-storage.h"
#include "smtp-address.h"

#include "sieve-common.h"
#include "sieve-ast.h"
#include "sieve-commands.h"
#include "sieve-code.h"
#include "sieve-stringlist.h"
#include "sieve-message.h"
#include "sieve-extensions.h"
#include "sieve-validator.h"
#include "sieve-generator.h"
#include "sieve-interpreter.h"
#include "sieve-code-dumper.h"

#include "vsmlist-settings.h"
#include "vsmlist-store.h"
#include "vsmlist-posting.h"
#include "ext-vsmlist-common.h"

/*
 * Member test
 *
 * Syntax:
 *   member [":envelope" / ":from" / ":addresses" <addresses: string-list>]
 *
 * True when a member of the list's store is the envelope sender
 * (:envelope), an address of From: (:from), one of the given addresses
 * (:addresses), or, with no tag, the envelope sender or a From: address.
 */

static bool
tst_member_registered(struct sieve_validator *valdtr,
		      const struct sieve_extension *ext,
		      struct sieve_command_registration *cmd_reg);
static bool
tst_member_generate(const struct sieve_codegen_env *cgenv,
		    struct sieve_command *tst);

const struct sieve_command_def member_test = {
	.identifier = "member",
	.type = SCT_TEST,
	.positional_args = 0,
	.subtests = 0,
	.block_allowed = FALSE,
	.block_required = FALSE,
	.registered = tst_member_registered,
	.generate = tst_member_generate,
};

/*
 * Tagged arguments: one of them at most
 */

enum tst_member_optional {
	OPT_END,
	OPT_ENVELOPE,
	OPT_FROM,
	OPT_ADDRESSES,
};

struct tst_member_context {
	/* The tag given, or OPT_END for none */
	enum tst_member_optional source;
};

static bool
tst_member_validate_source_tag(struct sieve_validator *valdtr,
			       struct sieve_ast_argument **arg,
			       struct sieve_command *tst);

static const struct sieve_argument_def member_envelope_tag = {
	.identifier = "envelope",
	.validate = tst_member_validate_source_tag,
};

static const struct sieve_argument_def member_from_tag = {
	.identifier = "from",
	.validate = tst_member_validate_source_tag,
};

static const struct sieve_argument_def member_addresses_tag = {
	.identifier = "addresses",
	.validate = tst_member_validate_source_tag,
};

/*
 * Operation
 */

static bool
tst_member_operation_dump(const struct sieve_dumptime_env *denv,
			  sieve_size_t *address);
static int
tst_member_operation_execute(const struct sieve_runtime_env *renv,
			     sieve_size_t *address);

const struct sieve_operation_def member_operation = {
	.mnemonic = "MEMBER",
	.ext_def = &vsmlist_extension,
	.code = EXT_VSMLIST_OPERATION_MEMBER,
	.dump = tst_member_operation_dump,
	.execute = tst_member_operation_execute,
};

/*
 * Validation
 */

static bool
tst_member_validate_source_tag(struct sieve_validator *valdtr,
			       struct sieve_ast_argument **arg,
			       struct sieve_command *tst)
{
	struct sieve_ast_argument *tag = *arg;
	struct tst_member_context *tctx = tst->data;

	if (tctx == NULL) {
		tctx = p_new(sieve_command_pool(tst),
			     struct tst_member_context, 1);
		tst->data = tctx;
	}
	if (tctx->source != OPT_END) {
		sieve_argument_validate_error(
			valdtr, tag, "member test: only one of :envelope, "
			":from and :addresses may be given");
		return FALSE;
	}
	if (sieve_argument_is(tag, member_envelope_tag))
		tctx->source = OPT_ENVELOPE;
	else if (sieve_argument_is(tag, member_from_tag))
		tctx->source = OPT_FROM;
	else
		tctx->source = OPT_ADDRESSES;

	if (tctx->source != OPT_ADDRESSES) {
		/* No parameter: the tag itself is the optional operand */
		*arg = sieve_ast_argument_next(*arg);
		return TRUE;
	}
	/* The parameter becomes the optional operand */
	*arg = sieve_ast_arguments_detach(*arg, 1);
	if (!sieve_validate_tag_parameter(valdtr, tst, tag, *arg, NULL, 0,
					  SAAT_STRING_LIST, FALSE))
		return FALSE;
	/* Skip parameter */
	*arg = sieve_ast_argument_next(*arg);
	return TRUE;
}

static bool
tst_member_registered(struct sieve_validator *valdtr,
		      const struct sieve_extension *ext,
		      struct sieve_command_registration *cmd_reg)
{
	sieve_validator_register_tag(valdtr, cmd_reg, ext,
				     &member_envelope_tag, OPT_ENVELOPE);
	sieve_validator_register_tag(valdtr, cmd_reg, ext,
				     &member_from_tag, OPT_FROM);
	sieve_validator_register_tag(valdtr, cmd_reg, ext,
				     &member_addresses_tag, OPT_ADDRESSES);
	return TRUE;
}

/*
 * Code generation
 */

static bool
tst_member_generate(const struct sieve_codegen_env *cgenv,
		    struct sieve_command *tst)
{
	sieve_operation_emit(cgenv->sblock, tst->ext, &member_operation);
	return sieve_generate_arguments(cgenv, tst, NULL);
}

/*
 * Code dump
 */

static bool
tst_member_operation_dump(const struct sieve_dumptime_env *denv,
			  sieve_size_t *address)
{
	int opt_code = 0;

	sieve_code_dumpf(denv, "MEMBER");
	sieve_code_descend(denv);

	for (;;) {
		int opt;

		if ((opt = sieve_opr_optional_dump(denv, address,
						   &opt_code)) < 0)
			return FALSE;
		if (opt == 0)
			break;

		switch (opt_code) {
		case OPT_ENVELOPE:
			sieve_code_dumpf(denv, "source: envelope sender");
			break;
		case OPT_FROM:
			sieve_code_dumpf(denv, "source: From");
			break;
		case OPT_ADDRESSES:
			if (!sieve_opr_stringlist_dump(denv, address,
						       "addresses"))
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

/* The list's members, read once per delivery and kept with the message
   (a store that looks members up alone is asked instead, each time) */
struct tst_member_cache {
	struct vsmlist_member_set *set;
};

/* Whom the test asks: the members read once per delivery, or the store
   (returned in store_r, to be closed after the test) */
static int
tst_member_begin(const struct sieve_runtime_env *renv,
		 const struct sieve_extension *ext,
		 struct vsmlist_posting_members *members_r,
		 struct vsmlist_store **store_r)
{
	const struct ext_vsmlist_context *extctx =
		ext_vsmlist_get_context(ext);
	const struct tst_member_cache *cache;
	struct tst_member_cache *new_cache;
	struct vsmlist_store *store;
	pool_t pool = sieve_message_context_pool(renv->msgctx);
	const char *error;
	int ret;

	i_zero(members_r);
	members_r->pool = pool;
	*store_r = NULL;
	cache = sieve_message_context_extension_get(renv->msgctx, ext);
	if (cache != NULL) {
		members_r->set = cache->set;
		return SIEVE_EXEC_OK;
	}
	if (extctx->set == NULL) {
		sieve_runtime_error(renv, NULL, "member test: invalid "
				    "settings: %s", extctx->set_error);
		return SIEVE_EXEC_FAILURE;
	}

	ret = vsmlist_settings_open_store(extctx->set, renv->event, &store,
					  &error);
	if (ret == 0 && vsmlist_store_looks_up_alone(store)) {
		members_r->store = *store_r = store;
		return SIEVE_EXEC_OK;
	}
	new_cache = p_new(pool, struct tst_member_cache, 1);
	if (ret == 0) {
		ret = vsmlist_store_read(store, pool, &new_cache->set,
					 &error);
		vsmlist_store_close(&store);
	}
	if (ret < 0) {
		/* Retried later, rather than a member's post taken for a
		   stranger's */
		sieve_runtime_error(renv, NULL, "member test: failed to read "
				    "the members of %s: %s (temporary "
				    "failure)",
				    smtp_address_encode(extctx->set->address),
				    error);
		return SIEVE_EXEC_TEMP_FAILURE;
	}
	sieve_message_context_extension_set(renv->msgctx, ext, new_cache);
	members_r->set = new_cache->set;
	return SIEVE_EXEC_OK;
}

static int
tst_member_from(const struct sieve_runtime_env *renv,
		struct vsmlist_posting_members *members, bool *match_r)
{
	struct mail *mail = sieve_message_get_mail(renv->msgctx);
	const char *const *from;

	if (mail_get_headers(mail, "From", &from) < 0) {
		return sieve_runtime_mail_error(renv, mail, "member test: "
						"failed to read From");
	}
	*match_r = vsmlist_posting_from_is_member(members, from);
	return SIEVE_EXEC_OK;
}

static int
tst_member_addresses(const struct sieve_runtime_env *renv,
		     struct vsmlist_posting_members *members,
		     struct sieve_stringlist *addresses, bool *match_r)
{
	string_t *item = NULL;
	int ret;

	*match_r = FALSE;
	while (!*match_r &&
	       (ret = sieve_stringlist_next_item(addresses, &item)) > 0)
		*match_r = vsmlist_posting_string_is_member(members,
							    str_c(item));
	if (ret < 0 && !*match_r) {
		sieve_runtime_trace_error(renv, "invalid addresses item");
		return SIEVE_EXEC_BIN_CORRUPT;
	}
	return SIEVE_EXEC_OK;
}

static int
tst_member_operation_execute(const struct sieve_runtime_env *renv,
			     sieve_size_t *address)
{
	const struct sieve_execute_env *eenv = renv->exec_env;
	const struct sieve_extension *this_ext = renv->oprtn->ext;
	struct sieve_stringlist *addresses = NULL;
	struct vsmlist_posting_members members;
	struct vsmlist_store *store;
	enum tst_member_optional source = OPT_END;
	bool have_envelope, match = FALSE;
	int opt_code = 0, ret;

	for (;;) {
		int opt;

		if ((opt = sieve_opr_optional_read(renv, address,
						   &opt_code)) < 0)
			return SIEVE_EXEC_BIN_CORRUPT;
		if (opt == 0)
			break;
		switch (opt_code) {
		case OPT_ENVELOPE:
		case OPT_FROM:
			break;
		case OPT_ADDRESSES:
			ret = sieve_opr_stringlist_read(renv, address,
							"addresses",
							&addresses);
			if (ret <= 0)
				return ret;
			break;
		default:
			sieve_runtime_trace_error(renv,
				"unknown optional operand");
			return SIEVE_EXEC_BIN_CORRUPT;
		}
		source = opt_code;
	}

	sieve_runtime_trace(renv, SIEVE_TRLVL_TESTS, "member test");
	ret = tst_member_begin(renv, this_ext, &members, &store);
	if (ret != SIEVE_EXEC_OK)
		return ret;

	/* Under imapsieve there is no envelope: the sender is nobody */
	have_envelope = (eenv->flags & SIEVE_EXECUTE_FLAG_NO_ENVELOPE) == 0;
	if ((source == OPT_ENVELOPE || source == OPT_END) && have_envelope) {
		match = vsmlist_posting_is_member(
			&members, sieve_message_get_sender(renv->msgctx));
	}
	if (!match && (source == OPT_FROM || source == OPT_END))
		ret = tst_member_from(renv, &members, &match);
	else if (source == OPT_ADDRESSES)
		ret = tst_member_addresses(renv, &members, addresses, &match);
	if (ret == SIEVE_EXEC_OK && members.error != NULL) {
		/* As for a failed read: retried later */
		sieve_runtime_error(renv, NULL, "member test: failed to look "
				    "up a member in %s: %s (temporary "
				    "failure)", vsmlist_store_get_name(store),
				    members.error);
		ret = SIEVE_EXEC_TEMP_FAILURE;
	}
	vsmlist_store_close(&store);
	if (ret != SIEVE_EXEC_OK)
		return ret;

	sieve_runtime_trace(renv, SIEVE_TRLVL_TESTS, "%s a member",
			    match ? "is" : "is not");
	sieve_interpreter_set_test_result(renv->interp, match);
	return SIEVE_EXEC_OK;
}
