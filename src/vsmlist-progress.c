/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "hash.h"
#include "hex-binary.h"
#include "sha2.h"
#include "istream.h"
#include "mkdir-parents.h"
#include "write-full.h"
#include "smtp-address.h"

#include "vsmlist-progress.h"
#include "vsmlist-progress-test.h"

#include <stdio.h>
#include <ctype.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#define VSMLIST_PROGRESS_VERSION_LINE "vsmlist-progress 1"
/* Hex characters of the key hash in a record's file name */
#define VSMLIST_PROGRESS_NAME_LEN 32
#define VSMLIST_PROGRESS_OPEN_TRIES 5

struct vsmlist_progress {
	pool_t pool;
	struct event *event;
	char *dir, *path;
	int fd;

	/* The record's header lines, as written */
	const char *header;

	/* lower-cased member address -> state */
	HASH_TABLE(char *, void *) members;
	unsigned int sent_before, rejected_before;
	unsigned int sent_now, rejected_now;
	/* The record is a complete one: everybody was dealt with */
	bool complete;
};

/* Keep a header value on one line */
static const char *vsmlist_progress_one_line(const char *value)
{
	string_t *str;
	const char *p;

	if (value == NULL)
		return "";
	if (strpbrk(value, "\r\n") == NULL)
		return t_str_trim(value, " \t");
	str = t_str_new(strlen(value));
	for (p = value; *p != '\0'; p++) {
		if (*p != '\r' && *p != '\n')
			str_append_c(str, *p);
	}
	return t_str_trim(str_c(str), " \t");
}

int vsmlist_progress_digest(struct istream *body,
			    const char *const *header_values,
			    const char **digest_r, const char **error_r)
{
	unsigned char digest[SHA256_RESULTLEN];
	struct sha256_ctx ctx;
	const unsigned char *data;
	size_t size;
	unsigned int i;

	sha256_init(&ctx);
	for (i = 0; header_values != NULL && header_values[i] != NULL; i++) {
		const char *value =
			vsmlist_progress_one_line(header_values[i]);

		sha256_loop(&ctx, value, strlen(value) + 1);
	}
	while (i_stream_read_more(body, &data, &size) > 0) {
		sha256_loop(&ctx, data, size);
		i_stream_skip(body, size);
	}
	if (body->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(body),
					   i_stream_get_error(body));
		return -1;
	}
	sha256_result(&ctx, digest);
	*digest_r = binary_to_hex(digest, sizeof(digest));
	return 0;
}

/* The record's header: identifies the post */
static const char *
vsmlist_progress_header(const struct vsmlist_progress_key *key)
{
	return t_strdup_printf(VSMLIST_PROGRESS_VERSION_LINE "\n"
			       "list %s\nmessage-id %s\ndigest %s\n",
			       t_str_lcase(key->list),
			       vsmlist_progress_one_line(key->message_id),
			       key->digest);
}

/* The file name: a hash of what identifies the post across retries */
static const char *
vsmlist_progress_name(const struct vsmlist_progress_key *key)
{
	unsigned char digest[SHA256_RESULTLEN];
	struct sha256_ctx ctx;
	const char *list = t_str_lcase(key->list);
	const char *mid = vsmlist_progress_one_line(key->message_id);

	sha256_init(&ctx);
	sha256_loop(&ctx, list, strlen(list) + 1);
	if (*mid != '\0')
		sha256_loop(&ctx, mid, strlen(mid) + 1);
	else {
		sha256_loop(&ctx, "", 1);
		sha256_loop(&ctx, key->digest, strlen(key->digest) + 1);
	}
	sha256_result(&ctx, digest);
	return t_strndup(binary_to_hex(digest, sizeof(digest)),
			 VSMLIST_PROGRESS_NAME_LEN);
}

static bool vsmlist_progress_is_record_name(const char *name)
{
	unsigned int i;

	for (i = 0; i < VSMLIST_PROGRESS_NAME_LEN; i++) {
		if (!i_isxdigit(name[i]))
			return FALSE;
	}
	return name[i] == '\0';
}

