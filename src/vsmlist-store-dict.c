/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"

#include "vsmlist-store-dict-private.h"

/* The dict backend: opening (which dicts can hold members), changes, and
   the backend's functions. The key layout is in
   vsmlist-store-dict-private.h, the I/O in vsmlist-store-dict-io.c, rows
   in vsmlist-store-dict-row.c, reading in vsmlist-store-dict-read.c. */

/* Drivers that a store cannot use, refused at open rather than failing at
   every read (or, for fs, asserting on an exact-key iteration) */
static const struct {
	const char *driver, *why;
} vsmlist_dict_refused_drivers[] = {
	{ "redis", "cannot iterate" },
	{ "memcached", "cannot iterate" },
	{ "memcached_ascii", "cannot iterate" },
	{ "ldap", "can only look keys up, not iterate" },
	{ "fs", "cannot iterate by exact key (one file per key)" },
};

/* Drivers that only Dovecot's dict server has */
static const char *const vsmlist_dict_server_drivers[] = {
	"pgsql", "mysql", "sqlite", "cassandra", "cdb",
};

/* Look the member up for a change. Returns 1 with member_r, 0, -1. */
static int
vsmlist_dict_change_lookup(struct vsmlist_dict_store *dstore, const char *key,
			   struct vsmlist_member *member_r,
			   const char **error_r)
{
	struct vsmlist_dict_op op;
	int ret;

	vsmlist_dict_op_begin(dstore, &op);
	ret = vsmlist_dict_lookup_op(&op, key, pool_datastack_create(),
				     member_r, error_r);
	vsmlist_dict_op_end(&op);
	return ret;
}

static int
vsmlist_dict_add(struct vsmlist_store *store,
		 const struct smtp_address *address ATTR_UNUSED,
		 const char *key, enum vsmlist_store_add_result *result_r,
		 const char **error_r)
{
	struct vsmlist_dict_store *dstore = (struct vsmlist_dict_store *)store;
	struct dict_transaction_context *trans;
	struct vsmlist_member member;
	int ret;

	if ((ret = vsmlist_dict_change_lookup(dstore, key, &member,
					      error_r)) < 0)
		return -1;
	if (ret > 0) {
		*result_r = member.state == VSMLIST_MEMBER_DISABLED ?
			VSMLIST_STORE_ADD_ALREADY_DISABLED :
			VSMLIST_STORE_ADD_ALREADY_MEMBER;
		return 0;
	}
	/* The row's other columns take their defaults (0) */
	trans = dict_transaction_begin(dstore->dict, &dstore->op_set);
	dict_set(trans, vsmlist_dict_key(dstore, DICT_STORE_COLUMN_STATE, key),
		 "enabled");
	if (vsmlist_dict_commit(dstore, &trans, error_r) < 0)
		return -1;
	e_debug(store->event, "%s: added %s", store->name, key);
	return 1;
}

static int
vsmlist_dict_remove(struct vsmlist_store *store, const char *key,
		    const char **error_r)
{
	struct vsmlist_dict_store *dstore = (struct vsmlist_dict_store *)store;
	struct dict_transaction_context *trans;
	struct vsmlist_member member;
	enum vsmlist_dict_column column;
	int ret;

	if ((ret = vsmlist_dict_change_lookup(dstore, key, &member,
					      error_r)) <= 0)
		return ret;
	/* In SQL the first removes the row and the rest find nothing; a
	   dict with one value a key has each column to remove */
	trans = dict_transaction_begin(dstore->dict, &dstore->op_set);
	for (column = 0; column < DICT_STORE_COLUMN_COUNT; column++)
		dict_unset(trans, vsmlist_dict_key(dstore, column, key));
	if (vsmlist_dict_commit(dstore, &trans, error_r) < 0)
		return -1;
	e_debug(store->event, "%s: removed %s", store->name, key);
	return 1;
}

static int
vsmlist_dict_update(struct vsmlist_store *store, const char *key,
		    vsmlist_store_update_callback_t *callback, void *context,
		    const char **error_r)
{
	struct vsmlist_dict_store *dstore = (struct vsmlist_dict_store *)store;
	struct dict_transaction_context *trans;
	struct vsmlist_member member, new_member;
	int ret;

	if ((ret = vsmlist_dict_change_lookup(dstore, key, &member,
					      error_r)) <= 0)
		return ret;
	new_member = member;
	if (!callback(&new_member, vsmlist_store_now(store), context) ||
	    vsmlist_member_state_equals(&new_member, &member))
		return 0;
	i_assert(new_member.state == VSMLIST_MEMBER_ENABLED ||
		 new_member.state == VSMLIST_MEMBER_DISABLED);
	/* One row: an SQL dict merges the four into one statement */
	trans = dict_transaction_begin(dstore->dict, &dstore->op_set);
	dict_set(trans, vsmlist_dict_key(dstore, DICT_STORE_COLUMN_STATE, key),
		 new_member.state == VSMLIST_MEMBER_DISABLED ?
		 "disabled" : "enabled");
	dict_set(trans, vsmlist_dict_key(dstore,
					 DICT_STORE_COLUMN_BOUNCE_POINTS, key),
		 dec2str(new_member.bounce_points));
	dict_set(trans, vsmlist_dict_key(dstore,
					 DICT_STORE_COLUMN_LAST_BOUNCE, key),
		 dec2str(new_member.last_bounce));
	dict_set(trans, vsmlist_dict_key(dstore,
					 DICT_STORE_COLUMN_DISABLED_AT, key),
		 dec2str(new_member.disabled_at));
	if (vsmlist_dict_commit(dstore, &trans, error_r) < 0)
		return -1;
	e_debug(store->event, "%s: updated %s", store->name, key);
	return 1;
}

