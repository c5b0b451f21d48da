/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "smtp-address.h"

#include "vsmlist-store-private.h"
#include "vsmlist-store-parse.h"

#include <ctype.h>

/* Skipped lines of one file, logged up to a bound */
struct vsmlist_store_skipped {
	struct event *event;
	const char *path;
	unsigned int count;
};

void vsmlist_store_line_iter_init(struct vsmlist_store_line_iter *iter,
				  const unsigned char *data, size_t size)
{
	i_zero(iter);
	iter->data = data;
	iter->size = size;
}

bool vsmlist_store_line_iter_next(struct vsmlist_store_line_iter *iter,
				  struct vsmlist_store_line *line_r)
{
	const unsigned char *lf;

	i_zero(line_r);
	if (iter->pos >= iter->size)
		return FALSE;
	line_r->line_num = ++iter->line_num;
	line_r->start = iter->pos;
	lf = memchr(iter->data + iter->pos, '\n', iter->size - iter->pos);
	if (lf == NULL) {
		/* A last line without LF is still a line */
		line_r->size = iter->size - iter->pos;
		line_r->next = iter->size;
	} else {
		line_r->size = lf - (iter->data + iter->pos);
		line_r->next = iter->pos + line_r->size + 1;
	}
	iter->pos = line_r->next;
	return TRUE;
}

/* The line without its comment and surrounding white space */
static const char *
vsmlist_store_line_strip(const unsigned char *data, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++) {
		if (data[i] == '#' &&
		    (i == 0 || data[i - 1] == ' ' || data[i - 1] == '\t')) {
			size = i;
			break;
		}
	}
	return t_str_trim(t_strndup(data, size), " \t\r");
}

/* A dot-atom of RFC 5321 characters: what nearly every member is */
static bool store_plain_localpart(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || p[0] == '.' || p[len - 1] == '.')
		return FALSE;
	for (i = 0; i < len; i++) {
		if (p[i] == '.') {
			if (p[i + 1] == '.')
				return FALSE;
		} else if (!i_isalnum(p[i]) &&
			   strchr("!#$%&'*+-/=?^_`{|}~", p[i]) == NULL) {
			return FALSE;
		}
	}
	return TRUE;
}

/* Labels of letters, digits and inner hyphens, separated by single dots */
static bool store_plain_domain(const char *p)
{
	size_t label = 0;

	for (; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return FALSE;
			label = 0;
		} else if (i_isalnum(*p) || (*p == '-' && label > 0)) {
			label++;
		} else {
			return FALSE;
		}
	}
	return label > 0 && p[-1] != '-';
}

/* The common case without the full SMTP address parser (a third of the
   time of reading a large store): "local@domain" where both are plain.
   Returns FALSE for anything else, which the parser then judges; what it
   accepts here, the parser accepts alike, with the same encoding. */
static bool
vsmlist_store_address_parse_plain(pool_t pool, const char *text,
				  struct smtp_address **address_r,
				  const char **key_r)
{
	const char *at = strchr(text, '@');
	struct smtp_address *address;

	if (at == NULL || strchr(at + 1, '@') != NULL ||
	    !store_plain_localpart(text, at - text) ||
	    !store_plain_domain(at + 1))
		return FALSE;
	address = p_new(pool, struct smtp_address, 1);
	address->localpart = p_strdup_until(pool, text, at);
	address->domain = p_strdup(pool, at + 1);
	*address_r = address;
	*key_r = p_strdup(pool, t_str_lcase(text));
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* The fuzz target checks the shortcut against the parser */
	struct smtp_address *parsed;
	const char *error;

	i_assert(smtp_address_parse_path(pool_datastack_create(), text,
		SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
		&parsed, &error) == 0);
	i_assert(strcmp(vsmlist_store_address_key(parsed), *key_r) == 0);
#endif
	return TRUE;
}

int vsmlist_store_address_parse(pool_t pool, const char *text,
				struct smtp_address **address_r,
				const char **key_r, const char **error_r)
{
	struct smtp_address *address;
	const char *key;

	if (vsmlist_store_address_parse_plain(pool, text, address_r, key_r))
		return 0;
	/* Parsed on the data stack: only a member's address takes memory
	   from pool */
	if (smtp_address_parse_path(pool_datastack_create(), text,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				    &address, error_r) < 0)
		return -1;
	if (address->localpart == NULL || address->domain == NULL) {
		*error_r = "Missing domain";
		return -1;
	}
	/* Not expected of a parsed address, but the store is not ours */
	key = vsmlist_store_address_key(address);
	if (key == NULL) {
		*error_r = "cannot be encoded";
		return -1;
	}
	*address_r = smtp_address_clone(pool, address);
	*key_r = p_strdup(pool, key);
	return 0;
}

