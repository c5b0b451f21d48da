/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* The dict backend of the member store, on Dovecot's file dict (it
   iterates and needs no server). With VSMLIST_TEST_DICT_URI set (a dict
   URI such as proxy:/path/to/dict:vsmlist) the store operations run
   against that dict instead: sieve-tests/integration/test_dict.py runs
   them so through Dovecot's dict server on PostgreSQL, the list being
   VSMLIST_TEST_DICT_LIST. */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "time-util.h"
#include "str.h"
#include "net.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-rewrite.h"
#include "vsmlist-store.h"
#include "vsmlist-posting.h"
#include "test-vsmlist-store.h"

#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>

static const char *test_uri;
static const char *test_list = "friends@lists.example";
static int
test_open_full(const char *uri, const char *list,
	       struct vsmlist_store_settings *set,
	       struct vsmlist_store **store_r, const char **error_r)
{
	set->home = test_dir;
	set->list_address = list == NULL ? NULL : test_addr(list);
	set->now = test_now;
	return vsmlist_store_open(uri, set, store_r, error_r);
}

static struct vsmlist_store *test_open_list(const char *list)
{
	struct vsmlist_store_settings set;
	struct vsmlist_store *store;
	const char *error;

	i_zero(&set);
	if (test_open_full(test_uri, list, &set, &store, &error) < 0)
		i_fatal("vsmlist_store_open(%s): %s", test_uri, error);
	return store;
}

static struct vsmlist_store *test_open(void)
{
	return test_open_list(test_list);
}

static struct vsmlist_member_set *test_read(struct vsmlist_store *store)
{
	struct vsmlist_member_set *set;
	const char *error;

	if (vsmlist_store_read(store, test_pool, &set, &error) < 0)
		i_fatal("vsmlist_store_read(): %s", error);
	return set;
}

/* The members sorted (a dict gives them in its own order), with state
   where it is not the default */
static const char *test_members_str(struct vsmlist_store *store)
{
	const struct vsmlist_member *members;
	struct vsmlist_member_set *set = test_read(store);
	ARRAY_TYPE(const_string) names;
	unsigned int i, count;
	string_t *str = t_str_new(128);
	const char *name;

	t_array_init(&names, 16);
	members = vsmlist_member_set_get(set, &count);
	for (i = 0; i < count; i++) {
		str_truncate(str, 0);
		str_append(str, smtp_address_encode(members[i].address));
		if (members[i].state == VSMLIST_MEMBER_DISABLED)
			str_append(str, "(disabled)");
		if (members[i].bounce_points > 0)
			str_printfa(str, "(%u)", members[i].bounce_points);
		name = t_strdup(str_c(str));
		array_push_back(&names, &name);
	}
	array_sort(&names, i_strcmp_p);
	array_append_zero(&names);
	return t_strarray_join(array_front(&names), " ");
}

static int test_lookup(struct vsmlist_store *store, const char *address,
		       struct vsmlist_member *member_r)
{
	const char *error;
	int ret;

	ret = vsmlist_store_lookup(store, test_addr(address), test_pool,
				   member_r, &error);
	if (ret < 0)
		i_error("lookup(%s): %s", address, error);
	return ret;
}

/* Update callback: enabled again, points gone */
static bool test_enable(struct vsmlist_member *member,
			time_t now ATTR_UNUSED, unsigned int *calls)
{
	(*calls)++;
	member->state = VSMLIST_MEMBER_ENABLED;
	member->bounce_points = 0;
	member->disabled_at = 0;
	return TRUE;
}

