/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "time-util.h"
#include "sleep.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-rewrite.h"
#include "vsmlist-store.h"
#include "test-vsmlist-store.h"
#include "vsmlist-store-parse.h"

#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>

static bool test_file_exists(const char *name)
{
	struct stat st;

	return stat(test_path(name), &st) == 0;
}

static struct vsmlist_store *
test_open_set(const char *uri, struct vsmlist_store_settings *set)
{
	struct vsmlist_store *store;
	const char *error;

	set->home = test_dir;
	set->list_address = smtp_address_create_temp("friends",
						     "lists.example");
	set->now = test_now;
	if (vsmlist_store_open(uri, set, &store, &error) < 0)
		i_fatal("vsmlist_store_open(%s): %s", uri, error);
	return store;
}

static struct vsmlist_store *test_open_uri(const char *uri)
{
	struct vsmlist_store_settings set;

	i_zero(&set);
	return test_open_set(uri, &set);
}

static struct vsmlist_store *test_open(void)
{
	return test_open_uri("file:~/members");
}

static struct vsmlist_member_set *test_read(struct vsmlist_store *store)
{
	struct vsmlist_member_set *set;
	const char *error;

	if (vsmlist_store_read(store, test_pool, &set,
			       &error) < 0)
		i_fatal("vsmlist_store_read(): %s", error);
	return set;
}

/* The members in order, with state where it is not the default */
static const char *test_members_str(struct vsmlist_member_set *set)
{
	const struct vsmlist_member *members;
	unsigned int i, count;
	string_t *str = t_str_new(128);

	members = vsmlist_member_set_get(set, &count);
	for (i = 0; i < count; i++) {
		if (i > 0)
			str_append_c(str, ' ');
		str_append(str, smtp_address_encode(members[i].address));
		if (members[i].state == VSMLIST_MEMBER_DISABLED)
			str_append(str, "(disabled)");
		if (members[i].bounce_points > 0)
			str_printfa(str, "(%u)", members[i].bounce_points);
	}
	return str_c(str);
}

static void test_store_open(void)
{
	struct vsmlist_store_settings set;
	struct vsmlist_member_set *members;
	struct vsmlist_store *store;
	const char *error;

	test_begin("store: URIs");
	i_zero(&set);
	test_assert(vsmlist_store_open("ldap:x", &set, &store, &error) < 0);
	test_assert(strstr(error, "unknown store type") != NULL);
	test_assert(vsmlist_store_open("members", &set, &store, &error) < 0);
	/* The dict backend's own cases are in test-vsmlist-store-dict.c */
	test_assert(vsmlist_store_open("dict:proxy::vsmlist", &set, &store,
				       &error) < 0);
	test_assert(strstr(error, "needs the list's address") != NULL);
	test_assert(vsmlist_store_open("file:~/members", &set, &store,
				       &error) < 0);
	test_assert(strstr(error, "no home") != NULL);
	test_assert(vsmlist_store_open("file:vsmlist/members", &set, &store,
				       &error) < 0);
	test_assert(strstr(error, "relative path") != NULL);
	/* A relative path is refused even with a home (the settings' rule) */
	set.home = "/home/list";
	test_assert(vsmlist_store_open("file:vsmlist/members", &set, &store,
				       &error) < 0);
	test_assert(strstr(error, "relative path") != NULL);
	set.home = NULL;
	test_assert(vsmlist_store_open("file:", &set, &store, &error) < 0);
	test_assert(vsmlist_store_open("file:/abs/members", &set, &store,
				       &error) == 0);
	test_assert_strcmp(vsmlist_store_get_name(store), "file:/abs/members");
	vsmlist_store_close(&store);
	set.home = "/home/friends";
	test_assert(vsmlist_store_open("file:~/vsmlist/members", &set, &store,
				       &error) == 0);
	test_assert_strcmp(vsmlist_store_get_name(store),
			   "file:/home/friends/vsmlist/members");
	vsmlist_store_close(&store);
	test_end();

	test_begin("store: a missing member file");
	store = test_open_uri("file:~/missing/members");
	test_assert(vsmlist_store_read(store, test_pool,
				       &members, &error) < 0);
	test_assert(strstr(error, "does not exist") != NULL);
	test_assert(vsmlist_store_get_last_error(store) ==
		    VSMLIST_STORE_ERROR_PERM);
	test_assert(test_remove(store, "a@example.org") == 0);
	test_assert(!test_file_exists("missing"));
	vsmlist_store_close(&store);
	test_end();
}

