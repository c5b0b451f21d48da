/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "hash.h" /* str_hash() */
#include "str-sanitize.h"
#include "home-expand.h"
#include "smtp-address.h"
#include "smtp-parser.h"

#include "vsmlist-store-private.h"

#include <time.h>

struct vsmlist_member_set {
	pool_t pool;
	ARRAY(struct vsmlist_member) members;
	/* The index: open addressing with linear probing, a power of 2 slots,
	   at most half of them used, each 0 or a member's index + 1. Not a
	   Dovecot hash table: that would hold a reference to the pool, and
	   every reader would have to free the set before the pool. */
	unsigned int *slots;
	unsigned int slots_count;
};

static const struct vsmlist_store_backend *const vsmlist_store_backends[] = {
	&vsmlist_store_backend_file,
	&vsmlist_store_backend_dict,
};

const char *vsmlist_store_address_key(const struct smtp_address *address)
{
	const unsigned char *p;

	if (address->localpart == NULL || address->domain == NULL)
		return NULL;
	/* smtp_address_encode() asserts that SMTP can carry each octet of
	   the local part (quoted if need be); an address from a header may
	   hold others */
	for (p = (const unsigned char *)address->localpart; *p != '\0'; p++) {
		if (!smtp_char_is_qpair(*p))
			return NULL;
	}
	return t_str_lcase(smtp_address_encode(address));
}

const char *vsmlist_store_resolve_path(const char *path, const char *home,
				       const char **error_r)
{
	bool tilde = path[0] == '~' && (path[1] == '/' || path[1] == '\0');

	if (*path == '\0') {
		*error_r = "empty path";
		return NULL;
	}
	if (path[0] == '/')
		return path;
	/* The settings' one rule for paths (vsmlist_settings_path): a
	   relative path would depend on the process's working directory */
	if (!tilde) {
		*error_r = "relative path (use an absolute one or ~/)";
		return NULL;
	}
	if (home == NULL) {
		*error_r = "the user has no home directory to expand '~' with";
		return NULL;
	}
	return home_expand_tilde(path, home);
}

int vsmlist_store_open(const char *uri,
		       const struct vsmlist_store_settings *set,
		       struct vsmlist_store **store_r, const char **error_r)
{
	const struct vsmlist_store_backend *backend = NULL;
	struct vsmlist_store *store;
	const char *p, *scheme, *error;
	unsigned int i;
	pool_t pool;

	*store_r = NULL;
	p = strchr(uri, ':');
	scheme = p == NULL ? "" : t_strdup_until(uri, p);
	for (i = 0; i < N_ELEMENTS(vsmlist_store_backends); i++) {
		if (strcmp(vsmlist_store_backends[i]->scheme, scheme) == 0)
			backend = vsmlist_store_backends[i];
	}
	if (backend == NULL) {
		*error_r = t_strdup_printf("member store '%s': unknown store "
					   "type (use file:<path> or "
					   "dict:<dict URI>)",
					   str_sanitize(uri, 128));
		return -1;
	}

	pool = pool_alloconly_create("vsmlist store", 1024);
	store = backend->init(pool, p + 1, set, &error);
	if (store == NULL) {
		*error_r = t_strdup_printf("member store '%s': %s",
					   str_sanitize(uri, 128), error);
		pool_unref(&pool);
		return -1;
	}
	store->pool = pool;
	store->event = event_create(set->event_parent);
	event_set_append_log_prefix(store->event, "member store: ");
	store->list_key = set->list_address == NULL ? NULL :
		p_strdup(pool, vsmlist_store_address_key(set->list_address));
	store->now = set->now;
	store->lock_timeout_secs = set->lock_timeout_secs;
	store->max_members = set->max_members == 0 ||
		set->max_members > VSMLIST_STORE_MAX_MEMBERS ?
		VSMLIST_STORE_MAX_MEMBERS : set->max_members;
	*store_r = store;
	return 0;
}

void vsmlist_store_close(struct vsmlist_store **_store)
{
	struct vsmlist_store *store = *_store;

	if (store == NULL)
		return;
	*_store = NULL;
	if (store->v->deinit != NULL)
		store->v->deinit(store);
	event_unref(&store->event);
	pool_unref(&store->pool);
}

const char *vsmlist_store_get_name(const struct vsmlist_store *store)
{
	return store->name;
}