static const char *vsmlist_progress_member_key(const struct smtp_address *rcpt)
{
	return t_str_lcase(smtp_address_encode(rcpt));
}

/* Append vsmlist_progress_member_key() without a string of its own (the
   record of a batch is written one member after another) */
static void
vsmlist_progress_append_member_key(string_t *str,
				   const struct smtp_address *rcpt)
{
	size_t pos = str_len(str);

	smtp_address_write(str, rcpt);
	(void)str_lcase(str_c_modifiable(str) + pos);
}

static void
vsmlist_progress_add(struct vsmlist_progress *progress, const char *address,
		     enum vsmlist_progress_state state)
{
	char *key = p_strdup(progress->pool, address);

	if (hash_table_lookup(progress->members, key) != NULL)
		return;
	hash_table_insert(progress->members, key, POINTER_CAST(state));
	if (state == VSMLIST_PROGRESS_SENT)
		progress->sent_before++;
	else
		progress->rejected_before++;
}

/* Parse the record's lines after its header. Returns 0, or -1 if it is
   not a record of this post (or not one at all). */
static int
vsmlist_progress_parse(struct vsmlist_progress *progress, const char *data,
		       size_t size)
{
	size_t hdr_len = strlen(progress->header);
	const char *const *lines;
	unsigned int i, sent, rejected;

	if (size < hdr_len || memcmp(data, progress->header, hdr_len) != 0)
		return -1;
	data += hdr_len;
	size -= hdr_len;

	/* A last line without its newline was cut short by a crash: it is
	   not trusted (at worst that member gets the post again) */
	while (size > 0 && data[size - 1] != '\n')
		size--;
	lines = t_strsplit(t_strndup(data, size), "\n");
	for (i = 0; lines[i] != NULL; i++) {
		const char *line = lines[i];

		if (*line == '\0')
			continue;
		if (str_begins(line, "S "))
			vsmlist_progress_add(progress, line + 2,
					     VSMLIST_PROGRESS_SENT);
		else if (str_begins(line, "R "))
			vsmlist_progress_add(progress, line + 2,
					     VSMLIST_PROGRESS_REJECTED);
		else if (sscanf(line, "complete %u %u", &sent,
				&rejected) == 2) {
			progress->complete = TRUE;
			progress->sent_before = sent;
			progress->rejected_before = rejected;
		}
		/* Anything else (a line cut short by a crash) is
		   ignored: at worst that member gets it again. */
	}
	return 0;
}

static int
vsmlist_progress_reset(struct vsmlist_progress *progress,
		       const char **error_r)
{
	if (ftruncate(progress->fd, 0) < 0) {
		*error_r = t_strdup_printf("ftruncate(%s) failed: %m",
					   progress->path);
		return -1;
	}
	if (write_full(progress->fd, progress->header,
		       strlen(progress->header)) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m",
					   progress->path);
		return -1;
	}
	return 0;
}

/* Read the locked record: an existing record of this post is loaded, an
   empty, expired or foreign one is started afresh. */
static int
vsmlist_progress_load(struct vsmlist_progress *progress,
		      const struct stat *st, unsigned int expire_secs,
		      const char **error_r)
{
	buffer_t *buf;
	ssize_t ret;

	if (st->st_size == 0)
		return vsmlist_progress_reset(progress, error_r);
	if (st->st_mtime + (time_t)expire_secs < time(NULL)) {
		e_debug(progress->event, "progress %s expired: started afresh",
			progress->path);
		return vsmlist_progress_reset(progress, error_r);
	}

	buf = t_buffer_create(st->st_size + 1);
	for (;;) {
		void *data = buffer_append_space_unsafe(buf, 8192);

		ret = pread(progress->fd, data, 8192,
			    buf->used - 8192);
		if (ret < 0) {
			*error_r = t_strdup_printf("read(%s) failed: %m",
						   progress->path);
			return -1;
		}
		buffer_set_used_size(buf, buf->used - 8192 + ret);
		if (ret == 0)
			break;
	}
	if (vsmlist_progress_parse(progress, buf->data, buf->used) < 0) {
		/* Another post with the same Message-ID (or garbage) */
		e_debug(progress->event, "progress %s belongs to another "
			"post: started afresh", progress->path);
		hash_table_clear(progress->members, TRUE);
		progress->sent_before = progress->rejected_before = 0;
		progress->complete = FALSE;
		return vsmlist_progress_reset(progress, error_r);
	}
	e_debug(progress->event, "progress %s: %u sent, %u rejected before%s",
		progress->path, progress->sent_before,
		progress->rejected_before,
		progress->complete ? " (complete)" : "");
	return 0;
}