static void test_store_read(void)
{
	struct vsmlist_member_set *set;
	struct vsmlist_store *store;
	const struct vsmlist_member *member;

	test_begin("store: read the member file format");
	test_write_str("members",
		"# the friends list\n"
		"a@example.net\n"
		"\n"
		"   b@example.org   \n"
		"\tc@example.com\t# Carol\n"
		"A@EXAMPLE.NET\n"
		"not-an-address\n"
		"x#y@example.com\n"
		"<d@example.com>\r\n"
		"B@Example.ORG # Bob again\n"
		"e@example.com");
	store = test_open();
	test_expect_errors(1);
	set = test_read(store);
	test_expect_no_more_errors();
	test_assert_strcmp(test_members_str(set),
		"a@example.net b@example.org c@example.com "
		"x#y@example.com d@example.com e@example.com");
	test_assert(vsmlist_member_set_count(set, VSMLIST_MEMBER_ENABLED) == 6);
	test_assert(vsmlist_member_set_count(set, VSMLIST_MEMBER_DISABLED) == 0);
	member = vsmlist_member_set_lookup(set, test_addr("C@EXAMPLE.com"));
	test_assert(member != NULL && strcmp(member->key, "c@example.com") == 0);
	member = vsmlist_member_set_lookup(set, test_addr("D@example.COM"));
	test_assert(member != NULL &&
		    strcmp(smtp_address_encode(member->address),
			   "d@example.com") == 0);
	test_assert(vsmlist_member_set_lookup(set,
		test_addr("z@example.com")) == NULL);
	test_assert(vsmlist_member_set_lookup_key(set, "x#y@example.com") !=
		    NULL);
	test_assert_strcmp(vsmlist_store_address_key(
		test_addr("Mixed.Case@Example.ORG")), "mixed.case@example.org");
	vsmlist_store_close(&store);
	test_end();
}

