/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "test-common.h"
#include "vsmlist-dmarc-record.h"

static int test_parse(const char *txt, struct vsmlist_dmarc_record *rec)
{
	const char *error;

	return vsmlist_dmarc_record_parse(txt, rec, &error);
}

static void test_record_is_dmarc(void)
{
	test_begin("record: v=DMARC1 first");
	test_assert(vsmlist_dmarc_record_is_dmarc("v=DMARC1; p=none"));
	test_assert(vsmlist_dmarc_record_is_dmarc("v=DMARC1"));
	test_assert(vsmlist_dmarc_record_is_dmarc("v = DMARC1 ;p=none"));
	test_assert(vsmlist_dmarc_record_is_dmarc("v=\tDMARC1;"));
	test_assert(!vsmlist_dmarc_record_is_dmarc(" v=DMARC1; p=none"));
	test_assert(!vsmlist_dmarc_record_is_dmarc("p=none; v=DMARC1"));
	test_assert(!vsmlist_dmarc_record_is_dmarc("v=DMARC10; p=none"));
	test_assert(!vsmlist_dmarc_record_is_dmarc("v=dmarc1; p=none"));
	test_assert(!vsmlist_dmarc_record_is_dmarc("v=spf1 -all"));
	test_assert(!vsmlist_dmarc_record_is_dmarc(""));
	test_end();
}

static void test_record_parse(void)
{
	struct vsmlist_dmarc_record rec;

	test_begin("record: tags");
	test_assert(test_parse("v=DMARC1; p=Reject; sp=quarantine; np=NONE; "
			       "psd=y; t=y; adkim=s; fo=1; x-new=whatever",
			       &rec) == 1);
	test_assert(rec.p == VSMLIST_DMARC_POLICY_REJECT);
	test_assert(rec.sp == VSMLIST_DMARC_POLICY_QUARANTINE);
	test_assert(rec.np == VSMLIST_DMARC_POLICY_NONE);
	test_assert(rec.psd == VSMLIST_DMARC_PSD_Y);
	test_assert(rec.testing);
	test_assert(!rec.duplicate_tags && !rec.p_defaulted);

	test_assert(test_parse("v=DMARC1;p=quarantine;", &rec) == 1);
	test_assert(rec.p == VSMLIST_DMARC_POLICY_QUARANTINE);
	test_assert(rec.sp == VSMLIST_DMARC_POLICY_UNSET);
	test_assert(rec.psd == VSMLIST_DMARC_PSD_U && !rec.testing);
	test_assert(test_parse("v=DMARC1; p=none; psd=n; t=n", &rec) == 1);
	test_assert(rec.psd == VSMLIST_DMARC_PSD_N && !rec.testing);
	test_end();

	test_begin("record: missing and invalid p");
	test_assert(test_parse("v=DMARC1", &rec) == 1);
	test_assert(rec.p == VSMLIST_DMARC_POLICY_NONE && rec.p_missing);
	test_assert(test_parse("v=DMARC1; p=bogus", &rec) == 0);
	test_assert(test_parse("v=DMARC1; p=bogus; rua=mailto:r@x.example",
			       &rec) == 1);
	test_assert(rec.p == VSMLIST_DMARC_POLICY_NONE && rec.p_defaulted);
	test_assert(test_parse("v=DMARC1; p=bogus; rua=not a uri", &rec) == 0);
	/* invalid sp/np fall back */
	test_assert(test_parse("v=DMARC1; p=reject; sp=maybe; np=", &rec) == 1);
	test_assert(rec.sp == VSMLIST_DMARC_POLICY_UNSET);
	test_assert(rec.np == VSMLIST_DMARC_POLICY_UNSET);
	test_end();

	test_begin("record: duplicates keep the stricter policy");
	test_assert(test_parse("v=DMARC1; p=reject; p=none", &rec) == 1);
	test_assert(rec.p == VSMLIST_DMARC_POLICY_REJECT && rec.duplicate_tags);
	test_assert(test_parse("v=DMARC1; p=none; p=quarantine", &rec) == 1);
	test_assert(rec.p == VSMLIST_DMARC_POLICY_QUARANTINE);
	test_assert(test_parse("v=DMARC1; p=bad; p=none", &rec) == 1);
	test_assert(rec.p == VSMLIST_DMARC_POLICY_NONE);
	test_end();

	test_begin("record: broken tag-list");
	test_assert(test_parse("v=DMARC1; p=reject; garbage", &rec) == 0);
	test_assert(test_parse(" v=DMARC1; p=reject", &rec) == 0);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_record_is_dmarc,
		test_record_parse,
		NULL
	};
	return test_run(test_functions);
}
