/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "buffer.h"
#include "str.h"
#include "smtp-address.h"

#include "vsmlist-rewrite.h"
#include "vsmlist-store-private.h"
#include "vsmlist-store-parse.h"

/* The file backend: a member file rewritten under its dotlock, and
   <member file>.state beside it, replaced under the same lock. Every
   change re-reads both under the lock. See doc/vsmlist.md, "The member
   store". */

/* A change waits this long for the lock, then fails temporarily */
#define VSMLIST_STORE_LOCK_TIMEOUT_SECS 10
/* A lock unchanged this long (and the member file as old) is a crashed
   writer's and is overridden; a rewrite of the largest file takes about
   a second */
#define VSMLIST_STORE_LOCK_STALE_SECS 30
/* The largest member (or state) file read: room for the member cap */
#define VSMLIST_STORE_MAX_FILE_SIZE (128 * 1024 * 1024)

struct file_store {
	struct vsmlist_store store;
	const char *path, *state_path;
};

/* One change under the lock: the files as they are now */
struct file_store_change {
	struct file_store *fstore;
	pool_t pool;
	struct vsmlist_rewrite *rewrite;
	const buffer_t *data;
	buffer_t *state_data;
	struct vsmlist_member_set *set;
};

static int
file_store_fail(struct vsmlist_store *store, enum vsmlist_store_error error)
{
	vsmlist_store_set_error(store, error);
	return -1;
}

/* EFBIG: over the size cap, which retrying does not fix */
static int file_store_fail_errno(struct vsmlist_store *store, int error)
{
	return file_store_fail(store, error == EFBIG ?
			       VSMLIST_STORE_ERROR_PERM :
			       VSMLIST_STORE_ERROR_TEMP);
}

static int
file_store_read(struct vsmlist_store *store, pool_t pool,
		struct vsmlist_member_set **set_r, const char **error_r)
{
	struct file_store *fstore = (struct file_store *)store;
	buffer_t *data, *state_data;
	int ret;

	data = buffer_create_dynamic(default_pool, 65536);
	state_data = buffer_create_dynamic(default_pool, 1024);
	/* The member file first: a change writes the state first, so the
	   state read after the member file is at least as new as it, and
	   state it holds for non-members is ignored */
	ret = vsmlist_file_read(fstore->path, VSMLIST_STORE_MAX_FILE_SIZE,
				data, error_r);
	if (ret == 0) {
		*error_r = t_strdup_printf(
			"%s does not exist (an empty list is an empty file)",
			fstore->path);
		ret = file_store_fail(store, VSMLIST_STORE_ERROR_PERM);
	} else if (ret < 0) {
		ret = file_store_fail_errno(store, errno);
	} else if (vsmlist_file_read(fstore->state_path,
				     VSMLIST_STORE_MAX_FILE_SIZE, state_data,
				     error_r) < 0) {
		ret = file_store_fail_errno(store, errno);
	} else if (vsmlist_store_parse(pool, store->event, fstore->path,
				       store->max_members,
				       data->data, data->used,
				       state_data->data, state_data->used,
				       set_r, error_r) < 0) {
		ret = file_store_fail(store, VSMLIST_STORE_ERROR_PERM);
	} else {
		ret = 0;
	}
	buffer_free(&data);
	buffer_free(&state_data);
	return ret;
}

/* Take the lock and read both files. Returns 1, 0 when the member file
   does not exist and create is FALSE (nothing locked then), -1. */
static int
file_store_change_begin(struct file_store *fstore, bool create,
			struct file_store_change *change_r,
			const char **error_r)
{
	struct vsmlist_store *store = &fstore->store;
	struct vsmlist_rewrite_settings set = {
		.timeout_secs = store->lock_timeout_secs != 0 ?
			store->lock_timeout_secs :
			VSMLIST_STORE_LOCK_TIMEOUT_SECS,
		.stale_secs = VSMLIST_STORE_LOCK_STALE_SECS,
		.max_size = VSMLIST_STORE_MAX_FILE_SIZE,
		.event = store->event,
	};
	bool exists;
	int ret;

	i_zero(change_r);
	change_r->fstore = fstore;
	set.create_dir = create;
	ret = vsmlist_rewrite_begin(fstore->path, &set, &change_r->rewrite,
				    error_r);
	if (ret < 0 && errno == ENOENT && !create) {
		/* No directory, so no member file */
		return 0;
	}
	if (ret == 0)
		return file_store_fail(store, VSMLIST_STORE_ERROR_TEMP);
	if (ret < 0)
		return file_store_fail_errno(store, errno);
	change_r->data = vsmlist_rewrite_get_data(change_r->rewrite, &exists);
	if (!exists && !create) {
		vsmlist_rewrite_abort(&change_r->rewrite);
		return 0;
	}
	change_r->pool = pool_alloconly_create("vsmlist store change", 4096);
	change_r->state_data = buffer_create_dynamic(change_r->pool, 1024);
	if (vsmlist_file_read(fstore->state_path, VSMLIST_STORE_MAX_FILE_SIZE,
			      change_r->state_data, error_r) < 0)
		ret = file_store_fail_errno(store, errno);
	else if (vsmlist_store_parse(change_r->pool, store->event,
				     fstore->path, store->max_members,
				     change_r->data->data,
				     change_r->data->used,
				     change_r->state_data->data,
				     change_r->state_data->used,
				     &change_r->set, error_r) < 0)
		ret = file_store_fail(store, VSMLIST_STORE_ERROR_PERM);
	if (ret < 0) {
		vsmlist_rewrite_abort(&change_r->rewrite);
		pool_unref(&change_r->pool);
		return -1;
	}
	return 1;
}