enum vsmlist_store_error
vsmlist_store_get_last_error(const struct vsmlist_store *store)
{
	return store->last_error;
}

void vsmlist_store_set_error(struct vsmlist_store *store,
			     enum vsmlist_store_error error)
{
	store->last_error = error;
}

time_t vsmlist_store_now(const struct vsmlist_store *store)
{
	return store->now != NULL ? store->now() : time(NULL);
}

/* The address a change names must be a mailbox with a domain */
static const char *
vsmlist_store_change_key(struct vsmlist_store *store,
			 const struct smtp_address *address,
			 const char **error_r)
{
	const char *key;

	store->last_error = VSMLIST_STORE_ERROR_NONE;
	if (address->localpart == NULL || *address->localpart == '\0' ||
	    address->domain == NULL || *address->domain == '\0') {
		store->last_error = VSMLIST_STORE_ERROR_PERM;
		*error_r = "not a mailbox address with a domain";
		return NULL;
	}
	key = vsmlist_store_address_key(address);
	if (key == NULL) {
		store->last_error = VSMLIST_STORE_ERROR_PERM;
		*error_r = "the local part has octets SMTP cannot carry "
			"(control characters or 8-bit)";
	}
	return key;
}

int vsmlist_store_read(struct vsmlist_store *store, pool_t pool,
		       struct vsmlist_member_set **set_r,
		       const char **error_r)
{
	store->last_error = VSMLIST_STORE_ERROR_NONE;
	return store->v->read(store, pool, set_r, error_r);
}

/* A lookup for backends without one of their own: the whole store is read
   into a pool of its own, the member copied out of it */
static int
vsmlist_store_lookup_by_read(struct vsmlist_store *store, const char *key,
			     pool_t pool, struct vsmlist_member *member_r,
			     const char **error_r)
{
	struct vsmlist_member_set *set;
	const struct vsmlist_member *member;
	pool_t read_pool;
	int ret;

	read_pool = pool_alloconly_create("vsmlist store lookup", 4096);
	ret = store->v->read(store, read_pool, &set, error_r);
	if (ret == 0) {
		member = vsmlist_member_set_lookup_key(set, key);
		if (member != NULL) {
			*member_r = *member;
			member_r->address = smtp_address_clone(pool,
							member->address);
			member_r->key = p_strdup(pool, member->key);
			ret = 1;
		}
	}
	pool_unref(&read_pool);
	return ret;
}

int vsmlist_store_lookup(struct vsmlist_store *store,
			 const struct smtp_address *address, pool_t pool,
			 struct vsmlist_member *member_r,
			 const char **error_r)
{
	const char *key;

	i_zero(member_r);
	store->last_error = VSMLIST_STORE_ERROR_NONE;
	key = vsmlist_store_address_key(address);
	/* An address without a key is nobody's */
	if (key == NULL)
		return 0;
	if (store->v->lookup != NULL)
		return store->v->lookup(store, key, pool, member_r, error_r);
	return vsmlist_store_lookup_by_read(store, key, pool, member_r,
					    error_r);
}

bool vsmlist_store_looks_up_alone(const struct vsmlist_store *store)
{
	return store->v->lookup != NULL;
}

int vsmlist_store_add(struct vsmlist_store *store,
		      const struct smtp_address *address,
		      enum vsmlist_store_add_result *result_r,
		      const char **error_r)
{
	const char *key = vsmlist_store_change_key(store, address, error_r);

	*result_r = VSMLIST_STORE_ADD_ADDED;
	if (key == NULL)
		return -1;
	return store->v->add(store, address, key, result_r, error_r);
}

int vsmlist_store_remove(struct vsmlist_store *store,
			 const struct smtp_address *address,
			 const char **error_r)
{
	const char *key = vsmlist_store_change_key(store, address, error_r);

	if (key == NULL)
		return -1;
	return store->v->remove(store, key, error_r);
}

#undef vsmlist_store_update
int vsmlist_store_update(struct vsmlist_store *store,
			 const struct smtp_address *address,
			 vsmlist_store_update_callback_t *callback,
			 void *context, const char **error_r)
{
	const char *key = vsmlist_store_change_key(store, address, error_r);

	if (key == NULL)
		return -1;
	return store->v->update(store, key, callback, context, error_r);
}

