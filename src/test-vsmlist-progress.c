/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "istream.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-progress.h"
#include "vsmlist-progress-test.h"

#include <stdio.h>
#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>
#include <sys/stat.h>

static const char *test_tmpdir;

/* A directory the progress module creates itself */
static const char *test_progress_dir(void)
{
	return t_strconcat(test_tmpdir, "/progress", NULL);
}

static const struct smtp_address *test_addr(const char *local)
{
	return smtp_address_create(pool_datastack_create(), local,
				   "Example.NET");
}

static struct vsmlist_progress *
test_open(const char *message_id, const char *digest)
{
	struct vsmlist_progress_key key = {
		.list = "Friends@Lists.example",
		.message_id = message_id,
		.digest = digest,
	};
	struct vsmlist_progress *progress;
	const char *error;

	if (vsmlist_progress_open(test_progress_dir(), &key, 3600, NULL, &progress,
				  &error) != 1)
		i_fatal("vsmlist_progress_open() failed: %s", error);
	return progress;
}

static void
test_record(struct vsmlist_progress *progress, const char *local,
	    enum vsmlist_rcpt_status status)
{
	const struct smtp_address *rcpt = test_addr(local);
	struct vsmlist_rcpt_result result = { .status = status };
	const char *error;

	test_assert(vsmlist_progress_record(progress, &rcpt, &result, 1,
					    &error) == 0);
}

static unsigned int test_count_records(void)
{
	unsigned int count = 0;
	struct dirent *d;
	DIR *dirp;

	dirp = opendir(test_progress_dir());
	if (dirp == NULL)
		return 0;
	while ((d = readdir(dirp)) != NULL) {
		if (d->d_name[0] != '.')
			count++;
	}
	(void)closedir(dirp);
	return count;
}

static void test_progress_retry(void)
{
	struct vsmlist_progress *progress;
	const char *error;

	test_begin("progress: a retry finds what the first attempt did");
	progress = test_open("<a@example.com>", "d1");
	test_assert(vsmlist_progress_lookup(progress, test_addr("x")) ==
		    VSMLIST_PROGRESS_NONE);
	test_record(progress, "sent1", VSMLIST_RCPT_SENT);
	test_record(progress, "Sent2", VSMLIST_RCPT_SENT);
	test_record(progress, "gone", VSMLIST_RCPT_REJECTED);
	test_record(progress, "later", VSMLIST_RCPT_DEFERRED);
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);

	progress = test_open("<a@example.com>", "d1");
	test_assert(vsmlist_progress_get_sent(progress) == 2);
	test_assert(vsmlist_progress_get_rejected(progress) == 1);
	test_assert(!vsmlist_progress_is_complete(progress));
	/* Addresses compare case-insensitively */
	test_assert(vsmlist_progress_lookup(progress, test_addr("SENT1")) ==
		    VSMLIST_PROGRESS_SENT);
	test_assert(vsmlist_progress_lookup(progress, test_addr("sent2")) ==
		    VSMLIST_PROGRESS_SENT);
	test_assert(vsmlist_progress_lookup(progress, test_addr("gone")) ==
		    VSMLIST_PROGRESS_REJECTED);
	test_assert(vsmlist_progress_lookup(progress, test_addr("later")) ==
		    VSMLIST_PROGRESS_NONE);
	test_record(progress, "later", VSMLIST_RCPT_SENT);
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);

	/* Complete: everybody counts as done, the record is short */
	progress = test_open("<a@example.com>", "d1");
	test_assert(vsmlist_progress_is_complete(progress));
	test_assert(vsmlist_progress_get_sent(progress) == 3);
	test_assert(vsmlist_progress_lookup(progress, test_addr("new")) ==
		    VSMLIST_PROGRESS_SENT);
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);
	test_assert(test_count_records() == 1);
	test_end();

}

static void test_progress_counts(void)
{
	struct vsmlist_progress *progress;
	const char *error;

	test_begin("progress: the complete record counts this attempt's "
		   "rejections");
	progress = test_open("<counts@example.com>", "d1");
	test_record(progress, "sent1", VSMLIST_RCPT_SENT);
	test_record(progress, "sent2", VSMLIST_RCPT_SENT);
	test_record(progress, "gone", VSMLIST_RCPT_REJECTED);
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);
	progress = test_open("<counts@example.com>", "d1");
	test_assert(vsmlist_progress_is_complete(progress));
	test_assert(vsmlist_progress_get_sent(progress) == 2);
	test_assert(vsmlist_progress_get_rejected(progress) == 1);
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);
	test_end();
}

