/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* libFuzzer target: the DNS cache file as read on every post (built by
   scripts/build-fuzz.sh with clang). Whatever the file holds, loading it
   must not crash and must stay within the cache's bounds, and what a
   lookup gets from it must be a DMARC-looking string. */

#include "lib.h"
#include "array.h"
#include "vsmlist-dmarc-record.h"
#include "vsmlist-dns-cache-test.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The names the seeds use, so that lookups hit */
static const char *const fuzz_names[] = {
	"_dmarc.example.com", "example.com", "_dmarc.a.example",
};

static void ATTR_FORMAT(2, 0)
fuzz_log_nothing(const struct failure_context *ctx ATTR_UNUSED,
		 const char *format ATTR_UNUSED, va_list args ATTR_UNUSED)
{
	/* A warning per corrupt line would only slow the fuzzer down */
}

int LLVMFuzzerInitialize(int *argc ATTR_UNUSED, char ***argv ATTR_UNUSED)
{
	lib_init();
	i_set_error_handler(fuzz_log_nothing);
	i_set_info_handler(fuzz_log_nothing);
	return 0;
}

/* Every lookup misses to here: nothing was ever asked */
static int
fuzz_upstream_lookup_txt(void *context ATTR_UNUSED,
			 const char *qname ATTR_UNUSED, pool_t pool,
			 struct vsmlist_dns_answer *answer_r)
{
	i_zero(answer_r);
	p_array_init(&answer_r->txts, pool, 1);
	answer_r->status = VSMLIST_DNS_TEMPERROR;
	answer_r->error = "not asked";
	return 0;
}

static void
fuzz_check_answer(const struct vsmlist_dns_answer *answer)
{
	const char *txt;

	i_assert(answer->status == VSMLIST_DNS_OK ||
		 answer->status == VSMLIST_DNS_NXDOMAIN ||
		 answer->status == VSMLIST_DNS_TEMPERROR);
	i_assert(answer->status == VSMLIST_DNS_OK ||
		 array_count(&answer->txts) == 0);
	i_assert(answer->ttl_secs <= VSMLIST_DNS_CACHE_MAX_POSITIVE_SECS);
	array_foreach_elem(&answer->txts, txt) {
		i_assert(strncasecmp(txt, "v=DMARC1", 8) == 0 ||
			 vsmlist_dmarc_record_is_dmarc(txt));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsmlist_dns_resolver upstream = {
		.lookup_txt = fuzz_upstream_lookup_txt,
	}, resolver;
	struct vsmlist_dns_cache *cache;
	struct event *event = event_create(NULL);
	unsigned int i;

	cache = vsmlist_dns_cache_open_data(data, size, &upstream, event);
	i_assert(vsmlist_dns_cache_get_entry_count(cache) <=
		 VSMLIST_DNS_CACHE_MAX_ENTRIES);
	i_assert(vsmlist_dns_cache_get_size(cache) <=
		 VSMLIST_DNS_CACHE_MAX_FILE_BYTES);
	i_assert(vsmlist_dns_cache_get_size(cache) <=
		 (size_t)vsmlist_dns_cache_get_entry_count(cache) *
		 VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES);
	vsmlist_dns_cache_get_resolver(cache, &resolver);
	for (i = 0; i < N_ELEMENTS(fuzz_names); i++) T_BEGIN {
		struct vsmlist_dns_answer answer;

		i_assert(resolver.lookup_txt(resolver.context, fuzz_names[i],
					     pool_datastack_create(),
					     &answer) == 0);
		fuzz_check_answer(&answer);
	} T_END;
	i_assert(vsmlist_dns_cache_close(&cache) == 0);
	event_unref(&event);
	return 0;
}
