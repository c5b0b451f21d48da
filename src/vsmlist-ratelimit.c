/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "sha2.h"
#include "hex-binary.h"

#include "vsmlist-rewrite.h"
#include "vsmlist-store-parse.h"
#include "vsmlist-ratelimit.h"

#include <ctype.h>

#define VSMLIST_RATELIMIT_HASH_SIZE 16
/* "<time> <hash>\n": 20 digits at most, the hash in hex */
#define VSMLIST_RATELIMIT_MAX_LINE (20 + 1 + VSMLIST_RATELIMIT_HASH_SIZE * 2)
#define VSMLIST_RATELIMIT_MAX_SIZE \
	((VSMLIST_RATELIMIT_MAX_ENTRIES + 1) * (VSMLIST_RATELIMIT_MAX_LINE + 1))
#define VSMLIST_RATELIMIT_LOCK_TIMEOUT_SECS 10
#define VSMLIST_RATELIMIT_LOCK_STALE_SECS 30

struct vsmlist_ratelimit_count {
	const char *hash;
	time_t now, oldest;

	/* The entries kept (in the window), those of the address among them,
	   and the invalid lines dropped */
	string_t *kept;
	unsigned int kept_count, address_count, invalid_count;
	bool dropped;
};

static const char *vsmlist_ratelimit_hash(const char *key)
{
	unsigned char digest[SHA256_RESULTLEN];

	sha256_get_digest(key, strlen(key), digest);
	return binary_to_hex(digest, VSMLIST_RATELIMIT_HASH_SIZE);
}

/* Parse "<time> <hash>". Returns FALSE for anything else. */
static bool
vsmlist_ratelimit_line_parse(const unsigned char *data, size_t size,
			     time_t *time_r, const char **hash_r)
{
	const char *line, *hash;
	size_t i;

	if (size > VSMLIST_RATELIMIT_MAX_LINE)
		return FALSE;
	line = t_strndup(data, size);
	hash = strchr(line, ' ');
	if (strlen(line) != size || hash == NULL ||
	    str_to_time(t_strdup_until(line, hash), time_r) < 0)
		return FALSE;
	hash++;
	if (strlen(hash) != VSMLIST_RATELIMIT_HASH_SIZE * 2)
		return FALSE;
	for (i = 0; hash[i] != '\0'; i++) {
		if (!i_isxdigit(hash[i]) || i_isupper(hash[i]))
			return FALSE;
	}
	*hash_r = hash;
	return TRUE;
}

static void
vsmlist_ratelimit_entry(struct vsmlist_ratelimit_count *count,
			const unsigned char *data,
			const struct vsmlist_store_line *line)
{
	const char *hash;
	time_t sent;

	if (!vsmlist_ratelimit_line_parse(data + line->start, line->size,
					  &sent, &hash)) {
		count->invalid_count++;
		count->dropped = TRUE;
		return;
	}
	/* Outside the window (or from a clock far ahead): it goes */
	if (sent <= count->oldest || sent > count->now + (count->now -
							  count->oldest)) {
		count->dropped = TRUE;
		return;
	}
	/* A hand-edited file may hold more than we write: the surplus goes */
	if (count->kept_count == VSMLIST_RATELIMIT_MAX_ENTRIES) {
		count->dropped = TRUE;
		return;
	}
	str_append_data(count->kept, data + line->start, line->size);
	str_append_c(count->kept, '\n');
	count->kept_count++;
	if (strcmp(hash, count->hash) == 0)
		count->address_count++;
}

/* Read the entries in data into count. Returns 0, or -1 when data is not
   a confirm-limit file. */
static int
vsmlist_ratelimit_parse(struct vsmlist_ratelimit_count *count,
			const buffer_t *data)
{
	struct vsmlist_store_line_iter iter;
	struct vsmlist_store_line line;
	size_t header_len = strlen(VSMLIST_RATELIMIT_HEADER);

	vsmlist_store_line_iter_init(&iter, data->data, data->used);
	if (!vsmlist_store_line_iter_next(&iter, &line))
		return 0;
	if (line.size != header_len ||
	    memcmp(data->data, VSMLIST_RATELIMIT_HEADER, header_len) != 0)
		return -1;
	while (vsmlist_store_line_iter_next(&iter, &line)) T_BEGIN {
		vsmlist_ratelimit_entry(count, data->data, &line);
	} T_END;
	return 0;
}

int vsmlist_ratelimit_check_and_count(const char *path, const char *key,
				      unsigned int limit,
				      unsigned int window_secs, time_t now,
				      struct event *event,
				      enum vsmlist_ratelimit_result *result_r,
				      const char **error_r)
{
	const struct vsmlist_rewrite_settings set = {
		.timeout_secs = VSMLIST_RATELIMIT_LOCK_TIMEOUT_SECS,
		.stale_secs = VSMLIST_RATELIMIT_LOCK_STALE_SECS,
		.max_size = VSMLIST_RATELIMIT_MAX_SIZE,
		.create_dir = TRUE,
		.event = event,
	};
	struct vsmlist_ratelimit_count count;
	struct vsmlist_rewrite *rewrite;
	const buffer_t *data;
	string_t *content;
	bool exists;
	int ret;

	/* Refused unless counted */
	*result_r = VSMLIST_RATELIMIT_FULL;
	if ((ret = vsmlist_rewrite_begin(path, &set, &rewrite, error_r)) <= 0)
		return -1;
	data = vsmlist_rewrite_get_data(rewrite, &exists);

	i_zero(&count);
	count.hash = vsmlist_ratelimit_hash(key);
	count.now = now;
	count.oldest = now - window_secs;
	count.kept = t_str_new(data->used + 64);
	if (vsmlist_ratelimit_parse(&count, data) < 0) {
		*error_r = t_strdup_printf(
			"%s: not a '%s' file (remove it to start afresh)",
			path, VSMLIST_RATELIMIT_HEADER);
		vsmlist_rewrite_abort(&rewrite);
		return -1;
	}
	if (count.invalid_count > 0) {
		e_warning(event, "%s: %u invalid lines dropped", path,
			  count.invalid_count);
	}

	if (count.address_count >= limit)
		*result_r = VSMLIST_RATELIMIT_LIMITED;
	else if (count.kept_count >= VSMLIST_RATELIMIT_MAX_ENTRIES)
		*result_r = VSMLIST_RATELIMIT_FULL;
	else {
		*result_r = VSMLIST_RATELIMIT_ALLOWED;
		str_printfa(count.kept, "%lld %s\n", (long long)now,
			    count.hash);
	}
	if (*result_r != VSMLIST_RATELIMIT_ALLOWED && !count.dropped) {
		/* Nothing to write */
		vsmlist_rewrite_abort(&rewrite);
		return 0;
	}
	content = t_str_new(str_len(count.kept) + 32);
	str_append(content, VSMLIST_RATELIMIT_HEADER"\n");
	str_append_str(content, count.kept);
	if (vsmlist_rewrite_commit(&rewrite, str_data(content),
				   str_len(content), error_r) < 0) {
		/* Not counted, so not allowed either */
		*result_r = VSMLIST_RATELIMIT_FULL;
		return -1;
	}
	return 0;
}

const char *
vsmlist_ratelimit_result_str(enum vsmlist_ratelimit_result result)
{
	switch (result) {
	case VSMLIST_RATELIMIT_ALLOWED:
		return "allowed";
	case VSMLIST_RATELIMIT_LIMITED:
		return "limited";
	case VSMLIST_RATELIMIT_FULL:
		return "full";
	}
	i_unreached();
}