static void file_store_change_end(struct file_store_change *change)
{
	vsmlist_rewrite_abort(&change->rewrite);
	pool_unref(&change->pool);
}

/* Write the state file for the change's set, unless it is as it was */
static int
file_store_change_write_state(struct file_store_change *change,
			      const char **error_r)
{
	struct file_store *fstore = change->fstore;
	string_t *state = t_str_new(1024);

	vsmlist_store_state_write(state, change->set);
	if (change->state_data->used == 0 &&
	    str_len(state) == strlen(VSMLIST_STORE_STATE_HEADER"\n")) {
		/* No state and no file: nothing to create */
		return 0;
	}
	if (buffer_cmp(change->state_data, state))
		return 0;
	if (vsmlist_file_replace(fstore->state_path,
				 vsmlist_rewrite_get_mode(change->rewrite),
				 str_data(state), str_len(state),
				 error_r) < 0)
		return file_store_fail(&fstore->store,
				       VSMLIST_STORE_ERROR_TEMP);
	return 0;
}

/* Commit a change: the state, then the new member file (NULL: unchanged),
   both under the lock. The state written holds only members of the file
   as it was: a member that comes in has no stale state then, and one that
   goes keeps its state until the next change drops it. A crash between
   the two renames thus leaves at worst stale state of a non-member, which
   reading ignores. */
static int
file_store_change_commit(struct file_store_change *change,
			 const buffer_t *data, const char **error_r)
{
	struct vsmlist_store *store = &change->fstore->store;
	int ret = 0;

	if (file_store_change_write_state(change, error_r) < 0)
		ret = -1;
	else if (data != NULL) {
		vsmlist_rewrite_test_point("store-members");
		if (vsmlist_rewrite_commit(&change->rewrite, data->data,
					   data->used, error_r) < 0)
			ret = file_store_fail(store, VSMLIST_STORE_ERROR_TEMP);
	}
	file_store_change_end(change);
	return ret;
}

/* The line that a member file holds for address, if it reads back as the
   same member (an address with '#' after white space in a quoted local
   part would not) */
static const char *
file_store_member_line(pool_t pool, const struct smtp_address *address,
		       const char *key)
{
	const char *text = smtp_address_encode(address);
	struct vsmlist_store_line line;

	vsmlist_store_line_parse(pool, (const unsigned char *)text,
				 strlen(text), &line);
	if (line.type != VSMLIST_STORE_LINE_MEMBER ||
	    strcmp(line.key, key) != 0)
		return NULL;
	return text;
}

static int
file_store_add(struct vsmlist_store *store,
	       const struct smtp_address *address, const char *key,
	       enum vsmlist_store_add_result *result_r, const char **error_r)
{
	struct file_store *fstore = (struct file_store *)store;
	struct file_store_change change;
	const struct vsmlist_member *member;
	const char *line;
	unsigned int count;
	buffer_t *data;
	int ret;

	if ((ret = file_store_change_begin(fstore, TRUE, &change,
					   error_r)) <= 0)
		return ret;
	member = vsmlist_member_set_lookup_key(change.set, key);
	if (member != NULL) {
		*result_r = member->state == VSMLIST_MEMBER_DISABLED ?
			VSMLIST_STORE_ADD_ALREADY_DISABLED :
			VSMLIST_STORE_ADD_ALREADY_MEMBER;
		file_store_change_end(&change);
		return 0;
	}
	(void)vsmlist_member_set_get(change.set, &count);
	line = file_store_member_line(change.pool, address, key);
	if (count >= store->max_members || line == NULL) {
		*error_r = line == NULL ?
			"the address cannot be written as a member line" :
			t_strdup_printf("the store has %u members, the most "
					"it may have", count);
		file_store_change_end(&change);
		return file_store_fail(store, VSMLIST_STORE_ERROR_PERM);
	}

