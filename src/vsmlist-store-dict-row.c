/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "smtp-address.h"

#include "vsmlist-store-parse.h"
#include "vsmlist-store-dict-private.h"

/* The dict backend's keys, and its rows parsed: the dict is written by
   more than the store (an administrator's SQL), so every value is
   checked, and what does not parse is logged, up to a bound. */

const char *const vsmlist_dict_columns[DICT_STORE_COLUMN_COUNT] = {
	"member", "bounce_points", "last_bounce", "disabled_at",
};

const char *
vsmlist_dict_key(struct vsmlist_dict_store *dstore,
		 enum vsmlist_dict_column column,
		 const char *member_key)
{
	return t_strconcat(dstore->list_prefix, vsmlist_dict_columns[column],
			   "/", member_key == NULL ? NULL :
			   dict_escape_string(member_key), NULL);
}

/* A number column; "" (an SQL NULL) is 0 */
static int vsmlist_dict_parse_number(const char *value, uintmax_t max,
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

int
vsmlist_dict_parse_column(enum vsmlist_dict_column column, const char *value,
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
		if (vsmlist_dict_parse_number(value, UINT_MAX, &num) < 0)
			break;
		member->bounce_points = num;
		return 0;
	case DICT_STORE_COLUMN_LAST_BOUNCE:
		if (vsmlist_dict_parse_number(value, INT32_MAX, &num) < 0)
			break;
		member->last_bounce = num;
		return 0;
	case DICT_STORE_COLUMN_DISABLED_AT:
		if (vsmlist_dict_parse_number(value, INT32_MAX, &num) < 0)
			break;
		member->disabled_at = num;
		return 0;
	case DICT_STORE_COLUMN_COUNT:
		break;
	}
	*error_r = t_strdup_printf("%s '%s' is not a number",
				   vsmlist_dict_columns[column],
				   str_sanitize(value, 32));
	return -1;
}



void
vsmlist_dict_invalid_log(struct vsmlist_dict_invalid *invalid,
			 const char *escaped_key, const char *what)
{
	struct vsmlist_store *store = invalid->store;

	if (++invalid->count > DICT_STORE_MAX_LOGGED_ROWS)
		return;
	e_warning(store->event, "%s: member '%s': %s", store->name,
		  str_sanitize(escaped_key, 128), what);
}

void vsmlist_dict_invalid_finish(struct vsmlist_dict_invalid *invalid)
{
	struct vsmlist_store *store = invalid->store;

	if (invalid->count <= DICT_STORE_MAX_LOGGED_ROWS)
		return;
	e_warning(store->event, "%s: %u more invalid members or columns "
		  "skipped", store->name,
		  invalid->count - DICT_STORE_MAX_LOGGED_ROWS);
}

int
vsmlist_dict_parse_row(pool_t pool, struct vsmlist_dict_invalid *invalid,
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
		if (vsmlist_dict_parse_column(i, values[i], member_r,
					      &error) < 0) {
			vsmlist_dict_invalid_log(invalid, escaped_key,
				t_strconcat(error, " (ignored)", NULL));
		}
	}
	return i == DICT_STORE_COLUMN_COUNT ? 1 : 0;
}

