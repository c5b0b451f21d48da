/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "str.h"
#include "strescape.h"
#include "istream.h"
#include "ostream.h"
#include "safe-mkstemp.h"

#include "vsmlist-dmarc-record.h"
#include "vsmlist-dns-cache-test.h"

#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

/* File format, one entry a line, tab-escaped fields:
   <expires unix time> TAB <qname> TAB <ok|nxdomain|temperror> TAB <error>
   [TAB <txt>]...
   The file is read whole on every post that needs a discovery, so what
   it may hold is bounded: only DMARC-looking TXT strings, entries of at
   most VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES, VSMLIST_DNS_CACHE_MAX_ENTRIES
   entries in at most VSMLIST_DNS_CACHE_MAX_FILE_BYTES. The same bounds
   apply when a file is read, whoever wrote it. */
#define CACHE_FILE_HEADER "vsmlist-dns-cache 1"
/* A DNS name in text form is at most 253 octets (and a dot) */
#define CACHE_MAX_QNAME_LEN 254
/* What the entries may take in a file of the largest size */
#define CACHE_MAX_ENTRIES_BYTES \
	(VSMLIST_DNS_CACHE_MAX_FILE_BYTES - strlen(CACHE_FILE_HEADER"\n"))

struct cache_entry {
	const char *qname;
	time_t expires;
	enum vsmlist_dns_status status;
	const char *error;
	ARRAY_TYPE(const_string) txts;
	/* Its line in the file, the newline included */
	size_t size;
};

struct vsmlist_dns_cache {
	pool_t pool;
	/* NULL: loaded from memory, never written */
	char *path;
	struct event *event;
	struct vsmlist_dns_resolver upstream;
	HASH_TABLE(const char *, struct cache_entry *) entries;
	/* The sizes of the entries in the table */
	size_t size;
	time_t now;
	unsigned int hits, misses;
	bool dirty;
};

static const char *const cache_status_names[] = {
	[VSMLIST_DNS_OK] = "ok",
	[VSMLIST_DNS_NXDOMAIN] = "nxdomain",
	[VSMLIST_DNS_TEMPERROR] = "temperror",
};

static bool cache_status_parse(const char *name,
			       enum vsmlist_dns_status *status_r)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(cache_status_names); i++) {
		if (strcmp(cache_status_names[i], name) == 0) {
			*status_r = i;
			return TRUE;
		}
	}
	return FALSE;
}

/* What the cache keeps of a TXT RRset: the strings that start with
   v=DMARC1 (in any case), and whatever else the record parser would take
   for a DMARC record, so that an answer read from the cache leads the
   discovery where the answer itself did. The rest (SPF, site
   verifications) can be large and is of no use to it. */
static bool cache_txt_is_kept(const char *txt)
{
	return strncasecmp(txt, "v=DMARC1", 8) == 0 ||
		vsmlist_dmarc_record_is_dmarc(txt);
}

static void cache_write_entry(string_t *str, const struct cache_entry *entry)
{
	const char *txt;

	str_printfa(str, "%ld\t", (long)entry->expires);
	str_append_tabescaped(str, entry->qname);
	str_printfa(str, "\t%s\t", cache_status_names[entry->status]);
	if (entry->error != NULL)
		str_append_tabescaped(str, entry->error);
	array_foreach_elem(&entry->txts, txt) {
		str_append_c(str, '\t');
		str_append_tabescaped(str, txt);
	}
	str_append_c(str, '\n');
}

static size_t cache_entry_size(const struct cache_entry *entry)
{
	size_t size;

	T_BEGIN {
		string_t *str = t_str_new(256);

		cache_write_entry(str, entry);
		size = str_len(str);
	} T_END;
	return size;
}

/* Add an entry, replacing one of the same name */
static void cache_insert(struct vsmlist_dns_cache *cache,
			 struct cache_entry *entry)
{
	struct cache_entry *old;