static void vsmlist_progress_free(struct vsmlist_progress **_progress)
{
	struct vsmlist_progress *progress = *_progress;

	*_progress = NULL;
	/* Closing the fd releases the lock */
	if (progress->fd != -1)
		i_close_fd(&progress->fd);
	hash_table_destroy(&progress->members);
	event_unref(&progress->event);
	pool_unref(&progress->pool);
}

/* Open and lock path. Returns 1 locked (with fd and its stat), 0 when
   another process holds the lock, -1 on error. */
static int
vsmlist_progress_open_locked(const char *path, int *fd_r, struct stat *st_r,
			     bool *created_r, const char **error_r)
{
	struct stat st2;
	unsigned int i;
	int fd;

	*created_r = FALSE;
	for (i = 0; i < VSMLIST_PROGRESS_OPEN_TRIES; i++) {
		fd = open(path, O_RDWR | O_APPEND);
		if (fd == -1 && errno == ENOENT) {
			fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL,
				  0600);
			if (fd == -1 && errno == EEXIST)
				continue;
			if (fd != -1)
				*created_r = TRUE;
		}
		if (fd == -1) {
			*error_r = t_strdup_printf("open(%s) failed: %m",
						   path);
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int err = errno;

			i_close_fd(&fd);
			if (err == EWOULDBLOCK)
				return 0;
			errno = err;
			*error_r = t_strdup_printf("flock(%s) failed: %m",
						   path);
			return -1;
		}
		/* Locked; but it may have been replaced or removed by the
		   process that held the lock before */
		if (fstat(fd, st_r) < 0) {
			*error_r = t_strdup_printf("fstat(%s) failed: %m",
						   path);
			i_close_fd(&fd);
			return -1;
		}
		if (stat(path, &st2) == 0 && st2.st_ino == st_r->st_ino &&
		    st2.st_dev == st_r->st_dev) {
			*fd_r = fd;
			return 1;
		}
		i_close_fd(&fd);
		*created_r = FALSE;
	}
	*error_r = t_strdup_printf("%s keeps being replaced", path);
	return -1;
}