/* What every dict must do: also run against PostgreSQL */
static void test_store_dict_operations(void)
{
	enum vsmlist_store_add_result result;
	struct vsmlist_member member;
	struct vsmlist_store *store;
	unsigned int i, calls = 0;
	const char *error;

	test_begin("store dict: add, in any case, and read");
	store = test_open();
	test_assert_strcmp(test_members_str(store), "");
	test_assert(test_add(store, "a@example.net", &result) == 1);
	test_assert(result == VSMLIST_STORE_ADD_ADDED);
	test_assert(test_add(store, "A@EXAMPLE.NET", &result) == 0);
	test_assert(result == VSMLIST_STORE_ADD_ALREADY_MEMBER);
	test_assert(test_add(store, "Mixed.Case@Example.ORG", &result) == 1);
	test_assert(test_add(store, "sl/ash@example.org", &result) == 1);
	test_assert(test_add(store, "\"back\\\\slash\"@example.org",
			     &result) == 1);
	/* The dict keeps each member's key: the lower-case address */
	test_assert_strcmp(test_members_str(store),
		"\"back\\\\slash\"@example.org a@example.net "
		"mixed.case@example.org sl/ash@example.org");
	test_end();

	test_begin("store dict: lookup");
	test_assert(test_lookup(store, "MIXED.case@example.org",
				&member) == 1);
	test_assert_strcmp(member.key, "mixed.case@example.org");
	test_assert(member.state == VSMLIST_MEMBER_ENABLED &&
		    member.bounce_points == 0 && member.last_bounce == 0 &&
		    member.disabled_at == 0);
	test_assert(test_lookup(store, "sl/ash@example.org", &member) == 1);
	test_assert(test_lookup(store, "\"back\\\\slash\"@example.org",
				&member) == 1);
	test_assert(test_lookup(store, "z@example.net", &member) == 0);
	/* An address without a key is nobody's */
	test_assert(vsmlist_store_lookup(store,
		smtp_address_create_temp("a\x7f", "example.net"), test_pool,
		&member, &error) == 0);
	test_end();

	test_begin("store dict: update the state columns");
	for (i = 0; i < 5; i++) {
		test_clock += 86400;
		test_assert(test_update(store, "a@example.NET", test_bounce,
					&calls) == 1);
	}
	test_assert(test_update(store, "sl/ash@example.org", test_bounce,
				&calls) == 1);
	test_assert(calls == 6);
	test_assert_strcmp(test_members_str(store),
		"\"back\\\\slash\"@example.org a@example.net(disabled)(5) "
		"mixed.case@example.org sl/ash@example.org(1)");
	test_assert(test_lookup(store, "a@example.net", &member) == 1);
	test_assert(member.state == VSMLIST_MEMBER_DISABLED &&
		    member.bounce_points == 5 &&
		    member.last_bounce == test_clock &&
		    member.disabled_at == test_clock);
	test_assert(test_add(store, "a@example.net", &result) == 0);
	test_assert(result == VSMLIST_STORE_ADD_ALREADY_DISABLED);
	/* Not a member: no callback; no change: nothing written */
	test_assert(test_update(store, "z@example.net", test_bounce,
				&calls) == 0);
	test_assert(test_update(store, "a@example.net", test_no_change,
				&calls) == 0);
	test_assert(calls == 7);
	test_assert(test_update(store, "a@example.net", test_enable,
				&calls) == 1);
	test_assert(test_lookup(store, "a@example.net", &member) == 1);
	test_assert(member.state == VSMLIST_MEMBER_ENABLED &&
		    member.bounce_points == 0 &&
		    member.last_bounce == test_clock &&
		    member.disabled_at == 0);
	test_end();

	test_begin("store dict: remove takes the state along");
	test_assert(test_update(store, "a@example.net", test_bounce,
				&calls) == 1);
	test_assert(test_remove(store, "A@example.net") == 1);
	test_assert(test_remove(store, "a@example.net") == 0);
	test_assert(test_lookup(store, "a@example.net", &member) == 0);
	test_assert(test_add(store, "a@example.net", &result) == 1);
	test_assert(result == VSMLIST_STORE_ADD_ADDED);
	test_assert(test_lookup(store, "a@example.net", &member) == 1);
	test_assert(member.state == VSMLIST_MEMBER_ENABLED &&
		    member.bounce_points == 0 && member.last_bounce == 0);
	test_end();

	test_begin("store dict: changes that name no mailbox");
	test_assert(vsmlist_store_add(store,
		smtp_address_create_temp("a\nb@evil.example\n", "x.example"),
		&result, &error) < 0);
	test_assert(vsmlist_store_get_last_error(store) ==
		    VSMLIST_STORE_ERROR_PERM);
	test_assert(strstr(test_members_str(store), "evil") == NULL);
	test_end();

	test_begin("store dict: lists are apart");
	vsmlist_store_close(&store);
	store = test_open_list(t_strconcat("other-", test_list, NULL));
	test_assert_strcmp(test_members_str(store), "");
	test_assert(test_add(store, "a@example.net", &result) == 1);
	test_assert(test_remove(store, "a@example.net") == 1);
	vsmlist_store_close(&store);
	store = test_open();
	test_assert_strcmp(test_members_str(store),
		"\"back\\\\slash\"@example.org a@example.net "
		"mixed.case@example.org sl/ash@example.org(1)");
	test_end();

	/* Leave the list as it was */
	test_assert(test_remove(store, "a@example.net") == 1);
	test_assert(test_remove(store, "mixed.case@example.org") == 1);
	test_assert(test_remove(store, "sl/ash@example.org") == 1);
	test_assert(test_remove(store, "\"back\\\\slash\"@example.org") == 1);
	test_assert_strcmp(test_members_str(store), "");
	vsmlist_store_close(&store);
}

