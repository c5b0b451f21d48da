/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* libFuzzer target: author extraction from arbitrary From: fields (built
   by scripts/build-fuzz.sh with clang). Input: fields separated by NUL. */

#include "lib.h"
#include "array.h"
#include "vsmlist-author.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc ATTR_UNUSED, char ***argv ATTR_UNUSED)
{
	lib_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	T_BEGIN {
		ARRAY_TYPE(const_string) fields;
		const char *field;
		const struct vsmlist_author_mailbox *mbox;
		struct vsmlist_author author;
		pool_t pool = pool_alloconly_create("fuzz author", 1024);
		size_t start = 0, i;

		t_array_init(&fields, 4);
		for (i = 0; i <= size; i++) {
			if (i == size || data[i] == '\0') {
				field = t_strndup(data + start, i - start);
				array_push_back(&fields, &field);
				start = i + 1;
			}
		}
		array_append_zero(&fields);
		vsmlist_author_parse(pool, array_front(&fields), &author);

		/* What the DNS sees is always a sane name */
		array_foreach(&author.mailboxes, mbox) {
			i_assert(*mbox->domain != '\0');
			i_assert(strlen(mbox->domain) <= 246);
			i_assert(strstr(mbox->domain, "..") == NULL);
			i_assert(strchr(mbox->domain, '@') == NULL);
		}
		i_assert(author.status != VSMLIST_AUTHOR_OK ||
			 array_count(&author.mailboxes) == 1);
		pool_unref(&pool);
	} T_END;
	return 0;
}