static void test_store_add_remove(void)
{
	enum vsmlist_store_add_result result;
	struct vsmlist_store *store;
	const char *error;

	test_begin("store: add appends and keeps the rest");
	test_write_str("members",
		"# the friends list\n"
		"a@example.net  # Alice\n"
		"\n"
		"b@example.org\n"
		"# end");
	store = test_open();
	test_assert(test_add(store, "c@example.com", &result) == 1);
	test_assert(result == VSMLIST_STORE_ADD_ADDED);
	test_assert_strcmp(test_read_file("members"),
		"# the friends list\n"
		"a@example.net  # Alice\n"
		"\n"
		"b@example.org\n"
		"# end\n"
		"c@example.com\n");
	test_assert(test_add(store, "D@Example.COM", &result) == 1);
	test_assert_strcmp(test_members_str(test_read(store)),
		"a@example.net b@example.org c@example.com D@Example.COM");
	test_end();

	test_begin("store: add of a member in any case");
	test_assert(test_add(store, "A@EXAMPLE.NET", &result) == 0);
	test_assert(result == VSMLIST_STORE_ADD_ALREADY_MEMBER);
	test_assert(test_add(store, "d@example.com", &result) == 0);
	test_assert(result == VSMLIST_STORE_ADD_ALREADY_MEMBER);
	test_end();

	test_begin("store: remove drops just that member's lines");
	test_write_str("members",
		"# the friends list\n"
		"a@example.net  # Alice\n"
		"b@example.org # Bob\n"
		"\n"
		"B@EXAMPLE.ORG\n"
		"c@example.com");
	test_assert(test_remove(store, "b@Example.org") == 1);
	test_assert_strcmp(test_read_file("members"),
		"# the friends list\n"
		"a@example.net  # Alice\n"
		"\n"
		"c@example.com");
	test_assert(test_remove(store, "b@example.org") == 0);
	test_assert(test_remove(store, "c@example.com") == 1);
	test_assert_strcmp(test_read_file("members"),
		"# the friends list\n"
		"a@example.net  # Alice\n"
		"\n");
	/* A file without a final LF gets one before the new member */
	test_write_str("members", "a@example.net # no LF");
	test_assert(test_add(store, "b@example.org", &result) == 1);
	test_assert_strcmp(test_read_file("members"),
		"a@example.net # no LF\nb@example.org\n");
	test_end();

	test_begin("store: a hand edit between two changes is kept");
	test_write_str("members", "a@example.net\n");
	test_assert(test_add(store, "b@example.org", &result) == 1);
	test_write_str("members",
		"a@example.net\nb@example.org\nhand@example.org # by hand\n");
	test_assert(test_add(store, "c@example.com", &result) == 1);
	test_assert_strcmp(test_read_file("members"),
		"a@example.net\nb@example.org\nhand@example.org # by hand\n"
		"c@example.com\n");
	test_end();

	test_begin("store: an address a member line cannot hold");
	test_assert(vsmlist_store_add(store,
		smtp_address_create_temp("a #b", "example.org"), &result,
		&error) < 0);
	test_assert_strcmp(error,
			   "the address cannot be written as a member line");
	test_assert(vsmlist_store_get_last_error(store) ==
		    VSMLIST_STORE_ERROR_PERM);
	test_assert(vsmlist_store_add(store,
		smtp_address_create_temp("nodomain", NULL), &result,
		&error) < 0);
	/* Octets SMTP cannot carry, as a header may give: no key, never a
	   member (smtp_address_encode() would assert on them) */
	test_assert(vsmlist_store_add(store,
		smtp_address_create_temp("a\nb@evil.example\n", "x.example"),
		&result, &error) < 0);
	test_assert(strstr(error, "SMTP cannot carry") != NULL);
	test_assert(vsmlist_store_get_last_error(store) ==
		    VSMLIST_STORE_ERROR_PERM);
	test_assert(vsmlist_store_remove(store,
		smtp_address_create_temp("j\xc3\xb6rg", "example.org"),
		&error) < 0);
	test_assert(strstr(test_read_file("members"), "evil") == NULL);
	test_assert(vsmlist_store_address_key(
		smtp_address_create_temp("j\xc3\xb6rg", "example.org")) == NULL);
	test_assert(vsmlist_member_set_lookup(test_read(store),
		smtp_address_create_temp("a\x7f", "example.org")) == NULL);
	test_end();
	vsmlist_store_close(&store);
}

static void test_store_create(void)
{
	enum vsmlist_store_add_result result;
	struct vsmlist_store *store;
	struct stat st;

	test_begin("store: the first add creates the directory and file");
	store = test_open_uri("file:~/new/vsmlist/members");
	test_assert(test_add(store, "a@example.net", &result) == 1);
	test_assert_strcmp(test_read_file("new/vsmlist/members"),
			   "a@example.net\n");
	test_assert(stat(test_path("new/vsmlist/members"), &st) == 0 &&
		    (st.st_mode & 07777) == 0600);
	test_assert(stat(test_path("new/vsmlist"), &st) == 0 &&
		    (st.st_mode & 07777) == 0700);
	vsmlist_store_close(&store);
	test_end();

	test_begin("store: a rewritten file keeps its mode");
	test_write_str("members", "a@example.net\n");
	test_assert(chmod(test_path("members"), 0640) == 0);
	store = test_open();
	test_assert(test_add(store, "b@example.org", &result) == 1);
	test_assert(stat(test_path("members"), &st) == 0 &&
		    (st.st_mode & 07777) == 0640);
	vsmlist_store_close(&store);
	test_end();
}

