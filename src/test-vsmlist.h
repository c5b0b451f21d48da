#ifndef TEST_VSMLIST_H
#define TEST_VSMLIST_H

#include "test-common.h"
#include "vsmlist-settings.h"

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
	env.lookup = test_vsmlist_lookup;
	env.context = (void *)pairs;
	if (vsmlist_settings_load(pool_datastack_create(), &env, &set,
				  &error) < 0)
		i_fatal("test settings: %s", error);
	return set;
}

#endif
