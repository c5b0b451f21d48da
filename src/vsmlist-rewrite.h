#ifndef VSMLIST_REWRITE_H
#define VSMLIST_REWRITE_H

/* A small file changed atomically under Dovecot's dotlock (<path>.lock):
   take the lock, read the file as it is now, write the new content into
   the lock file, fsync it and rename it over the file. The rename is the
   commit: a crash before it leaves the old file and a stale lock, which
   the next writer overrides once neither the lock nor the file has
   changed for stale_secs. Readers take no lock. */

struct vsmlist_rewrite_settings {
	/* How long to wait for the lock */
	unsigned int timeout_secs;
	/* A lock this old (and the file as old) is a crashed writer's */
	unsigned int stale_secs;
	/* The largest file read (a larger one is an error, errno EFBIG) */
	size_t max_size;
	/* Create the file's directory (mode 0700) when it is missing */
	bool create_dir;
	/* For warnings */
	struct event *event;
};

struct vsmlist_rewrite;

/* Take the lock of path and read the file. The new file gets the old
   one's mode and group, a new one mode 0600. Returns 1 when locked, 0
   when the lock could not be taken in time (error_r says so; a temporary
   failure), -1 on error (errno EFBIG: the file is over max_size). */
int vsmlist_rewrite_begin(const char *path,
			  const struct vsmlist_rewrite_settings *set,
			  struct vsmlist_rewrite **rewrite_r,
			  const char **error_r);
/* The file's content when the lock was taken; exists_r FALSE when it did
   not exist (the content is then empty). */
const buffer_t *vsmlist_rewrite_get_data(struct vsmlist_rewrite *rewrite,
					 bool *exists_r);
/* The mode for files that belong with this one */
mode_t vsmlist_rewrite_get_mode(struct vsmlist_rewrite *rewrite);
/* Replace the file with data and release the lock. Returns 0, or -1 (the
   old file stays). */
int vsmlist_rewrite_commit(struct vsmlist_rewrite **rewrite,
			   const void *data, size_t size,
			   const char **error_r);
/* Release the lock, leaving the file as it was */
void vsmlist_rewrite_abort(struct vsmlist_rewrite **rewrite);

/* Read a whole file into dest. Returns 1, 0 when it does not exist, -1 on
   error (errno EFBIG: larger than max_size). */
int vsmlist_file_read(const char *path, size_t max_size, buffer_t *dest,
		      const char **error_r);
/* Replace path with data through <path>.tmp (fsync, rename). Only for a
   file whose writers all hold one lock, which makes the fixed temporary
   name safe. Returns 0, or -1 (the old file stays). */
int vsmlist_file_replace(const char *path, mode_t mode,
			 const void *data, size_t size, const char **error_r);

/* Tests stop a writer at a named point (a crash mid-write) */
extern void (*vsmlist_rewrite_test_hook)(const char *point);
void vsmlist_rewrite_test_point(const char *point);

#endif