static void test_store_state(void)
{
	enum vsmlist_store_add_result result;
	struct vsmlist_member_set *set;
	struct vsmlist_store *store;
	const struct vsmlist_member *member;
	struct vsmlist_member lookup;
	unsigned int i, calls = 0;
	const char *error;

	test_begin("store: update under the lock");
	test_write_str("members", "a@example.net\nb@example.org\n"
		       "c@example.com\n");
	(void)unlink(test_path("members.state"));
	store = test_open();
	test_assert(test_update(store, "B@example.org", test_bounce, &calls) == 1);
	test_assert(calls == 1);
	test_assert_strcmp(test_read_file("members.state"),
		"vsmlist-state 1\n"
		"enabled 1 1767225600 0 b@example.org\n");
	for (i = 0; i < 4; i++) {
		test_clock += 86400;
		test_assert(test_update(store, "b@example.org", test_bounce, &calls) == 1);
	}
	test_assert(test_update(store, "c@example.com", test_bounce, &calls) == 1);
	test_assert(calls == 6);
	set = test_read(store);
	test_assert_strcmp(test_members_str(set),
		"a@example.net b@example.org(disabled)(5) c@example.com(1)");
	member = vsmlist_member_set_lookup(set, test_addr("b@example.org"));
	test_assert(member->disabled_at == test_clock &&
		    member->last_bounce == test_clock);
	test_assert(vsmlist_member_set_count(set, VSMLIST_MEMBER_DISABLED) == 1);
	test_assert(vsmlist_member_set_count(set, VSMLIST_MEMBER_ENABLED) == 2);
	/* A lookup reads the file for the one member */
	test_assert(vsmlist_store_lookup(store, test_addr("B@EXAMPLE.org"),
					 test_pool, &lookup, &error) == 1);
	test_assert(lookup.state == VSMLIST_MEMBER_DISABLED &&
		    lookup.bounce_points == 5 &&
		    lookup.disabled_at == test_clock &&
		    strcmp(lookup.key, "b@example.org") == 0 &&
		    strcmp(smtp_address_encode(lookup.address),
			   "b@example.org") == 0);
	test_assert(vsmlist_store_lookup(store, test_addr("z@example.org"),
					 test_pool, &lookup, &error) == 0);
	/* Not a member: the callback is not called */
	test_assert(test_update(store, "z@example.org", test_bounce, &calls) == 0);
	test_assert(calls == 6);
	/* Nothing changed: nothing written */
	test_assert(vsmlist_store_update(store, test_addr("a@example.net"),
					 test_no_change, &calls, &error) == 0);
	test_assert(calls == 7);
	test_end();

	test_begin("store: add does not re-enable a disabled member");
	test_assert(test_add(store, "B@EXAMPLE.ORG", &result) == 0);
	test_assert(result == VSMLIST_STORE_ADD_ALREADY_DISABLED);
	test_end();

	test_begin("store: state survives hand edits, stale state goes");
	/* Bob's case changed and Carol removed by hand */
	test_write_str("members", "a@example.net\nBOB@x.example\n"
		       "B@Example.Org # new spelling\n");
	set = test_read(store);
	test_assert_strcmp(test_members_str(set),
		"a@example.net BOB@x.example B@Example.Org(disabled)(5)");
	/* Carol's state is still in the file, ignored... */
	test_assert(strstr(test_read_file("members.state"),
			   "c@example.com") != NULL);
	/* ...and dropped by the next change */
	test_assert(test_add(store, "d@example.com", &result) == 1);
	test_assert_strcmp(test_read_file("members.state"),
		"vsmlist-state 1\n"
		"disabled 5 1767571200 1767571200 b@example.org\n");
	test_end();

	test_begin("store: a removed member's state does not come back");
	test_assert(test_remove(store, "b@example.org") == 1);
	test_assert(test_add(store, "b@example.org", &result) == 1);
	test_assert(result == VSMLIST_STORE_ADD_ADDED);
	set = test_read(store);
	member = vsmlist_member_set_lookup(set, test_addr("b@example.org"));
	test_assert(member != NULL &&
		    member->state == VSMLIST_MEMBER_ENABLED &&
		    member->bounce_points == 0);
	test_assert_strcmp(test_read_file("members.state"),
			   "vsmlist-state 1\n");
	test_end();

	test_begin("store: a state file of another version is left alone");
	test_write_str("members.state", "vsmlist-state 2\nwhatever\n");
	test_assert(vsmlist_store_read(store, test_pool, &set,
				       &error) < 0);
	test_assert(strstr(error, "vsmlist-state 1") != NULL);
	test_assert(vsmlist_store_get_last_error(store) ==
		    VSMLIST_STORE_ERROR_PERM);
	test_assert(vsmlist_store_add(store, test_addr("e@example.com"),
				      &result, &error) < 0);
	test_assert_strcmp(test_read_file("members.state"),
			   "vsmlist-state 2\nwhatever\n");
	test_end();

	test_begin("store: invalid state lines are skipped");
	test_write_str("members.state",
		"vsmlist-state 1\n"
		"disabled 5 1 2 a@example.net\n"
		"paused 1 1 1 b@example.org\n"
		"enabled x 1 1 b@example.org\n"
		"enabled 1 -5 1 b@example.org\n"
		"enabled 1 1 1\n"
		"enabled 1 1 1 \n"
		"\n"
		"enabled 3 1 0 d@example.com");
	test_expect_errors(5);
	set = test_read(store);
	test_expect_no_more_errors();
	test_assert_strcmp(test_members_str(set),
		"a@example.net(disabled)(5) BOB@x.example d@example.com(3) "
		"b@example.org");
	vsmlist_store_close(&store);
	test_end();
}

