/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* libFuzzer target: DKIM-Signature tag-lists (h= and the rest). Input:
   signatures separated by NUL. Whatever they hold, a signature covers only
   names it lists, and X-Loop's coverage is only ever what h= says. */

#include "lib.h"
#include "array.h"
#include "vsmlist-dkim-test.h"

#include <ctype.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc ATTR_UNUSED, char ***argv ATTR_UNUSED)
{
	lib_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"From", "X-Loop", "List-Id", "Sender", "Precedence", "",
	};
	T_BEGIN {
		ARRAY_TYPE(const_string) sigs;
		struct vsmlist_dkim_coverage *coverage;
		pool_t pool = pool_alloconly_create("fuzz dkim", 1024);
		const char *sig, *signer;
		size_t start = 0, i;

		t_array_init(&sigs, 4);
		for (i = 0; i <= size; i++) {
			if (i == size || data[i] == '\0') {
				sig = t_strndup(data + start, i - start);
				array_push_back(&sigs, &sig);
				start = i + 1;
			}
		}
		array_append_zero(&sigs);
		coverage = vsmlist_dkim_coverage_init(pool, array_front(&sigs));
		i_assert(vsmlist_dkim_signature_count(coverage) <=
			 array_count(&sigs) - 1);
		for (i = 0; i < N_ELEMENTS(names); i++) {
			signer = vsmlist_dkim_covers(coverage, names[i]);
			/* d= reaches the log: only a domain name */
			for (; signer != NULL && *signer != '\0'; signer++) {
				i_assert(i_isalnum(*signer) ||
					 strchr("-._", *signer) != NULL);
			}
		}
		pool_unref(&pool);
	} T_END;
	return 0;
}
