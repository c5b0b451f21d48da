#ifndef VSMLIST_STORE_DICT_PRIVATE_H
#define VSMLIST_STORE_DICT_PRIVATE_H

#include "dict.h"
#include "vsmlist-store-private.h"

/* The dict backend (sieve_vsmlist_members = dict:<dict URI>). Keys, with
   <list> and <member> the list's and the member's keys
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

enum vsmlist_dict_column {
	DICT_STORE_COLUMN_STATE = 0,
	DICT_STORE_COLUMN_BOUNCE_POINTS,
	DICT_STORE_COLUMN_LAST_BOUNCE,
	DICT_STORE_COLUMN_DISABLED_AT,

	DICT_STORE_COLUMN_COUNT
};

/* The key segment of each column; the member's row is "member" */
extern const char *const vsmlist_dict_columns[DICT_STORE_COLUMN_COUNT];

struct vsmlist_dict_store {
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
struct vsmlist_dict_op {
	struct vsmlist_dict_store *dstore;
	struct ioloop *prev_ioloop;
	struct timeout *to;
	bool timed_out;
	/* The iteration has more rows to give */
	bool more;
};

/* A row of an iteration: the key after the iterated path, and its values
   (NULL-terminated). Returns 0 to go on, 1 to stop, -1 to stop with
   error_r (and the store's error set). */
typedef int vsmlist_dict_row_callback_t(const char *key_suffix,
					const char *const *values,
					void *context, const char **error_r);

/* Invalid rows and columns of one operation, logged up to a bound */
struct vsmlist_dict_invalid {
	struct vsmlist_store *store;
	unsigned int count;
};

/* vsmlist-store-dict-io.c: the dict, within an operation's deadline */

int vsmlist_dict_fail(struct vsmlist_store *store,
		      enum vsmlist_store_error error);
/* Begin an operation: the store's ioloop current, the deadline set */
void vsmlist_dict_op_begin(struct vsmlist_dict_store *dstore,
			   struct vsmlist_dict_op *op);
void vsmlist_dict_op_end(struct vsmlist_dict_op *op);
/* Iterate path (its direct children, or exactly it with EXACT_KEY) until
   the rows end, row_callback stops it or the deadline passes. Returns 0,
   or -1 with error_r and the store's error set. */
int vsmlist_dict_iterate(struct vsmlist_dict_op *op, const char *path,
			 enum dict_iterate_flags flags,
			 vsmlist_dict_row_callback_t *row_callback,
			 void *context, const char **error_r);
/* Commit a change (not bounded by the deadline). Returns 0, or -1 with
   error_r and the store's error set. */
int vsmlist_dict_commit(struct vsmlist_dict_store *dstore,
			struct dict_transaction_context **trans,
			const char **error_r);

/* vsmlist-store-dict-row.c: keys and rows */

/* The key of a member's column, or with member_key NULL the path of the
   column's keys */
const char *vsmlist_dict_key(struct vsmlist_dict_store *dstore,
			     enum vsmlist_dict_column column,
			     const char *member_key);
/* Set one column of member from its value. Returns 0, or -1 with error_r
   (the column keeps its default). */
int vsmlist_dict_parse_column(enum vsmlist_dict_column column,
			      const char *value,
			      struct vsmlist_member *member,
			      const char **error_r);
/* A member's row: its key segment and its values. Returns 1 when the row
   held every column, 0 when only the state (the dict keeps the columns as
   keys of their own), -1 with error_r for a row that is no member. An
   invalid column keeps its default and is logged. */
int vsmlist_dict_parse_row(pool_t pool, struct vsmlist_dict_invalid *invalid,
			   const char *escaped_key, const char *const *values,
			   struct vsmlist_member *member_r,
			   const char **error_r);
void vsmlist_dict_invalid_log(struct vsmlist_dict_invalid *invalid,
			      const char *escaped_key, const char *what);
void vsmlist_dict_invalid_finish(struct vsmlist_dict_invalid *invalid);

/* vsmlist-store-dict-read.c: reading and lookups */

int vsmlist_dict_read(struct vsmlist_store *store, pool_t pool,
		      struct vsmlist_member_set **set_r, const char **error_r);
int vsmlist_dict_lookup(struct vsmlist_store *store, const char *key,
			pool_t pool, struct vsmlist_member *member_r,
			const char **error_r);
/* Look the member with key up within op. Returns 1 with member_r (from
   pool), 0 when no member, -1 with error_r. */
int vsmlist_dict_lookup_op(struct vsmlist_dict_op *op, const char *key,
			   pool_t pool, struct vsmlist_member *member_r,
			   const char **error_r);

#endif
