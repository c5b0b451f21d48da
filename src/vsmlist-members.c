/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "str-sanitize.h"
#include "istream.h"
#include "smtp-address.h"

#include "vsmlist-members.h"

#include <fcntl.h>
#include <unistd.h>

struct vsmlist_members {
	pool_t pool;
	ARRAY(const struct smtp_address *) list;
	/* Lower-cased encoded address -> index + 1 in list */
	HASH_TABLE(const char *, void *) seen;
};

struct vsmlist_members *vsmlist_members_init(pool_t pool)
{
	struct vsmlist_members *members;

	members = p_new(pool, struct vsmlist_members, 1);
	members->pool = pool;
	p_array_init(&members->list, pool, 64);
	hash_table_create(&members->seen, pool, 64, str_hash, strcmp);
	return members;
}

void vsmlist_members_deinit(struct vsmlist_members **_members)
{
	struct vsmlist_members *members = *_members;

	if (members == NULL)
		return;
	*_members = NULL;
	/* The table holds a reference to the pool */
	hash_table_destroy(&members->seen);
}

int vsmlist_members_add(struct vsmlist_members *members, const char *address,
			const char **error_r)
{
	struct smtp_address *addr;
	const char *key, *error;

	if (smtp_address_parse_path(members->pool, address,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				    &addr, &error) < 0) {
		*error_r = error;
		return -1;
	}
	if (addr->localpart == NULL || addr->domain == NULL) {
		*error_r = "Missing domain";
		return -1;
	}

	key = p_strdup(members->pool, t_str_lcase(smtp_address_encode(addr)));
	if (hash_table_lookup(members->seen, key) != NULL)
		return 0;
	array_push_back(&members->list, (const struct smtp_address **)&addr);
	hash_table_insert(members->seen, key,
			  POINTER_CAST(array_count(&members->list)));
	return 1;
}

bool vsmlist_members_remove(struct vsmlist_members *members,
			    const struct smtp_address *address)
{
	const char *key = t_str_lcase(smtp_address_encode(address));
	const char *orig_key;
	void *value;
	unsigned int idx, i, count;
	const struct smtp_address *const *addrs;

	if (!hash_table_lookup_full(members->seen, key, &orig_key, &value))
		return FALSE;
	idx = POINTER_CAST_TO(value, unsigned int) - 1;
	array_delete(&members->list, idx, 1);
	hash_table_remove(members->seen, key);

	/* Renumber the ones that moved up */
	addrs = array_get(&members->list, &count);
	for (i = idx; i < count; i++) {
		key = t_str_lcase(smtp_address_encode(addrs[i]));
		if (hash_table_lookup_full(members->seen, key, &orig_key,
					   &value)) {
			hash_table_update(members->seen, orig_key,
					  POINTER_CAST(i + 1));
		}
	}
	return TRUE;
}

const struct smtp_address *const *
vsmlist_members_get(const struct vsmlist_members *members,
		    unsigned int *count_r)
{
	return array_get(&members->list, count_r);
}
