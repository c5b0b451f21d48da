/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "test-vsmlist.h"
#include "vsmlist-dns.h"
#include "vsmlist-dns-cache-test.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

static const char *test_dir;

/* Upstream that counts its queries and answers from a fixed table */
struct fake_upstream {
	unsigned int queries;
	enum vsmlist_dns_status status;
	unsigned int ttl;
	/* A TEMPERROR no server gave (a timeout) */
	bool no_reply;
	/* The TXTs of an OK answer; NULL: one "v=DMARC1; p=reject" */
	const char *const *txts;
};

static int
fake_lookup_txt(void *context, const char *qname ATTR_UNUSED, pool_t pool,
		struct vsmlist_dns_answer *answer_r)
{
	struct fake_upstream *up = context;
	static const char *const default_txts[] = {
		"v=DMARC1; p=reject", NULL
	};
	const char *const *txts = up->txts != NULL ? up->txts : default_txts;

	up->queries++;
	i_zero(answer_r);
	p_array_init(&answer_r->txts, pool, 1);
	answer_r->status = up->status;
	answer_r->ttl_secs = up->ttl;
	if (up->status == VSMLIST_DNS_OK) {
		for (; *txts != NULL; txts++)
			array_push_back(&answer_r->txts, txts);
	}
	if (up->status == VSMLIST_DNS_TEMPERROR)
		answer_r->error = "SERVFAIL\tfrom 127.0.0.1";
	if (up->no_reply)
		answer_r->error = "127.0.0.1:53: timed out";
	answer_r->from_server = !up->no_reply;
	return 0;
}

static struct vsmlist_dns_answer
test_lookup_full(const char *path, struct fake_upstream *up, time_t now,
		 const char *qname, int *close_ret_r)
{
	struct vsmlist_dns_resolver upstream = {
		.lookup_txt = fake_lookup_txt, .context = up,
	}, resolver;
	struct vsmlist_dns_cache *cache;
	struct vsmlist_dns_answer answer;
	struct event *event = event_create(NULL);

	cache = vsmlist_dns_cache_open(path, &upstream, event);
	vsmlist_dns_cache_set_now(cache, now);
	vsmlist_dns_cache_get_resolver(cache, &resolver);
	test_assert(resolver.lookup_txt(resolver.context, qname,
					pool_datastack_create(), &answer) == 0);
	*close_ret_r = vsmlist_dns_cache_close(&cache);
	event_unref(&event);
	return answer;
}

static struct vsmlist_dns_answer
test_lookup(const char *path, struct fake_upstream *up, time_t now,
	    const char *qname)
{
	struct vsmlist_dns_answer answer;
	int close_ret;

	answer = test_lookup_full(path, up, now, qname, &close_ret);
	test_assert(close_ret == 0);
	return answer;
}

static void test_dns_cache_positive(void)
{
	const char *path = t_strconcat(test_dir, "/positive", NULL);
	struct fake_upstream up = { .status = VSMLIST_DNS_OK, .ttl = 7200 };
	struct vsmlist_dns_answer answer;
	const char *const *txt;

	test_begin("dns cache: a positive answer survives the process");
	answer = test_lookup(path, &up, 1000, "_dmarc.Example.COM");
	test_assert(up.queries == 1);
	answer = test_lookup(path, &up, 1001, "_dmarc.example.com");
	test_assert(up.queries == 1);
	test_assert(answer.status == VSMLIST_DNS_OK);
	txt = array_front(&answer.txts);
	test_assert(array_count(&answer.txts) == 1 &&
		    strcmp(*txt, "v=DMARC1; p=reject") == 0);
	/* TTL 7200 capped at an hour */
	test_assert(answer.ttl_secs == VSMLIST_DNS_CACHE_MAX_POSITIVE_SECS - 1);
	(void)test_lookup(path, &up, 1000 + 3600, "_dmarc.example.com");
	test_assert(up.queries == 2);
	test_end();
}

