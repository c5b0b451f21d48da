/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "base32.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "vsmlist-token.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define TEST_EXPIRES 1767225600 /* 2026-01-01 */

static const char *test_dir;

static struct vsmlist_token_secret test_secret(unsigned char fill)
{
	struct vsmlist_token_secret secret;

	i_zero(&secret);
	secret.size = 32;
	memset(secret.data, fill, secret.size);
	return secret;
}

static const struct smtp_address *test_addr(const char *local,
					    const char *domain)
{
	return smtp_address_create(pool_datastack_create(), local, domain);
}

/* The token with one octet of its decoded form replaced */
static const char *
test_token_with_octet(const char *token, size_t pos, uint8_t value)
{
	buffer_t *raw = t_base32_decode_str(t_str_ucase(token));
	string_t *str = t_str_new(32);

	buffer_write(raw, pos, &value, 1);
	base32_encode(FALSE, raw->data, raw->used, str);
	return t_str_lcase(str_c(str));
}

static void test_token_round_trip(void)
{
	struct vsmlist_token_secret secret = test_secret(0x42);
	const struct smtp_address *list = test_addr("friends", "lists.example");
	const struct smtp_address *alice = test_addr("alice", "example.net");
	enum vsmlist_token_action action = 0;
	const char *token, *token2;
	size_t i;

	test_begin("token: round trip");
	token = vsmlist_token_create(&secret, VSMLIST_TOKEN_ACTION_SUBSCRIBE,
				     list, alice, TEST_EXPIRES);
	test_assert(strlen(token) == VSMLIST_TOKEN_LEN);
	for (i = 0; token[i] != '\0'; i++) {
		test_assert_idx((token[i] >= 'a' && token[i] <= 'z') ||
				(token[i] >= '2' && token[i] <= '7'), i);
	}
	test_assert(vsmlist_token_verify(&secret, token, list, alice, TEST_EXPIRES - 10,
				&action) == VSMLIST_TOKEN_OK);
	test_assert(action == VSMLIST_TOKEN_ACTION_SUBSCRIBE);
	/* Valid through its expiry second */
	test_assert(vsmlist_token_verify(&secret, token, list, alice, TEST_EXPIRES,
				&action) == VSMLIST_TOKEN_OK);

	token2 = vsmlist_token_create(&secret,
				      VSMLIST_TOKEN_ACTION_UNSUBSCRIBE,
				      list, alice, TEST_EXPIRES);
	test_assert(strcmp(token, token2) != 0);
	test_assert(vsmlist_token_verify(&secret, token2, list, alice, 0,
				&action) == VSMLIST_TOKEN_OK);
	test_assert(action == VSMLIST_TOKEN_ACTION_UNSUBSCRIBE);

	/* Addresses compare by their key: case does not matter */
	test_assert(vsmlist_token_verify(&secret, token,
				test_addr("Friends", "Lists.Example"),
				test_addr("ALICE", "Example.NET"), 0,
				&action) == VSMLIST_TOKEN_OK);
	test_end();

	test_begin("token: either case is accepted");
	test_assert(vsmlist_token_verify(&secret, t_str_ucase(token), list, alice, 0,
				&action) == VSMLIST_TOKEN_OK);
	test_end();

	test_begin("token: fits in a local part");
	test_assert(strlen(t_strdup_printf("friends+confirm-%s", token)) <= 64);
	/* The longest list local part that fits with "+confirm-" */
	test_assert(31 + strlen("+confirm-") + strlen(token) == 64);
	test_end();
}

