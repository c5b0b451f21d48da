/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "buffer.h"
#include "file-dotlock.h"
#include "mkdir-parents.h"
#include "write-full.h"

#include "vsmlist-rewrite.h"

#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

/* Reads go this much at a time */
#define VSMLIST_FILE_READ_CHUNK 65536

struct vsmlist_rewrite {
	char *path;
	struct dotlock *dotlock;
	int fd;
	buffer_t *data;
	bool exists;
	mode_t mode;
};

void (*vsmlist_rewrite_test_hook)(const char *point) = NULL;

void vsmlist_rewrite_test_point(const char *point)
{
	if (vsmlist_rewrite_test_hook != NULL)
		vsmlist_rewrite_test_hook(point);
}

/* Read what fd holds into dest, at most max_size octets */
static int
vsmlist_fd_read(int fd, const char *path, size_t max_size, buffer_t *dest,
		const char **error_r)
{
	unsigned char chunk[VSMLIST_FILE_READ_CHUNK];
	ssize_t ret;

	for (;;) {
		ret = read(fd, chunk, sizeof(chunk));
		if (ret == 0)
			return 0;
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			*error_r = t_strdup_printf("read(%s) failed: %m", path);
			return -1;
		}
		if ((size_t)ret > max_size - dest->used) {
			*error_r = t_strdup_printf(
				"%s is larger than %zu octets", path,
				max_size);
			errno = EFBIG;
			return -1;
		}
		buffer_append(dest, chunk, ret);
	}
}

/* Open and read path; st_r describes it. Returns 1, 0 when missing, -1. */
static int
vsmlist_file_read_stat(const char *path, size_t max_size, buffer_t *dest,
		       struct stat *st_r, const char **error_r)
{
	int fd, ret, old_errno;

	fd = open(path, O_RDONLY);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_strdup_printf("open(%s) failed: %m", path);
		return -1;
	}
	if (fstat(fd, st_r) < 0) {
		*error_r = t_strdup_printf("fstat(%s) failed: %m", path);
		ret = -1;
	} else if (!S_ISREG(st_r->st_mode)) {
		*error_r = t_strdup_printf("%s is not a regular file", path);
		ret = -1;
	} else {
		ret = vsmlist_fd_read(fd, path, max_size, dest, error_r) < 0 ?
			-1 : 1;
	}
	old_errno = errno;
	i_close_fd(&fd);
	errno = old_errno;
	return ret;
}

int vsmlist_file_read(const char *path, size_t max_size, buffer_t *dest,
		      const char **error_r)
{
	struct stat st;

	return vsmlist_file_read_stat(path, max_size, dest, &st, error_r);
}

/* Write data to fd and make it durable. The test point lies half-way. */
static int
vsmlist_fd_write_synced(int fd, const char *path, const void *data,
			size_t size, const char *test_point,
			const char **error_r)
{
	size_t half = size / 2;

	if (write_full(fd, data, half) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m", path);
		return -1;
	}
	vsmlist_rewrite_test_point(test_point);
	if (write_full(fd, CONST_PTR_OFFSET(data, half), size - half) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m", path);
		return -1;
	}
	/* The rename must not become durable before the content */
	if (fsync(fd) < 0) {
		*error_r = t_strdup_printf("fsync(%s) failed: %m", path);
		return -1;
	}
	return 0;
}

int vsmlist_file_replace(const char *path, mode_t mode,
			 const void *data, size_t size, const char **error_r)
{
	const char *temp_path = t_strconcat(path, ".tmp", NULL);
	int fd;

	/* A crashed writer's temporary file is simply truncated */
	fd = open(temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", temp_path);
		return -1;
	}
	if (fchmod(fd, mode) < 0) {
		*error_r = t_strdup_printf("fchmod(%s) failed: %m", temp_path);
		i_close_fd(&fd);
		i_unlink(temp_path);
		return -1;
	}
	if (vsmlist_fd_write_synced(fd, temp_path, data, size,
				    "replace-write", error_r) < 0) {
		i_close_fd(&fd);
		i_unlink(temp_path);
		return -1;
	}
	if (close(fd) < 0) {
		*error_r = t_strdup_printf("close(%s) failed: %m", temp_path);
		i_unlink(temp_path);
		return -1;
	}
	vsmlist_rewrite_test_point("replace-rename");
	if (rename(temp_path, path) < 0) {
		*error_r = t_strdup_printf("rename(%s, %s) failed: %m",
					   temp_path, path);
		i_unlink(temp_path);
		return -1;
	}
	return 0;
}

/* The new file keeps the old one's permissions and group (where this
   user may give it that group) */
static int
vsmlist_rewrite_copy_permissions(struct vsmlist_rewrite *rewrite,
				 const struct stat *st, struct event *event,
				 const char **error_r)
{
	const char *lock_path = file_dotlock_get_lock_path(rewrite->dotlock);

	rewrite->mode = st->st_mode & 07777;
	if (fchmod(rewrite->fd, rewrite->mode) < 0) {
		*error_r = t_strdup_printf("fchmod(%s) failed: %m", lock_path);
		return -1;
	}
	if (st->st_gid != getegid() &&
	    fchown(rewrite->fd, (uid_t)-1, st->st_gid) < 0) {
		e_warning(event, "fchown(%s, -1, %ld) failed: %m "
			  "(the rewritten file keeps the user's group)",
			  lock_path, (long)st->st_gid);
	}
	return 0;
}