	old = hash_table_lookup(cache->entries, entry->qname);
	if (old != NULL) {
		cache->size -= old->size;
		hash_table_update(cache->entries, old->qname, entry);
	} else {
		hash_table_insert(cache->entries, entry->qname, entry);
	}
	cache->size += entry->size;
}

/* An entry of the file; NULL when the line is corrupt */
static struct cache_entry *
cache_parse_line(struct vsmlist_dns_cache *cache, const char *line)
{
	const char *const *fields = t_strsplit_tabescaped(line);
	struct cache_entry *entry;
	enum vsmlist_dns_status status;
	time_t expires;
	unsigned int count = str_array_length(fields);

	/* Expired entries are dropped when the file is written back */
	if (count < 4 || str_to_time(fields[0], &expires) < 0 ||
	    *fields[1] == '\0' || strlen(fields[1]) > CACHE_MAX_QNAME_LEN ||
	    !cache_status_parse(fields[2], &status))
		return NULL;
	/* Never longer than a fresh answer could be kept */
	expires = I_MIN(expires,
			cache->now + VSMLIST_DNS_CACHE_MAX_POSITIVE_SECS);

	entry = p_new(cache->pool, struct cache_entry, 1);
	entry->expires = expires;
	entry->qname = p_strdup(cache->pool, t_str_lcase(fields[1]));
	entry->status = status;
	entry->error = (*fields[3] == '\0' ? NULL :
			p_strdup(cache->pool, fields[3]));
	p_array_init(&entry->txts, cache->pool, count - 4);
	for (fields += 4; *fields != NULL; fields++) {
		if (status != VSMLIST_DNS_OK || !cache_txt_is_kept(*fields))
			continue;
		const char *txt = p_strdup(cache->pool, *fields);
		array_push_back(&entry->txts, &txt);
	}
	entry->size = cache_entry_size(entry);
	return entry;
}

/* Read the entries, within the bounds; anything wrong makes the file be
   replaced at close */
static void
cache_read_stream(struct vsmlist_dns_cache *cache, struct istream *input,
		  const char *name)
{
	struct cache_entry *entry;
	const char *line;
	unsigned int line_num = 0;

	while ((line = i_stream_read_next_line(input)) != NULL) {
		if (++line_num == 1) {
			if (strcmp(line, CACHE_FILE_HEADER) != 0) {
				e_warning(cache->event, "%s: unknown format "
					  "(ignored, will be replaced)", name);
				cache->dirty = TRUE;
				return;
			}
			continue;
		}
		entry = NULL;
		if (strlen(line) < VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES) T_BEGIN {
			entry = cache_parse_line(cache, line);
		} T_END;
		if (entry == NULL ||
		    entry->size > VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES) {
			e_warning(cache->event, "%s:%u: corrupt entry "
				  "(ignored, will be replaced)", name,
				  line_num);
			cache->dirty = TRUE;
			continue;
		}
		if (hash_table_count(cache->entries) >=
		    VSMLIST_DNS_CACHE_MAX_ENTRIES ||
		    cache->size + entry->size > CACHE_MAX_ENTRIES_BYTES) {
			e_warning(cache->event, "%s: more than %u entries or "
				  "%u bytes (the rest ignored, will be "
				  "replaced)", name,
				  VSMLIST_DNS_CACHE_MAX_ENTRIES,
				  VSMLIST_DNS_CACHE_MAX_FILE_BYTES);
			cache->dirty = TRUE;
			return;
		}
		cache_insert(cache, entry);
	}
	if (input->stream_errno == ENOBUFS) {
		e_warning(cache->event, "%s:%u: entry longer than %u bytes "
			  "(the rest ignored, will be replaced)", name,
			  line_num + 1, VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES);
		cache->dirty = TRUE;
	} else if (input->stream_errno != 0) {
		e_error(cache->event, "read(%s) failed: %s", name,
			i_stream_get_error(input));
	}
}

