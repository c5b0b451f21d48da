/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "smtp-address.h"
#include "dict.h"

#include "vsmlist-store-private.h"
#include "vsmlist-store-parse.h"

/* The dict backend (sieve_vsmlist_members = dict:<dict URI>). Keys, with
   <list> and <member> the lists's and the member's keys
   (vsmlist_store_address_key()) escaped with dict_escape_string():

     shared/vsmlist/<list>/member/<member>         state: enabled|disabled
     shared/vsmlist/<list>/bounce_points/<member>  decimal
     shared/vsmlist/<list>/last_bounce/<member>    Unix seconds, 0 = never
     shared/vsmlist/<list>/disabled_at/<member>    Unix seconds, 0 = never

   An SQL dict maps all four to one row per member, and its member map
   returns the four columns at once (value_field = state,bounce_points,
   last_bounce,disabled_at): reading a list is one query. A dict that gives
   one value per key (file) has the other columns read by an iteration
   each. Lookups are exact-key iterations, so that they return the row's
   columns too and can be abandoned at the deadline. See doc/dict.md. */

#define DICT_STORE_PREFIX "shared/vsmlist/"
/* Invalid rows logged per read, then a count */
#define DICT_STORE_MAX_LOGGED_ROWS 10

enum dict_store_column {
	DICT_STORE_COLUMN_STATE = 0,
	DICT_STORE_COLUMN_BOUNCE_POINTS,
	DICT_STORE_COLUMN_LAST_BOUNCE,
	DICT_STORE_COLUMN_DISABLED_AT,

	DICT_STORE_COLUMN_COUNT
};

/* The key segment of each column; the member's row is "member" */
static const char *const dict_store_columns[DICT_STORE_COLUMN_COUNT] = {
	"member", "bounce_points", "last_bounce", "disabled_at",
};

/* Drivers that a store cannot use, refused at open rather than failing at
   every read (or, for fs, asserting on an exact-key iteration) */
static const struct {
	const char *driver, *why;
} dict_store_refused_drivers[] = {
	{ "redis", "cannot iterate" },
	{ "memcached", "cannot iterate" },
	{ "memcached_ascii", "cannot iterate" },
	{ "ldap", "can only look keys up, not iterate" },
	{ "fs", "cannot iterate by exact key (one file per key)" },
};

/* Drivers that only Dovecot's dict server has */
static const char *const dict_store_server_drivers[] = {
	"pgsql", "mysql", "sqlite", "cassandra", "cdb",
};

struct dict_store {
	struct vsmlist_store store;
	struct dict *dict;
	/* The dict's ios and timeouts live here, current only during an
	   operation: the operation's deadline can stop it */
	struct ioloop *ioloop;
	struct dict_op_settings op_set;
	/* shared/vsmlist/<list>/ */
	const char *list_prefix;
	unsigned int timeout_msecs;
	/* Dropped at deinit */
	bool drivers_registered;
};

/* One operation on the dict: the store's ioloop current, a deadline */
struct dict_store_op {
	struct dict_store *dstore;
	struct ioloop *prev_ioloop;
	struct timeout *to;
	bool timed_out;
	/* The iteration has more rows to give */
	bool more;
};


/* A row of an iteration: the key after the iterated path, and its values
   (NULL-terminated). Returns 0 to go on, 1 to stop, -1 to stop with
   error_r (and the store's error set). */
typedef int dict_store_row_callback_t(const char *key_suffix,
				      const char *const *values,
				      void *context, const char **error_r);

static int
dict_store_fail(struct vsmlist_store *store, enum vsmlist_store_error error)
{
	vsmlist_store_set_error(store, error);
	return -1;
}

static void dict_store_op_timeout(struct dict_store_op *op)
{
	op->timed_out = TRUE;
	io_loop_stop(op->dstore->ioloop);
}

static void dict_store_op_begin(struct dict_store *dstore,
				struct dict_store_op *op)
{
	i_zero(op);
	op->dstore = dstore;
	op->prev_ioloop = current_ioloop;
	io_loop_set_current(dstore->ioloop);
	(void)dict_switch_ioloop(dstore->dict);
	/* The time spent before (parsing the post) is not the dict's */
	io_loop_time_refresh();
	op->to = timeout_add(dstore->timeout_msecs,
			     dict_store_op_timeout, op);
}

