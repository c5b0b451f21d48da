/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-members.h"

#include <stdio.h>
#include <unistd.h>
#include <fcntl.h>

static const char *test_dir;
static pool_t test_pool;

static const char *test_write_file(const char *name, const char *content)
{
	const char *path = t_strconcat(test_dir, "/", name, NULL);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, content, strlen(content)) < 0 ||
	    close(fd) < 0)
		i_fatal("write(%s) failed: %m", path);
	return path;
}

static const char *
test_members_str(const struct vsmlist_members *members)
{
	const struct smtp_address *const *addrs;
	unsigned int i, count;
	string_t *str = t_str_new(128);

	addrs = vsmlist_members_get(members, &count);
	for (i = 0; i < count; i++) {
		if (i > 0)
			str_append_c(str, ' ');
		str_append(str, smtp_address_encode(addrs[i]));
	}
	return str_c(str);
}

static void test_members_add(void)
{
	struct vsmlist_members *members;
	const char *error;

	test_begin("members: add, duplicates and case variants once");
	members = vsmlist_members_init(test_pool);
	test_assert(vsmlist_members_add(members, "a@example.net", &error) == 1);
	test_assert(vsmlist_members_add(members, "<b@example.org>", &error) == 1);
	test_assert(vsmlist_members_add(members, "A@Example.NET", &error) == 0);
	test_assert(vsmlist_members_add(members, "a@example.net", &error) == 0);
	test_assert(vsmlist_members_add(members, "nodomain", &error) < 0);
	test_assert(vsmlist_members_add(members, "a@b@c.example", &error) < 0);
	test_assert(vsmlist_members_add(members, "", &error) < 0);
	test_assert_strcmp(test_members_str(members),
			   "a@example.net b@example.org");
	vsmlist_members_deinit(&members);
	test_end();
}

static void test_members_remove(void)
{
	struct vsmlist_members *members;
	const char *error;

	test_begin("members: remove keeps the rest findable");
	members = vsmlist_members_init(test_pool);
	(void)vsmlist_members_add(members, "a@x.example", &error);
	(void)vsmlist_members_add(members, "list@x.example", &error);
	(void)vsmlist_members_add(members, "c@x.example", &error);
	test_assert(vsmlist_members_remove(members,
		smtp_address_create_temp("LIST", "x.example")));
	test_assert(!vsmlist_members_remove(members,
		smtp_address_create_temp("list", "x.example")));
	test_assert_strcmp(test_members_str(members),
			   "a@x.example c@x.example");
	/* The index still dedups the one that moved */
	test_assert(vsmlist_members_add(members, "c@x.example", &error) == 0);
	test_assert(vsmlist_members_remove(members,
		smtp_address_create_temp("c", "x.example")));
	test_assert_strcmp(test_members_str(members), "a@x.example");
	vsmlist_members_deinit(&members);
	test_end();
}

static void test_members_large_file(void)
{
	struct vsmlist_members *members;
	struct event *event = event_create(NULL);
	string_t *content = t_str_new(128 * 1024);
	const struct smtp_address *const *addrs;
	const char *path, *error;
	unsigned int i, count;

	test_begin("members: a large file, after members added before");
	for (i = 0; i < 5000; i++) {
		str_printfa(content, "m%04u@example%u.net\n", i, i % 7);
		/* Every 10th again, written otherwise */
		if (i % 10 == 9)
			str_printfa(content, "M%04u@EXAMPLE%u.net\n", i - 5,
				    (i - 5) % 7);
	}
	path = test_write_file("large", str_c(content));
	members = vsmlist_members_init(test_pool);
	test_assert(vsmlist_members_add(members, "m4999@example1.net",
					&error) == 1);
	test_assert(vsmlist_members_read_file(members, path, event,
					      &error) == 0);
	addrs = vsmlist_members_get(members, &count);
	test_assert(count == 5000);
	test_assert_strcmp(smtp_address_encode(addrs[1]), "m0000@example0.net");
	test_assert_strcmp(smtp_address_encode(addrs[4999]),
			   "m4998@example0.net");
	vsmlist_members_deinit(&members);
	/* An empty set makes room for the file's members first */
	members = vsmlist_members_init(test_pool);
	test_assert(vsmlist_members_read_file(members, path, event,
					      &error) == 0);
	addrs = vsmlist_members_get(members, &count);
	test_assert(count == 5000);
	test_assert_strcmp(smtp_address_encode(addrs[4999]),
			   "m4999@example1.net");
	test_assert(vsmlist_members_add(members, "M2500@example1.NET",
					&error) == 0);
	vsmlist_members_deinit(&members);
	test_end();

	event_unref(&event);
}

static void test_members_file(void)
{
	struct vsmlist_members *members;
	struct event *event = event_create(NULL);
	const char *path, *error;

	test_begin("members: file format");
	path = test_write_file("members",
		"# the friends list\n"
		"a@example.net\n"
		"\n"
		"   b@example.org   \n"
		"\tc@example.com\t# Carol\n"
		"A@EXAMPLE.NET\n"
		"not-an-address\n"
		"x#y@example.com\n"
		"<d@example.com>\r\n"
		"e@example.com");
	members = vsmlist_members_init(test_pool);
	test_expect_errors(1);
	test_assert(vsmlist_members_read_file(members, path, event,
					      &error) == 0);
	test_expect_no_more_errors();
	test_assert_strcmp(test_members_str(members),
		"a@example.net b@example.org c@example.com "
		"x#y@example.com d@example.com e@example.com");
	vsmlist_members_deinit(&members);
	test_end();

	test_begin("members: store URI");
	members = vsmlist_members_init(test_pool);
	test_expect_errors(1);
	test_assert(vsmlist_members_load(members, t_strconcat(
		"file:", test_dir, "/members", NULL), event, &error) == 0);
	test_expect_no_more_errors();
	test_assert(vsmlist_members_load(members, t_strconcat(
		"file:", test_dir, "/missing", NULL), event, &error) < 0);
	test_assert(strstr(error, "missing") != NULL);
	test_assert(vsmlist_members_load(members, "ldap:foo", event,
					 &error) < 0);
	test_assert(vsmlist_members_load(members, "file:", event,
					 &error) < 0);
	vsmlist_members_deinit(&members);
	test_end();
	event_unref(&event);
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_members_add,
		test_members_remove,
		test_members_file,
		test_members_large_file,
		NULL
	};
	int ret;

	/* Member sets outlive data stack frames, as in the result pool */
	test_pool = pool_alloconly_create("test members", 1024);
	ret = test_vsmlist_run_in_tmpdir(test_functions, &test_dir);
	pool_unref(&test_pool);
	return ret;
}