static void vsmlist_dict_deinit(struct vsmlist_store *store)
{
	struct vsmlist_dict_store *dstore = (struct vsmlist_dict_store *)store;
	struct ioloop *prev_ioloop = current_ioloop;

	io_loop_set_current(dstore->ioloop);
	if (dstore->dict != NULL)
		dict_deinit(&dstore->dict);
	io_loop_destroy(&dstore->ioloop);
	io_loop_set_current(prev_ioloop);
	if (dstore->drivers_registered)
		dict_drivers_unregister_builtin();
}

static const struct vsmlist_store_vfuncs vsmlist_dict_vfuncs = {
	.deinit = vsmlist_dict_deinit,
	.read = vsmlist_dict_read,
	.lookup = vsmlist_dict_lookup,
	.add = vsmlist_dict_add,
	.remove = vsmlist_dict_remove,
	.update = vsmlist_dict_update,
};

/* Whether uri (the dict URI) can be a member store here. Returns 0, or -1
   with error_r. */
static int
vsmlist_dict_check_uri(const char *uri, const char *base_dir,
		       const char **error_r)
{
	const char *p, *driver, *path;
	unsigned int i;

	p = strchr(uri, ':');
	if (p == NULL) {
		*error_r = "not a dict URI (<driver>:<arguments>)";
		return -1;
	}
	driver = t_strdup_until(uri, p);
	for (i = 0; i < N_ELEMENTS(vsmlist_dict_refused_drivers); i++) {
		if (strcmp(driver, vsmlist_dict_refused_drivers[i].driver) != 0)
			continue;
		*error_r = t_strdup_printf(
			"the dict driver %s %s, and a member store is read "
			"by iterating (use an SQL dict through "
			"dict:proxy::<name>, or file:)", driver,
			vsmlist_dict_refused_drivers[i].why);
		return -1;
	}
	if (strcmp(driver, "proxy") != 0)
		return 0;

	/* proxy:[idle_msecs=<n>:][warn_slow_msecs=<n>:][<path>]:<name>: a
	   path that is not absolute is in base_dir. What the dict server
	   does with <name> cannot be seen from here: a driver that cannot
	   iterate fails at the first read (doc/dict.md). */
	path = p + 1;
	while (str_begins(path, "idle_msecs=") ||
	       str_begins(path, "warn_slow_msecs=")) {
		p = strchr(path, ':');
		if (p == NULL)
			break;
		path = p + 1;
	}
	if (path[0] != '/' && base_dir == NULL) {
		*error_r = "the dict server's socket is in Dovecot's "
			"base_dir, which is not known here (give the "
			"socket's absolute path: proxy:/path/to/dict:<name>)";
		return -1;
	}
	return 0;
}

static struct vsmlist_store *
vsmlist_dict_init(pool_t pool, const char *location,
		  const struct vsmlist_store_settings *set,
		  const char **error_r)
{
	struct vsmlist_dict_store *dstore;
	struct dict_settings dict_set;
	struct ioloop *prev_ioloop = current_ioloop;
	const char *list_key, *driver, *error;
	unsigned int i;
	int ret;

	if (set->list_address == NULL ||
	    (list_key = vsmlist_store_address_key(set->list_address)) == NULL) {
		*error_r = "a dict store needs the list's address";
		return NULL;
	}
	if (vsmlist_dict_check_uri(location, set->base_dir, error_r) < 0)
		return NULL;

	dstore = p_new(pool, struct vsmlist_dict_store, 1);
	dstore->store.v = &vsmlist_dict_vfuncs;
	dstore->store.name = p_strconcat(pool, "dict:", location, NULL);
	dstore->list_prefix = p_strconcat(pool, DICT_STORE_PREFIX,
					  dict_escape_string(list_key), "/",
					  NULL);
	dstore->op_set.home_dir = p_strdup(pool, set->home);
	dstore->timeout_msecs = set->timeout_msecs != 0 ?
		set->timeout_msecs : VSMLIST_STORE_DICT_TIMEOUT_MSECS;

	/* Mail processes and doveadm have them already; this makes the
	   store work in any process (refcounted) */
	dict_drivers_register_builtin();
	dstore->drivers_registered = TRUE;

	i_zero(&dict_set);
	dict_set.base_dir = set->base_dir;
	dict_set.event_parent = set->event_parent;
	dstore->ioloop = io_loop_create();
	ret = dict_init(location, &dict_set, &dstore->dict, &error);
	io_loop_set_current(prev_ioloop);
	if (ret == 0)
		return &dstore->store;

	driver = t_strcut(location, ':');
	for (i = 0; i < N_ELEMENTS(vsmlist_dict_server_drivers); i++) {
		if (strcmp(driver, vsmlist_dict_server_drivers[i]) == 0) {
			error = t_strdup_printf("%s (the %s driver is in "
				"Dovecot's dict server only: use "
				"dict:proxy::<name> with dict { <name> = %s })",
				error, driver, location);
			break;
		}
	}
	*error_r = error;
	vsmlist_dict_deinit(&dstore->store);
	return NULL;
}

const struct vsmlist_store_backend vsmlist_store_backend_dict = {
	.scheme = "dict",
	.init = vsmlist_dict_init,
};
