/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* Extension vnd.vsmlist
 * ---------------------
 *
 * Specification: doc/vsmlist.md (vendor-defined)
 * Implementation: distribute, membership and bounce actions, member test
 * Status: experimental
 */

#include "lib.h"

#include "smtp-address.h"

#include "sieve-common.h"
#include "sieve-settings.h"
#include "sieve-extensions.h"
#include "sieve-validator.h"
#include "sieve-error.h"
#include "sieve-actions.h"

#include "vsmlist-settings.h"
#include "ext-vsmlist-common.h"

static bool ext_vsmlist_load(const struct sieve_extension *ext,
			     void **context);
static void ext_vsmlist_unload(const struct sieve_extension *ext);
static bool ext_vsmlist_validator_load(const struct sieve_extension *ext,
				       struct sieve_validator *valdtr);

/* In the order of enum ext_vsmlist_opcode */
static const struct sieve_operation_def *const ext_vsmlist_operations[] = {
	&distribute_operation,
	&member_operation,
	&membership_operation,
	&bounce_operation,
};

const struct sieve_extension_def vsmlist_extension = {
	.name = "vnd.vsmlist",
	/* Bump whenever the bytecode of a command changes (2: member,
	   3: membership, 4: bounce) */
	.version = 4,
	.load = ext_vsmlist_load,
	.unload = ext_vsmlist_unload,
	.validator_load = ext_vsmlist_validator_load,
	SIEVE_EXT_DEFINE_OPERATIONS(ext_vsmlist_operations),
};

static const char *
ext_vsmlist_setting_lookup(void *context, const char *name)
{
	return sieve_setting_get(context, name);
}

/* The user's own address as sieve_get_user_email() finds it, without its
   side effect: that function caches the address derived from the username
   and prefers it to sieve_user_email from then on, changing redirect. */
static const struct smtp_address *
ext_vsmlist_user_email(struct sieve_instance *svinst)
{
	struct smtp_address *address;

	if (svinst->user_email != NULL)
		return svinst->user_email;
	if (svinst->username == NULL)
		return NULL;
	if (smtp_address_parse_mailbox(pool_datastack_create(),
				       svinst->username, 0, &address,
				       NULL) >= 0)
		return address;
	if (svinst->domainname != NULL) {
		return smtp_address_create_temp(svinst->username,
						svinst->domainname);
	}
	return NULL;
}

/* Settings are read once per Sieve instance, i.e. per user: each list is a
   user, so userdb fields configure lists individually. */
static bool ext_vsmlist_load(const struct sieve_extension *ext,
			     void **context)
{
	struct sieve_instance *svinst = ext->svinst;
	struct ext_vsmlist_context *extctx;
	struct vsmlist_settings_env env;
	pool_t pool;
	const char *error;

	if (*context != NULL)
		ext_vsmlist_unload(ext);

	pool = pool_alloconly_create("vsmlist extension", 1024);
	extctx = p_new(pool, struct ext_vsmlist_context, 1);
	extctx->pool = pool;

	i_zero(&env);
	env.user_email = ext_vsmlist_user_email(svinst);
	env.recipient_delimiter = sieve_setting_get(svinst,
						    "recipient_delimiter");
	env.home = sieve_environment_get_homedir(svinst);
	env.base_dir = svinst->base_dir;
	env.lookup = ext_vsmlist_setting_lookup;
	env.context = svinst;
	if (vsmlist_settings_load(pool, &env, &extctx->set, &error) < 0) {
		/* Scripts still compile; distribute fails at runtime with
		   this error, so the post is kept rather than lost. Not an
		   error here: instances without a user (ManageSieve's
		   capability dump at startup) load the extension too. */
		extctx->set_error = p_strdup(pool, error);
		e_debug(svinst->event, "vsmlist: invalid settings: %s",
			error);
	}
	*context = extctx;
	return TRUE;
}

static void ext_vsmlist_unload(const struct sieve_extension *ext)
{
	struct ext_vsmlist_context *extctx = ext->context;

	if (extctx == NULL)
		return;
	pool_unref(&extctx->pool);
}

static bool ext_vsmlist_validator_load(const struct sieve_extension *ext,
				       struct sieve_validator *valdtr)
{
	sieve_validator_register_command(valdtr, ext, &distribute_command);
	sieve_validator_register_command(valdtr, ext, &member_test);
	sieve_validator_register_command(valdtr, ext, &membership_command);
	sieve_validator_register_command(valdtr, ext, &bounce_command);
	return TRUE;
}

static void ATTR_FORMAT(4, 0)
ext_vsmlist_logv(const struct sieve_action_exec_env *aenv,
		 struct event *event, enum log_type log_type,
		 const char *fmt, va_list args)
{
	const struct sieve_execute_env *eenv = aenv->exec_env;
	struct sieve_error_params params = {
		.log_type = log_type,
		.event = event,
	};

	sieve_global_logv(eenv->svinst, aenv->ehandler, &params, fmt, args);
}

void ext_vsmlist_log(const struct sieve_action_exec_env *aenv,
		     struct event *event, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	ext_vsmlist_logv(aenv, event, LOG_TYPE_INFO, fmt, args);
	va_end(args);
}

void ext_vsmlist_log_error(const struct sieve_action_exec_env *aenv,
			   struct event *event, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	ext_vsmlist_logv(aenv, event, LOG_TYPE_ERROR, fmt, args);
	va_end(args);
}

void ext_vsmlist_log_outcome(const struct sieve_action_exec_env *aenv,
			     struct event *event, bool error,
			     const char *line)
{
	if (error)
		ext_vsmlist_log_error(aenv, event, "%s", line);
	else
		ext_vsmlist_log(aenv, event, "%s", line);
}