void vsmlist_store_line_parse(pool_t pool, const unsigned char *data,
			      size_t size, struct vsmlist_store_line *line)
{
	const char *text;

	line->address = NULL;
	line->key = NULL;
	line->error = NULL;
	if (size > VSMLIST_STORE_MAX_LINE) {
		line->type = VSMLIST_STORE_LINE_TOO_LONG;
		return;
	}
	if (memchr(data, '\0', size) != NULL) {
		line->type = VSMLIST_STORE_LINE_INVALID;
		line->error = "NUL octet";
		return;
	}
	text = vsmlist_store_line_strip(data, size);
	if (*text == '\0') {
		line->type = VSMLIST_STORE_LINE_EMPTY;
		return;
	}
	if (vsmlist_store_address_parse(pool, text, &line->address,
					&line->key, &line->error) < 0) {
		line->type = VSMLIST_STORE_LINE_INVALID;
		return;
	}
	line->type = VSMLIST_STORE_LINE_MEMBER;
}

static void
vsmlist_store_skipped_log(struct vsmlist_store_skipped *skipped,
			  unsigned int line_num, const char *what)
{
	if (++skipped->count > VSMLIST_STORE_MAX_LOGGED_LINES ||
	    skipped->event == NULL)
		return;
	e_warning(skipped->event, "%s:%u: %s skipped", skipped->path,
		  line_num, what);
}

static void
vsmlist_store_skipped_finish(struct vsmlist_store_skipped *skipped)
{
	if (skipped->count <= VSMLIST_STORE_MAX_LOGGED_LINES ||
	    skipped->event == NULL)
		return;
	e_warning(skipped->event, "%s: %u more invalid lines skipped",
		  skipped->path,
		  skipped->count - VSMLIST_STORE_MAX_LOGGED_LINES);
}

static const char *
vsmlist_store_line_describe(const unsigned char *data,
			    const struct vsmlist_store_line *line)
{
	if (line->type == VSMLIST_STORE_LINE_TOO_LONG) {
		return t_strdup_printf("line of %zu octets (more than %u)",
				       line->size, VSMLIST_STORE_MAX_LINE);
	}
	return t_strdup_printf("invalid member address '%s' (%s)",
		str_sanitize(t_strndup(data + line->start, line->size), 128),
		line->error);
}

static int
vsmlist_store_parse_members(struct vsmlist_member_set *set, pool_t pool,
			    struct vsmlist_store_skipped *skipped,
			    unsigned int max_members,
			    const unsigned char *data, size_t size,
			    const char **error_r)
{
	struct vsmlist_store_line_iter iter;
	struct vsmlist_store_line line;
	unsigned int count = 0;

	vsmlist_store_line_iter_init(&iter, data, size);
	while (count <= max_members &&
	       vsmlist_store_line_iter_next(&iter, &line)) T_BEGIN {
		vsmlist_store_line_parse(pool, data + line.start, line.size,
					 &line);
		if (line.type == VSMLIST_STORE_LINE_MEMBER) {
			/* The first spelling of a member counts */
			if (vsmlist_member_set_add(set, line.address,
						   line.key) != NULL)
				count++;
		} else if (line.type != VSMLIST_STORE_LINE_EMPTY) {
			vsmlist_store_skipped_log(skipped, line.line_num,
				vsmlist_store_line_describe(data, &line));
		}
	} T_END;
	if (count > max_members) {
		*error_r = t_strdup_printf("%s: more than %u members",
					   skipped->path, max_members);
		return -1;
	}
	return 0;
}

static bool vsmlist_store_parse_time(const char *str, time_t *time_r)
{
	return str_to_time(str, time_r) == 0 && *time_r >= 0;
}

int vsmlist_store_state_line_parse(const char *line,
				   struct vsmlist_member *member,
				   const char **error_r)
{
	const char *fields[4], *p = line, *space;
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(fields); i++) {
		space = strchr(p, ' ');
		if (space == NULL) {
			*error_r = "too few fields";
			return -1;
		}
		fields[i] = t_strdup_until(p, space);
		p = space + 1;
	}
	if (strcmp(fields[0], "enabled") == 0)
		member->state = VSMLIST_MEMBER_ENABLED;
	else if (strcmp(fields[0], "disabled") == 0)
		member->state = VSMLIST_MEMBER_DISABLED;
	else {
		*error_r = "unknown state";
		return -1;
	}
	if (str_to_uint(fields[1], &member->bounce_points) < 0 ||
	    !vsmlist_store_parse_time(fields[2], &member->last_bounce) ||
	    !vsmlist_store_parse_time(fields[3], &member->disabled_at)) {
		*error_r = "invalid number";
		return -1;
	}
	if (*p == '\0') {
		*error_r = "no address";
		return -1;
	}
	member->key = p;
	return 0;
}