	/* Everything as it is, the new member at the end */
	data = buffer_create_dynamic(change.pool, change.data->used +
				     strlen(line) + 2);
	buffer_append_buf(data, change.data, 0, SIZE_MAX);
	if (data->used > 0 &&
	    ((const char *)data->data)[data->used - 1] != '\n')
		buffer_append_c(data, '\n');
	buffer_append(data, line, strlen(line));
	buffer_append_c(data, '\n');
	if (file_store_change_commit(&change, data, error_r) < 0)
		return -1;
	e_debug(store->event, "%s: added %s", fstore->path, line);
	return 1;
}

static int
file_store_remove(struct vsmlist_store *store, const char *key,
		  const char **error_r)
{
	struct file_store *fstore = (struct file_store *)store;
	struct file_store_change change;
	struct vsmlist_store_line_iter iter;
	struct vsmlist_store_line line;
	buffer_t *data;
	int ret;

	if ((ret = file_store_change_begin(fstore, FALSE, &change,
					   error_r)) <= 0)
		return ret;
	if (vsmlist_member_set_lookup_key(change.set, key) == NULL) {
		file_store_change_end(&change);
		return 0;
	}

	/* Every line that names the member goes, with its comment; the
	   rest stays as it is */
	data = buffer_create_dynamic(change.pool, change.data->used);
	vsmlist_store_line_iter_init(&iter, change.data->data,
				     change.data->used);
	while (vsmlist_store_line_iter_next(&iter, &line)) T_BEGIN {
		vsmlist_store_line_parse(pool_datastack_create(),
			CONST_PTR_OFFSET(change.data->data, line.start),
			line.size, &line);
		if (line.type != VSMLIST_STORE_LINE_MEMBER ||
		    strcmp(line.key, key) != 0) {
			buffer_append_buf(data, change.data, line.start,
					  line.next - line.start);
		}
	} T_END;
	if (file_store_change_commit(&change, data, error_r) < 0)
		return -1;
	e_debug(store->event, "%s: removed %s", fstore->path, key);
	return 1;
}

static int
file_store_update(struct vsmlist_store *store, const char *key,
		  vsmlist_store_update_callback_t *callback, void *context,
		  const char **error_r)
{
	struct file_store *fstore = (struct file_store *)store;
	struct file_store_change change;
	struct vsmlist_member *member, new_member;
	int ret;

	if ((ret = file_store_change_begin(fstore, FALSE, &change,
					   error_r)) <= 0)
		return ret;
	member = vsmlist_member_set_lookup_modifiable(change.set, key);
	if (member == NULL) {
		file_store_change_end(&change);
		return 0;
	}
	new_member = *member;
	if (!callback(&new_member, vsmlist_store_now(store), context) ||
	    vsmlist_member_state_equals(&new_member, member)) {
		file_store_change_end(&change);
		return 0;
	}
	i_assert(new_member.state == VSMLIST_MEMBER_ENABLED ||
		 new_member.state == VSMLIST_MEMBER_DISABLED);
	member->state = new_member.state;
	member->bounce_points = new_member.bounce_points;
	member->last_bounce = new_member.last_bounce;
	member->disabled_at = new_member.disabled_at;
	if (file_store_change_commit(&change, NULL, error_r) < 0)
		return -1;
	e_debug(store->event, "%s: updated %s", fstore->path, key);
	return 1;
}

static const struct vsmlist_store_vfuncs file_store_vfuncs = {
	.read = file_store_read,
	.add = file_store_add,
	.remove = file_store_remove,
	.update = file_store_update,
};

static struct vsmlist_store *
file_store_init(pool_t pool, const char *location,
		const struct vsmlist_store_settings *set,
		const char **error_r)
{
	struct file_store *fstore;
	const char *path;

	path = vsmlist_store_resolve_path(location, set->home, error_r);
	if (path == NULL)
		return NULL;
	fstore = p_new(pool, struct file_store, 1);
	fstore->store.v = &file_store_vfuncs;
	fstore->path = p_strdup(pool, path);
	fstore->state_path = p_strconcat(pool, path, ".state", NULL);
	fstore->store.name = p_strconcat(pool, "file:", path, NULL);
	return &fstore->store;
}

const struct vsmlist_store_backend vsmlist_store_backend_file = {
	.scheme = "file",
	.init = file_store_init,
};
