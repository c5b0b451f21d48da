/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* doveadm vsmlist members|subscribe|unsubscribe|enable -u <list>: the
   administrator's hands on a list's member store. Glue only: the list's
   settings (vsmlist-settings) and its store (vsmlist-store), with the
   same lock that deliveries take. Exit codes: doc/doveadm-vsmlist.1. */

#include "lib.h"
#include "array.h"
#include "iso8601-date.h"
#include "smtp-address.h"
#include "mail-user.h"
#include "mail-storage-settings.h"
#include "doveadm.h"
#include "doveadm-mail.h"
#include "doveadm-print.h"

#include "vsmlist-settings.h"
#include "vsmlist-store.h"
#include "vsmlist-membership.h"

#include <sysexits.h>

const char *doveadm_vsmlist_plugin_version = DOVECOT_ABI_VERSION;

void doveadm_vsmlist_plugin_init(struct module *module);
void doveadm_vsmlist_plugin_deinit(void);

/* One change to one member. Returns the result to print, or NULL with
   error_r when the store failed. not_found_r: the address is no member
   (unsubscribe, enable), which makes the exit code 68. */
typedef const char *
vsmlist_change_func_t(struct vsmlist_store *store,
		      const struct smtp_address *address,
		      bool *not_found_r, const char **error_r);

struct vsmlist_cmd_context {
	struct doveadm_mail_cmd_context ctx;

	/* NULL: list the members */
	vsmlist_change_func_t *change;
	ARRAY(const struct smtp_address *) addresses;
	/* init() refused the arguments: run() does nothing */
	bool invalid_args;
};

static const char *
vsmlist_setting_lookup(void *context, const char *name)
{
	return mail_user_plugin_getenv(context, name);
}

/* The user's own address as Pigeonhole derives it for the list's Sieve
   script (sieve_user_email, else the username, else the username at the
   host's domain), so that both default the list's address alike */
static const struct smtp_address *
vsmlist_user_email(struct mail_user *user)
{
	const char *value, *domain, *hostname, *error;
	struct smtp_address *address;

	value = mail_user_plugin_getenv(user, "sieve_user_email");
	if (value != NULL && *value != '\0') {
		if (smtp_address_parse_path(pool_datastack_create(), value,
				SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				&address, &error) >= 0)
			return address;
		i_warning("Invalid address value for setting "
			  "`sieve_user_email': %s", error);
	}
	if (smtp_address_parse_mailbox(pool_datastack_create(),
				       user->username, 0, &address,
				       NULL) >= 0)
		return address;
	hostname = mail_user_set_get_storage_set(user)->hostname;
	domain = strchr(hostname, '.');
	if (domain == NULL || domain[1] == '\0' ||
	    strchr(domain + 1, '.') == NULL)
		domain = hostname;
	else
		domain++;
	return smtp_address_create_temp(user->username, domain);
}

/* The list's settings and its store. Returns 0, or -1 with the exit code
   set: 78 for settings or a store URI that are wrong, 75 when the home
   cannot be looked up. */
static int
vsmlist_cmd_open_store(struct vsmlist_cmd_context *ctx,
		       struct mail_user *user, pool_t pool,
		       const struct vsmlist_settings **set_r,
		       struct vsmlist_store **store_r)
{
	struct vsmlist_settings_env env;
	const char *home, *error;
	int ret;

	if ((ret = mail_user_get_home(user, &home)) < 0) {
		i_error("vsmlist: Failed to look up the home directory");
		doveadm_mail_failed_error(&ctx->ctx, MAIL_ERROR_TEMP);
		return -1;
	}
	i_zero(&env);
	env.user_email = vsmlist_user_email(user);
	env.recipient_delimiter =
		mail_user_plugin_getenv(user, "recipient_delimiter");
	if (env.recipient_delimiter == NULL) {
		env.recipient_delimiter =
			mail_user_set_get_storage_set(user)->recipient_delimiter;
	}
	env.home = ret > 0 ? home : NULL;
	env.base_dir = user->set->base_dir;
	env.lookup = vsmlist_setting_lookup;
	env.context = user;