static bool cache_size_is_loadable(struct vsmlist_dns_cache *cache,
				   const char *name, uoff_t size)
{
	if (size <= VSMLIST_DNS_CACHE_MAX_FILE_BYTES)
		return TRUE;
	e_warning(cache->event, "%s: larger than %u bytes (not read, will "
		  "be replaced)", name, VSMLIST_DNS_CACHE_MAX_FILE_BYTES);
	cache->dirty = TRUE;
	return FALSE;
}

static void cache_read(struct vsmlist_dns_cache *cache)
{
	struct istream *input;
	struct stat st;
	int fd;

	fd = open(cache->path, O_RDONLY);
	if (fd < 0) {
		if (errno != ENOENT)
			e_error(cache->event, "open(%s) failed: %m (cache "
				"not used)", cache->path);
		return;
	}
	if (fstat(fd, &st) < 0) {
		e_error(cache->event, "fstat(%s) failed: %m (cache not used)",
			cache->path);
		i_close_fd(&fd);
		return;
	}
	if (!cache_size_is_loadable(cache, cache->path, st.st_size)) {
		i_close_fd(&fd);
		return;
	}
	/* A line that does not fit is a corrupt entry (ENOBUFS) */
	input = i_stream_create_fd_autoclose(&fd,
		VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES);
	cache_read_stream(cache, input, cache->path);
	i_stream_unref(&input);
}

static struct vsmlist_dns_cache *
cache_create(const char *path, const struct vsmlist_dns_resolver *upstream,
	     struct event *event)
{
	struct vsmlist_dns_cache *cache;
	pool_t pool;

	pool = pool_alloconly_create("vsmlist dns cache", 4096);
	cache = p_new(pool, struct vsmlist_dns_cache, 1);
	cache->pool = pool;
	cache->path = p_strdup(pool, path);
	cache->upstream = *upstream;
	cache->event = event_create(event);
	event_set_append_log_prefix(cache->event, "dns cache: ");
	cache->now = time(NULL);
	hash_table_create(&cache->entries, pool, 64, str_hash, strcmp);
	return cache;
}

struct vsmlist_dns_cache *
vsmlist_dns_cache_open(const char *path,
		       const struct vsmlist_dns_resolver *upstream,
		       struct event *event)
{
	struct vsmlist_dns_cache *cache;

	cache = cache_create(path, upstream, event);
	cache_read(cache);
	return cache;
}

struct vsmlist_dns_cache *
vsmlist_dns_cache_open_data(const void *data, size_t size,
			    const struct vsmlist_dns_resolver *upstream,
			    struct event *event)
{
	struct vsmlist_dns_cache *cache;
	struct istream *input;

	cache = cache_create(NULL, upstream, event);
	if (cache_size_is_loadable(cache, "(data)", size)) {
		input = i_stream_create_from_data(data, size);
		cache_read_stream(cache, input, "(data)");
		i_stream_unref(&input);
	}
	return cache;
}

void vsmlist_dns_cache_set_now(struct vsmlist_dns_cache *cache, time_t now)
{
	cache->now = now;
}

static unsigned int cache_entry_lifetime(const struct vsmlist_dns_answer *answer)
{
	switch (answer->status) {
	case VSMLIST_DNS_OK:
		if (array_count(&answer->txts) == 0) {
			/* NODATA */
			return I_MIN(answer->ttl_secs,
				     VSMLIST_DNS_CACHE_MAX_NEGATIVE_SECS);
		}
		return I_MIN(answer->ttl_secs,
			     VSMLIST_DNS_CACHE_MAX_POSITIVE_SECS);
	case VSMLIST_DNS_NXDOMAIN:
		return I_MIN(answer->ttl_secs,
			     VSMLIST_DNS_CACHE_MAX_NEGATIVE_SECS);
	case VSMLIST_DNS_TEMPERROR:
		break;
	}
	return VSMLIST_DNS_CACHE_TEMPERROR_SECS;
}