static void test_token_forged(void)
{
	struct vsmlist_token_secret secret = test_secret(0x42);
	struct vsmlist_token_secret other_secret = test_secret(0x43);
	const struct smtp_address *list = test_addr("friends", "lists.example");
	const struct smtp_address *alice = test_addr("alice", "example.net");
	enum vsmlist_token_action action;
	const char *token;
	char *changed;
	unsigned int i, forged = 0;

	test_begin("token: forged");
	token = vsmlist_token_create(&secret, VSMLIST_TOKEN_ACTION_SUBSCRIBE,
				     list, alice, TEST_EXPIRES);
	/* Every single character changed (the first one's change may make
	   an unknown version/action: malformed) */
	for (i = 0; i < VSMLIST_TOKEN_LEN; i++) {
		enum vsmlist_token_result result;

		changed = t_strdup_noconst(token);
		changed[i] = changed[i] == 'a' ? 'b' : 'a';
		result = vsmlist_token_verify(&secret, changed, list, alice, 0,
				     &action);
		if (result == VSMLIST_TOKEN_FORGED)
			forged++;
		else
			test_assert_idx(i < 2 &&
					result == VSMLIST_TOKEN_MALFORMED, i);
	}
	test_assert(forged >= VSMLIST_TOKEN_LEN - 2);
	/* Another list, address, secret */
	test_assert(vsmlist_token_verify(&secret, token,
				test_addr("enemies", "lists.example"), alice,
				0, &action) == VSMLIST_TOKEN_FORGED);
	test_assert(vsmlist_token_verify(&secret, token, list,
				test_addr("mallory", "example.net"), 0,
				&action) == VSMLIST_TOKEN_FORGED);
	test_assert(vsmlist_token_verify(&secret, token, list,
				test_addr("alice", "example.org"), 0,
				&action) == VSMLIST_TOKEN_FORGED);
	test_assert(vsmlist_token_verify(&other_secret, token, list, alice, 0,
				&action) == VSMLIST_TOKEN_FORGED);
	/* An address without a key (8-bit local part from a header) */
	test_assert(vsmlist_token_verify(&secret, token, list,
				test_addr("j\xc3\xb6rg", "example.net"), 0,
				&action) == VSMLIST_TOKEN_FORGED);
	test_assert(vsmlist_token_create(&secret,
				VSMLIST_TOKEN_ACTION_SUBSCRIBE, list,
				test_addr("a\x01", "example.net"),
				TEST_EXPIRES) == NULL);
	/* The action switched in a genuine token */
	test_assert(vsmlist_token_verify(&secret, test_token_with_octet(token, 0, 0x12),
				list, alice, 0, &action) ==
		    VSMLIST_TOKEN_FORGED);
	/* An expired token's expiry moved later: the MAC is checked before
	   the expiry */
	test_assert(vsmlist_token_verify(&secret,
				test_token_with_octet(token, 1, 0x7f),
				list, alice, TEST_EXPIRES + 1, &action) ==
		    VSMLIST_TOKEN_FORGED);
	test_end();
}

static void test_token_expired(void)
{
	struct vsmlist_token_secret secret = test_secret(0x42);
	const struct smtp_address *list = test_addr("friends", "lists.example");
	const struct smtp_address *alice = test_addr("alice", "example.net");
	enum vsmlist_token_action action;
	const char *token;

	test_begin("token: expired");
	token = vsmlist_token_create(&secret, VSMLIST_TOKEN_ACTION_UNSUBSCRIBE,
				     list, alice, TEST_EXPIRES);
	action = VSMLIST_TOKEN_ACTION_SUBSCRIBE;
	test_assert(vsmlist_token_verify(&secret, token, list, alice, TEST_EXPIRES + 1,
				&action) == VSMLIST_TOKEN_EXPIRED);
	/* What it was for: a new request of the same kind is the remedy */
	test_assert(action == VSMLIST_TOKEN_ACTION_UNSUBSCRIBE);
	test_assert(vsmlist_token_verify(&secret, token, list, alice,
				TEST_EXPIRES + 86400 * 365, &action) ==
		    VSMLIST_TOKEN_EXPIRED);
	test_assert_strcmp(vsmlist_token_result_str(VSMLIST_TOKEN_EXPIRED),
			   "expired");
	test_end();
}

static void test_token_malformed(void)
{
	struct vsmlist_token_secret secret = test_secret(0x42);
	const struct smtp_address *list = test_addr("friends", "lists.example");
	const struct smtp_address *alice = test_addr("alice", "example.net");
	enum vsmlist_token_action action;
	const char *token;

	test_begin("token: malformed");
	token = vsmlist_token_create(&secret, VSMLIST_TOKEN_ACTION_SUBSCRIBE,
				     list, alice, TEST_EXPIRES);
	test_assert(vsmlist_token_verify(&secret, "", list, alice, 0, &action) ==
		    VSMLIST_TOKEN_MALFORMED);
	test_assert(vsmlist_token_verify(&secret, t_strndup(token, 23), list, alice, 0,
				&action) == VSMLIST_TOKEN_MALFORMED);
	test_assert(vsmlist_token_verify(&secret, t_strconcat(token, "a", NULL), list,
				alice, 0, &action) == VSMLIST_TOKEN_MALFORMED);
	/* '1', '8', '0' and '=' are not base32 */
	test_assert(vsmlist_token_verify(&secret, "1aaaaaaaaaaaaaaaaaaaaaaa", list,
				alice, 0, &action) == VSMLIST_TOKEN_MALFORMED);
	test_assert(vsmlist_token_verify(&secret, "aaaaaaaaaaaaaaaaaaaaaaa8", list,
				alice, 0, &action) == VSMLIST_TOKEN_MALFORMED);
	test_assert(vsmlist_token_verify(&secret, "aaaaaaaaaaaaaaaaaaaaaa==", list,
				alice, 0, &action) == VSMLIST_TOKEN_MALFORMED);
	test_assert(vsmlist_token_verify(&secret, "aaaaaaaaaaa aaaaaaaaaaaa", list,
				alice, 0, &action) == VSMLIST_TOKEN_MALFORMED);
	/* Unknown version or action */
	test_assert(vsmlist_token_verify(&secret, test_token_with_octet(token, 0, 0x21),
				list, alice, 0, &action) ==
		    VSMLIST_TOKEN_MALFORMED);
	test_assert(vsmlist_token_verify(&secret, test_token_with_octet(token, 0, 0x13),
				list, alice, 0, &action) ==
		    VSMLIST_TOKEN_MALFORMED);
	test_end();
}