static void test_progress_keys(void)
{
	struct vsmlist_progress *progress;
	const char *error;

	test_begin("progress: another Message-ID is another post");
	progress = test_open("<b@example.com>", "d1");
	test_assert(vsmlist_progress_get_sent(progress) == 0);
	test_record(progress, "m", VSMLIST_RCPT_SENT);
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	test_end();

	test_begin("progress: same Message-ID, other content: started afresh");
	progress = test_open("<b@example.com>", "d2");
	test_assert(vsmlist_progress_get_sent(progress) == 0);
	test_assert(vsmlist_progress_lookup(progress, test_addr("m")) ==
		    VSMLIST_PROGRESS_NONE);
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	test_end();

	test_begin("progress: without Message-ID the digest is the key");
	progress = test_open(NULL, "d3");
	test_record(progress, "m", VSMLIST_RCPT_SENT);
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	progress = test_open("", "d3");
	test_assert(vsmlist_progress_lookup(progress, test_addr("m")) ==
		    VSMLIST_PROGRESS_SENT);
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	progress = test_open(NULL, "d4");
	test_assert(vsmlist_progress_get_sent(progress) == 0);
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	test_end();
}

static void test_progress_nobody(void)
{
	struct vsmlist_progress *progress;
	unsigned int before;
	const char *error;

	test_begin("progress: a post nobody got leaves no record");
	before = test_count_records();
	progress = test_open("<c@example.com>", "d1");
	test_assert(test_count_records() == before + 1);
	test_record(progress, "gone", VSMLIST_RCPT_REJECTED);
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	test_assert(test_count_records() == before);
	test_end();
}

static void test_progress_lock(void)
{
	struct vsmlist_progress_key key = {
		.list = "friends@lists.example",
		.message_id = "<lock@example.com>", .digest = "d",
	};
	struct vsmlist_progress *progress, *progress2;
	const char *error;

	test_begin("progress: one delivery of a post at a time");
	progress = test_open("<lock@example.com>", "d");
	test_assert(vsmlist_progress_open(test_progress_dir(), &key, 3600, NULL,
					  &progress2, &error) == 0);
	test_assert(progress2 == NULL);
	test_record(progress, "m", VSMLIST_RCPT_SENT);
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);
	test_assert(vsmlist_progress_open(test_progress_dir(), &key, 3600, NULL,
					  &progress2, &error) == 1);
	test_assert(vsmlist_progress_is_complete(progress2));
	test_assert(vsmlist_progress_close(&progress2, TRUE, &error) == 0);
	test_end();
}

static void test_set_mtime(const char *path, time_t mtime)
{
	struct utimbuf ut = { .actime = mtime, .modtime = mtime };

	if (utime(path, &ut) < 0)
		i_fatal("utime(%s) failed: %m", path);
}

static void test_progress_expire(void)
{
	struct vsmlist_progress *progress;
	const char *error, *path;
	unsigned int i;
	int ret;

	test_begin("progress: an expired record is started afresh");
	progress = test_open("<old@example.com>", "d");
	test_record(progress, "m", VSMLIST_RCPT_SENT);
	path = t_strdup(vsmlist_progress_get_path(progress));
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	test_set_mtime(path, time(NULL) - 7200);
	progress = test_open("<old@example.com>", "d");
	test_assert(vsmlist_progress_get_sent(progress) == 0);
	test_record(progress, "m", VSMLIST_RCPT_SENT);
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	test_end();

	test_begin("progress: pruning removes expired and the oldest");
	for (i = 0; i < 10; i++) {
		progress = test_open(t_strdup_printf("<n%u@example.com>", i),
				     "d");
		test_record(progress, "m", VSMLIST_RCPT_SENT);
		path = t_strdup(vsmlist_progress_get_path(progress));
		test_assert(vsmlist_progress_close(&progress, TRUE,
						   &error) == 0);
		/* n0 is the oldest, n9 the newest */
		test_set_mtime(path, time(NULL) - 100 + i);
	}
	test_set_mtime(path, time(NULL) - 100000);	/* n9 expired */
	ret = vsmlist_progress_prune(test_progress_dir(), 3600, 5, NULL);
	test_assert(test_count_records() == 5);
	test_assert(ret > 0);
	/* The newest that had not expired survive */
	progress = test_open("<n8@example.com>", "d");
	test_assert(vsmlist_progress_is_complete(progress));
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);
	progress = test_open("<n0@example.com>", "d");
	test_assert(!vsmlist_progress_is_complete(progress));
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	test_end();
}

