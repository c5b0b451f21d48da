/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* libFuzzer target: the member file and state file parsers (built by
   scripts/build-fuzz.sh with clang). The input is read as a member file,
   and, behind a state file's version line, as a state file for it. */

#include "lib.h"
#include "str.h"
#include "vsmlist-store-private.h"
#include "vsmlist-store-parse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc ATTR_UNUSED, char ***argv ATTR_UNUSED)
{
	lib_init();
	return 0;
}

/* The lines cover the input exactly */
static void fuzz_lines(const uint8_t *data, size_t size)
{
	struct vsmlist_store_line_iter iter;
	struct vsmlist_store_line line;
	size_t covered = 0;

	vsmlist_store_line_iter_init(&iter, data, size);
	while (vsmlist_store_line_iter_next(&iter, &line)) {
		i_assert(line.start == covered);
		i_assert(line.next > line.start && line.next <= size);
		covered = line.next;
	}
	i_assert(covered == size);
}

/* Every member is found by its key, and the state written for the set
   reads back the same */
static void fuzz_check_set(struct vsmlist_member_set *set, pool_t pool)
{
	const struct vsmlist_member *members, *copy;
	struct vsmlist_member_set *set2;
	unsigned int i, count;
	string_t *state = t_str_new(256);
	const char *error;
	int ret;

	members = vsmlist_member_set_get(set, &count);
	for (i = 0; i < count; i++) {
		i_assert(strcmp(members[i].key,
			vsmlist_store_address_key(members[i].address)) == 0);
		i_assert(vsmlist_member_set_lookup_key(set, members[i].key) ==
			 &members[i]);
	}
	i_assert(vsmlist_member_set_count(set, VSMLIST_MEMBER_ENABLED) +
		 vsmlist_member_set_count(set, VSMLIST_MEMBER_DISABLED) ==
		 count);

	/* The same members, with the state as written */
	vsmlist_store_state_write(state, set);
	set2 = vsmlist_member_set_init(pool, count);
	for (i = 0; i < count; i++) {
		i_assert(vsmlist_member_set_add(set2, members[i].address,
						members[i].key) != NULL);
	}
	ret = vsmlist_store_parse_state(set2, NULL, "fuzz", str_data(state),
					str_len(state), &error);
	i_assert(ret == 0);
	for (i = 0; i < count; i++) {
		copy = vsmlist_member_set_lookup_key(set2, members[i].key);
		i_assert(copy != NULL);
		i_assert(copy->state == members[i].state &&
			 copy->bounce_points == members[i].bounce_points &&
			 copy->last_bounce == members[i].last_bounce &&
			 copy->disabled_at == members[i].disabled_at);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pool_t pool = pool_alloconly_create("fuzz store", 1024);

	T_BEGIN {
		struct vsmlist_member_set *set;
		string_t *state;
		const char *error;
		int ret;

		fuzz_lines(data, size);
		state = t_str_new(size + 32);
		str_append(state, VSMLIST_STORE_STATE_HEADER"\n");
		str_append_data(state, data, size);
		ret = vsmlist_store_parse(pool, NULL, "fuzz",
					  VSMLIST_STORE_MAX_MEMBERS, data, size,
					  str_data(state), str_len(state),
					  &set, &error);
		i_assert(ret == 0 || ret == -1);
		if (ret == 0)
			fuzz_check_set(set, pool);
		else
			i_assert(error != NULL);
	} T_END;
	pool_unref(&pool);
	return 0;
}