static void test_store_cap(void)
{
	struct vsmlist_store_settings set = { .max_members = 3 };
	enum vsmlist_store_add_result result;
	struct vsmlist_member_set *members;
	struct vsmlist_store *store;
	const char *error;

	test_begin("store: the member cap");
	test_write_str("members", "a@example.net\nb@example.org\n");
	(void)unlink(test_path("members.state"));
	store = test_open_set("file:~/members", &set);
	test_assert(vsmlist_store_add(store, test_addr("c@example.com"),
				      &result, &error) == 1);
	test_assert(vsmlist_store_add(store, test_addr("d@example.com"),
				      &result, &error) < 0);
	test_assert(strstr(error, "3 members") != NULL);
	test_assert(vsmlist_store_get_last_error(store) ==
		    VSMLIST_STORE_ERROR_PERM);
	/* Already a member is not an error at the cap */
	test_assert(vsmlist_store_add(store, test_addr("a@example.net"),
				      &result, &error) == 0);
	test_write_str("members", "a@example.net\nb@example.org\n"
		       "c@example.com\nd@example.com\n");
	test_assert(vsmlist_store_read(store, test_pool, &members,
				       &error) < 0);
	test_assert(strstr(error, "more than 3 members") != NULL);
	test_assert(vsmlist_store_get_last_error(store) ==
		    VSMLIST_STORE_ERROR_PERM);
	vsmlist_store_close(&store);
	test_end();
}

static void test_store_busy(void)
{
	struct vsmlist_store_settings set = { .lock_timeout_secs = 1 };
	enum vsmlist_store_add_result result;
	struct vsmlist_store *store;
	const char *error;

	test_begin("store: a lock that is not released is a temporary error");
	test_write_str("members", "a@example.net\n");
	(void)unlink(test_path("members.state"));
	test_write_str("members.lock", "");
	store = test_open_set("file:~/members", &set);
	test_assert(vsmlist_store_add(store, test_addr("b@example.org"),
				      &result, &error) < 0);
	test_assert(strstr(error, "still locked") != NULL);
	test_assert(vsmlist_store_get_last_error(store) ==
		    VSMLIST_STORE_ERROR_TEMP);
	/* Reading needs no lock */
	test_assert_strcmp(test_members_str(test_read(store)),
			   "a@example.net");
	i_unlink(test_path("members.lock"));
	test_assert(vsmlist_store_add(store, test_addr("b@example.org"),
				      &result, &error) == 1);
	vsmlist_store_close(&store);
	test_end();
}