static void test_dns_cache_negative(void)
{
	const char *path = t_strconcat(test_dir, "/negative", NULL);
	struct fake_upstream up = { .status = VSMLIST_DNS_NXDOMAIN,
				    .ttl = 86400 };
	struct vsmlist_dns_answer answer;

	test_begin("dns cache: NXDOMAIN for at most 300 s");
	(void)test_lookup(path, &up, 1000, "_dmarc.none.example");
	answer = test_lookup(path, &up, 1299, "_dmarc.none.example");
	test_assert(up.queries == 1 && answer.status == VSMLIST_DNS_NXDOMAIN);
	(void)test_lookup(path, &up, 1300, "_dmarc.none.example");
	test_assert(up.queries == 2);
	test_end();

	test_begin("dns cache: temporary errors briefly, error text kept");
	up.status = VSMLIST_DNS_TEMPERROR;
	(void)test_lookup(path, &up, 5000, "_dmarc.fail.example");
	answer = test_lookup(path, &up, 5029, "_dmarc.fail.example");
	test_assert(up.queries == 3);
	test_assert(answer.status == VSMLIST_DNS_TEMPERROR);
	test_assert_strcmp(answer.error, "SERVFAIL\tfrom 127.0.0.1");
	(void)test_lookup(path, &up, 5030, "_dmarc.fail.example");
	test_assert(up.queries == 4);
	test_end();

	test_begin("dns cache: TTL 0 is not cached");
	up.status = VSMLIST_DNS_OK;
	up.ttl = 0;
	(void)test_lookup(path, &up, 6000, "_dmarc.zero.example");
	(void)test_lookup(path, &up, 6000, "_dmarc.zero.example");
	test_assert(up.queries == 6);
	test_end();
}

static void test_dns_cache_corrupt(void)
{
	const char *path = t_strconcat(test_dir, "/corrupt", NULL);
	struct fake_upstream up = { .status = VSMLIST_DNS_OK, .ttl = 60 };
	int fd;

	test_begin("dns cache: a corrupt file is ignored and rewritten");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "garbage\n", 8) != 8 || close(fd) < 0)
		i_fatal("write(%s) failed: %m", path);
	test_expect_errors(1);
	(void)test_lookup(path, &up, 1000, "_dmarc.a.example");
	test_expect_no_more_errors();
	(void)test_lookup(path, &up, 1001, "_dmarc.a.example");
	test_assert(up.queries == 1);
	test_end();

	test_begin("dns cache: an unwritable directory is logged, not fatal");
	int close_ret;

	test_expect_errors(1);
	(void)test_lookup_full("/nonexistent-dir/cache", &up, 1000,
			       "_dmarc.b.example", &close_ret);
	test_expect_no_more_errors();
	test_assert(close_ret < 0);
	test_end();
}

static void test_dns_cache_no_reply(void)
{
	const char *path = t_strconcat(test_dir, "/no-reply", NULL);
	struct fake_upstream up = { .status = VSMLIST_DNS_TEMPERROR,
				    .no_reply = TRUE };
	struct vsmlist_dns_answer answer;

	test_begin("dns cache: a timeout is not cached");
	answer = test_lookup(path, &up, 1000, "_dmarc.slow.example");
	test_assert(answer.status == VSMLIST_DNS_TEMPERROR);
	up.status = VSMLIST_DNS_OK;
	up.no_reply = FALSE;
	answer = test_lookup(path, &up, 1001, "_dmarc.slow.example");
	test_assert(up.queries == 2);
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_end();
}

/* The real DNS module whose discovery has no time left: a slow author
   domain earlier in the same post used it up */
static struct vsmlist_dns_answer
test_lookup_after_deadline(const char *path, const char *qname)
{
	struct vsmlist_dns_settings set = {
		.servers = "127.0.0.1:9", .timeout_msecs = 0,
	};
	struct vsmlist_dns_resolver upstream, resolver;
	struct vsmlist_dns_cache *cache;
	struct vsmlist_dns_answer answer;
	struct vsmlist_dns *dns;
	struct event *event = event_create(NULL);
	const char *error;

	if (vsmlist_dns_init(&set, event, &dns, &error) < 0)
		i_fatal("vsmlist_dns_init() failed: %s", error);
	vsmlist_dns_begin(dns);
	vsmlist_dns_get_resolver(dns, &upstream);
	cache = vsmlist_dns_cache_open(path, &upstream, event);
	vsmlist_dns_cache_get_resolver(cache, &resolver);
	test_assert(resolver.lookup_txt(resolver.context, qname,
					pool_datastack_create(), &answer) == 0);
	test_assert(vsmlist_dns_get_query_count(dns) == 0);
	test_assert(vsmlist_dns_cache_close(&cache) == 0);
	vsmlist_dns_deinit(&dns);
	event_unref(&event);
	return answer;
}

