/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* Benchmark of the `member` test's lookups (doc/fanout.md): a file store of
   100,000 members (10,000 of them disabled) read once, as one delivery
   reads it, then lookups through vsmlist_posting_is_member(), half of them
   members and half not; beside them, in the same run, the baseline a
   store without an index would be: a scan of the members comparing keys.
   Not part of the test suite: bench/members.sh builds and runs it.

   bench-vsmlist-members [members [lookups]] */

#include "lib.h"
#include "str.h"
#include "time-util.h"
#include "smtp-address.h"
#include "vsmlist-store.h"
#include "vsmlist-posting.h"

#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>

#define BENCH_DISABLED_EVERY 10
/* The scan is slow by design: fewer of its lookups keep the run short */
#define BENCH_SCAN_LOOKUPS 200

static const char *bench_dir;

static void bench_write(const char *name, const string_t *content)
{
	const char *path = t_strconcat(bench_dir, "/", name, NULL);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write(fd, str_data(content), str_len(content)) !=
	    (ssize_t)str_len(content))
		i_fatal("write(%s) failed: %m", path);
	i_close_fd(&fd);
}

static void bench_write_store(unsigned int count)
{
	string_t *members = str_new(default_pool, count * 24);
	string_t *state = str_new(default_pool, count * 4);
	time_t now = time(NULL);
	unsigned int i;

	str_append(state, "vsmlist-state 1\n");
	for (i = 0; i < count; i++) {
		str_printfa(members, "m%06u@example%u.net\n", i, i % 10);
		if (i % BENCH_DISABLED_EVERY == 0) {
			str_printfa(state, "disabled 5 %ld %ld "
				    "m%06u@example%u.net\n", (long)now,
				    (long)now, i, i % 10);
		}
	}
	bench_write("members", members);
	bench_write("members.state", state);
	str_free(&members);
	str_free(&state);
}

/* The i-th address asked about: even ones are members, odd ones not */
static struct smtp_address *bench_address(unsigned int i, unsigned int count)
{
	unsigned int n = (i * 7919) % count;

	return smtp_address_create_temp(t_strdup_printf("m%06u", n),
		t_strdup_printf(i % 2 == 0 ? "example%u.net" :
				"other%u.net", n % 10));
}

static long long bench_usecs_since(const struct timeval *start)
{
	struct timeval now;

	i_gettimeofday(&now);
	return timeval_diff_usecs(&now, start);
}

static unsigned int
bench_scan(const struct vsmlist_member *members, unsigned int count,
	   const struct smtp_address *address)
{
	const char *key = vsmlist_store_address_key(address);
	unsigned int i;

	for (i = 0; i < count; i++) {
		if (strcmp(members[i].key, key) == 0)
			return 1;
	}
	return 0;
}

static void bench_peak_rss(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (str_begins(line, "VmHWM:"))
			printf("peak RSS (VmHWM):%s", line + 6);
	}
	fclose(f);
}

int main(int argc, char *argv[])
{
	unsigned int count = argc > 1 ? atoi(argv[1]) : 100000;
	unsigned int lookups = argc > 2 ? atoi(argv[2]) : 1000000;
	char tmpl[] = "/tmp/vsmbench-members.XXXXXX";
	struct vsmlist_store_settings store_set;
	struct vsmlist_posting_members posting;
	struct vsmlist_store *store;
	struct vsmlist_member_set *set;
	const struct vsmlist_member *members;
	unsigned int i, found, total;
	struct timeval start;
	long long read_usecs, index_usecs, scan_usecs;
	const char *error;
	pool_t pool;

	lib_init();
	if (count == 0 || lookups == 0)
		i_fatal("Usage: %s [members [lookups]]", argv[0]);
	if ((bench_dir = mkdtemp(tmpl)) == NULL)
		i_fatal("mkdtemp() failed: %m");
	bench_write_store(count);

	i_zero(&store_set);
	store_set.home = bench_dir;
	store_set.list_address = smtp_address_create_temp("list",
							  "lists.example");
	if (vsmlist_store_open("file:~/members", &store_set, &store,
			       &error) < 0)
		i_fatal("%s", error);
	pool = pool_alloconly_create("bench members", 1024*1024);

	/* Once per delivery: the store read into its index */
	i_gettimeofday(&start);
	if (vsmlist_store_read(store, pool, &set, &error) < 0)
		i_fatal("%s", error);
	read_usecs = bench_usecs_since(&start);
	members = vsmlist_member_set_get(set, &total);

	i_zero(&posting);
	posting.set = set;
	posting.store = store;
	posting.pool = pool;
	found = 0;
	i_gettimeofday(&start);
	for (i = 0; i < lookups; i++) T_BEGIN {
		if (vsmlist_posting_is_member(&posting,
					      bench_address(i, count)))
			found++;
	} T_END;
	index_usecs = bench_usecs_since(&start);
	if (found != (lookups + 1) / 2)
		i_fatal("index: %u of %u lookups found, not half", found,
			lookups);

	found = 0;
	i_gettimeofday(&start);
	for (i = 0; i < BENCH_SCAN_LOOKUPS; i++) T_BEGIN {
		found += bench_scan(members, total, bench_address(i, count));
	} T_END;
	scan_usecs = bench_usecs_since(&start);
	if (found != BENCH_SCAN_LOOKUPS / 2)
		i_fatal("scan: %u of %u lookups found, not half", found,
			BENCH_SCAN_LOOKUPS);

	printf("store: file:, %u members (%u disabled)\n", total,
	       (total + BENCH_DISABLED_EVERY - 1) / BENCH_DISABLED_EVERY);
	printf("read once per delivery:           %8.1f ms\n",
	       read_usecs / 1000.0);
	printf("member lookup, index (vsmlist):   %8.3f us  (%u lookups, "
	       "half members)\n", (double)index_usecs / lookups, lookups);
	printf("member lookup, scan (baseline):   %8.3f us  (%u lookups)\n",
	       (double)scan_usecs / BENCH_SCAN_LOOKUPS, BENCH_SCAN_LOOKUPS);
	printf("index is %.0fx faster than a scan\n",
	       ((double)scan_usecs / BENCH_SCAN_LOOKUPS) /
	       ((double)index_usecs / lookups));
	bench_peak_rss();

	pool_unref(&pool);
	vsmlist_store_close(&store);
	(void)unlink(t_strconcat(bench_dir, "/members", NULL));
	(void)unlink(t_strconcat(bench_dir, "/members.state", NULL));
	(void)rmdir(bench_dir);
	lib_deinit();
	return 0;
}