int vsmlist_progress_open(const char *dir,
			  const struct vsmlist_progress_key *key,
			  unsigned int expire_secs, struct event *event,
			  struct vsmlist_progress **progress_r,
			  const char **error_r)
{
	struct vsmlist_progress *progress;
	struct stat st;
	const char *path;
	pool_t pool;
	bool created;
	int fd, ret;

	*progress_r = NULL;
	if (mkdir_parents(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = t_strdup_printf("mkdir(%s) failed: %m", dir);
		return -1;
	}
	path = t_strdup_printf("%s/%s", dir, vsmlist_progress_name(key));
	ret = vsmlist_progress_open_locked(path, &fd, &st, &created, error_r);
	if (ret <= 0)
		return ret;

	pool = pool_alloconly_create("vsmlist progress", 1024);
	progress = p_new(pool, struct vsmlist_progress, 1);
	progress->pool = pool;
	progress->event = event_create(event);
	progress->dir = p_strdup(pool, dir);
	progress->path = p_strdup(pool, path);
	progress->fd = fd;
	progress->header = p_strdup(pool, vsmlist_progress_header(key));
	hash_table_create(&progress->members, pool, 0, str_hash, strcmp);

	if (vsmlist_progress_load(progress, &st, expire_secs, error_r) < 0) {
		vsmlist_progress_free(&progress);
		return -1;
	}
	*progress_r = progress;

	/* A new post: the time to forget old ones */
	if (created) {
		(void)vsmlist_progress_prune(dir, expire_secs,
					     VSMLIST_PROGRESS_MAX_POSTS,
					     event);
	}
	return 1;
}

enum vsmlist_progress_state
vsmlist_progress_lookup(struct vsmlist_progress *progress,
			const struct smtp_address *rcpt)
{
	void *value;

	if (progress->complete)
		return VSMLIST_PROGRESS_SENT;
	if (progress->sent_before + progress->rejected_before == 0)
		return VSMLIST_PROGRESS_NONE;
	value = hash_table_lookup(progress->members,
				  vsmlist_progress_member_key(rcpt));
	return (enum vsmlist_progress_state)POINTER_CAST_TO(value,
							    unsigned int);
}

bool vsmlist_progress_is_complete(struct vsmlist_progress *progress)
{
	return progress->complete;
}

unsigned int vsmlist_progress_get_sent(struct vsmlist_progress *progress)
{
	return progress->sent_before;
}

unsigned int vsmlist_progress_get_rejected(struct vsmlist_progress *progress)
{
	return progress->rejected_before;
}

const char *vsmlist_progress_get_path(struct vsmlist_progress *progress)
{
	return progress->path;
}

int vsmlist_progress_record(struct vsmlist_progress *progress,
			    const struct smtp_address *const *rcpts,
			    const struct vsmlist_rcpt_result *results,
			    unsigned int count, const char **error_r)
{
	string_t *str;
	unsigned int i;

	if (progress->fd == -1) {
		*error_r = "record already closed";
		return -1;
	}
	str = t_str_new(count * 32);
	for (i = 0; i < count; i++) {
		switch (results[i].status) {
		case VSMLIST_RCPT_SENT:
			progress->sent_now++;
			str_append(str, "S ");
			break;
		case VSMLIST_RCPT_REJECTED:
			progress->rejected_now++;
			str_append(str, "R ");
			break;
		default:
			continue;
		}
		vsmlist_progress_append_member_key(str, rcpts[i]);
		str_append_c(str, '\n');
	}
	if (str_len(str) == 0)
		return 0;
	/* One write: O_APPEND keeps it whole */
	if (write_full(progress->fd, str_data(str), str_len(str)) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m",
					   progress->path);
		return -1;
	}
	return 0;
}

/* Replace the record with its short complete form */
static int
vsmlist_progress_write_complete(struct vsmlist_progress *progress,
				const char **error_r)
{
	const char *tmp_path = t_strconcat(progress->path, ".tmp", NULL);
	const char *data;
	int fd;

	data = t_strdup_printf("%scomplete %u %u\n", progress->header,
			       progress->sent_before + progress->sent_now,
			       progress->rejected_before +
			       progress->rejected_now);
	/* We hold the record's lock: a .tmp left over is from a crash.
	   Never follow a link planted there. */
	i_unlink_if_exists(tmp_path);
	fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", tmp_path);
		return -1;
	}
	if (write_full(fd, data, strlen(data)) < 0 || fdatasync(fd) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m", tmp_path);
		i_close_fd(&fd);
		i_unlink_if_exists(tmp_path);
		return -1;
	}
	i_close_fd(&fd);
	if (rename(tmp_path, progress->path) < 0) {
		*error_r = t_strdup_printf("rename(%s, %s) failed: %m",
					   tmp_path, progress->path);
		i_unlink_if_exists(tmp_path);
		return -1;
	}
	return 0;
}

