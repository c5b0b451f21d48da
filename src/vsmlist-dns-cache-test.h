#ifndef VSMLIST_DNS_CACHE_TEST_H
#define VSMLIST_DNS_CACHE_TEST_H

#include "vsmlist-dns-cache.h"

/* For unit tests and fuzz targets only */

/* Lookups that went to upstream */
unsigned int
vsmlist_dns_cache_get_misses(const struct vsmlist_dns_cache *cache);

/* For the fuzz target: a cache read from data instead of a file (the
   same checks and bounds), never written back */
struct vsmlist_dns_cache *
vsmlist_dns_cache_open_data(const void *data, size_t size,
			    const struct vsmlist_dns_resolver *upstream,
			    struct event *event);
/* The entries held, and the bytes they take in the file */
unsigned int
vsmlist_dns_cache_get_entry_count(const struct vsmlist_dns_cache *cache);
size_t vsmlist_dns_cache_get_size(const struct vsmlist_dns_cache *cache);

/* For tests: the clock (default time(NULL)) */
void vsmlist_dns_cache_set_now(struct vsmlist_dns_cache *cache, time_t now);

#endif