/* Run last against a remote dict: a member with state left behind, for
   the caller to find in the database's columns */
static void test_store_dict_leave_state(void)
{
	enum vsmlist_store_add_result result;
	struct vsmlist_store *store = test_open();
	unsigned int i, calls = 0;

	test_begin("store dict: a member's state left in the dict");
	test_clock = 1767225600;
	test_assert(test_add(store, "kept@example.net", &result) == 1);
	for (i = 0; i < 5; i++) {
		test_clock += 86400;
		test_assert(test_update(store, "kept@example.net",
					test_bounce, &calls) == 1);
	}
	vsmlist_store_close(&store);
	test_end();
}

static int test_open_error(const char *uri, const char **error_r)
{
	struct vsmlist_store_settings set;
	struct vsmlist_store *store;

	i_zero(&set);
	if (test_open_full(uri, test_list, &set, &store, error_r) == 0) {
		vsmlist_store_close(&store);
		*error_r = NULL;
		return 0;
	}
	return -1;
}

static void test_store_dict_open(void)
{
	static const char *const cannot_iterate[] = {
		"redis:host=127.0.0.1", "memcached:host=127.0.0.1",
		"memcached_ascii:host=127.0.0.1", "ldap:/etc/ldap.conf",
		"fs:posix:prefix=/tmp/x/",
	};
	struct vsmlist_store_settings set;
	struct vsmlist_store *store;
	const char *error;
	unsigned int i;

	test_begin("store dict: drivers that cannot iterate are refused");
	for (i = 0; i < N_ELEMENTS(cannot_iterate); i++) {
		test_assert_idx(test_open_error(t_strconcat("dict:",
			cannot_iterate[i], NULL), &error) < 0, i);
		test_assert_idx(error != NULL &&
				strstr(error, "a member store is read by "
				       "iterating") != NULL, i);
	}
	test_assert(test_open_error("dict:redis:host=127.0.0.1", &error) < 0);
	test_assert_strcmp(error, "member store 'dict:redis:host=127.0.0.1': "
		"the dict driver redis cannot iterate, and a member store is "
		"read by iterating (use an SQL dict through "
		"dict:proxy::<name>, or file:)");
	test_end();

	test_begin("store dict: SQL is the dict server's");
	test_assert(test_open_error("dict:pgsql:/etc/dovecot/x.conf.ext",
				    &error) < 0);
	test_assert(strstr(error, "Unknown dict module: pgsql") != NULL);
	test_assert(strstr(error, "use dict:proxy::<name> with dict { <name> "
			   "= pgsql:/etc/dovecot/x.conf.ext }") != NULL);
	test_assert(test_open_error("dict:nosuchdriver:x", &error) < 0);
	test_assert(strstr(error, "Unknown dict module") != NULL);
	test_assert(test_open_error("dict:nocolon", &error) < 0);
	test_assert(strstr(error, "not a dict URI") != NULL);
	test_end();

	test_begin("store dict: the proxy's socket needs base_dir");
	test_assert(test_open_error("dict:proxy::vsmlist", &error) < 0);
	test_assert(strstr(error, "base_dir") != NULL);
	test_assert(test_open_error("dict:proxy:dict:vsmlist", &error) < 0);
	test_assert(test_open_error("dict:proxy:idle_msecs=100::vsmlist",
				    &error) < 0);
	/* Opening connects to nothing */
	test_assert(test_open_error("dict:proxy:/nonexistent/dict:vsmlist",
				    &error) == 0);
	i_zero(&set);
	set.base_dir = "/nonexistent";
	test_assert(test_open_full("dict:proxy::vsmlist", test_list, &set,
				   &store, &error) == 0);
	test_assert_strcmp(vsmlist_store_get_name(store),
			   "dict:proxy::vsmlist");
	vsmlist_store_close(&store);
	test_end();

	test_begin("store dict: the list's address is needed");
	i_zero(&set);
	test_assert(test_open_full(test_uri, NULL, &set, &store,
				   &error) < 0);
	test_assert(strstr(error, "list's address") != NULL);
	test_end();
}

