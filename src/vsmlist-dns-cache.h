#ifndef VSMLIST_DNS_CACHE_H
#define VSMLIST_DNS_CACHE_H

#include "vsmlist-dns.h"

/* A TXT answer cache that outlives the process: in LMTP the plugin is
   loaded and unloaded around every delivery, so the cache is a small file
   read when a post needs DMARC discovery and written back (atomically, by
   rename) when it learned something. Answers are kept for their TTL,
   capped; NXDOMAIN/NODATA for the SOA minimum capped at 300 s; a
   server's error reply (SERVFAIL, REFUSED) briefly. Only answers a server
   gave are cached (vsmlist_dns_answer.from_server): a timeout, or a query
   skipped because the discovery's deadline had passed, is not. Once
   that deadline has passed (the upstream's deadline_passed), the cache
   answers nothing either: a walk ends at the deadline however much of it
   is cached. No Sieve dependency. */

#define VSMLIST_DNS_CACHE_MAX_POSITIVE_SECS 3600
#define VSMLIST_DNS_CACHE_MAX_NEGATIVE_SECS 300
#define VSMLIST_DNS_CACHE_TEMPERROR_SECS 30
/* Entries kept at most; the soonest to expire go first */
#define VSMLIST_DNS_CACHE_MAX_ENTRIES 10000
/* An entry (its line in the file) larger than this is not cached */
#define VSMLIST_DNS_CACHE_MAX_ENTRY_BYTES 4096
/* The file is written no larger than this (the entries to expire last
   are kept), and a larger one is not read but replaced */
#define VSMLIST_DNS_CACHE_MAX_FILE_BYTES (1024 * 1024)

struct vsmlist_dns_cache;

/* Read the cache file (a missing one is an empty cache; an unreadable
   one is logged and ignored; a corrupt or too large one, or entries
   beyond the bounds, are logged, ignored and replaced at close). Lookups
   that miss go to upstream. */
struct vsmlist_dns_cache *
vsmlist_dns_cache_open(const char *path,
		       const struct vsmlist_dns_resolver *upstream,
		       struct event *event);
/* Write the file back if anything was learned. Returns 0 or -1 (logged:
   the cache only saves queries, so callers go on). */
int vsmlist_dns_cache_close(struct vsmlist_dns_cache **cache);

void vsmlist_dns_cache_get_resolver(struct vsmlist_dns_cache *cache,
				    struct vsmlist_dns_resolver *resolver_r);

unsigned int vsmlist_dns_cache_get_hits(const struct vsmlist_dns_cache *cache);

#endif