static void dict_store_op_end(struct dict_store_op *op)
{
	timeout_remove(&op->to);
	io_loop_set_current(op->prev_ioloop);
}

static void dict_store_iterate_more(struct dict_store_op *op)
{
	op->more = TRUE;
	io_loop_stop(op->dstore->ioloop);
}

/* The kind of a dict's failure: a dict that cannot do what the store
   needs (no iteration behind a proxy, a map file without our keys) fails
   again until the administrator changes it */
static enum vsmlist_store_error dict_store_error_kind(const char *error)
{
	if (strstr(error, "Unsupported operation") != NULL ||
	    strstr(error, "Invalid/unmapped") != NULL)
		return VSMLIST_STORE_ERROR_PERM;
	return VSMLIST_STORE_ERROR_TEMP;
}

/* Iterate path (its direct children, or exactly it with EXACT_KEY) until
   the rows end, row_callback stops it or the deadline passes. Returns 0,
   or -1 with error_r and the store's error set. */
static int
dict_store_iterate(struct dict_store_op *op, const char *path,
		   enum dict_iterate_flags flags,
		   dict_store_row_callback_t *row_callback, void *context,
		   const char **error_r)
{
	struct dict_store *dstore = op->dstore;
	struct vsmlist_store *store = &dstore->store;
	struct dict_iterate_context *iter;
	const char *key, *const *values, *error, *row_error = NULL;
	size_t path_len = strlen(path);
	int ret, row_ret = 0;

	iter = dict_iterate_init(dstore->dict, &dstore->op_set, path,
				 flags | DICT_ITERATE_FLAG_ASYNC);
	dict_iterate_set_async_callback(iter, dict_store_iterate_more, op);
	while (!op->timed_out) {
		op->more = FALSE;
		while (row_ret == 0 &&
		       dict_iterate_values(iter, &key, &values)) {
			/* A dict gives keys under path only */
			if (strncmp(key, path, path_len) == 0) {
				row_ret = row_callback(key + path_len, values,
						       context, &row_error);
			}
		}
		if (row_ret != 0 || !dict_iterate_has_more(iter))
			break;
		if (!op->more)
			io_loop_run(dstore->ioloop);
	}
	ret = dict_iterate_deinit(&iter, &error);
	if (row_ret < 0) {
		*error_r = row_error;
		return -1;
	}
	if (row_ret > 0)
		return 0;
	if (op->timed_out) {
		*error_r = t_strdup_printf(
			"no answer from the dict within %u.%03u s "
			"(sieve_vsmlist_members_timeout)",
			dstore->timeout_msecs / 1000,
			dstore->timeout_msecs % 1000);
		return dict_store_fail(store, VSMLIST_STORE_ERROR_TEMP);
	}
	if (ret < 0) {
		if (strstr(error, "Unsupported operation") != NULL) {
			error = t_strdup_printf("the dict cannot iterate "
				"(behind a proxy: the dict server's driver "
				"for it cannot): %s", error);
		}
		*error_r = t_strdup_printf("iterating %s failed: %s",
					   path, error);
		return dict_store_fail(store, dict_store_error_kind(error));
	}
	return 0;
}

/* The key of a member's column, or with member_key NULL the path of the
   column's keys */
static const char *
dict_store_key(struct dict_store *dstore, enum dict_store_column column,
	       const char *member_key)
{
	return t_strconcat(dstore->list_prefix, dict_store_columns[column],
			   "/", member_key == NULL ? NULL :
			   dict_escape_string(member_key), NULL);
}

/* A number column; "" (an SQL NULL) is 0 */
static int dict_store_parse_number(const char *value, uintmax_t max,
				   uintmax_t *num_r)
{
	if (*value == '\0') {
		*num_r = 0;
		return 0;
	}
	if (str_to_uintmax(value, num_r) < 0 || *num_r > max)
		return -1;
	return 0;
}

/* Set one column of member from its value. Returns 0, or -1 with error_r
   (the column keeps its default). */
static int
dict_store_parse_column(enum dict_store_column column, const char *value,
			struct vsmlist_member *member, const char **error_r)
{
	uintmax_t num;