#define P "shared/vsmlist/friends@lists.example/"

static void test_store_dict_keys(void)
{
	enum vsmlist_store_add_result result;
	struct vsmlist_store *store;
	unsigned int calls = 0;
	const char *data;

	test_begin("store dict: the keys, escaped");
	test_write_str("members.dict", "");
	store = test_open_list("li/st@lists.example");
	test_assert(test_add(store, "sl/ash@example.org", &result) == 1);
	test_assert(test_update(store, "sl/ash@example.org", test_bounce,
				&calls) == 1);
	vsmlist_store_close(&store);
	data = test_read_file("members.dict");
	test_assert(strstr(data, "shared/vsmlist/li\\|st@lists.example/"
			   "member/sl\\|ash@example.org\nenabled\n") != NULL);
	test_assert(strstr(data, "shared/vsmlist/li\\|st@lists.example/"
			   "bounce_points/sl\\|ash@example.org\n1\n") != NULL);
	test_end();
}

static void test_store_dict_hand_written(void)
{
	struct vsmlist_store_settings set;
	struct vsmlist_member_set *members;
	struct vsmlist_store *store;
	const char *error;

	test_begin("store dict: rows written without the store");
	test_write_str("members.dict",
		P"member/a@example.net\nenabled\n"
		P"member/not-an-address\nenabled\n"
		P"member/b@example.org\nDISABLED\n"
		P"bounce_points/b@example.org\n3\n"
		P"member/c@example.com\npaused\n"
		P"member/d@example.com\n\n"
		P"bounce_points/d@example.com\nmany\n"
		P"bounce_points/gone@example.com\n2\n"
		P"member/Upper@Example.COM\nenabled\n"
		"shared/vsmlist/friends@lists.example.org/member/"
		"x@example.net\nenabled\n");
	store = test_open();
	/* The invalid address, the unknown state, the number that is none;
	   the column of a non-member is nobody's */
	test_expect_errors(3);
	test_assert_strcmp(test_members_str(store),
		"Upper@Example.COM a@example.net b@example.org(disabled)(3) "
		"c@example.com d@example.com");
	test_expect_no_more_errors();
	vsmlist_store_close(&store);
	test_end();

	test_begin("store dict: the member cap");
	test_write_str("members.dict",
		P"member/a@example.net\nenabled\n"
		P"member/b@example.org\nenabled\n"
		P"member/c@example.com\nenabled\n");
	i_zero(&set);
	set.max_members = 2;
	test_assert(test_open_full(test_uri, test_list, &set, &store,
				   &error) == 0);
	test_assert(vsmlist_store_read(store, test_pool, &members,
				       &error) < 0);
	test_assert(strstr(error, "more than 2 members") != NULL);
	test_assert(vsmlist_store_get_last_error(store) ==
		    VSMLIST_STORE_ERROR_PERM);
	vsmlist_store_close(&store);
	test_end();
}

static void test_store_dict_member_test(void)
{
	const char *const from[] = {
		"Someone <nobody@example.com>, Alice <A@EXAMPLE.NET>", NULL };
	const char *const stranger[] = { "Eve <eve@example.org>", NULL };
	const char *const ulabel[] = {
		"B <b@b\xc3\xbc" "cher.example>", NULL };
	struct vsmlist_posting_members members;
	struct vsmlist_store *store;

	test_begin("store dict: the member test looks members up");
	test_write_str("members.dict",
		P"member/a@example.net\nenabled\n"
		P"member/b@xn--bcher-kva.example\ndisabled\n");
	store = test_open();
	test_assert(vsmlist_store_looks_up_alone(store));
	i_zero(&members);
	members.store = store;
	members.pool = test_pool;
	test_assert(vsmlist_posting_is_member(&members,
					      test_addr("a@Example.NET")));
	test_assert(vsmlist_posting_from_is_member(&members, from));
	test_assert(!vsmlist_posting_from_is_member(&members, stranger));
	/* Disabled members may post; a From domain in U-labels matches its
	   A-labels */
	test_assert(vsmlist_posting_string_is_member(&members,
		"<b@xn--bcher-kva.example>"));
	test_assert(vsmlist_posting_from_is_member(&members, ulabel));
	test_assert(!vsmlist_posting_string_is_member(&members, "nobody"));
	test_assert(members.error == NULL);
	vsmlist_store_close(&store);
	test_end();
}