static void
cache_entry_to_answer(const struct cache_entry *entry, pool_t pool,
		      time_t now, struct vsmlist_dns_answer *answer_r)
{
	const char *txt;

	i_zero(answer_r);
	answer_r->status = entry->status;
	answer_r->from_server = TRUE;
	answer_r->ttl_secs = entry->expires - now;
	answer_r->error = (entry->error == NULL ? NULL :
			   p_strdup(pool, entry->error));
	p_array_init(&answer_r->txts, pool, array_count(&entry->txts));
	array_foreach_elem(&entry->txts, txt) {
		txt = p_strdup(pool, txt);
		array_push_back(&answer_r->txts, &txt);
	}
}

static void
cache_store(struct vsmlist_dns_cache *cache, const char *qname,
	    const struct vsmlist_dns_answer *answer)
{
	struct cache_entry *entry;
	unsigned int lifetime = cache_entry_lifetime(answer);
	const char *txt;

	/* Only what a server said about this name: a timeout or a query
	   never sent (the discovery's deadline had passed) may be the
	   fault of another name of the same post */
	if (lifetime == 0 || !answer->from_server)
		return;
	entry = p_new(cache->pool, struct cache_entry, 1);
	entry->qname = p_strdup(cache->pool, qname);
	entry->expires = cache->now + lifetime;
	entry->status = answer->status;
	entry->error = p_strdup(cache->pool, answer->error);
	p_array_init(&entry->txts, cache->pool, 2);
	if (answer->status == VSMLIST_DNS_OK) {
		array_foreach_elem(&answer->txts, txt) {
			if (!cache_txt_is_kept(txt))
				continue;
			txt = p_strdup(cache->pool, txt);
			array_push_back(&entry->txts, &txt);
		}
	}
	entry->size = cache_entry_size(entry);
	if (entry->size > VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES) {
		e_debug(cache->event, "%s: not cached: larger than %u bytes",
			qname, VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES);
		return;
	}
	cache_insert(cache, entry);
	cache->dirty = TRUE;
}

static bool cache_deadline_passed(void *context)
{
	struct vsmlist_dns_cache *cache = context;

	return cache->upstream.deadline_passed != NULL &&
		cache->upstream.deadline_passed(cache->upstream.context);
}

static int
cache_lookup_txt(void *context, const char *qname, pool_t pool,
		 struct vsmlist_dns_answer *answer_r)
{
	struct vsmlist_dns_cache *cache = context;
	const char *key = t_str_lcase(qname);
	struct cache_entry *entry;

	if (cache_deadline_passed(cache)) {
		/* Hits cost no network time, yet a walk answered from the
		   cache must end at the deadline like any other: what a
		   post may cost is bounded by the setting, not by the
		   cache's contents. Not cached: it says nothing of qname. */
		i_zero(answer_r);
		p_array_init(&answer_r->txts, pool, 1);
		answer_r->status = VSMLIST_DNS_TEMPERROR;
		answer_r->error = "timed out: the discovery's deadline "
			"has passed";
		e_debug(cache->event, "%s: not answered: the discovery's "
			"deadline has passed", key);
		return 0;
	}
	entry = hash_table_lookup(cache->entries, key);
	if (entry != NULL && entry->expires > cache->now) {
		cache->hits++;
		e_debug(cache->event, "%s: hit (%s, %ld s left)", key,
			cache_status_names[entry->status],
			(long)(entry->expires - cache->now));
		cache_entry_to_answer(entry, pool, cache->now, answer_r);
		return 0;
	}
	cache->misses++;
	if (cache->upstream.lookup_txt(cache->upstream.context, qname, pool,
				       answer_r) < 0)
		return -1;
	cache_store(cache, key, answer_r);
	return 0;
}

void vsmlist_dns_cache_get_resolver(struct vsmlist_dns_cache *cache,
				    struct vsmlist_dns_resolver *resolver_r)
{
	i_zero(resolver_r);
	resolver_r->lookup_txt = cache_lookup_txt;
	resolver_r->deadline_passed = cache_deadline_passed;
	resolver_r->context = cache;
}