struct vsmlist_member_set *
vsmlist_member_set_init(pool_t pool, unsigned int count_hint)
{
	struct vsmlist_member_set *set;

	set = p_new(pool, struct vsmlist_member_set, 1);
	set->pool = pool;
	p_array_init(&set->members, pool, I_MAX(count_hint, 16));
	set->slots_count = nearest_power(I_MAX(count_hint, 16) * 2);
	set->slots = p_new(pool, unsigned int, set->slots_count);
	return set;
}

/* The slot that holds key, or the empty one where it would go */
static unsigned int *
vsmlist_member_set_slot(const struct vsmlist_member_set *set,
			const char *key)
{
	unsigned int mask = set->slots_count - 1;
	unsigned int i = str_hash(key) & mask;
	const struct vsmlist_member *member;

	while (set->slots[i] != 0) {
		member = array_idx(&set->members, set->slots[i] - 1);
		if (strcmp(member->key, key) == 0)
			break;
		i = (i + 1) & mask;
	}
	return &set->slots[i];
}

static void vsmlist_member_set_grow(struct vsmlist_member_set *set)
{
	const struct vsmlist_member *member;
	unsigned int idx = 0;

	set->slots_count *= 2;
	set->slots = p_new(set->pool, unsigned int, set->slots_count);
	array_foreach(&set->members, member)
		*vsmlist_member_set_slot(set, member->key) = ++idx;
}

struct vsmlist_member *
vsmlist_member_set_add(struct vsmlist_member_set *set,
		       const struct smtp_address *address, const char *key)
{
	struct vsmlist_member *member;
	unsigned int *slot;

	slot = vsmlist_member_set_slot(set, key);
	if (*slot != 0)
		return NULL;
	member = array_append_space(&set->members);
	member->address = address;
	member->key = key;
	*slot = array_count(&set->members);
	if (array_count(&set->members) * 2 > set->slots_count)
		vsmlist_member_set_grow(set);
	return member;
}

struct vsmlist_member *
vsmlist_member_set_lookup_modifiable(struct vsmlist_member_set *set,
				     const char *key)
{
	unsigned int idx = *vsmlist_member_set_slot(set, key);

	return idx == 0 ? NULL : array_idx_modifiable(&set->members, idx - 1);
}

bool vsmlist_member_state_equals(const struct vsmlist_member *a,
				 const struct vsmlist_member *b)
{
	return a->state == b->state && a->bounce_points == b->bounce_points &&
		a->last_bounce == b->last_bounce &&
		a->disabled_at == b->disabled_at;
}

bool vsmlist_member_has_state(const struct vsmlist_member *member)
{
	return member->state != VSMLIST_MEMBER_ENABLED ||
		member->bounce_points != 0 || member->last_bounce != 0 ||
		member->disabled_at != 0;
}

const struct vsmlist_member *
vsmlist_member_set_get(const struct vsmlist_member_set *set,
		       unsigned int *count_r)
{
	return array_get(&set->members, count_r);
}

bool vsmlist_member_reset(struct vsmlist_member *member)
{
	if (member->state == VSMLIST_MEMBER_ENABLED &&
	    member->bounce_points == 0 && member->last_bounce == 0 &&
	    member->disabled_at == 0)
		return FALSE;
	member->state = VSMLIST_MEMBER_ENABLED;
	member->bounce_points = 0;
	member->last_bounce = 0;
	member->disabled_at = 0;
	return TRUE;
}

const struct vsmlist_member *
vsmlist_member_set_lookup_key(const struct vsmlist_member_set *set,
			      const char *key)
{
	return vsmlist_member_set_lookup_modifiable(
		(struct vsmlist_member_set *)set, key);
}

const struct vsmlist_member *
vsmlist_member_set_lookup(const struct vsmlist_member_set *set,
			  const struct smtp_address *address)
{
	const struct vsmlist_member *member = NULL;

	T_BEGIN {
		const char *key = vsmlist_store_address_key(address);

		/* An address without a key is nobody's */
		if (key != NULL)
			member = vsmlist_member_set_lookup_key(set, key);
	} T_END;
	return member;
}

unsigned int
vsmlist_member_set_count(const struct vsmlist_member_set *set,
			 enum vsmlist_member_state state)
{
	const struct vsmlist_member *member;
	unsigned int count = 0;

	array_foreach(&set->members, member) {
		if (member->state == state)
			count++;
	}
	return count;
}