static void test_dns_cache_deadline_skip(void)
{
	const char *path = t_strconcat(test_dir, "/deadline", NULL);
	struct fake_upstream up = { .status = VSMLIST_DNS_OK, .ttl = 600 };
	struct vsmlist_dns_answer answer;

	test_begin("dns cache: a query skipped for the deadline is not cached");
	answer = test_lookup_after_deadline(path, "_dmarc.victim.example");
	test_assert(answer.status == VSMLIST_DNS_TEMPERROR);
	test_assert(!answer.from_server);
	/* The next post asks again and gets the real answer */
	answer = test_lookup(path, &up, time(NULL) + 1,
			     "_dmarc.victim.example");
	test_assert(up.queries == 1);
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_end();
}

static void test_dns_cache_no_hit_after_deadline(void)
{
	const char *path = t_strconcat(test_dir, "/deadline-hit", NULL);
	struct fake_upstream up = { .status = VSMLIST_DNS_OK, .ttl = 600 };
	struct vsmlist_dns_answer answer;

	test_begin("dns cache: no hit once the discovery's deadline passed");
	answer = test_lookup(path, &up, time(NULL), "_dmarc.cached.example");
	test_assert(up.queries == 1);
	test_assert(answer.status == VSMLIST_DNS_OK);
	/* The entry is there, but the walk's time is up: no answer from
	   the cache either (and no query: counted in the helper) */
	answer = test_lookup_after_deadline(path, "_dmarc.cached.example");
	test_assert(answer.status == VSMLIST_DNS_TEMPERROR);
	test_assert(!answer.from_server);
	test_assert(answer.error != NULL &&
		    strstr(answer.error, "deadline") != NULL);
	test_assert(array_count(&answer.txts) == 0);
	/* The entry is kept: the next post, in time, gets it */
	answer = test_lookup(path, &up, time(NULL), "_dmarc.cached.example");
	test_assert(up.queries == 1);
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_end();
}

static const char *test_read_file(const char *path)
{
	string_t *str = t_str_new(1024);
	char buf[4096];
	ssize_t ret;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		i_fatal("open(%s) failed: %m", path);
	while ((ret = read(fd, buf, sizeof(buf))) > 0)
		str_append_data(str, buf, ret);
	if (ret < 0)
		i_fatal("read(%s) failed: %m", path);
	i_close_fd(&fd);
	return str_c(str);
}

static off_t test_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		i_fatal("stat(%s) failed: %m", path);
	return st.st_size;
}

static void test_write_file(const char *path, const void *data, size_t size)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) < 0)
		i_fatal("write(%s) failed: %m", path);
}

static void test_dns_cache_only_dmarc_strings(void)
{
	const char *path = t_strconcat(test_dir, "/only-dmarc", NULL);
	static const char *const txts[] = {
		"google-site-verification=0123456789abcdef",
		"v=DMARC1; p=reject",
		"V=dmarc1; p=none",
		"v = DMARC1; p=quarantine",
		"v=spf1 -all",
		NULL
	};
	struct fake_upstream up = { .status = VSMLIST_DNS_OK, .ttl = 600,
				    .txts = txts };
	struct vsmlist_dns_answer answer;
	const char *const *kept;
	unsigned int count;

	test_begin("dns cache: only DMARC-looking strings are stored");
	answer = test_lookup(path, &up, 1000, "_dmarc.many.example");
	/* The answer itself is passed on whole */
	test_assert(array_count(&answer.txts) == 5);
	answer = test_lookup(path, &up, 1001, "_dmarc.many.example");
	test_assert(up.queries == 1);
	test_assert(answer.status == VSMLIST_DNS_OK);
	kept = array_get(&answer.txts, &count);
	test_assert(count == 3);
	if (count == 3) {
		test_assert_strcmp(kept[0], "v=DMARC1; p=reject");
		test_assert_strcmp(kept[1], "V=dmarc1; p=none");
		test_assert_strcmp(kept[2], "v = DMARC1; p=quarantine");
	}
	test_assert(strstr(test_read_file(path), "verification") == NULL);
	test_assert(strstr(test_read_file(path), "spf1") == NULL);
	test_end();

	test_begin("dns cache: a name without DMARC strings is still cached");
	up.txts = txts + 4;
	answer = test_lookup(path, &up, 1000, "author.example");
	answer = test_lookup(path, &up, 1001, "author.example");
	test_assert(up.queries == 2);
	/* it exists: that is what the discovery asks the name itself */
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_assert(array_count(&answer.txts) == 0);
	test_end();
}

