/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-store.h"
#include "vsmlist-bounce-score.h"
#include "test-vsmlist-store-kind.h"

#include <fcntl.h>
#include <unistd.h>
#include <sys/wait.h>

#define DAY (24*3600)
#define T0 ((time_t)1796000000)

static const char *test_dir;
static const struct vsmlist_bounce_rules test_rules = {
	.reset_secs = 7 * DAY, .threshold = 5,
};

/* A store holding members (one address a line) and no state */
static struct vsmlist_store *test_store(const char *members)
{
	const char *path = t_strconcat(test_dir, "/members", NULL);
	const char *content = test_store_content("friends@lists.example",
						 members);
	struct vsmlist_store_settings set;
	struct vsmlist_store *store;
	const char *error;
	int fd;

	i_unlink_if_exists(t_strconcat(path, ".state", NULL));
	fd = open(test_store_file(path), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, content, strlen(content)) < 0)
		i_fatal("write(%s) failed: %m", test_store_file(path));
	i_close_fd(&fd);
	i_zero(&set);
	set.list_address = smtp_address_create_temp("friends",
						    "lists.example");
	if (vsmlist_store_open(test_store_uri(path), &set, &store,
			       &error) < 0)
		i_fatal("vsmlist_store_open() failed: %s", error);
	return store;
}

static enum vsmlist_bounce_score_result
test_score(struct vsmlist_store *store, const char *local, time_t now,
	   struct vsmlist_bounce_score *score_r)
{
	struct vsmlist_bounce_score score;
	const char *error;

	if (score_r == NULL)
		score_r = &score;
	if (vsmlist_bounce_score(store, smtp_address_create_temp(
			local, "example.net"), now, &test_rules, score_r,
			&error) < 0)
		i_fatal("vsmlist_bounce_score() failed: %s", error);
	return score_r->result;
}

static void test_bounce_score_days(void)
{
	struct vsmlist_store *store = test_store("ann@example.net\n");
	struct vsmlist_bounce_score score;
	unsigned int day, i;

	test_begin(test_store_name(
		"bounce score: one point a day, disabled at the threshold"));
	for (day = 0; day < 4; day++) {
		test_assert_idx(test_score(store, "ann", T0 + day * DAY,
					   &score) ==
				VSMLIST_BOUNCE_SCORE_COUNTED, day);
		test_assert_idx(score.points == day + 1, day);
		/* More reports the same day count nothing */
		for (i = 1; i <= 3; i++) {
			test_assert_idx(test_score(store, "ann",
				T0 + day * DAY + i * 3600, NULL) ==
				VSMLIST_BOUNCE_SCORE_TODAY_ALREADY, day);
		}
	}
	test_assert(test_score(store, "ANN", T0 + 4 * DAY, &score) ==
		    VSMLIST_BOUNCE_SCORE_DISABLED);
	test_assert(score.points == 5);
	test_assert(test_score(store, "ann", T0 + 5 * DAY, NULL) ==
		    VSMLIST_BOUNCE_SCORE_ALREADY_DISABLED);
	test_assert(test_score(store, "bob", T0, NULL) ==
		    VSMLIST_BOUNCE_SCORE_NOT_MEMBER);
	vsmlist_store_close(&store);
	test_end();

	test_begin(test_store_name(
		"bounce score: a flood of reports in a day is one point"));
	store = test_store("ann@example.net\n");
	for (i = 0; i < 100; i++)
		(void)test_score(store, "ann", T0 + i * 60, &score);
	test_assert(score.points == 1);
	vsmlist_store_close(&store);
	test_end();

	test_begin(test_store_name(
		"bounce score: points lapse after the reset time"));
	store = test_store("ann@example.net\n");
	(void)test_score(store, "ann", T0, NULL);
	(void)test_score(store, "ann", T0 + DAY, &score);
	test_assert(score.points == 2);
	test_assert(test_score(store, "ann", T0 + 9 * DAY, &score) ==
		    VSMLIST_BOUNCE_SCORE_COUNTED);
	test_assert(score.lapsed && score.points_before == 2 &&
		    score.points == 1);
	/* A clock gone backwards does not count a second point */
	test_assert(test_score(store, "ann", T0, NULL) ==
		    VSMLIST_BOUNCE_SCORE_TODAY_ALREADY);
	vsmlist_store_close(&store);
	test_end();
}

static void test_bounce_score_concurrent(void)
{
	struct vsmlist_store *store = test_store("ann@example.net\n");
	struct vsmlist_bounce_score score;
	pid_t pids[4];
	unsigned int i;
	int status;

	test_begin(test_store_name(
		"bounce score: reports scored at once count one point"));
	for (i = 0; i < N_ELEMENTS(pids); i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			i_fatal("fork() failed: %m");
		if (pids[i] == 0) {
			(void)test_score(store, "ann", T0 + i, NULL);
			_exit(0);
		}
	}
	for (i = 0; i < N_ELEMENTS(pids); i++) {
		test_assert(waitpid(pids[i], &status, 0) == pids[i] &&
			    WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	test_assert(test_score(store, "ann", T0 + 60, &score) ==
		    VSMLIST_BOUNCE_SCORE_TODAY_ALREADY);
	test_assert(score.points == 1);
	vsmlist_store_close(&store);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_use_file_store,
		test_bounce_score_days,
		test_bounce_score_concurrent,
		/* The same on the dict backend (PostgreSQL: test_dict.py) */
		test_use_dict_store,
		test_bounce_score_days,
		test_bounce_score_concurrent,
		NULL
	};
	return test_vsmlist_run_in_tmpdir(test_functions, &test_dir);
}