	switch (column) {
	case DICT_STORE_COLUMN_STATE:
		if (*value == '\0' || strcasecmp(value, "enabled") == 0)
			member->state = VSMLIST_MEMBER_ENABLED;
		else if (strcasecmp(value, "disabled") == 0)
			member->state = VSMLIST_MEMBER_DISABLED;
		else {
			*error_r = t_strdup_printf(
				"state '%s' is neither enabled nor disabled",
				str_sanitize(value, 32));
			return -1;
		}
		return 0;
	case DICT_STORE_COLUMN_BOUNCE_POINTS:
		if (dict_store_parse_number(value, UINT_MAX, &num) < 0)
			break;
		member->bounce_points = num;
		return 0;
	case DICT_STORE_COLUMN_LAST_BOUNCE:
		if (dict_store_parse_number(value, INT32_MAX, &num) < 0)
			break;
		member->last_bounce = num;
		return 0;
	case DICT_STORE_COLUMN_DISABLED_AT:
		if (dict_store_parse_number(value, INT32_MAX, &num) < 0)
			break;
		member->disabled_at = num;
		return 0;
	case DICT_STORE_COLUMN_COUNT:
		break;
	}
	*error_r = t_strdup_printf("%s '%s' is not a number",
				   dict_store_columns[column],
				   str_sanitize(value, 32));
	return -1;
}

/* Invalid rows and columns of one operation, logged up to a bound */
struct dict_store_invalid {
	struct vsmlist_store *store;
	unsigned int count;
};

static void
dict_store_invalid_log(struct dict_store_invalid *invalid,
		       const char *escaped_key, const char *what)
{
	struct vsmlist_store *store = invalid->store;

	if (++invalid->count > DICT_STORE_MAX_LOGGED_ROWS)
		return;
	e_warning(store->event, "%s: member '%s': %s", store->name,
		  str_sanitize(escaped_key, 128), what);
}

static void dict_store_invalid_finish(struct dict_store_invalid *invalid)
{
	struct vsmlist_store *store = invalid->store;

	if (invalid->count <= DICT_STORE_MAX_LOGGED_ROWS)
		return;
	e_warning(store->event, "%s: %u more invalid members or columns "
		  "skipped", store->name,
		  invalid->count - DICT_STORE_MAX_LOGGED_ROWS);
}

/* A member's row: its key segment and its values. Returns 1 when the row
   held every column, 0 when only the state (the dict keeps the columns as
   keys of their own), -1 with error_r for a row that is no member. An
   invalid column keeps its default and is logged. */
static int
dict_store_parse_row(pool_t pool, struct dict_store_invalid *invalid,
		     const char *escaped_key, const char *const *values,
		     struct vsmlist_member *member_r, const char **error_r)
{
	struct smtp_address *address;
	const char *key, *error;
	unsigned int i;

	i_zero(member_r);
	if (vsmlist_store_address_parse(pool,
					dict_unescape_string(escaped_key),
					&address, &key, error_r) < 0)
		return -1;
	member_r->address = address;
	member_r->key = key;
	for (i = 0; i < DICT_STORE_COLUMN_COUNT && values[i] != NULL; i++) {
		if (dict_store_parse_column(i, values[i], member_r,
					    &error) < 0) {
			dict_store_invalid_log(invalid, escaped_key,
				t_strconcat(error, " (ignored)", NULL));
		}
	}
	return i == DICT_STORE_COLUMN_COUNT ? 1 : 0;
}

/* Reading every member */
struct dict_store_read {
	struct dict_store *dstore;
	struct vsmlist_member_set *set;
	pool_t pool;
	struct dict_store_invalid invalid;
	unsigned int count;
	/* A row without its columns was seen */
	bool need_columns;
	enum dict_store_column column;
};

/* Add one row's member to the set. Returns 1 when added, 0 when skipped
   (invalid, or a second row of a member). */
static int
dict_store_read_add(struct dict_store_read *ctx, const char *escaped_key,
		    const char *const *values)
{
	struct vsmlist_member row, *member;
	const char *error;
	int ret;

	ret = dict_store_parse_row(ctx->pool, &ctx->invalid, escaped_key,
				   values, &row, &error);
	if (ret < 0) {
		dict_store_invalid_log(&ctx->invalid, escaped_key,
			t_strdup_printf("skipped: %s", error));
		return 0;
	}
	if (ret == 0)
		ctx->need_columns = TRUE;
	/* The first row of a member stays (rows written without the store
	   may spell one member twice) */
	member = vsmlist_member_set_add(ctx->set, row.address, row.key);
	if (member == NULL)
		return 0;
	*member = row;
	return 1;
}