static void test_dns_cache_entry_size(void)
{
	const char *path = t_strconcat(test_dir, "/entry-size", NULL);
	const char *txts[] = { NULL, NULL };
	struct fake_upstream up = { .status = VSMLIST_DNS_OK, .ttl = 600,
				    .txts = txts };
	string_t *big = t_str_new(VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES + 16);
	struct vsmlist_dns_answer answer;

	test_begin("dns cache: an entry larger than the cap is not stored");
	str_append(big, "v=DMARC1; p=reject; rua=");
	while (str_len(big) <= VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES)
		str_append(big, "mailto:r@example.com,");
	txts[0] = str_c(big);
	answer = test_lookup(path, &up, 1000, "_dmarc.big.example");
	test_assert(array_count(&answer.txts) == 1);
	answer = test_lookup(path, &up, 1001, "_dmarc.big.example");
	test_assert(up.queries == 2);
	test_assert(array_count(&answer.txts) == 1);
	test_end();
}

static void test_dns_cache_file_size(void)
{
	const char *path = t_strconcat(test_dir, "/file-size", NULL);
	const char *txts[] = { NULL, NULL };
	struct fake_upstream up = { .status = VSMLIST_DNS_OK, .ttl = 600,
				    .txts = txts };
	struct vsmlist_dns_resolver upstream = {
		.lookup_txt = fake_lookup_txt, .context = &up,
	}, resolver;
	struct vsmlist_dns_cache *cache;
	struct vsmlist_dns_answer answer;
	struct event *event = event_create(NULL);
	string_t *record = t_str_new(1024);
	unsigned int i, names;

	test_begin("dns cache: the file stays under its cap");
	str_append(record, "v=DMARC1; p=reject; rua=");
	while (str_len(record) < VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES / 2)
		str_append(record, "mailto:r@example.com,");
	txts[0] = str_c(record);
	names = VSMLIST_DNS_CACHE_MAX_FILE_BYTES / str_len(record) * 2;
	cache = vsmlist_dns_cache_open(path, &upstream, event);
	vsmlist_dns_cache_set_now(cache, 1000);
	vsmlist_dns_cache_get_resolver(cache, &resolver);
	for (i = 0; i < names; i++) T_BEGIN {
		test_assert(resolver.lookup_txt(resolver.context,
			t_strdup_printf("_dmarc.d%u.example", i),
			pool_datastack_create(), &answer) == 0);
	} T_END;
	test_assert(vsmlist_dns_cache_close(&cache) == 0);
	test_assert(test_file_size(path) <= VSMLIST_DNS_CACHE_MAX_FILE_BYTES);
	/* and what is in it is read back */
	(void)test_lookup(path, &up, 1001, "_dmarc.d0.example");
	test_assert(up.queries == names);
	event_unref(&event);
	test_end();
}