static int cache_entry_cmp_expires(struct cache_entry *const *e1,
				   struct cache_entry *const *e2)
{
	/* Latest to expire first: those are kept */
	if ((*e1)->expires != (*e2)->expires)
		return (*e1)->expires > (*e2)->expires ? -1 : 1;
	return strcmp((*e1)->qname, (*e2)->qname);
}

static int cache_write(struct vsmlist_dns_cache *cache)
{
	ARRAY(struct cache_entry *) sorted;
	struct hash_iterate_context *iter;
	struct cache_entry *entry, *const *entries;
	struct ostream *output;
	string_t *temp_path, *str;
	const char *key;
	unsigned int i, count;
	size_t size;
	int fd, ret = 0;

	t_array_init(&sorted, hash_table_count(cache->entries));
	iter = hash_table_iterate_init(cache->entries);
	while (hash_table_iterate(iter, cache->entries, &key, &entry)) {
		if (entry->expires > cache->now)
			array_push_back(&sorted, &entry);
	}
	hash_table_iterate_deinit(&iter);
	array_sort(&sorted, cache_entry_cmp_expires);
	entries = array_get(&sorted, &count);
	count = I_MIN(count, VSMLIST_DNS_CACHE_MAX_ENTRIES);
	size = 0;
	for (i = 0; i < count; i++) {
		if (size + entries[i]->size > CACHE_MAX_ENTRIES_BYTES)
			break;
		size += entries[i]->size;
	}
	count = i;

	temp_path = t_str_new(128);
	str_append(temp_path, cache->path);
	str_append_c(temp_path, '.');
	fd = safe_mkstemp_hostpid(temp_path, 0600, (uid_t)-1, (gid_t)-1);
	if (fd < 0) {
		e_error(cache->event, "safe_mkstemp(%s) failed: %m",
			str_c(temp_path));
		return -1;
	}
	output = o_stream_create_fd_file_autoclose(&fd, 0);
	o_stream_cork(output);
	str = t_str_new(256);
	str_append(str, CACHE_FILE_HEADER"\n");
	for (i = 0; i < count; i++) {
		cache_write_entry(str, entries[i]);
		if (str_len(str) > 8192) {
			o_stream_nsend(output, str_data(str), str_len(str));
			str_truncate(str, 0);
		}
	}
	o_stream_nsend(output, str_data(str), str_len(str));
	if (o_stream_finish(output) < 0) {
		e_error(cache->event, "write(%s) failed: %s", str_c(temp_path),
			o_stream_get_error(output));
		ret = -1;
	}
	o_stream_destroy(&output);
	if (ret == 0 && rename(str_c(temp_path), cache->path) < 0) {
		e_error(cache->event, "rename(%s, %s) failed: %m",
			str_c(temp_path), cache->path);
		ret = -1;
	}
	if (ret < 0)
		i_unlink_if_exists(str_c(temp_path));
	return ret;
}

int vsmlist_dns_cache_close(struct vsmlist_dns_cache **_cache)
{
	struct vsmlist_dns_cache *cache = *_cache;
	int ret = 0;

	if (cache == NULL)
		return 0;
	*_cache = NULL;
	if (cache->dirty && cache->path != NULL) T_BEGIN {
		ret = cache_write(cache);
	} T_END;
	hash_table_destroy(&cache->entries);
	event_unref(&cache->event);
	pool_unref(&cache->pool);
	return ret;
}

unsigned int vsmlist_dns_cache_get_hits(const struct vsmlist_dns_cache *cache)
{
	return cache->hits;
}

unsigned int
vsmlist_dns_cache_get_misses(const struct vsmlist_dns_cache *cache)
{
	return cache->misses;
}

unsigned int
vsmlist_dns_cache_get_entry_count(const struct vsmlist_dns_cache *cache)
{
	return hash_table_count(cache->entries);
}

size_t vsmlist_dns_cache_get_size(const struct vsmlist_dns_cache *cache)
{
	return cache->size;
}