static const char *test_secret_path(const char *name)
{
	return t_strconcat(test_dir, "/", name, NULL);
}

static void test_write_secret(const char *name, size_t size, mode_t mode)
{
	unsigned char data[512];
	int fd;

	memset(data, 'x', sizeof(data));
	fd = open(test_secret_path(name), O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size ||
	    fchmod(fd, mode) < 0 || close(fd) < 0)
		i_fatal("write(%s) failed: %m", name);
}

static void test_token_secret(void)
{
	struct vsmlist_token_secret secret, secret2;
	const char *path, *error;
	struct stat st;

	test_begin("token: secret created on first use");
	path = test_secret_path("vsmlist/secret");
	test_assert(vsmlist_token_secret_get(path, &secret, &error) == 0);
	test_assert(secret.size == 32);
	test_assert(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600 &&
		    st.st_size == 32);
	test_assert(vsmlist_token_secret_get(path, &secret2, &error) == 0);
	test_assert(secret2.size == 32 &&
		    memcmp(secret.data, secret2.data, 32) == 0);
	test_end();

	test_begin("token: secret files refused");
	test_write_secret("short", 31, 0600);
	test_assert(vsmlist_token_secret_get(test_secret_path("short"),
					     &secret, &error) < 0);
	test_assert(strstr(error, "shorter") != NULL);
	test_write_secret("long", 257, 0600);
	test_assert(vsmlist_token_secret_get(test_secret_path("long"),
					     &secret, &error) < 0);
	test_assert(strstr(error, "longer") != NULL);
	test_write_secret("readable", 32, 0640);
	test_assert(vsmlist_token_secret_get(test_secret_path("readable"),
					     &secret, &error) < 0);
	test_assert(strstr(error, "0640") != NULL);
	test_write_secret("world", 32, 0604);
	test_assert(vsmlist_token_secret_get(test_secret_path("world"),
					     &secret, &error) < 0);
	test_assert(vsmlist_token_secret_get(test_dir, &secret, &error) < 0);
	/* An administrator's own secret of another length is used as is */
	test_write_secret("own", 256, 0400);
	test_assert(vsmlist_token_secret_get(test_secret_path("own"),
					     &secret, &error) == 0);
	test_assert(secret.size == 256);
	test_end();
}

static unsigned int test_dir_entries(const char *name)
{
	unsigned int count = 0;
	struct dirent *d;
	DIR *dirp;

	dirp = opendir(test_secret_path(name));
	if (dirp == NULL)
		return 0;
	while ((d = readdir(dirp)) != NULL) {
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			count++;
	}
	(void)closedir(dirp);
	return count;
}

static void test_token_secret_race(void)
{
	struct vsmlist_token_secret secrets[8], secret;
	const char *path, *error;
	unsigned int i, n = N_ELEMENTS(secrets), differ = 0;
	int fds[2], status;
	pid_t pids[N_ELEMENTS(secrets)];

	test_begin("token: first uses at once agree on one secret");
	path = test_secret_path("race/secret");
	if (pipe(fds) < 0)
		i_fatal("pipe() failed: %m");
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			i_fatal("fork() failed: %m");
		if (pids[i] == 0) {
			if (vsmlist_token_secret_get(path, &secret,
						     &error) < 0) {
				i_error("%s", error);
				_exit(1);
			}
			if (write(fds[1], &secret, sizeof(secret)) !=
			    sizeof(secret))
				_exit(1);
			_exit(0);
		}
	}
	i_close_fd(&fds[1]);
	for (i = 0; i < n; i++) {
		test_assert_idx(read(fds[0], &secrets[i], sizeof(secrets[i])) ==
				sizeof(secrets[i]), i);
	}
	for (i = 0; i < n; i++) {
		test_assert_idx(waitpid(pids[i], &status, 0) == pids[i] &&
				WIFEXITED(status) &&
				WEXITSTATUS(status) == 0, i);
		if (secrets[i].size != 32 ||
		    memcmp(secrets[i].data, secrets[0].data, 32) != 0)
			differ++;
	}
	i_close_fd(&fds[0]);
	test_assert(differ == 0);
	test_assert(vsmlist_token_secret_get(path, &secret, &error) == 0 &&
		    memcmp(secret.data, secrets[0].data, 32) == 0);
	/* No temporary file left behind */
	test_assert(test_dir_entries("race") == 1);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_token_round_trip,
		test_token_forged,
		test_token_expired,
		test_token_malformed,
		test_token_secret,
		test_token_secret_race,
		NULL
	};

	return test_vsmlist_run_in_tmpdir(test_functions, &test_dir);
}