static int
dict_store_read_row(const char *escaped_key, const char *const *values,
		    struct dict_store_read *ctx, const char **error_r)
{
	struct vsmlist_store *store = &ctx->dstore->store;
	int ret;

	/* Each row in a frame of its own: a list may have a million */
	T_BEGIN {
		ret = dict_store_read_add(ctx, escaped_key, values);
	} T_END;
	if (ret > 0 && ++ctx->count > store->max_members) {
		*error_r = t_strdup_printf("more than %u members (the most "
					   "a store may have)",
					   store->max_members);
		return dict_store_fail(store, VSMLIST_STORE_ERROR_PERM);
	}
	return 0;
}

static int
dict_store_read_column(const char *escaped_key, const char *const *values,
		       struct dict_store_read *ctx,
		       const char **error_r ATTR_UNUSED)
{
	struct vsmlist_member *member;
	const char *error;

	T_BEGIN {
		member = vsmlist_member_set_lookup_modifiable(ctx->set,
			dict_unescape_string(escaped_key));
		/* A column without its member's row is a leftover: ignored */
		if (member != NULL &&
		    dict_store_parse_column(ctx->column, values[0], member,
					    &error) < 0) {
			dict_store_invalid_log(&ctx->invalid, escaped_key,
				t_strconcat(error, " (ignored)", NULL));
		}
	} T_END;
	return 0;
}

static int
dict_store_read(struct vsmlist_store *store, pool_t pool,
		struct vsmlist_member_set **set_r, const char **error_r)
{
	struct dict_store *dstore = (struct dict_store *)store;
	struct dict_store_read ctx;
	struct dict_store_op op;
	int ret;

	i_zero(&ctx);
	ctx.dstore = dstore;
	ctx.pool = pool;
	ctx.invalid.store = store;
	ctx.set = vsmlist_member_set_init(pool, 0);
	dict_store_op_begin(dstore, &op);
	ret = dict_store_iterate(&op, dict_store_key(dstore,
					DICT_STORE_COLUMN_STATE, NULL), 0,
				 (dict_store_row_callback_t *)
				 dict_store_read_row, &ctx, error_r);
	/* A dict with one value a key: each column is an iteration */
	for (ctx.column = DICT_STORE_COLUMN_BOUNCE_POINTS;
	     ret == 0 && ctx.need_columns &&
	     ctx.column < DICT_STORE_COLUMN_COUNT; ctx.column++) {
		ret = dict_store_iterate(&op, dict_store_key(dstore,
						ctx.column, NULL), 0,
					 (dict_store_row_callback_t *)
					 dict_store_read_column, &ctx,
					 error_r);
	}
	dict_store_op_end(&op);
	dict_store_invalid_finish(&ctx.invalid);
	if (ret < 0)
		return -1;
	e_debug(store->event, "%s: %u members read", store->name, ctx.count);
	*set_r = ctx.set;
	return 0;
}

/* Looking up one member */
struct dict_store_lookup {
	struct vsmlist_member *member;
	pool_t pool;
	struct dict_store_invalid invalid;
	enum dict_store_column column;
	/* 1: the row had every column, 0: only its state, -1: no row */
	int found;
};

static int
dict_store_lookup_row(const char *suffix ATTR_UNUSED,
		      const char *const *values,
		      struct dict_store_lookup *ctx,
		      const char **error_r ATTR_UNUSED)
{
	const char *key = ctx->member->key, *error;

	/* The exact key's row: the member is the one looked up */
	ctx->found = dict_store_parse_row(ctx->pool, &ctx->invalid,
					  dict_escape_string(key), values,
					  ctx->member, &error);
	/* Our own key always parses */
	i_assert(ctx->found >= 0);
	return 1;
}

static int
dict_store_lookup_column(const char *suffix ATTR_UNUSED,
			 const char *const *values,
			 struct dict_store_lookup *ctx,
			 const char **error_r ATTR_UNUSED)
{
	const char *error;

	if (dict_store_parse_column(ctx->column, values[0], ctx->member,
				    &error) < 0) {
		dict_store_invalid_log(&ctx->invalid, ctx->member->key,
			t_strconcat(error, " (ignored)", NULL));
	}
	return 1;
}

