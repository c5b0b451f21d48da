/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-members.h"

static pool_t test_pool;

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

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_members_add,
		test_members_remove,
		NULL
	};
	int ret;

	/* Member sets outlive data stack frames */
	lib_init();
	test_pool = pool_alloconly_create("test members", 1024);
	ret = test_run(test_functions);
	pool_unref(&test_pool);
	lib_deinit();
	return ret;
}
