/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* libFuzzer target: DMARC record detection and parsing of arbitrary TXT
   strings (built by scripts/build-fuzz.sh with clang). */

#include "lib.h"
#include "vsmlist-dmarc-record.h"

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
		/* DNS gives strings that may hold NULs; we see them cut */
		const char *txt = t_strndup(data, size);
		struct vsmlist_dmarc_record record;
		const char *error;
		int ret;

		if (vsmlist_dmarc_record_is_dmarc(txt)) {
			ret = vsmlist_dmarc_record_parse(txt, &record, &error);
			i_assert(ret == 0 || ret == 1);
			i_assert(ret == 0 || record.p != VSMLIST_DMARC_POLICY_UNSET);
			i_assert(ret == 1 || error != NULL);
		}
	} T_END;
	return 0;
}