	if (vsmlist_settings_load(pool, &env, set_r, &error) == 0) {
		if (vsmlist_settings_open_store(*set_r, user->event, store_r,
						&error) == 0)
			return 0;
	}
	i_error("vsmlist: Invalid list settings: %s", error);
	if (ctx->ctx.exit_code == 0)
		ctx->ctx.exit_code = EX_CONFIG;
	return -1;
}

static void
vsmlist_cmd_store_failed(struct vsmlist_cmd_context *ctx,
			 struct vsmlist_store *store, const char *error)
{
	i_error("vsmlist: %s: %s", vsmlist_store_get_name(store), error);
	doveadm_mail_failed_error(&ctx->ctx,
		vsmlist_store_get_last_error(store) ==
		VSMLIST_STORE_ERROR_TEMP ?
		MAIL_ERROR_TEMP : MAIL_ERROR_NOTPOSSIBLE);
}

static int
vsmlist_cmd_members(struct vsmlist_cmd_context *ctx,
		    struct vsmlist_store *store)
{
	struct vsmlist_member_set *set;
	const struct vsmlist_member *members;
	unsigned int i, count;
	const char *error;
	pool_t pool;

	pool = pool_alloconly_create("vsmlist members", 65536);
	if (vsmlist_store_read(store, pool, &set, &error) < 0) {
		vsmlist_cmd_store_failed(ctx, store, error);
		pool_unref(&pool);
		return -1;
	}
	members = vsmlist_member_set_get(set, &count);
	for (i = 0; i < count; i++) T_BEGIN {
		doveadm_print(smtp_address_encode(members[i].address));
		doveadm_print(members[i].state == VSMLIST_MEMBER_DISABLED ?
			      "disabled" : "enabled");
		doveadm_print_num(members[i].bounce_points);
		doveadm_print(members[i].last_bounce == 0 ? "" :
			      iso8601_date_create(members[i].last_bounce));
	} T_END;
	pool_unref(&pool);
	return 0;
}

/* An address a membership request could not make a member of (the
   list's own, which would make it mail itself; a local part over 64
   octets) is refused before anything changes, as a typo is */
static bool
vsmlist_cmd_check_addresses(struct vsmlist_cmd_context *ctx,
			    const struct vsmlist_settings *set)
{
	const struct smtp_address *address;
	const char *reason;

	array_foreach_elem(&ctx->addresses, address) {
		if (!vsmlist_membership_address_usable(set, address,
						       &reason)) {
			i_error("vsmlist: Invalid address '%s': %s "
				"(nothing changed)",
				smtp_address_encode(address), reason);
			doveadm_mail_failed_error(&ctx->ctx,
						  MAIL_ERROR_PARAMS);
			return FALSE;
		}
	}
	return TRUE;
}

/* One address; the result to print. Returns -1 when the store failed. */
static int
vsmlist_cmd_change_one(struct vsmlist_cmd_context *ctx,
		       struct vsmlist_store *store,
		       const struct smtp_address *address,
		       const char **result_r)
{
	const char *error;
	bool not_found = FALSE;

	*result_r = ctx->change(store, address, &not_found, &error);
	if (*result_r == NULL) {
		vsmlist_cmd_store_failed(ctx, store, t_strdup_printf(
			"%s: %s", smtp_address_encode(address), error));
		*result_r = "failed";
		return -1;
	}
	if (not_found)
		doveadm_mail_failed_error(&ctx->ctx, MAIL_ERROR_NOTFOUND);
	return 0;
}

/* Each address in turn; the first store failure stops the rest (the
   store is in trouble, and a rerun does what is left) */
static int
vsmlist_cmd_change(struct vsmlist_cmd_context *ctx,
		   struct vsmlist_store *store)
{
	const struct smtp_address *address;
	const char *result;
	int ret = 0;

	array_foreach_elem(&ctx->addresses, address) T_BEGIN {
		if (ret < 0)
			result = "skipped";
		else
			ret = vsmlist_cmd_change_one(ctx, store, address,
						     &result);
		doveadm_print(smtp_address_encode(address));
		doveadm_print(result);
	} T_END;
	return ret;
}