static void test_child_add(const char *prefix, unsigned int count)
{
	enum vsmlist_store_add_result result;
	struct vsmlist_store *store = test_open();
	unsigned int i;
	int status = 0;

	for (i = 0; i < count; i++) T_BEGIN {
		if (test_add(store, t_strdup_printf("%s%u@example.org",
						    prefix, i), &result) != 1)
			status = 1;
	} T_END;
	vsmlist_store_close(&store);
	_exit(status);
}

static void test_store_concurrent(void)
{
	struct vsmlist_member_set *set;
	struct vsmlist_store *store;
	pid_t pids[2];
	unsigned int i, count, missing = 0;
	int status;

	test_begin("store: two processes adding at once");
	test_write_str("members", "# two writers\n");
	(void)unlink(test_path("members.state"));
	for (i = 0; i < N_ELEMENTS(pids); i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			i_fatal("fork() failed: %m");
		if (pids[i] == 0)
			test_child_add(i == 0 ? "first" : "second", 200);
	}
	for (i = 0; i < N_ELEMENTS(pids); i++) {
		test_assert(waitpid(pids[i], &status, 0) == pids[i]);
		test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	store = test_open();
	set = test_read(store);
	(void)vsmlist_member_set_get(set, &count);
	test_assert(count == 400);
	for (i = 0; i < 200; i++) T_BEGIN {
		if (vsmlist_member_set_lookup(set, test_addr(
			t_strdup_printf("first%u@example.org", i))) == NULL ||
		    vsmlist_member_set_lookup(set, test_addr(
			t_strdup_printf("second%u@example.org", i))) == NULL)
			missing++;
	} T_END;
	test_assert(missing == 0);
	vsmlist_store_close(&store);
	test_end();
}

static const char *test_crash_point;
static void test_crash_hook(const char *point)
{
	if (strcmp(point, test_crash_point) == 0)
		(void)kill(getpid(), SIGKILL);
}

/* Run a change in a child that is killed at point. Returns TRUE when it
   was killed there. */
static bool test_crash_at(const char *point, const char *address)
{
	enum vsmlist_store_add_result result;
	struct vsmlist_store *store;
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		i_fatal("fork() failed: %m");
	if (pid == 0) {
		test_crash_point = point;
		vsmlist_rewrite_test_hook = test_crash_hook;
		store = test_open();
		(void)test_add(store, address, &result);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		i_fatal("waitpid() failed: %m");
	/* What the next writer would do after VSMLIST_STORE_LOCK_STALE_SECS:
	   the crashed writer's lock is stale */
	(void)unlink(test_path("members.lock"));
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static void test_store_crash_points(void)
{
	static const char *const points[] = {
		"replace-write", "replace-rename", "store-members",
		"rewrite-write", "rewrite-rename",
	};
	const char *old_members = "# crash test\na@example.net\n";
	const char *stale_state = "vsmlist-state 1\n"
		"disabled 5 1 1 a@example.net\n"
		"enabled 2 1 0 stale@example.org\n";
	struct vsmlist_member_set *set;
	struct vsmlist_store *store;
	const char *members;
	unsigned int i;

	test_begin("store: a writer killed at each point of a change");
	for (i = 0; i < N_ELEMENTS(points); i++) {
		/* The add writes both files: the state drops a stale entry */
		test_write_str("members", old_members);
		test_write_str("members.state", stale_state);
		test_assert_idx(test_crash_at(points[i], "b@example.org"), i);

		members = test_read_file("members");
		test_assert_idx(strcmp(members, old_members) == 0 ||
				strcmp(members, t_strconcat(old_members,
					"b@example.org\n", NULL)) == 0, i);
		store = test_open();
		set = test_read(store);
		/* No member lost, no state lost */
		test_assert_idx(strncmp(test_members_str(set),
			"a@example.net(disabled)(5)", 26) == 0, i);
		/* The next writer carries on */
		test_assert_idx(test_remove(store, "b@example.org") >= 0, i);
		test_assert_idx(test_remove(store, "c@example.org") == 0, i);
		vsmlist_store_close(&store);
	}
	test_end();
}

static void test_store_crash_random(void)
{
	enum vsmlist_store_add_result result;
	struct vsmlist_member_set *set;
	struct vsmlist_store *store;
	const struct vsmlist_member *members;
	unsigned int round, i, count, acked = 0, added = 0, torn = 0;
	int fds[2], status;
	char ack;
	pid_t pid;

	test_begin("store: writers killed at random moments");
	test_write_str("members", "# killed writers\n");
	(void)unlink(test_path("members.state"));
	for (round = 0; round < 20; round++) {
		if (pipe(fds) < 0)
			i_fatal("pipe() failed: %m");
		pid = fork();
		if (pid < 0)
			i_fatal("fork() failed: %m");
		if (pid == 0) {
			i_close_fd(&fds[0]);
			store = test_open();
			/* Add one after the other, each acknowledged */
			for (i = 0;; i++) T_BEGIN {
				if (test_add(store, t_strdup_printf(
					"r%u-%u@example.org", round, i),
					&result) == 1 &&
				    write(fds[1], "+", 1) != 1)
					_exit(1);
			} T_END;
		}
		i_close_fd(&fds[1]);
		i_sleep_usecs(i_rand_limit(100000));
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
		while (read(fds[0], &ack, 1) == 1)
			acked++;
		i_close_fd(&fds[0]);
		(void)unlink(test_path("members.lock"));

		/* Every acknowledged member is there, at most the one in
		   flight besides, and every line is whole */
		store = test_open();
		set = test_read(store);
		members = vsmlist_member_set_get(set, &count);
		for (i = 0; i < count; i++) {
			if (strcmp(members[i].address->domain,
				   "example.org") != 0)
				torn++;
		}
		vsmlist_store_close(&store);
		added = count;
		if (count != acked && count != acked + 1)
			torn++;
		acked = count;
	}
	test_assert(torn == 0);
	test_assert(added > 0);
	test_assert(strstr(test_read_file("members"), "\n\n") == NULL);
	printf("store: %u members added by 20 writers killed at random\n",
	       added);
	test_end();
}

static void test_store_large(void)
{
	const unsigned int count = 100000;
	struct vsmlist_member_set *set;
	struct vsmlist_store *store;
	struct timeval start, read_done, end;
	struct rusage usage_start, usage_end;
	unsigned int i, found = 0;
	string_t *content;
	const struct smtp_address **lookups;
	const char *error;
	long long lookup_usecs;
	pool_t pool, set_pool;

	test_begin("store: 100,000 members, read once, looked up");
	content = str_new(default_pool, count * 32);
	for (i = 0; i < count; i++)
		str_printfa(content, "member%u@Domain%u.example\n", i, i % 97);
	test_write_file("members", str_data(content), str_len(content));
	str_free(&content);
	(void)unlink(test_path("members.state"));

	pool = pool_alloconly_create("test lookups", count * 64);
	lookups = p_new(pool, const struct smtp_address *, count);
	for (i = 0; i < count; i++) {
		lookups[i] = smtp_address_create(pool,
			p_strdup_printf(pool, "MEMBER%u", (i * 7919) % count),
			p_strdup_printf(pool, "domain%u.EXAMPLE",
					((i * 7919) % count) % 97));
	}
	store = test_open();
	set_pool = pool_alloconly_create("test set", 1024 * 1024);
	i_gettimeofday(&start);
	if (getrusage(RUSAGE_SELF, &usage_start) < 0)
		i_fatal("getrusage() failed: %m");
	if (vsmlist_store_read(store, set_pool, &set, &error) < 0)
		i_fatal("read failed: %s", error);
	if (getrusage(RUSAGE_SELF, &usage_end) < 0)
		i_fatal("getrusage() failed: %m");
	i_gettimeofday(&read_done);
	for (i = 0; i < count; i++) {
		if (vsmlist_member_set_lookup(set, lookups[i]) != NULL)
			found++;
	}
	i_gettimeofday(&end);
	test_assert(found == count);
	test_assert(vsmlist_member_set_lookup(set,
		test_addr("member100000@domain0.example")) == NULL);
	lookup_usecs = timeval_diff_usecs(&end, &read_done);
	/* Information only (the machine may be busy): CPU time and wall
	   clock of the read, wall clock of one lookup */
	printf("store: read of %u members %lld ms CPU (%lld ms elapsed), "
	       "one lookup %.2f us\n", count,
	       (timeval_diff_usecs(&usage_end.ru_utime, &usage_start.ru_utime) +
		timeval_diff_usecs(&usage_end.ru_stime,
				   &usage_start.ru_stime)) / 1000,
	       timeval_diff_usecs(&read_done, &start) / 1000,
	       (double)lookup_usecs / count);
	vsmlist_store_close(&store);
	pool_unref(&set_pool);
	pool_unref(&pool);
	test_end();
}

static void test_store_hostile(void)
{
	enum vsmlist_store_add_result result;
	struct vsmlist_store *store;
	string_t *content;
	buffer_t *after;
	const char *error;
	unsigned int i;

	test_begin("store: hostile content");
	content = t_str_new(20000);
	str_append(content, "a@example.net\n");
	/* An over-long line that is a valid address apart from its length */
	str_append(content, "long@example.org");
	str_append(content, t_strdup_printf("%*s", 10000, "# x"));
	str_append_c(content, '\n');
	str_append(content, "nul@exa");
	str_append_c(content, '\0');
	str_append(content, "mple.org\n");
	str_append(content, "j\xc3\xb6rg@example.org\n");
	str_append(content, "\xff\xfe@\x80\n");
	str_append(content, "\r\n<>\n<@>\n@\n<<a@b>>\n");
	str_append(content, "b@example.org");
	test_write_file("members", str_data(content), str_len(content));
	(void)unlink(test_path("members.state"));
	store = test_open();
	test_expect_errors(8);
	test_assert_strcmp(test_members_str(test_read(store)),
			   "a@example.net b@example.org");
	test_expect_no_more_errors();

	/* A change keeps every one of those lines as it was */
	test_expect_errors(8);
	test_assert(test_add(store, "c@example.com", &result) == 1);
	test_expect_no_more_errors();
	after = t_buffer_create(20000);
	test_assert(vsmlist_file_read(test_path("members"), SIZE_MAX, after,
				      &error) == 1);
	test_assert(after->used == str_len(content) + 15 &&
		    memcmp(after->data, str_data(content),
			   str_len(content)) == 0 &&
		    memcmp(CONST_PTR_OFFSET(after->data, str_len(content)),
			   "\nc@example.com\n", 15) == 0);
	vsmlist_store_close(&store);
	test_end();

	test_begin("store: many invalid lines log a bounded number");
	str_truncate(content, 0);
	for (i = 0; i < 1000; i++)
		str_append(content, "invalid\n");
	test_write_file("members", str_data(content), str_len(content));
	store = test_open();
	test_expect_errors(VSMLIST_STORE_MAX_LOGGED_LINES + 1);
	test_assert_strcmp(test_members_str(test_read(store)), "");
	test_expect_no_more_errors();
	vsmlist_store_close(&store);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_store_open,
		test_store_read,
		test_store_add_remove,
		test_store_create,
		test_store_state,
		test_store_cap,
		test_store_busy,
		test_store_concurrent,
		test_store_crash_points,
		test_store_crash_random,
		test_store_large,
		test_store_hostile,
		NULL
	};
	int ret;

	test_pool = pool_alloconly_create("test member sets", 1024 * 64);
	ret = test_vsmlist_run_in_tmpdir(test_functions, &test_dir);
	pool_unref(&test_pool);
	return ret;
}
