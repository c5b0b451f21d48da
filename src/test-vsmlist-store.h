#ifndef TEST_VSMLIST_STORE_H
#define TEST_VSMLIST_STORE_H

/* Helpers of the member store's tests (test-vsmlist-store.c for the file
   backend, test-vsmlist-store-dict.c for the dict backend): each logs the
   error of a failed call and returns the call's result. */

#include "smtp-address.h"
#include "vsmlist-rewrite.h"
#include "vsmlist-store.h"

#include <fcntl.h>
#include <unistd.h>

/* The test's directory (the store's home) */
static const char *test_dir;
/* Member sets are read into it (not the data stack: reading uses frames) */
static pool_t test_pool;
/* The stores' clock */
static time_t test_clock = 1767225600; /* 2026-01-01 */

static inline time_t test_now(void)
{
	return test_clock;
}

static inline const char *test_path(const char *name)
{
	return t_strconcat(test_dir, "/", name, NULL);
}

static inline void
test_write_file(const char *name, const void *data, size_t size)
{
	const char *path = test_path(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) < 0)
		i_fatal("write(%s) failed: %m", path);
}

static inline void test_write_str(const char *name, const char *content)
{
	test_write_file(name, content, strlen(content));
}

static inline const char *test_read_file(const char *name)
{
	buffer_t *buf = t_buffer_create(1024);
	const char *error;

	if (vsmlist_file_read(test_path(name), SIZE_MAX, buf, &error) < 0)
		i_fatal("%s", error);
	return t_strndup(buf->data, buf->used);
}

static inline const struct smtp_address *test_addr(const char *address)
{
	struct smtp_address *addr;
	const char *error;

	if (smtp_address_parse_path(pool_datastack_create(), address,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				    &addr, &error) < 0)
		i_fatal("%s: %s", address, error);
	return addr;
}

static inline int
test_add(struct vsmlist_store *store, const char *address,
	 enum vsmlist_store_add_result *result_r)
{
	const char *error;
	int ret;

	ret = vsmlist_store_add(store, test_addr(address), result_r, &error);
	if (ret < 0)
		i_error("add(%s): %s", address, error);
	return ret;
}

static inline int
test_remove(struct vsmlist_store *store, const char *address)
{
	const char *error;
	int ret;

	ret = vsmlist_store_remove(store, test_addr(address), &error);
	if (ret < 0)
		i_error("remove(%s): %s", address, error);
	return ret;
}

/* Update callback: one bounce point; the fifth disables */
static inline bool
test_bounce(struct vsmlist_member *member, time_t now, unsigned int *calls)
{
	(*calls)++;
	member->bounce_points++;
	member->last_bounce = now;
	if (member->bounce_points >= 5 &&
	    member->state == VSMLIST_MEMBER_ENABLED) {
		member->state = VSMLIST_MEMBER_DISABLED;
		member->disabled_at = now;
	}
	return TRUE;
}

static inline bool
test_no_change(struct vsmlist_member *member ATTR_UNUSED,
	       time_t now ATTR_UNUSED, unsigned int *calls)
{
	(*calls)++;
	return FALSE;
}

typedef bool test_update_callback_t(struct vsmlist_member *member,
				    time_t now, unsigned int *calls);

static inline int
test_update(struct vsmlist_store *store, const char *address,
	    test_update_callback_t *callback, unsigned int *calls)
{
	const char *error;
	int ret;

	/* The macro's type check takes functions, not pointers */
	ret = (vsmlist_store_update)(store, test_addr(address),
		(vsmlist_store_update_callback_t *)callback, calls, &error);
	if (ret < 0)
		i_error("update(%s): %s", address, error);
	return ret;
}

#endif
