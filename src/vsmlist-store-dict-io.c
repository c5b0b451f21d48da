/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"

#include "vsmlist-store-dict-private.h"

/* The dict's I/O for the dict backend: each operation runs the dict in
   the store's own ioloop with a deadline (sieve_vsmlist_members_timeout),
   so that a silent dict server or a slow database ends the operation in
   time, and classifies the dict's errors. */

int
vsmlist_dict_fail(struct vsmlist_store *store, enum vsmlist_store_error error)
{
	vsmlist_store_set_error(store, error);
	return -1;
}

static void vsmlist_dict_op_timeout(struct vsmlist_dict_op *op)
{
	op->timed_out = TRUE;
	io_loop_stop(op->dstore->ioloop);
}

void vsmlist_dict_op_begin(struct vsmlist_dict_store *dstore,
			   struct vsmlist_dict_op *op)
{
	i_zero(op);
	op->dstore = dstore;
	op->prev_ioloop = current_ioloop;
	io_loop_set_current(dstore->ioloop);
	(void)dict_switch_ioloop(dstore->dict);
	/* The time spent before (parsing the post) is not the dict's */
	io_loop_time_refresh();
	op->to = timeout_add(dstore->timeout_msecs,
			     vsmlist_dict_op_timeout, op);
}

void vsmlist_dict_op_end(struct vsmlist_dict_op *op)
{
	timeout_remove(&op->to);
	io_loop_set_current(op->prev_ioloop);
}

static void vsmlist_dict_iterate_more(struct vsmlist_dict_op *op)
{
	op->more = TRUE;
	io_loop_stop(op->dstore->ioloop);
}

/* The kind of a dict's failure: a dict that cannot do what the store
   needs (no iteration behind a proxy, a map file without our keys) fails
   again until the administrator changes it */
static enum vsmlist_store_error vsmlist_dict_error_kind(const char *error)
{
	if (strstr(error, "Unsupported operation") != NULL ||
	    strstr(error, "Invalid/unmapped") != NULL)
		return VSMLIST_STORE_ERROR_PERM;
	return VSMLIST_STORE_ERROR_TEMP;
}

int
vsmlist_dict_iterate(struct vsmlist_dict_op *op, const char *path,
		     enum dict_iterate_flags flags,
		     vsmlist_dict_row_callback_t *row_callback, void *context,
		     const char **error_r)
{
	struct vsmlist_dict_store *dstore = op->dstore;
	struct vsmlist_store *store = &dstore->store;
	struct dict_iterate_context *iter;
	const char *key, *const *values, *error, *row_error = NULL;
	size_t path_len = strlen(path);
	int ret, row_ret = 0;

	iter = dict_iterate_init(dstore->dict, &dstore->op_set, path,
				 flags | DICT_ITERATE_FLAG_ASYNC);
	dict_iterate_set_async_callback(iter, vsmlist_dict_iterate_more, op);
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
		return vsmlist_dict_fail(store, VSMLIST_STORE_ERROR_TEMP);
	}
	if (ret < 0) {
		if (strstr(error, "Unsupported operation") != NULL) {
			error = t_strdup_printf("the dict cannot iterate "
				"(behind a proxy: the dict server's driver "
				"for it cannot): %s", error);
		}
		*error_r = t_strdup_printf("iterating %s failed: %s",
					   path, error);
		return vsmlist_dict_fail(store, vsmlist_dict_error_kind(error));
	}
	return 0;
}

int
vsmlist_dict_commit(struct vsmlist_dict_store *dstore,
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
		return vsmlist_dict_fail(store, vsmlist_dict_error_kind(error));
	}
	return 0;
}

