#ifndef VSMLIST_STORE_PRIVATE_H
#define VSMLIST_STORE_PRIVATE_H

#include "vsmlist-store.h"

/* What a backend implements behind struct vsmlist_store. The key given to
   add/remove/update is vsmlist_store_address_key() of the address. Each
   sets store->last_error through vsmlist_store_set_error() on failure. */
struct vsmlist_store_vfuncs {
	void (*deinit)(struct vsmlist_store *store);
	int (*read)(struct vsmlist_store *store, pool_t pool,
		    struct vsmlist_member_set **set_r, const char **error_r);
	/* Optional: without it a lookup reads the whole store */
	int (*lookup)(struct vsmlist_store *store, const char *key,
		      pool_t pool, struct vsmlist_member *member_r,
		      const char **error_r);
	int (*add)(struct vsmlist_store *store,
		   const struct smtp_address *address, const char *key,
		   enum vsmlist_store_add_result *result_r,
		   const char **error_r);
	int (*remove)(struct vsmlist_store *store, const char *key,
		      const char **error_r);
	int (*update)(struct vsmlist_store *store, const char *key,
		      vsmlist_store_update_callback_t *callback,
		      void *context, const char **error_r);
};

struct vsmlist_store_backend {
	/* The URI scheme, without ':' */
	const char *scheme;
	/* location: the URI after "<scheme>:". Returns the store allocated
	   from pool with v set, or NULL with error_r. */
	struct vsmlist_store *(*init)(pool_t pool, const char *location,
				      const struct vsmlist_store_settings *set,
				      const char **error_r);
};

struct vsmlist_store {
	pool_t pool;
	const struct vsmlist_store_vfuncs *v;
	struct event *event;
	/* URI with the path resolved, for log lines */
	const char *name;
	/* The list address's key, NULL if none was given */
	const char *list_key;
	time_t (*now)(void);
	unsigned int lock_timeout_secs;
	unsigned int max_members;
	enum vsmlist_store_error last_error;
};

extern const struct vsmlist_store_backend vsmlist_store_backend_file;
extern const struct vsmlist_store_backend vsmlist_store_backend_dict;

void vsmlist_store_set_error(struct vsmlist_store *store,
			     enum vsmlist_store_error error);
time_t vsmlist_store_now(const struct vsmlist_store *store);

/* Resolve a path: absolute, or '~/' in the home; a relative path is
   refused. Returns the path, or NULL with error_r. */
const char *vsmlist_store_resolve_path(const char *path, const char *home,
				       const char **error_r);

/* Building a member set (for backends and the parser) */
struct vsmlist_member_set *
vsmlist_member_set_init(pool_t pool, unsigned int count_hint);
/* Add an enabled member with default state. Returns it, or NULL when the
   key is already in the set (the first spelling stays). */
struct vsmlist_member *
vsmlist_member_set_add(struct vsmlist_member_set *set,
		       const struct smtp_address *address, const char *key);
/* The set's own record of the member, to fill in its state */
struct vsmlist_member *
vsmlist_member_set_lookup_modifiable(struct vsmlist_member_set *set,
				     const char *key);
/* Whether two records of a member hold the same state */
bool vsmlist_member_state_equals(const struct vsmlist_member *a,
				 const struct vsmlist_member *b);
/* Whether the member's state differs from a fresh member's */
bool vsmlist_member_has_state(const struct vsmlist_member *member);

#endif