/* Apply one state line to its member, if it is one */
static void
vsmlist_store_state_apply(struct vsmlist_member_set *set,
			  struct vsmlist_store_skipped *skipped,
			  const unsigned char *data,
			  const struct vsmlist_store_line *line)
{
	struct vsmlist_member state, *member;
	const char *text, *error;

	if (line->size > VSMLIST_STORE_MAX_LINE) {
		vsmlist_store_skipped_log(skipped, line->line_num,
					  "over-long state line");
		return;
	}
	text = t_strndup(data + line->start, line->size);
	if (strlen(text) != line->size) {
		vsmlist_store_skipped_log(skipped, line->line_num,
					  "state line with a NUL octet");
		return;
	}
	i_zero(&state);
	if (vsmlist_store_state_line_parse(text, &state, &error) < 0) {
		vsmlist_store_skipped_log(skipped, line->line_num,
			t_strdup_printf("invalid state line '%s' (%s)",
					str_sanitize(text, 128), error));
		return;
	}
	/* State of a non-member (removed by hand) is ignored, and dropped
	   with the next change */
	member = vsmlist_member_set_lookup_modifiable(set, state.key);
	if (member != NULL) {
		member->state = state.state;
		member->bounce_points = state.bounce_points;
		member->last_bounce = state.last_bounce;
		member->disabled_at = state.disabled_at;
	}
}

int vsmlist_store_parse_state(struct vsmlist_member_set *set,
			      struct event *event, const char *path,
			      const unsigned char *data, size_t size,
			      const char **error_r)
{
	struct vsmlist_store_skipped skipped = {
		.event = event,
		.path = path,
	};
	struct vsmlist_store_line_iter iter;
	struct vsmlist_store_line line;
	size_t header_len = strlen(VSMLIST_STORE_STATE_HEADER);

	vsmlist_store_line_iter_init(&iter, data, size);
	if (!vsmlist_store_line_iter_next(&iter, &line))
		return 0;
	if (line.size != header_len ||
	    memcmp(data, VSMLIST_STORE_STATE_HEADER, header_len) != 0) {
		/* Perhaps another version's: not ours to overwrite */
		*error_r = t_strdup_printf("%s: not a '%s' file", path,
					   VSMLIST_STORE_STATE_HEADER);
		return -1;
	}
	while (vsmlist_store_line_iter_next(&iter, &line)) T_BEGIN {
		if (line.size > 0)
			vsmlist_store_state_apply(set, &skipped, data, &line);
	} T_END;
	vsmlist_store_skipped_finish(&skipped);
	return 0;
}

int vsmlist_store_parse(pool_t pool, struct event *event, const char *path,
			unsigned int max_members,
			const unsigned char *data, size_t size,
			const unsigned char *state_data, size_t state_size,
			struct vsmlist_member_set **set_r,
			const char **error_r)
{
	struct vsmlist_store_skipped skipped = {
		.event = event,
		.path = path,
	};
	struct vsmlist_member_set *set;

	set = vsmlist_member_set_init(pool, 64);
	if (vsmlist_store_parse_members(set, pool, &skipped, max_members,
					data, size, error_r) < 0)
		return -1;
	vsmlist_store_skipped_finish(&skipped);
	if (state_data != NULL &&
	    vsmlist_store_parse_state(set, event,
				      t_strconcat(path, ".state", NULL),
				      state_data, state_size, error_r) < 0)
		return -1;
	*set_r = set;
	return 0;
}

void vsmlist_store_state_write(string_t *dest,
			       const struct vsmlist_member_set *set)
{
	const struct vsmlist_member *members;
	unsigned int i, count;

	str_append(dest, VSMLIST_STORE_STATE_HEADER"\n");
	members = vsmlist_member_set_get(set, &count);
	for (i = 0; i < count; i++) {
		if (!vsmlist_member_has_state(&members[i]))
			continue;
		str_printfa(dest, "%s %u %lld %lld %s\n",
			    members[i].state == VSMLIST_MEMBER_DISABLED ?
			    "disabled" : "enabled",
			    members[i].bounce_points,
			    (long long)members[i].last_bounce,
			    (long long)members[i].disabled_at,
			    members[i].key);
	}
}