static void test_dns_cache_file_too_big(void)
{
	const char *path = t_strconcat(test_dir, "/too-big", NULL);
	struct fake_upstream up = { .status = VSMLIST_DNS_OK, .ttl = 600 };
	struct vsmlist_dns_answer answer;
	string_t *data = str_new(default_pool, 2 * 1024 * 1024);
	unsigned int i;

	test_begin("dns cache: a file too big to load is replaced");
	str_append(data, "vsmlist-dns-cache 1\n");
	for (i = 0; str_len(data) <= VSMLIST_DNS_CACHE_MAX_FILE_BYTES; i++) {
		str_printfa(data, "%ld\t_dmarc.d%u.example\tok\t\t"
			    "v=DMARC1; p=none\n", (long)time(NULL) + 3000, i);
	}
	test_write_file(path, str_data(data), str_len(data));
	test_expect_error_string("larger than");
	answer = test_lookup(path, &up, time(NULL), "_dmarc.d0.example");
	test_expect_no_more_errors();
	test_assert(up.queries == 1);
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_assert(test_file_size(path) < 1024);
	/* the new file is used */
	(void)test_lookup(path, &up, time(NULL), "_dmarc.d0.example");
	test_assert(up.queries == 1);
	test_end();

	test_begin("dns cache: entries beyond the count are dropped");
	str_truncate(data, 0);
	str_append(data, "vsmlist-dns-cache 1\n");
	for (i = 0; i <= VSMLIST_DNS_CACHE_MAX_ENTRIES; i++) {
		str_printfa(data, "%ld\t_dmarc.d%u.example\tnxdomain\t\n",
			    (long)time(NULL) + 3000 + i, i);
	}
	test_assert(str_len(data) <= VSMLIST_DNS_CACHE_MAX_FILE_BYTES);
	test_write_file(path, str_data(data), str_len(data));
	test_expect_error_string("more than");
	answer = test_lookup(path, &up, time(NULL), "_dmarc.d0.example");
	test_expect_no_more_errors();
	test_assert(answer.status == VSMLIST_DNS_NXDOMAIN);
	/* the last line was not read: asked upstream, which says ok */
	answer = test_lookup(path, &up, time(NULL),
		t_strdup_printf("_dmarc.d%u.example",
				VSMLIST_DNS_CACHE_MAX_ENTRIES));
	test_assert(answer.status == VSMLIST_DNS_OK);
	test_assert(up.queries == 2);
	test_end();

	test_begin("dns cache: a line longer than an entry may be is replaced");
	str_truncate(data, 0);
	str_printfa(data, "vsmlist-dns-cache 1\n%ld\t_dmarc.long.example\tok"
		    "\t\tv=DMARC1; p=none\t", (long)time(NULL) + 3000);
	for (i = 0; i < VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES; i++)
		str_append_c(data, 'x');
	str_append_c(data, '\n');
	test_write_file(path, str_data(data), str_len(data));
	test_expect_errors(1);
	(void)test_lookup(path, &up, time(NULL), "_dmarc.long.example");
	test_expect_no_more_errors();
	test_assert(up.queries == 3);
	test_assert(test_file_size(path) < 1024);
	test_end();
	str_free(&data);
}

static void test_dns_cache_load_filters(void)
{
	const char *path = t_strconcat(test_dir, "/load-filters", NULL);
	struct fake_upstream up = { .status = VSMLIST_DNS_OK, .ttl = 600 };
	struct vsmlist_dns_answer answer;
	const char *data;

	test_begin("dns cache: what a file holds beyond the rules is dropped");
	data = t_strdup_printf("vsmlist-dns-cache 1\n"
			       "%ld\t_dmarc.x.example\tok\t\tv=spf1 -all\t"
			       "v=DMARC1; p=reject\n",
			       (long)time(NULL) + 3000);
	test_write_file(path, data, strlen(data));
	answer = test_lookup(path, &up, time(NULL), "_dmarc.x.example");
	test_assert(up.queries == 0);
	test_assert(array_count(&answer.txts) == 1);
	if (array_count(&answer.txts) == 1) {
		test_assert_strcmp(array_idx_elem(&answer.txts, 0),
				   "v=DMARC1; p=reject");
	}
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_dns_cache_positive,
		test_dns_cache_negative,
		test_dns_cache_corrupt,
		test_dns_cache_no_reply,
		test_dns_cache_deadline_skip,
		test_dns_cache_no_hit_after_deadline,
		test_dns_cache_only_dmarc_strings,
		test_dns_cache_entry_size,
		test_dns_cache_file_size,
		test_dns_cache_file_too_big,
		test_dns_cache_load_filters,
		NULL
	};
	return test_vsmlist_run_in_tmpdir(test_functions, &test_dir);
}
