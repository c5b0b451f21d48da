/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* Extension vnd.vsmlist
 * ---------------------
 *
 * Specification: doc/rfc/spec-vsmlist.txt (vendor-defined)
 * Implementation: distribute action
 * Status: experimental
 */

#include "lib.h"

#include "sieve-common.h"
#include "sieve-settings.h"
#include "sieve-extensions.h"
#include "sieve-validator.h"

#include "vsmlist-settings.h"
#include "ext-vsmlist-common.h"

static bool ext_vsmlist_load(const struct sieve_extension *ext,
			     void **context);
static void ext_vsmlist_unload(const struct sieve_extension *ext);
static bool ext_vsmlist_validator_load(const struct sieve_extension *ext,
				       struct sieve_validator *valdtr);

const struct sieve_extension_def vsmlist_extension = {
	.name = "vnd.vsmlist",
	/* Bump whenever the bytecode of distribute changes */
	.version = 1,
	.load = ext_vsmlist_load,
	.unload = ext_vsmlist_unload,
	.validator_load = ext_vsmlist_validator_load,
	SIEVE_EXT_DEFINE_OPERATION(distribute_operation),
};

static const char *
ext_vsmlist_setting_lookup(void *context, const char *name)
{
	return sieve_setting_get(context, name);
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
	env.user_email = sieve_get_user_email(svinst);
	env.recipient_delimiter = sieve_setting_get(svinst,
						    "recipient_delimiter");
	env.lookup = ext_vsmlist_setting_lookup;
	env.context = svinst;
	if (vsmlist_settings_load(pool, &env, &extctx->set, &error) < 0) {
		/* Scripts still compile; distribute fails at runtime with
		   this message, so the post is kept rather than lost. */
		extctx->set_error = p_strdup(pool, error);
		e_error(svinst->event, "vsmlist: invalid settings: %s",
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
	return TRUE;
}