int vsmlist_progress_close(struct vsmlist_progress **_progress,
			   bool complete, const char **error_r)
{
	struct vsmlist_progress *progress = *_progress;
	int ret = 0;

	if (progress == NULL)
		return 0;
	*_progress = NULL;

	if (progress->sent_before + progress->sent_now == 0) {
		/* Nobody has it: nothing to protect, and a later delivery
		   of this post starts afresh */
		if (unlink(progress->path) < 0 && errno != ENOENT) {
			*error_r = t_strdup_printf("unlink(%s) failed: %m",
						   progress->path);
			ret = -1;
		}
	} else if (complete) {
		if (!progress->complete)
			ret = vsmlist_progress_write_complete(progress,
							      error_r);
	} else if (fdatasync(progress->fd) < 0) {
		*error_r = t_strdup_printf("fdatasync(%s) failed: %m",
					   progress->path);
		ret = -1;
	}
	vsmlist_progress_free(&progress);
	return ret;
}

struct vsmlist_progress_entry {
	const char *name;
	struct stat st;
};

static int
vsmlist_progress_entry_cmp(const struct vsmlist_progress_entry *e1,
			   const struct vsmlist_progress_entry *e2)
{
	if (e1->st.st_mtime != e2->st.st_mtime)
		return e1->st.st_mtime < e2->st.st_mtime ? -1 : 1;
	return strcmp(e1->name, e2->name);
}

void (*vsmlist_progress_test_before_remove)(const char *path) = NULL;

/* Remove the record the scan saw (scanned) unless a delivery holds it.
   Returns TRUE if removed. */
static bool
vsmlist_progress_remove(const char *path, const struct stat *scanned,
			struct event *event)
{
	struct stat st_fd, st_path;
	bool removed = FALSE;
	int fd;

	if (vsmlist_progress_test_before_remove != NULL)
		vsmlist_progress_test_before_remove(path);
	fd = open(path, O_RDWR | O_NOFOLLOW);
	if (fd == -1)
		return FALSE;
	/* Locked, and still the record the scan judged: a delivery may have
	   replaced it (with its complete record) since */
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 &&
	    fstat(fd, &st_fd) == 0 && stat(path, &st_path) == 0 &&
	    st_fd.st_ino == scanned->st_ino && st_fd.st_dev == scanned->st_dev &&
	    st_path.st_ino == st_fd.st_ino && st_path.st_dev == st_fd.st_dev) {
		if (unlink(path) == 0)
			removed = TRUE;
		else if (errno != ENOENT && event != NULL)
			e_error(event, "unlink(%s) failed: %m", path);
	}
	i_close_fd(&fd);
	return removed;
}

int vsmlist_progress_prune(const char *dir, unsigned int expire_secs,
			   unsigned int max_posts, struct event *event)
{
	ARRAY(struct vsmlist_progress_entry) entries;
	struct vsmlist_progress_entry *entry;
	struct dirent *d;
	struct stat st;
	time_t now = time(NULL);
	unsigned int i, count, removed = 0;
	DIR *dirp;

	dirp = opendir(dir);
	if (dirp == NULL) {
		if (errno != ENOENT && event != NULL)
			e_error(event, "opendir(%s) failed: %m", dir);
		return -1;
	}
	t_array_init(&entries, 64);
	while ((d = readdir(dirp)) != NULL) {
		const char *path;

		if (str_begins(d->d_name, ".") ||
		    !vsmlist_progress_is_record_name(d->d_name))
			continue;
		path = t_strdup_printf("%s/%s", dir, d->d_name);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (st.st_mtime + (time_t)expire_secs < now) {
			if (vsmlist_progress_remove(path, &st, event))
				removed++;
			continue;
		}
		entry = array_append_space(&entries);
		entry->name = t_strdup(d->d_name);
		entry->st = st;
	}
	if (closedir(dirp) < 0 && event != NULL)
		e_error(event, "closedir(%s) failed: %m", dir);

	count = array_count(&entries);
	if (count > max_posts) {
		array_sort(&entries, vsmlist_progress_entry_cmp);
		entry = array_front_modifiable(&entries);
		for (i = 0; i < count - max_posts; i++) {
			if (vsmlist_progress_remove(t_strdup_printf(
				"%s/%s", dir, entry[i].name), &entry[i].st,
				event))
				removed++;
		}
	}
	if (removed > 0 && event != NULL) {
		e_debug(event, "progress: removed %u old record(s) from %s",
			removed, dir);
	}
	return removed;
}