static int
vsmlist_cmd_run(struct doveadm_mail_cmd_context *_ctx,
		struct mail_user *user)
{
	struct vsmlist_cmd_context *ctx =
		container_of(_ctx, struct vsmlist_cmd_context, ctx);
	const struct vsmlist_settings *set;
	struct vsmlist_store *store;
	pool_t pool;
	int ret;

	if (ctx->invalid_args)
		return -1;
	/* Per user: -A runs this for every user */
	pool = pool_alloconly_create("vsmlist settings", 1024);
	if (vsmlist_cmd_open_store(ctx, user, pool, &set, &store) < 0)
		ret = -1;
	else {
		if (ctx->change == NULL)
			ret = vsmlist_cmd_members(ctx, store);
		else if (!vsmlist_cmd_check_addresses(ctx, set))
			ret = -1;
		else
			ret = vsmlist_cmd_change(ctx, store);
		vsmlist_store_close(&store);
	}
	pool_unref(&pool);
	return ret;
}

/* The command runs for no user and exits with 64 */
static void vsmlist_cmd_refuse(struct vsmlist_cmd_context *ctx)
{
	ctx->ctx.exit_code = EX_USAGE;
	ctx->invalid_args = TRUE;
}

static void
vsmlist_cmd_usage(struct vsmlist_cmd_context *ctx, const char *error)
{
	if (ctx->ctx.cctx->conn_type == DOVEADM_CONNECTION_TYPE_CLI)
		doveadm_mail_help_name(ctx->ctx.cmd->name);
	/* doveadm's server must not exit: the request fails */
	i_error("%s: %s", ctx->ctx.cmd->name, error);
	vsmlist_cmd_refuse(ctx);
}

