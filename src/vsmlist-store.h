#ifndef VSMLIST_STORE_H
#define VSMLIST_STORE_H

struct smtp_address;

/* The member store: who is on a list and in what state. Opened from a URI
   (sieve_vsmlist_members):

     file:<path>   a member file (one address a line) and <path>.state
                   beside it; '~/' and relative paths are taken from the
                   home (vsmlist-store-file.c, doc/vsmlist.md)
     dict:<uri>    a Dovecot dict, typically dict:proxy::<name> to an SQL
                   dict of Dovecot's dict server; one row per member
                   with its state (vsmlist-store-dict.c, doc/dict.md)

   Reading gives every member with its state at once, indexed for O(1)
   lookups; a lookup gives one member. Changes (add, remove, update) are
   made from the store's current content, never from an earlier read: the
   file backend under its lock, so that concurrent deliveries and hand
   edits are never lost; the dict backend as one transaction each (a dict
   has no lock: doc/dict.md says what two changes at once can do). */

/* A store larger than this is refused (reading and adding fail), unless
   the settings give a lower cap */
#define VSMLIST_STORE_MAX_MEMBERS 1000000

enum vsmlist_member_state {
	VSMLIST_MEMBER_ENABLED = 0,
	/* Gets no posts (disabled by bounces), until enabled again */
	VSMLIST_MEMBER_DISABLED,
};

struct vsmlist_member {
	/* As written in the store (first spelling where it is twice) */
	const struct smtp_address *address;
	/* vsmlist_store_address_key() of address */
	const char *key;
	enum vsmlist_member_state state;
	unsigned int bounce_points;
	/* 0 = never */
	time_t last_bounce;
	time_t disabled_at;
};

struct vsmlist_store_settings {
	/* The list user's home: '~/' and relative paths are taken from it.
	   NULL: such paths are an error. */
	const char *home;
	/* The list's address (a dict backend keys its members by it) */
	const struct smtp_address *list_address;
	struct event *event_parent;
	/* The clock given to update callbacks; NULL = time(NULL) */
	time_t (*now)(void);
	/* How long a change waits for the store's lock; 0 = the default
	   (VSMLIST_STORE_LOCK_TIMEOUT_SECS in vsmlist-store-file.c) */
	unsigned int lock_timeout_secs;
	/* The most members; 0 or more than VSMLIST_STORE_MAX_MEMBERS = that */
	unsigned int max_members;

	/* dict: only */
	/* Dovecot's base_dir, where dict:proxy:: finds the dict server's
	   socket; NULL: only a proxy with an absolute socket path opens */
	const char *base_dir;
	/* Bound for one read or lookup, connection included; 0 = the default
	   (VSMLIST_STORE_DICT_TIMEOUT_MSECS) */
	unsigned int timeout_msecs;
};

/* The default bound of a dict store's read or lookup: as long as Dovecot's
   dict client waits for one reply */
#define VSMLIST_STORE_DICT_TIMEOUT_MSECS (30*1000)

/* Why the last call failed */
enum vsmlist_store_error {
	VSMLIST_STORE_ERROR_NONE = 0,
	/* Worth trying again later: the lock was busy, or an I/O error */
	VSMLIST_STORE_ERROR_TEMP,
	/* Will fail again until someone fixes the store or the request: a
	   store over its limits, an unknown state file version, an address
	   that a member file cannot hold, a wrong URI */
	VSMLIST_STORE_ERROR_PERM,
};

enum vsmlist_store_add_result {
	/* A new member, enabled */
	VSMLIST_STORE_ADD_ADDED = 0,
	/* Already a member (in any case variant), enabled */
	VSMLIST_STORE_ADD_ALREADY_MEMBER,
	/* Already a member, but disabled: add does not re-enable (the
	   caller decides, e.g. with vsmlist_store_update()) */
	VSMLIST_STORE_ADD_ALREADY_DISABLED,
};

struct vsmlist_store;
struct vsmlist_member_set;

/* Modify member (its state fields; address and key are ignored) under the
   store's lock. now is the store's clock. Return TRUE when something was
   changed and must be written. */
typedef bool vsmlist_store_update_callback_t(struct vsmlist_member *member,
					     time_t now, void *context);