/* Look the member with key up within op. Returns 1 with member_r (from
   pool), 0 when no member, -1 with error_r. */
static int
dict_store_lookup_op(struct dict_store_op *op, const char *key,
		     pool_t pool, struct vsmlist_member *member_r,
		     const char **error_r)
{
	struct dict_store *dstore = op->dstore;
	struct dict_store_lookup ctx;

	i_zero(&ctx);
	i_zero(member_r);
	member_r->key = key;
	ctx.member = member_r;
	ctx.pool = pool;
	ctx.invalid.store = &dstore->store;
	ctx.found = -1;
	if (dict_store_iterate(op, dict_store_key(dstore,
					DICT_STORE_COLUMN_STATE, key),
			       DICT_ITERATE_FLAG_EXACT_KEY,
			       (dict_store_row_callback_t *)
			       dict_store_lookup_row, &ctx, error_r) < 0)
		return -1;
	if (ctx.found < 0)
		return 0;
	for (ctx.column = DICT_STORE_COLUMN_BOUNCE_POINTS;
	     ctx.found == 0 && ctx.column < DICT_STORE_COLUMN_COUNT;
	     ctx.column++) {
		if (dict_store_iterate(op, dict_store_key(dstore, ctx.column,
							  key),
				       DICT_ITERATE_FLAG_EXACT_KEY,
				       (dict_store_row_callback_t *)
				       dict_store_lookup_column, &ctx,
				       error_r) < 0)
			return -1;
	}
	return 1;
}

static int
dict_store_lookup(struct vsmlist_store *store, const char *key, pool_t pool,
		  struct vsmlist_member *member_r, const char **error_r)
{
	struct dict_store *dstore = (struct dict_store *)store;
	struct dict_store_op op;
	int ret;

	dict_store_op_begin(dstore, &op);
	ret = dict_store_lookup_op(&op, p_strdup(pool, key), pool, member_r,
				   error_r);
	dict_store_op_end(&op);
	return ret;
}

/* Commit a change. Not bounded by the store's deadline: a pending commit
   cannot be abandoned (dict_deinit() would assert), and Dovecot's dict
   client gives up on its own after 30 s. */
static int
dict_store_commit(struct dict_store *dstore,
		  struct dict_transaction_context **trans,
		  const char **error_r)
{
	struct vsmlist_store *store = &dstore->store;
	struct ioloop *prev_ioloop = current_ioloop;
	const char *error;
	int ret;

	io_loop_set_current(dstore->ioloop);
	(void)dict_switch_ioloop(dstore->dict);
	ret = dict_transaction_commit(trans, &error);
	io_loop_set_current(prev_ioloop);
	if (ret < 0) {
		*error_r = t_strdup_printf("writing to the dict failed: %s",
					   error);
		return dict_store_fail(store, dict_store_error_kind(error));
	}
	return 0;
}

/* Look the member up for a change. Returns 1 with member_r, 0, -1. */
static int
dict_store_change_lookup(struct dict_store *dstore, const char *key,
			 struct vsmlist_member *member_r,
			 const char **error_r)
{
	struct dict_store_op op;
	int ret;

	dict_store_op_begin(dstore, &op);
	ret = dict_store_lookup_op(&op, key, pool_datastack_create(),
				   member_r, error_r);
	dict_store_op_end(&op);
	return ret;
}