static void
vsmlist_cmd_members_init(struct doveadm_mail_cmd_context *ctx ATTR_UNUSED,
			 const char *const args[] ATTR_UNUSED)
{
	doveadm_print_header_simple("address");
	doveadm_print_header_simple("state");
	doveadm_print_header("bounce_points", "bounce_points",
			     DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY |
			     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
	doveadm_print_header_simple("last_bounce");
}

/* An address as a member file holds it ("a@b" or "<a@b>") */
static const struct smtp_address *
vsmlist_cmd_parse_address(pool_t pool, const char *arg, const char **error_r)
{
	struct smtp_address *address;

	if (smtp_address_parse_path(pool, arg,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				    &address, error_r) < 0)
		return NULL;
	/* The rest is checked with the list's settings (run()) */
	if (address->localpart == NULL || address->domain == NULL) {
		*error_r = "not a mailbox address with a domain";
		return NULL;
	}
	return address;
}

/* Every address is checked before anything changes: one that is not a
   mailbox address changes nothing */
static void
vsmlist_cmd_change_init(struct doveadm_mail_cmd_context *_ctx,
			const char *const args[])
{
	struct vsmlist_cmd_context *ctx =
		container_of(_ctx, struct vsmlist_cmd_context, ctx);
	const struct smtp_address *address;
	const char *error;

	if (args[0] == NULL) {
		vsmlist_cmd_usage(ctx, "no address given");
		return;
	}
	p_array_init(&ctx->addresses, _ctx->pool, 8);
	for (; *args != NULL; args++) {
		address = vsmlist_cmd_parse_address(_ctx->pool, *args, &error);
		if (address == NULL) {
			i_error("vsmlist: Invalid address '%s': %s "
				"(nothing changed)", *args, error);
			vsmlist_cmd_refuse(ctx);
			return;
		}
		array_push_back(&ctx->addresses, &address);
	}
	doveadm_print_header_simple("address");
	doveadm_print_header_simple("result");
}

static const char *
vsmlist_subscribe(struct vsmlist_store *store,
		  const struct smtp_address *address,
		  bool *not_found_r ATTR_UNUSED, const char **error_r)
{
	enum vsmlist_store_add_result result;

	switch (vsmlist_store_add(store, address, &result, error_r)) {
	case -1:
		return NULL;
	case 1:
		return "added";
	}
	return result == VSMLIST_STORE_ADD_ALREADY_DISABLED ?
		"already a member (disabled)" : "already a member";
}

static const char *
vsmlist_unsubscribe(struct vsmlist_store *store,
		    const struct smtp_address *address,
		    bool *not_found_r, const char **error_r)
{
	switch (vsmlist_store_remove(store, address, error_r)) {
	case -1:
		return NULL;
	case 1:
		return "removed";
	}
	*not_found_r = TRUE;
	return "not a member";
}

struct vsmlist_enable_context {
	bool member;
};

/* A clean slate: enabled, no bounce points, no bounce remembered */
static bool
vsmlist_enable_member(struct vsmlist_member *member, time_t now ATTR_UNUSED,
		      struct vsmlist_enable_context *ectx)
{
	ectx->member = TRUE;
	if (member->state != VSMLIST_MEMBER_DISABLED)
		return FALSE;
	return vsmlist_member_reset(member);
}

static const char *
vsmlist_enable(struct vsmlist_store *store,
	       const struct smtp_address *address,
	       bool *not_found_r, const char **error_r)
{
	struct vsmlist_enable_context ectx = { .member = FALSE };

	switch (vsmlist_store_update(store, address, vsmlist_enable_member,
				     &ectx, error_r)) {
	case -1:
		return NULL;
	case 1:
		return "enabled";
	}
	if (ectx.member)
		return "was not disabled";
	*not_found_r = TRUE;
	return "not a member";
}

static struct doveadm_mail_cmd_context *
vsmlist_cmd_alloc(vsmlist_change_func_t *change)
{
	struct vsmlist_cmd_context *ctx;

	ctx = doveadm_mail_cmd_alloc(struct vsmlist_cmd_context);
	ctx->change = change;
	ctx->ctx.v.init = change == NULL ? vsmlist_cmd_members_init :
		vsmlist_cmd_change_init;
	ctx->ctx.v.run = vsmlist_cmd_run;
	doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
	return &ctx->ctx;
}

static struct doveadm_mail_cmd_context *vsmlist_cmd_members_alloc(void)
{
	return vsmlist_cmd_alloc(NULL);
}

static struct doveadm_mail_cmd_context *vsmlist_cmd_subscribe_alloc(void)
{
	return vsmlist_cmd_alloc(vsmlist_subscribe);
}

static struct doveadm_mail_cmd_context *vsmlist_cmd_unsubscribe_alloc(void)
{
	return vsmlist_cmd_alloc(vsmlist_unsubscribe);
}

static struct doveadm_mail_cmd_context *vsmlist_cmd_enable_alloc(void)
{
	return vsmlist_cmd_alloc(vsmlist_enable);
}

#define VSMLIST_CHANGE_CMD(_name, _alloc) { \
	.name = "vsmlist "_name, \
	.mail_cmd = _alloc, \
	.usage = DOVEADM_CMD_MAIL_USAGE_PREFIX"<address> [<address> ...]", \
DOVEADM_CMD_PARAMS_START \
DOVEADM_CMD_MAIL_COMMON \
DOVEADM_CMD_PARAM('\0', "address", CMD_PARAM_ARRAY, \
		  CMD_PARAM_FLAG_POSITIONAL) \
DOVEADM_CMD_PARAMS_END \
	}

static struct doveadm_cmd_ver2 vsmlist_commands[] = {
	{
		.name = "vsmlist members",
		.mail_cmd = vsmlist_cmd_members_alloc,
		.usage = DOVEADM_CMD_MAIL_USAGE_PREFIX,
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_MAIL_COMMON
DOVEADM_CMD_PARAMS_END
	},
	VSMLIST_CHANGE_CMD("subscribe", vsmlist_cmd_subscribe_alloc),
	VSMLIST_CHANGE_CMD("unsubscribe", vsmlist_cmd_unsubscribe_alloc),
	VSMLIST_CHANGE_CMD("enable", vsmlist_cmd_enable_alloc),
};

void doveadm_vsmlist_plugin_init(struct module *module ATTR_UNUSED)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(vsmlist_commands); i++)
		doveadm_cmd_register_ver2(&vsmlist_commands[i]);
}

void doveadm_vsmlist_plugin_deinit(void)
{
}
