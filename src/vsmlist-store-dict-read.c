/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"

#include "vsmlist-store-dict-private.h"

/* Reading a list and looking one member up, for the dict backend */

/* Reading every member */
struct vsmlist_dict_read {
	struct vsmlist_dict_store *dstore;
	struct vsmlist_member_set *set;
	pool_t pool;
	struct vsmlist_dict_invalid invalid;
	unsigned int count;
	/* A row without its columns was seen */
	bool need_columns;
	enum vsmlist_dict_column column;
};

/* Add one row's member to the set. Returns 1 when added, 0 when skipped
   (invalid, or a second row of a member). */
static int
vsmlist_dict_read_add(struct vsmlist_dict_read *ctx, const char *escaped_key,
		      const char *const *values)
{
	struct vsmlist_member row, *member;
	const char *error;
	int ret;

	ret = vsmlist_dict_parse_row(ctx->pool, &ctx->invalid, escaped_key,
				     values, &row, &error);
	if (ret < 0) {
		vsmlist_dict_invalid_log(&ctx->invalid, escaped_key,
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
vsmlist_dict_read_row(const char *escaped_key, const char *const *values,
		      struct vsmlist_dict_read *ctx, const char **error_r)
{
	struct vsmlist_store *store = &ctx->dstore->store;
	int ret;

	/* Each row in a frame of its own: a list may have a million */
	T_BEGIN {
		ret = vsmlist_dict_read_add(ctx, escaped_key, values);
	} T_END;
	if (ret > 0 && ++ctx->count > store->max_members) {
		*error_r = t_strdup_printf("more than %u members (the most "
					   "a store may have)",
					   store->max_members);
		return vsmlist_dict_fail(store, VSMLIST_STORE_ERROR_PERM);
	}
	return 0;
}

static int
vsmlist_dict_read_column(const char *escaped_key, const char *const *values,
			 struct vsmlist_dict_read *ctx,
			 const char **error_r ATTR_UNUSED)
{
	struct vsmlist_member *member;
	const char *error;

	T_BEGIN {
		member = vsmlist_member_set_lookup_modifiable(ctx->set,
			dict_unescape_string(escaped_key));
		/* A column without its member's row is a leftover: ignored */
		if (member != NULL &&
		    vsmlist_dict_parse_column(ctx->column, values[0], member,
					      &error) < 0) {
			vsmlist_dict_invalid_log(&ctx->invalid, escaped_key,
				t_strconcat(error, " (ignored)", NULL));
		}
	} T_END;
	return 0;
}

int
vsmlist_dict_read(struct vsmlist_store *store, pool_t pool,
		  struct vsmlist_member_set **set_r, const char **error_r)
{
	struct vsmlist_dict_store *dstore = (struct vsmlist_dict_store *)store;
	struct vsmlist_dict_read ctx;
	struct vsmlist_dict_op op;
	int ret;

	i_zero(&ctx);
	ctx.dstore = dstore;
	ctx.pool = pool;
	ctx.invalid.store = store;
	ctx.set = vsmlist_member_set_init(pool, 0);
	vsmlist_dict_op_begin(dstore, &op);
	ret = vsmlist_dict_iterate(&op, vsmlist_dict_key(dstore,
					DICT_STORE_COLUMN_STATE, NULL), 0,
				   (vsmlist_dict_row_callback_t *)
				   vsmlist_dict_read_row, &ctx, error_r);
	/* A dict with one value a key: each column is an iteration */
	for (ctx.column = DICT_STORE_COLUMN_BOUNCE_POINTS;
	     ret == 0 && ctx.need_columns &&
	     ctx.column < DICT_STORE_COLUMN_COUNT; ctx.column++) {
		ret = vsmlist_dict_iterate(&op, vsmlist_dict_key(dstore,
						ctx.column, NULL), 0,
					   (vsmlist_dict_row_callback_t *)
					   vsmlist_dict_read_column, &ctx,
					   error_r);
	}
	vsmlist_dict_op_end(&op);
	vsmlist_dict_invalid_finish(&ctx.invalid);
	if (ret < 0)
		return -1;
	e_debug(store->event, "%s: %u members read", store->name, ctx.count);
	*set_r = ctx.set;
	return 0;
}

/* Looking up one member */
struct vsmlist_dict_lookup {
	struct vsmlist_member *member;
	pool_t pool;
	struct vsmlist_dict_invalid invalid;
	enum vsmlist_dict_column column;
	/* 1: the row had every column, 0: only its state, -1: no row */
	int found;
};

static int
vsmlist_dict_lookup_row(const char *suffix ATTR_UNUSED,
			const char *const *values,
			struct vsmlist_dict_lookup *ctx,
			const char **error_r ATTR_UNUSED)
{
	const char *key = ctx->member->key, *error;

	/* The exact key's row: the member is the one looked up */
	ctx->found = vsmlist_dict_parse_row(ctx->pool, &ctx->invalid,
					    dict_escape_string(key), values,
					    ctx->member, &error);
	if (ctx->found < 0) {
		/* A key no store change writes (a row added by hand, say
		   with an address literal): no member, as a read skips it */
		vsmlist_dict_invalid_log(&ctx->invalid,
					 dict_escape_string(key),
					 t_strconcat(error, " (ignored)", NULL));
	}
	return 1;
}

static int
vsmlist_dict_lookup_column(const char *suffix ATTR_UNUSED,
			   const char *const *values,
			   struct vsmlist_dict_lookup *ctx,
			   const char **error_r ATTR_UNUSED)
{
	const char *error;

	if (vsmlist_dict_parse_column(ctx->column, values[0], ctx->member,
				      &error) < 0) {
		vsmlist_dict_invalid_log(&ctx->invalid, ctx->member->key,
			t_strconcat(error, " (ignored)", NULL));
	}
	return 1;
}

int
vsmlist_dict_lookup_op(struct vsmlist_dict_op *op, const char *key,
		       pool_t pool, struct vsmlist_member *member_r,
		       const char **error_r)
{
	struct vsmlist_dict_store *dstore = op->dstore;
	struct vsmlist_dict_lookup ctx;

	i_zero(&ctx);
	i_zero(member_r);
	member_r->key = key;
	ctx.member = member_r;
	ctx.pool = pool;
	ctx.invalid.store = &dstore->store;
	ctx.found = -1;
	if (vsmlist_dict_iterate(op, vsmlist_dict_key(dstore,
					DICT_STORE_COLUMN_STATE, key),
				 DICT_ITERATE_FLAG_EXACT_KEY,
				 (vsmlist_dict_row_callback_t *)
				 vsmlist_dict_lookup_row, &ctx, error_r) < 0)
		return -1;
	if (ctx.found < 0)
		return 0;
	for (ctx.column = DICT_STORE_COLUMN_BOUNCE_POINTS;
	     ctx.found == 0 && ctx.column < DICT_STORE_COLUMN_COUNT;
	     ctx.column++) {
		if (vsmlist_dict_iterate(op,
				vsmlist_dict_key(dstore, ctx.column,
							  key),
					 DICT_ITERATE_FLAG_EXACT_KEY,
					 (vsmlist_dict_row_callback_t *)
					 vsmlist_dict_lookup_column, &ctx,
					 error_r) < 0)
			return -1;
	}
	return 1;
}

int
vsmlist_dict_lookup(struct vsmlist_store *store, const char *key, pool_t pool,
		    struct vsmlist_member *member_r, const char **error_r)
{
	struct vsmlist_dict_store *dstore = (struct vsmlist_dict_store *)store;
	struct vsmlist_dict_op op;
	int ret;

	vsmlist_dict_op_begin(dstore, &op);
	ret = vsmlist_dict_lookup_op(&op, p_strdup(pool, key), pool, member_r,
				     error_r);
	vsmlist_dict_op_end(&op);
	return ret;
}