static int
dict_store_add(struct vsmlist_store *store,
	       const struct smtp_address *address ATTR_UNUSED,
	       const char *key, enum vsmlist_store_add_result *result_r,
	       const char **error_r)
{
	struct dict_store *dstore = (struct dict_store *)store;
	struct dict_transaction_context *trans;
	struct vsmlist_member member;
	int ret;

	if ((ret = dict_store_change_lookup(dstore, key, &member,
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
	dict_set(trans, dict_store_key(dstore, DICT_STORE_COLUMN_STATE, key),
		 "enabled");
	if (dict_store_commit(dstore, &trans, error_r) < 0)
		return -1;
	e_debug(store->event, "%s: added %s", store->name, key);
	return 1;
}

static int
dict_store_remove(struct vsmlist_store *store, const char *key,
		  const char **error_r)
{
	struct dict_store *dstore = (struct dict_store *)store;
	struct dict_transaction_context *trans;
	struct vsmlist_member member;
	enum dict_store_column column;
	int ret;

	if ((ret = dict_store_change_lookup(dstore, key, &member,
					    error_r)) <= 0)
		return ret;
	/* In SQL the first removes the row and the rest find nothing; a
	   dict with one value a key has each column to remove */
	trans = dict_transaction_begin(dstore->dict, &dstore->op_set);
	for (column = 0; column < DICT_STORE_COLUMN_COUNT; column++)
		dict_unset(trans, dict_store_key(dstore, column, key));
	if (dict_store_commit(dstore, &trans, error_r) < 0)
		return -1;
	e_debug(store->event, "%s: removed %s", store->name, key);
	return 1;
}

static int
dict_store_update(struct vsmlist_store *store, const char *key,
		  vsmlist_store_update_callback_t *callback, void *context,
		  const char **error_r)
{
	struct dict_store *dstore = (struct dict_store *)store;
	struct dict_transaction_context *trans;
	struct vsmlist_member member, new_member;
	int ret;

	if ((ret = dict_store_change_lookup(dstore, key, &member,
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
	dict_set(trans, dict_store_key(dstore, DICT_STORE_COLUMN_STATE, key),
		 new_member.state == VSMLIST_MEMBER_DISABLED ?
		 "disabled" : "enabled");
	dict_set(trans, dict_store_key(dstore,
				       DICT_STORE_COLUMN_BOUNCE_POINTS, key),
		 dec2str(new_member.bounce_points));
	dict_set(trans, dict_store_key(dstore,
				       DICT_STORE_COLUMN_LAST_BOUNCE, key),
		 dec2str(new_member.last_bounce));
	dict_set(trans, dict_store_key(dstore,
				       DICT_STORE_COLUMN_DISABLED_AT, key),
		 dec2str(new_member.disabled_at));
	if (dict_store_commit(dstore, &trans, error_r) < 0)
		return -1;
	e_debug(store->event, "%s: updated %s", store->name, key);
	return 1;
}

static void dict_store_deinit(struct vsmlist_store *store)
{
	struct dict_store *dstore = (struct dict_store *)store;
	struct ioloop *prev_ioloop = current_ioloop;

	io_loop_set_current(dstore->ioloop);
	if (dstore->dict != NULL)
		dict_deinit(&dstore->dict);
	io_loop_destroy(&dstore->ioloop);
	io_loop_set_current(prev_ioloop);
	if (dstore->drivers_registered)
		dict_drivers_unregister_builtin();
}

static const struct vsmlist_store_vfuncs dict_store_vfuncs = {
	.deinit = dict_store_deinit,
	.read = dict_store_read,
	.lookup = dict_store_lookup,
	.add = dict_store_add,
	.remove = dict_store_remove,
	.update = dict_store_update,
};

/* Whether uri (the dict URI) can be a member store here. Returns 0, or -1
   with error_r. */
static int
dict_store_check_uri(const char *uri, const char *base_dir,
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
	for (i = 0; i < N_ELEMENTS(dict_store_refused_drivers); i++) {
		if (strcmp(driver, dict_store_refused_drivers[i].driver) != 0)
			continue;
		*error_r = t_strdup_printf(
			"the dict driver %s %s, and a member store is read "
			"by iterating (use an SQL dict through "
			"dict:proxy::<name>, or file:)", driver,
			dict_store_refused_drivers[i].why);
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
dict_store_init(pool_t pool, const char *location,
		const struct vsmlist_store_settings *set,
		const char **error_r)
{
	struct dict_store *dstore;
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
	if (dict_store_check_uri(location, set->base_dir, error_r) < 0)
		return NULL;

	dstore = p_new(pool, struct dict_store, 1);
	dstore->store.v = &dict_store_vfuncs;
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
	for (i = 0; i < N_ELEMENTS(dict_store_server_drivers); i++) {
		if (strcmp(driver, dict_store_server_drivers[i]) == 0) {
			error = t_strdup_printf("%s (the %s driver is in "
				"Dovecot's dict server only: use "
				"dict:proxy::<name> with dict { <name> = %s })",
				error, driver, location);
			break;
		}
	}
	*error_r = error;
	dict_store_deinit(&dstore->store);
	return NULL;
}

const struct vsmlist_store_backend vsmlist_store_backend_dict = {
	.scheme = "dict",
	.init = dict_store_init,
};