/* The normalised form of an address that the store, lookups, tokens and
   rate limits compare: the encoded address, lower-cased (local part and
   domain alike). Allocated from the data stack. NULL for an address that
   SMTP cannot carry (no local part or domain, or a local part with control
   characters or 8-bit octets, as a header may give): such an address is
   no member and cannot become one. */
const char *vsmlist_store_address_key(const struct smtp_address *address);

/* Open a store. Returns 0, or -1 with error_r (unknown scheme, a path
   that needs a home without one, a dict that cannot iterate or is not
   known in this process). Opening touches no file and connects to
   nothing. */
int vsmlist_store_open(const char *uri,
		       const struct vsmlist_store_settings *set,
		       struct vsmlist_store **store_r, const char **error_r);
void vsmlist_store_close(struct vsmlist_store **store);

/* For log lines: the URI with the path resolved */
const char *vsmlist_store_get_name(const struct vsmlist_store *store);
/* The kind of the last failure (NONE after a success) */
enum vsmlist_store_error
vsmlist_store_get_last_error(const struct vsmlist_store *store);

/* Read every member with its state, allocated from pool (not a data
   stack pool: reading works in frames of its own). Takes no lock:
   a reader sees the store before or after a change, never half of one.
   Returns 0, or -1 with error_r. */
int vsmlist_store_read(struct vsmlist_store *store, pool_t pool,
		       struct vsmlist_member_set **set_r,
		       const char **error_r);

/* Look up one member, allocated from pool (not a data stack pool).
   Returns 1 with member_r, 0 when not a member, -1 with error_r. The file
   backend reads the whole store for it; the dict backend looks the member
   up alone. */
int vsmlist_store_lookup(struct vsmlist_store *store,
			 const struct smtp_address *address, pool_t pool,
			 struct vsmlist_member *member_r,
			 const char **error_r);

/* Whether the backend looks a member up alone (dict), rather than reading
   the whole store for it (file): then a few lookups are cheaper than a
   read */
bool vsmlist_store_looks_up_alone(const struct vsmlist_store *store);

/* Add an (enabled) member at the end. Returns 1 when added, 0 when already
   a member (result_r says whether enabled or disabled), -1 on error. */
int vsmlist_store_add(struct vsmlist_store *store,
		      const struct smtp_address *address,
		      enum vsmlist_store_add_result *result_r,
		      const char **error_r);
/* Remove a member: every line that names it. Its state is no longer read
   and goes with the next change. Returns 1 when removed, 0 when it was
   not a member, -1 on error. */
int vsmlist_store_remove(struct vsmlist_store *store,
			 const struct smtp_address *address,
			 const char **error_r);
/* Read the member's current state under the lock, let callback change it,
   write it back. The callback is called only for a member. Returns 1 when
   changed, 0 when not a member or the callback changed nothing, -1 on
   error. */
int vsmlist_store_update(struct vsmlist_store *store,
			 const struct smtp_address *address,
			 vsmlist_store_update_callback_t *callback,
			 void *context, const char **error_r);
#define vsmlist_store_update(store, address, callback, context, error_r) \
	vsmlist_store_update(store, address, \
		(vsmlist_store_update_callback_t *)(callback), \
		1 ? (context) : \
		CALLBACK_TYPECHECK(callback, bool (*)( \
			struct vsmlist_member *, time_t, typeof(context))), \
		error_r)

/* A clean slate for a member: enabled, no bounce points, no bounce
   remembered (doveadm vsmlist enable, a confirmed subscription). Returns
   whether anything changed. */
bool vsmlist_member_reset(struct vsmlist_member *member);

/* Members in store order */
const struct vsmlist_member *
vsmlist_member_set_get(const struct vsmlist_member_set *set,
		       unsigned int *count_r);
/* The member with this address (compared by its key), or NULL */
const struct vsmlist_member *
vsmlist_member_set_lookup(const struct vsmlist_member_set *set,
			  const struct smtp_address *address);
const struct vsmlist_member *
vsmlist_member_set_lookup_key(const struct vsmlist_member_set *set,
			      const char *key);
unsigned int
vsmlist_member_set_count(const struct vsmlist_member_set *set,
			 enum vsmlist_member_state state);

#endif
