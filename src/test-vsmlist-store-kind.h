#ifndef TEST_VSMLIST_STORE_KIND_H
#define TEST_VSMLIST_STORE_KIND_H

/* The tests of the store's users (bounces, bounce scoring) run on both
   backends: a member file, and Dovecot's file dict through the dict
   backend (PostgreSQL is sieve-tests/integration/test_dict.py's). The
   test list calls test_use_file_store(), the tests, test_use_dict_store(),
   the same tests again. */

#include "str.h"

static bool test_store_dict;

static inline void test_use_file_store(void)
{
	test_store_dict = FALSE;
}

static inline void test_use_dict_store(void)
{
	test_store_dict = TRUE;
}

/* A test's name, with the store it runs on */
static inline const char *test_store_name(const char *what)
{
	return t_strdup_printf("%s (%s)", what,
			       test_store_dict ? "dict" : "file");
}

/* The file that holds the members of the store named path: path itself,
   or path.dict */
static inline const char *test_store_file(const char *path)
{
	return test_store_dict ? t_strconcat(path, ".dict", NULL) : path;
}

/* The store URI of path: file:<path>, or dict:file:<path>.dict */
static inline const char *test_store_uri(const char *path)
{
	return t_strconcat(test_store_dict ? "dict:file:" : "file:",
			   test_store_file(path), NULL);
}

/* The content of path's file for members (one address a line) of the
   list with the key list_key: the member file itself, or the dict's
   rows */
static inline const char *
test_store_content(const char *list_key, const char *members)
{
	const char *const *addrs = t_strsplit_spaces(members, "\n");
	string_t *data;

	if (!test_store_dict)
		return members;
	data = t_str_new(256);
	for (; *addrs != NULL; addrs++) {
		str_printfa(data, "shared/vsmlist/%s/member/%s\nenabled\n",
			    list_key, t_str_lcase(*addrs));
	}
	return str_c(data);
}

#endif