/* A unix socket that takes connections and never answers */
static int test_silent_socket(const char *path)
{
	int fd;

	fd = net_listen_unix(path, 16);
	if (fd < 0)
		i_fatal("net_listen_unix(%s) failed: %m", path);
	return fd;
}

static void test_store_dict_unreachable(void)
{
	struct vsmlist_posting_members posting;
	struct vsmlist_store_settings set;
	struct vsmlist_member_set *members;
	struct vsmlist_member member;
	struct vsmlist_store *store;
	const char *uri, *error;
	struct timeval start, end;
	int fd;

	test_begin("store dict: a silent dict server, bounded");
	uri = t_strdup_printf("dict:proxy:%s:vsmlist", test_path("silent"));
	fd = test_silent_socket(test_path("silent"));
	i_zero(&set);
	set.timeout_msecs = 200;
	test_assert(test_open_full(uri, test_list, &set, &store,
				   &error) == 0);
	i_gettimeofday(&start);
	test_assert(vsmlist_store_read(store, test_pool, &members,
				       &error) < 0);
	test_assert_strcmp(error, "no answer from the dict within 0.200 s "
			   "(sieve_vsmlist_members_timeout)");
	test_assert(vsmlist_store_get_last_error(store) ==
		    VSMLIST_STORE_ERROR_TEMP);
	test_assert(vsmlist_store_lookup(store, test_addr("a@example.net"),
					 test_pool, &member, &error) < 0);
	test_assert(strstr(error, "no answer") != NULL);
	/* The member test is told, and takes no answer for a "no" */
	i_zero(&posting);
	posting.store = store;
	posting.pool = test_pool;
	test_assert(!vsmlist_posting_is_member(&posting,
					       test_addr("a@example.net")));
	test_assert(posting.error != NULL &&
		    strstr(posting.error, "no answer") != NULL);
	i_gettimeofday(&end);
	/* Three operations of 200 ms, far from the dict client's 30 s */
	test_assert(timeval_diff_msecs(&end, &start) < 5000);
	vsmlist_store_close(&store);
	i_close_fd(&fd);
	test_end();

	test_begin("store dict: no dict server");
	i_unlink(test_path("silent"));
	test_assert(test_open_full(uri, test_list, &set, &store,
				   &error) == 0);
	test_assert(vsmlist_store_read(store, test_pool, &members,
				       &error) < 0);
	test_assert(str_begins(error, "iterating shared/vsmlist/friends@"
			       "lists.example/member/ failed: "
			       "net_connect_unix("));
	test_assert(vsmlist_store_get_last_error(store) ==
		    VSMLIST_STORE_ERROR_TEMP);
	vsmlist_store_close(&store);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_store_dict_open,
		test_store_dict_operations,
		test_store_dict_keys,
		test_store_dict_hand_written,
		test_store_dict_member_test,
		test_store_dict_unreachable,
		NULL
	};
	static void (*const remote_functions[])(void) = {
		test_store_dict_operations,
		test_store_dict_leave_state,
		NULL
	};
	const char *remote_uri = getenv("VSMLIST_TEST_DICT_URI");
	struct ioloop *ioloop;
	int ret;

	if (getenv("VSMLIST_TEST_DICT_LIST") != NULL)
		test_list = getenv("VSMLIST_TEST_DICT_LIST");
	lib_init();
	ioloop = io_loop_create();
	test_pool = pool_alloconly_create("test store dict", 1024 * 64);
	if (remote_uri != NULL) {
		test_uri = t_strconcat("dict:", remote_uri, NULL);
		ret = test_run(remote_functions);
	} else {
		char dir_template[] = "/tmp/test-vsmlist.XXXXXX";
		const char *error;

		if (mkdtemp(dir_template) == NULL)
			i_fatal("mkdtemp() failed: %m");
		test_dir = dir_template;
		test_uri = t_strconcat("dict:file:", test_dir,
				       "/members.dict", NULL);
		ret = test_run(test_functions);
		if (unlink_directory(dir_template,
				     UNLINK_DIRECTORY_FLAG_RMDIR, &error) < 0)
			i_error("%s", error);
	}
	pool_unref(&test_pool);
	io_loop_destroy(&ioloop);
	lib_deinit();
	return ret;
}
