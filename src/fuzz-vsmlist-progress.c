/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* libFuzzer target: the per-post progress record as read from disk. The
   input is written as the record of a post, which is then opened, asked
   about a few members and closed: whatever the file holds, the outcome is
   a record of this post or a fresh one, never a crash. */

#include "lib.h"
#include "str.h"
#include "smtp-address.h"
#include "unlink-directory.h"
#include "vsmlist-progress-test.h"

#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[] = "/tmp/fuzz-vsmlist-progress.XXXXXX";
static const char *fuzz_record_path;

static const struct vsmlist_progress_key fuzz_key = {
	.list = "friends@lists.example",
	.message_id = "<fuzz@example.com>",
	.digest = "0123456789abcdef",
};

static void fuzz_cleanup(void)
{
	const char *error;

	(void)unlink_directory(fuzz_dir, UNLINK_DIRECTORY_FLAG_RMDIR, &error);
}

int LLVMFuzzerInitialize(int *argc ATTR_UNUSED, char ***argv ATTR_UNUSED)
{
	struct vsmlist_progress *progress;
	const char *error;

	lib_init();
	if (mkdtemp(fuzz_dir) == NULL)
		i_fatal("mkdtemp() failed: %m");
	atexit(fuzz_cleanup);
	/* Learn the record's file name */
	if (vsmlist_progress_open(fuzz_dir, &fuzz_key, 3600, NULL, &progress,
				  &error) != 1)
		i_fatal("vsmlist_progress_open() failed: %s", error);
	fuzz_record_path = i_strdup(vsmlist_progress_get_path(progress));
	(void)vsmlist_progress_close(&progress, FALSE, &error);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const locals[] = { "alice", "bob", "x" };
	struct vsmlist_progress *progress;
	const char *error;
	unsigned int i;
	int fd;

	fd = open(fuzz_record_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || (size > 0 && write(fd, data, size) != (ssize_t)size))
		i_fatal("write(%s) failed: %m", fuzz_record_path);
	i_close_fd(&fd);

	T_BEGIN {
		if (vsmlist_progress_open(fuzz_dir, &fuzz_key, 3600, NULL,
					  &progress, &error) == 1) {
			for (i = 0; i < N_ELEMENTS(locals); i++) {
				(void)vsmlist_progress_lookup(progress,
					smtp_address_create_temp(
						locals[i], "example.net"));
			}
			(void)vsmlist_progress_close(&progress, FALSE, &error);
		}
	} T_END;
	return 0;
}