static void test_progress_digest(void)
{
	static const char *const hdrs[] = { "A <a@x>", "Mon", "Hi", NULL };
	static const char *const hdrs_folded[] = {
		"A <a@x>", "Mon", "Hi\r\n", NULL
	};
	struct istream *input;
	const char *d1, *d2, *d3, *error;

	test_begin("progress: digest of a post");
	input = test_istream_create("body\r\n");
	test_assert(vsmlist_progress_digest(input, hdrs, &d1, &error) == 0);
	i_stream_unref(&input);
	input = test_istream_create("body\r\n");
	test_assert(vsmlist_progress_digest(input, hdrs_folded, &d2,
					    &error) == 0);
	i_stream_unref(&input);
	input = test_istream_create("other body\r\n");
	test_assert(vsmlist_progress_digest(input, hdrs, &d3, &error) == 0);
	i_stream_unref(&input);
	test_assert(strlen(d1) == 64);
	test_assert_strcmp(d1, d2);
	test_assert(strcmp(d1, d3) != 0);
	test_end();
}

static void test_progress_hostile_files(void)
{
	struct vsmlist_progress *progress;
	const char *error, *path, *victim;
	char buf[64];
	int fd;

	test_begin("progress: a last line without newline is not trusted");
	progress = test_open("<cut@example.com>", "d");
	test_record(progress, "alice", VSMLIST_RCPT_SENT);
	path = t_strdup(vsmlist_progress_get_path(progress));
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	fd = open(path, O_WRONLY | O_APPEND);
	test_assert(fd != -1 && write(fd, "S bob@example.net", 17) == 17);
	i_close_fd(&fd);
	progress = test_open("<cut@example.com>", "d");
	test_assert(vsmlist_progress_lookup(progress, test_addr("alice")) ==
		    VSMLIST_PROGRESS_SENT);
	test_assert(vsmlist_progress_lookup(progress, test_addr("bob")) ==
		    VSMLIST_PROGRESS_NONE);
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	test_end();

	test_begin("progress: the complete record never follows a link");
	victim = t_strconcat(test_tmpdir, "/victim", NULL);
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	test_assert(fd != -1 && write(fd, "precious\n", 9) == 9);
	i_close_fd(&fd);
	progress = test_open("<link@example.com>", "d");
	test_record(progress, "alice", VSMLIST_RCPT_SENT);
	path = t_strdup(vsmlist_progress_get_path(progress));
	test_assert(symlink(victim, t_strconcat(path, ".tmp", NULL)) == 0);
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);
	fd = open(victim, O_RDONLY);
	test_assert(fd != -1 && read(fd, buf, sizeof(buf)) == 9 &&
		    memcmp(buf, "precious\n", 9) == 0);
	i_close_fd(&fd);
	struct stat st;
	test_assert(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	progress = test_open("<link@example.com>", "d");
	test_assert(vsmlist_progress_is_complete(progress));
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);
	test_end();
}

static const char *test_replaced_path;

/* Between pruning's scan and its removal, a delivery completes the
   record: the fresh record must survive */
static void test_replace_record(const char *path)
{
	struct vsmlist_progress *progress;
	const char *error;

	if (test_replaced_path == NULL ||
	    strcmp(path, test_replaced_path) != 0)
		return;
	progress = test_open("<race@example.com>", "d");
	test_record(progress, "alice", VSMLIST_RCPT_SENT);
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);
}

static void test_progress_prune_race(void)
{
	struct vsmlist_progress *progress;
	const char *error, *path;

	test_begin("progress: pruning spares a record replaced meanwhile");
	progress = test_open("<race@example.com>", "d");
	test_record(progress, "alice", VSMLIST_RCPT_SENT);
	path = t_strdup(vsmlist_progress_get_path(progress));
	test_assert(vsmlist_progress_close(&progress, FALSE, &error) == 0);
	test_set_mtime(path, time(NULL) - 100000);

	test_replaced_path = path;
	vsmlist_progress_test_before_remove = test_replace_record;
	(void)vsmlist_progress_prune(test_progress_dir(), 3600, 1000, NULL);
	vsmlist_progress_test_before_remove = NULL;
	test_replaced_path = NULL;

	progress = test_open("<race@example.com>", "d");
	test_assert(vsmlist_progress_is_complete(progress));
	test_assert(vsmlist_progress_close(&progress, TRUE, &error) == 0);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_progress_retry,
		test_progress_keys,
		test_progress_nobody,
		test_progress_lock,
		test_progress_expire,
		test_progress_digest,
		test_progress_hostile_files,
		test_progress_prune_race,
		test_progress_counts,
		NULL
	};
	return test_vsmlist_run_in_tmpdir(test_functions, &test_tmpdir);
}
