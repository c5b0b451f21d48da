/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "test-vsmlist.h"
#include "vsmlist-rewrite.h"
#include "vsmlist-ratelimit.h"

#include <fcntl.h>
#include <unistd.h>

#define TEST_NOW 1767225600 /* 2026-01-01 */
#define TEST_WINDOW 86400

static const char *test_dir;
static struct event *test_event;

static const char *test_limit_path(void)
{
	return t_strconcat(test_dir, "/vsmlist/confirm-limit", NULL);
}

static enum vsmlist_ratelimit_result
test_count(const char *key, time_t now)
{
	enum vsmlist_ratelimit_result result;
	const char *error;

	if (vsmlist_ratelimit_check_and_count(test_limit_path(), key, 3,
					      TEST_WINDOW, now, test_event,
					      &result, &error) < 0)
		i_fatal("vsmlist_ratelimit_check_and_count(): %s", error);
	return result;
}

static void test_write_limit_file(const void *content, size_t size)
{
	int fd = open(test_limit_path(), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, content, size) != (ssize_t)size ||
	    close(fd) < 0)
		i_fatal("write(%s) failed: %m", test_limit_path());
}

static const char *test_file_content(void)
{
	buffer_t *buf = t_buffer_create(1024);
	const char *error;

	if (vsmlist_file_read(test_limit_path(), SIZE_MAX, buf, &error) < 0)
		i_fatal("%s", error);
	return t_strndup(buf->data, buf->used);
}

static unsigned int test_file_lines(void)
{
	const char *p;
	unsigned int lines = 0;

	for (p = test_file_content(); *p != '\0'; p++) {
		if (*p == '\n')
			lines++;
	}
	return lines;
}

static void test_ratelimit_window(void)
{
	test_event = event_create(NULL);
	test_begin("ratelimit: 3 a day, then refused");
	test_assert(test_count("alice@example.net", TEST_NOW) ==
		    VSMLIST_RATELIMIT_ALLOWED);
	test_assert(test_count("alice@example.net", TEST_NOW + 10) ==
		    VSMLIST_RATELIMIT_ALLOWED);
	test_assert(test_count("alice@example.net", TEST_NOW + 3600) ==
		    VSMLIST_RATELIMIT_ALLOWED);
	test_assert(test_count("alice@example.net", TEST_NOW + 3601) ==
		    VSMLIST_RATELIMIT_LIMITED);
	test_assert(test_count("alice@example.net", TEST_NOW + TEST_WINDOW - 1) ==
		    VSMLIST_RATELIMIT_LIMITED);
	test_assert(test_file_lines() == 4);
	/* The file names no address */
	test_assert(strstr(test_file_content(), "alice") == NULL);
	test_end();

	test_begin("ratelimit: other addresses count on their own");
	test_assert(test_count("bob@example.org", TEST_NOW + 3602) ==
		    VSMLIST_RATELIMIT_ALLOWED);
	test_assert(test_count("bob@example.org", TEST_NOW + 3603) ==
		    VSMLIST_RATELIMIT_ALLOWED);
	test_end();

	test_begin("ratelimit: allowed again after the window");
	/* The first mail has left the window */
	test_assert(test_count("alice@example.net", TEST_NOW + TEST_WINDOW + 1) ==
		    VSMLIST_RATELIMIT_ALLOWED);
	test_assert(test_count("alice@example.net", TEST_NOW + TEST_WINDOW + 2) ==
		    VSMLIST_RATELIMIT_LIMITED);
	/* Old entries are dropped on each write */
	test_assert(test_count("carol@example.com",
			       TEST_NOW + 3 * TEST_WINDOW) ==
		    VSMLIST_RATELIMIT_ALLOWED);
	test_assert(test_file_lines() == 2);
	test_end();
}

static void test_ratelimit_full(void)
{
	string_t *content;
	unsigned int i;

	test_begin("ratelimit: a full file refuses everybody");
	content = t_str_new(VSMLIST_RATELIMIT_MAX_ENTRIES * 56);
	str_append(content, VSMLIST_RATELIMIT_HEADER"\n");
	for (i = 0; i < VSMLIST_RATELIMIT_MAX_ENTRIES; i++) {
		str_printfa(content, "%d %032x\n", TEST_NOW, i);
	}
	test_write_limit_file(str_data(content), str_len(content));
	test_assert(test_count("dave@example.com", TEST_NOW + 1) ==
		    VSMLIST_RATELIMIT_FULL);
	test_assert(test_file_lines() == VSMLIST_RATELIMIT_MAX_ENTRIES + 1);
	/* Until the entries age out */
	test_assert(test_count("dave@example.com", TEST_NOW + TEST_WINDOW) ==
		    VSMLIST_RATELIMIT_ALLOWED);
	test_assert(test_file_lines() == 2);
	test_end();
}

static void test_ratelimit_corrupt(void)
{
	enum vsmlist_ratelimit_result result;
	const char *error;
	static const char corrupt[] =
		VSMLIST_RATELIMIT_HEADER"\n"
		"garbage\n"
		"1767225600 0123\n"
		"1767225600 0123456789ABCDEF0123456789ABCDEF\n"
		"x 0123456789abcdef0123456789abcdef\n"
		"1767225600 0123456789abcdef0123456789abcdef\0\n"
		"99999999999999999999999 0123456789abcdef0123456789abcdef\n"
		"\n"
		"1767225600 0123456789abcdef0123456789abcdef\n";

	test_begin("ratelimit: invalid lines are dropped");
	test_write_limit_file(corrupt, sizeof(corrupt) - 1);
	test_expect_errors(1);
	test_assert(test_count("erin@example.com", TEST_NOW + 1) ==
		    VSMLIST_RATELIMIT_ALLOWED);
	test_expect_no_more_errors();
	test_assert(test_file_lines() == 3);
	test_end();

	test_begin("ratelimit: a file of another kind is an error");
	test_write_limit_file("vsmlist-confirm-limit 2\n", 24);
	test_assert(vsmlist_ratelimit_check_and_count(test_limit_path(),
		"erin@example.com", 3, TEST_WINDOW, TEST_NOW, test_event, &result,
		&error) < 0);
	test_assert(result == VSMLIST_RATELIMIT_FULL);
	test_assert(strstr(error, "remove it") != NULL);
	test_write_limit_file("\0\0\0", 3);
	test_assert(vsmlist_ratelimit_check_and_count(test_limit_path(),
		"erin@example.com", 3, TEST_WINDOW, TEST_NOW, test_event, &result,
		&error) < 0);
	test_assert_strcmp(vsmlist_ratelimit_result_str(result), "full");
	test_end();
	event_unref(&test_event);
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_ratelimit_window,
		test_ratelimit_full,
		test_ratelimit_corrupt,
		NULL
	};

	return test_vsmlist_run_in_tmpdir(test_functions, &test_dir);
}
