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

#define VSMLIST_MEMBERS_INITIAL_COUNT 64

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
	p_array_init(&members->list, pool, VSMLIST_MEMBERS_INITIAL_COUNT);
	hash_table_create(&members->seen, pool, VSMLIST_MEMBERS_INITIAL_COUNT,
			  str_hash, strcmp);
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

/* Make room for about count members before the first is added, so that
   the list and its index do not grow (and rehash) again and again. */
static void
vsmlist_members_reserve(struct vsmlist_members *members, unsigned int count)
{
	if (array_count(&members->list) > 0 ||
	    count <= VSMLIST_MEMBERS_INITIAL_COUNT)
		return;
	array_free(&members->list);
	p_array_init(&members->list, members->pool, count);
	hash_table_destroy(&members->seen);
	hash_table_create(&members->seen, members->pool, count,
			  str_hash, strcmp);
}

/* Strip a comment and surrounding white space from a member line. */
static const char *vsmlist_members_line_strip(const char *line)
{
	const char *p;

	for (p = line; *p != '\0'; p++) {
		if (*p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
			line = t_strdup_until(line, p);
			break;
		}
	}
	return t_str_trim(line, " \t\r");
}

int vsmlist_members_read_file(struct vsmlist_members *members,
			      const char *path, struct event *event,
			      const char **error_r)
{
	struct istream *input;
	const char *line, *error;
	unsigned int line_num = 0, invalid = 0;
	uoff_t size;
	int fd, ret = 0;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		*error_r = t_strdup_printf("open(%s) failed: %m", path);
		return -1;
	}
	input = i_stream_create_fd_autoclose(&fd, SIZE_MAX);
	i_stream_set_name(input, path);
	if (i_stream_get_size(input, TRUE, &size) > 0) {
		/* About one member per 32 octets: a line is rarely
		   shorter, and the index grows only once it holds two
		   entries per slot */
		vsmlist_members_reserve(members, I_MIN(size / 32, 1000000));
	}
	/* A last line without a newline is still a member */
	i_stream_set_return_partial_line(input, TRUE);
	while ((line = i_stream_read_next_line(input)) != NULL) {
		line_num++;
		T_BEGIN {
			line = vsmlist_members_line_strip(line);
			if (*line != '\0' &&
			    vsmlist_members_add(members, line, &error) < 0) {
				invalid++;
				e_warning(event, "%s:%u: invalid member "
					  "address '%s' skipped: %s", path,
					  line_num, str_sanitize(line, 128),
					  error);
			}
		} T_END;
	}
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s", path,
					   i_stream_get_error(input));
		ret = -1;
	}
	i_stream_unref(&input);
	if (ret == 0 && invalid > 0) {
		e_debug(event, "%s: %u invalid member line(s) skipped",
			path, invalid);
	}
	return ret;
}

int vsmlist_members_load(struct vsmlist_members *members, const char *uri,
			 struct event *event, const char **error_r)
{
	if (str_begins(uri, "file:"))
		return vsmlist_members_read_file(members, uri + 5, event,
						 error_r);
	*error_r = t_strdup_printf(
		"member store '%s': unsupported (use file:<path>)",
		str_sanitize(uri, 128));
	return -1;
}

const struct smtp_address *const *
vsmlist_members_get(const struct vsmlist_members *members,
		    unsigned int *count_r)
{
	return array_get(&members->list, count_r);
}
