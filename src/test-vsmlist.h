#ifndef TEST_VSMLIST_H
#define TEST_VSMLIST_H

#include "test-common.h"
#include "unlink-directory.h"
#include "vsmlist-settings.h"

#include <stdlib.h>

/* Settings from a NULL-terminated name/value array, as userdb or
   plugin { } would give them. */
static inline const char *
test_vsmlist_lookup(void *context, const char *name)
{
	const char *const *pairs = context;

	for (; pairs[0] != NULL; pairs += 2) {
		if (strcmp(pairs[0], name) == 0)
			return pairs[1];
	}
	return NULL;
}

static inline const struct vsmlist_settings *
test_vsmlist_settings(const char *const *pairs)
{
	struct vsmlist_settings_env env;
	const struct vsmlist_settings *set;
	const char *error;

	i_zero(&env);
	env.home = "/nonexistent-home";
	env.lookup = test_vsmlist_lookup;
	env.context = (void *)pairs;
	if (vsmlist_settings_load(pool_datastack_create(), &env, &set,
				  &error) < 0)
		i_fatal("test settings: %s", error);
	return set;
}

/* The value of an event field (an integer as decimal), or NULL */
static inline const char *
test_vsmlist_event_field(struct event *event, const char *name)
{
	const struct event_field *field =
		event_find_field_nonrecursive(event, name);

	if (field == NULL)
		return NULL;
	return field->value_type == EVENT_FIELD_VALUE_TYPE_STR ?
		t_strdup(field->value.str) :
		t_strdup_printf("%jd", field->value.intmax);
}

/* Run the tests with a fresh temporary directory in *dir_r, removed
   afterwards. Returns test_run()'s result. */
static inline int
test_vsmlist_run_in_tmpdir(void (*const test_functions[])(void),
			   const char **dir_r)
{
	char dir_template[] = "/tmp/test-vsmlist.XXXXXX";
	const char *error;
	int ret;

	lib_init();
	if (mkdtemp(dir_template) == NULL)
		i_fatal("mkdtemp() failed: %m");
	*dir_r = dir_template;
	ret = test_run(test_functions);
	if (unlink_directory(dir_template, UNLINK_DIRECTORY_FLAG_RMDIR,
			     &error) < 0)
		i_error("%s", error);
	*dir_r = NULL;
	lib_deinit();
	return ret;
}

#endif
