/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "test-vsmlist.h"
#include "vsmlist-dns.h"
#include "vsmlist-dns-cache.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

static const char *test_dir;

/* Upstream that counts its queries and answers from a fixed table */
struct fake_upstream {
	unsigned int queries;
	enum vsmlist_dns_status status;
	unsigned int ttl;
	/* A TEMPERROR no server gave (a timeout) */
	bool no_reply;
};

static int
fake_lookup_txt(void *context, const char *qname ATTR_UNUSED, pool_t pool,
		struct vsmlist_dns_answer *answer_r)
{
	struct fake_upstream *up = context;
	const char *txt = "v=DMARC1; p=reject";

	up->queries++;
	i_zero(answer_r);
	p_array_init(&answer_r->txts, pool, 1);
	answer_r->status = up->status;
	answer_r->ttl_secs = up->ttl;
	if (up->status == VSMLIST_DNS_OK)
		array_push_back(&answer_r->txts, &txt);
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

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_dns_cache_positive,
		test_dns_cache_negative,
		test_dns_cache_corrupt,
		test_dns_cache_no_reply,
		test_dns_cache_deadline_skip,
		NULL
	};
	return test_vsmlist_run_in_tmpdir(test_functions, &test_dir);
}