int vsmlist_rewrite_begin(const char *path,
			  const struct vsmlist_rewrite_settings *set,
			  struct vsmlist_rewrite **rewrite_r,
			  const char **error_r)
{
	struct dotlock_settings dotlock_set;
	struct dotlock *dotlock;
	struct vsmlist_rewrite *rewrite;
	struct stat st;
	int fd, ret, old_errno;

	i_zero(&dotlock_set);
	dotlock_set.timeout = set->timeout_secs;
	dotlock_set.stale_timeout = set->stale_secs;
	/* Wake up when the lock goes, rather than polling */
	dotlock_set.use_io_notify = TRUE;

	*rewrite_r = NULL;
	fd = file_dotlock_open_mode(&dotlock_set, path, 0, 0600,
				    (uid_t)-1, (gid_t)-1, &dotlock);
	if (fd == -1 && errno == ENOENT && set->create_dir) {
		/* The first write: create the directory */
		const char *p = strrchr(path, '/');
		const char *dir = p == NULL ? "." : t_strdup_until(path, p);

		if (mkdir_parents(dir, 0700) < 0 && errno != EEXIST) {
			*error_r = t_strdup_printf(
				"mkdir_parents(%s) failed: %m", dir);
			return -1;
		}
		fd = file_dotlock_open_mode(&dotlock_set, path, 0, 0600,
					    (uid_t)-1, (gid_t)-1, &dotlock);
	}
	if (fd == -1) {
		if (errno == EAGAIN) {
			*error_r = t_strdup_printf(
				"%s.lock: still locked after %u seconds "
				"(another change in progress, or a crashed "
				"one's lock, overridden after %u seconds)",
				path, set->timeout_secs, set->stale_secs);
			return 0;
		}
		old_errno = errno;
		*error_r = t_strdup_printf("file_dotlock_open(%s) failed: %m",
					   path);
		errno = old_errno;
		return -1;
	}
	rewrite = i_new(struct vsmlist_rewrite, 1);
	rewrite->path = i_strdup(path);
	rewrite->dotlock = dotlock;
	rewrite->fd = fd;
	rewrite->mode = 0600;
	rewrite->data = buffer_create_dynamic(default_pool, 4096);

	/* Always the file as it is now, under the lock: never a copy read
	   earlier, so that concurrent changes and hand edits are kept */
	ret = vsmlist_file_read_stat(path, set->max_size, rewrite->data, &st,
				     error_r);
	if (ret > 0) {
		rewrite->exists = TRUE;
		ret = vsmlist_rewrite_copy_permissions(rewrite, &st,
						       set->event, error_r);
	}
	if (ret < 0) {
		old_errno = errno;
		vsmlist_rewrite_abort(&rewrite);
		errno = old_errno;
		return -1;
	}
	*rewrite_r = rewrite;
	return 1;
}

const buffer_t *vsmlist_rewrite_get_data(struct vsmlist_rewrite *rewrite,
					 bool *exists_r)
{
	*exists_r = rewrite->exists;
	return rewrite->data;
}

mode_t vsmlist_rewrite_get_mode(struct vsmlist_rewrite *rewrite)
{
	return rewrite->mode;
}

static void vsmlist_rewrite_free(struct vsmlist_rewrite *rewrite)
{
	buffer_free(&rewrite->data);
	i_free(rewrite->path);
	i_free(rewrite);
}

int vsmlist_rewrite_commit(struct vsmlist_rewrite **_rewrite,
			   const void *data, size_t size,
			   const char **error_r)
{
	struct vsmlist_rewrite *rewrite = *_rewrite;
	const char *lock_path = file_dotlock_get_lock_path(rewrite->dotlock);
	int ret;

	*_rewrite = NULL;
	if (vsmlist_fd_write_synced(rewrite->fd, lock_path, data, size,
				    "rewrite-write", error_r) < 0) {
		file_dotlock_delete(&rewrite->dotlock);
		vsmlist_rewrite_free(rewrite);
		return -1;
	}
	vsmlist_rewrite_test_point("rewrite-rename");
	ret = file_dotlock_replace(&rewrite->dotlock,
				   DOTLOCK_REPLACE_FLAG_VERIFY_OWNER);
	if (ret <= 0) {
		*error_r = ret == 0 ? t_strdup_printf(
			"%s: the lock was overridden as stale while the file "
			"was written; the change was not made", lock_path) :
			t_strdup_printf("file_dotlock_replace(%s) failed: %m",
					lock_path);
		ret = -1;
	} else {
		ret = 0;
	}
	vsmlist_rewrite_free(rewrite);
	return ret;
}

void vsmlist_rewrite_abort(struct vsmlist_rewrite **_rewrite)
{
	struct vsmlist_rewrite *rewrite = *_rewrite;

	if (rewrite == NULL)
		return;
	*_rewrite = NULL;
	file_dotlock_delete(&rewrite->dotlock);
	vsmlist_rewrite_free(rewrite);
}
