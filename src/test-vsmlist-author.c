/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "test-common.h"
#include "vsmlist-author.h"

static const char *
test_author(const char *const *fields, enum vsmlist_author_status *status_r)
{
	struct vsmlist_author author;
	const struct vsmlist_author_mailbox *mbox;
	string_t *domains = t_str_new(64);

	vsmlist_author_parse(pool_datastack_create(), fields, &author);
	*status_r = author.status;
	array_foreach(&author.mailboxes, mbox) {
		if (str_len(domains) > 0)
			str_append_c(domains, ' ');
		str_append(domains, mbox->domain);
	}
	return str_c(domains);
}

#define FIELDS(...) ((const char *const []){ __VA_ARGS__, NULL })

static void test_author_one(void)
{
	enum vsmlist_author_status status;
	struct vsmlist_author author;
	const struct vsmlist_author_mailbox *mbox;

	test_begin("author: one mailbox");
	test_assert_strcmp(test_author(FIELDS("Ann <ann@Example.COM>"),
				       &status), "example.com");
	test_assert(status == VSMLIST_AUTHOR_OK);
	test_assert_strcmp(test_author(FIELDS("ann@example.com."), &status),
			   "example.com");
	test_assert(status == VSMLIST_AUTHOR_OK);
	test_assert_strcmp(test_author(FIELDS("\"a@b\" <x@quoted.example>"),
				       &status), "quoted.example");
	test_assert(status == VSMLIST_AUTHOR_OK);
	test_assert_strcmp(test_author(FIELDS("x@c.example (Ann @ home)"),
				       &status), "c.example");
	test_assert(status == VSMLIST_AUTHOR_OK);

	vsmlist_author_parse(pool_datastack_create(),
			     FIELDS("\"Ann, Smith\" <ann@example.com>"),
			     &author);
	mbox = array_front(&author.mailboxes);
	test_assert_strcmp(mbox->name, "Ann, Smith");
	test_assert_strcmp(mbox->localpart, "ann");
	test_end();
}

static void test_author_idn(void)
{
	enum vsmlist_author_status status;

	test_begin("author: IDN to A-labels");
	test_assert_strcmp(test_author(FIELDS("x@B\xc3\xbc\x63her.example"),
				       &status), "xn--bcher-kva.example");
	test_assert(status == VSMLIST_AUTHOR_OK);
	/* Non-transitional: German sharp s stays */
	test_assert_strcmp(test_author(FIELDS("x@fa\xc3\x9f.de"), &status),
			   "xn--fa-hia.de");
	test_assert_strcmp(test_author(FIELDS("x@xn--bcher-kva.example"),
				       &status), "xn--bcher-kva.example");
	test_end();
}

static void test_author_unusable(void)
{
	enum vsmlist_author_status status;
	char long_label[80], long_name[260];

	test_begin("author: none");
	(void)test_author(NULL, &status);
	test_assert(status == VSMLIST_AUTHOR_NONE);
	(void)test_author(FIELDS(""), &status);
	test_assert(status == VSMLIST_AUTHOR_NONE);
	test_end();

	test_begin("author: several");
	test_assert_strcmp(test_author(FIELDS("a@one.example, b@two.example"),
				       &status), "one.example two.example");
	test_assert(status == VSMLIST_AUTHOR_SEVERAL);
	test_assert_strcmp(test_author(FIELDS("a@one.example",
					      "b@two.example"), &status),
			   "one.example two.example");
	test_assert(status == VSMLIST_AUTHOR_SEVERAL);
	test_end();

	test_begin("author: malformed");
	(void)test_author(FIELDS("a@b@c.example"), &status);
	test_assert(status == VSMLIST_AUTHOR_MALFORMED);
	(void)test_author(FIELDS("Ann <a@b@c.example>"), &status);
	test_assert(status == VSMLIST_AUTHOR_MALFORMED);
	(void)test_author(FIELDS("friends: a@one.example;"), &status);
	test_assert(status == VSMLIST_AUTHOR_MALFORMED);
	(void)test_author(FIELDS("undisclosed:;"), &status);
	test_assert(status == VSMLIST_AUTHOR_MALFORMED);
	(void)test_author(FIELDS("a@"), &status);
	test_assert(status == VSMLIST_AUTHOR_MALFORMED);
	(void)test_author(FIELDS("a@[192.0.2.1]"), &status);
	test_assert(status == VSMLIST_AUTHOR_MALFORMED);
	(void)test_author(FIELDS("a@b..example"), &status);
	test_assert(status == VSMLIST_AUTHOR_MALFORMED);
	(void)test_author(FIELDS("no at sign"), &status);
	test_assert(status == VSMLIST_AUTHOR_MALFORMED);
	(void)test_author(FIELDS("a@one.example", "b@c@d.example"), &status);
	test_assert(status == VSMLIST_AUTHOR_MALFORMED);

	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	(void)test_author(FIELDS(t_strdup_printf("x@%s.example", long_label)),
			  &status);
	test_assert(status == VSMLIST_AUTHOR_MALFORMED);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	for (unsigned int i = 50; i < sizeof(long_name) - 1; i += 50)
		long_name[i] = '.';
	(void)test_author(FIELDS(t_strdup_printf("x@%s", long_name)), &status);
	test_assert(status == VSMLIST_AUTHOR_MALFORMED);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_author_one,
		test_author_idn,
		test_author_unusable,
		NULL
	};
	return test_run(test_functions);
}
