/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "test-common.h"
#include "vsmlist-dkim-test.h"

static void test_dkim_coverage(void)
{
	static const char *const sigs[] = {
		"v=1; a=rsa-sha256; d=Author.Example; s=s1;\r\n "
		"h=From : To:Subject:from:List-Id; bh=x; b=y",
		"v=1; a=rsa-sha256; s=s2; bh=x; d=relay.example; "
		"h=from:sender:sender; b=z;",
		NULL
	};
	static const char *const broken[] = {
		"v=1; d=x.example; b=z",
		"v=1",
		"",
		"v=1; a=rsa-sha256; d=x.example; s=s; bh=x; b=y; h=to:list-id",
		"v=2; a=rsa-sha256; d=x.example; s=s; bh=x; b=y; h=from:list-id",
		"v=1; a=rsa-sha256; d=x.example; s=s; bh=x; b=y; h=from:list-id; "
		"h=from",
		"v=1; a=rsa-sha256; d=x.ex\x1b" "ample; s=s; bh=x; b=y; h=from:list-id",
		"v=1; a=rsa-sha256; d=; s=s; bh=x; b=y; h=from:list-id",
		"v=1; a=rsa-sha256; d=x.example; s=s; bh=x; b=y; h=from:list-id; =x",
		"v=1; a=rsa-sha256; d=x.example; s=s; bh=x; b=y; h=from:list-id; 1x=2",
		NULL
	};
	struct vsmlist_dkim_coverage *cov;
	pool_t pool = pool_alloconly_create("test dkim", 1024);

	test_begin("dkim: h= names, oversigning, case and folding");
	cov = vsmlist_dkim_coverage_init(pool, sigs);
	test_assert(vsmlist_dkim_signature_count(cov) == 2);
	test_assert_strcmp(vsmlist_dkim_covers(cov, "list-id"),
			   "author.example");
	test_assert_strcmp(vsmlist_dkim_covers(cov, "SUBJECT"),
			   "author.example");
	test_assert_strcmp(vsmlist_dkim_covers(cov, "Sender"), "relay.example");
	test_assert(vsmlist_dkim_covers(cov, "List-Post") == NULL);
	test_assert(vsmlist_dkim_covers(cov, "X-Loop") == NULL);
	test_end();

	test_begin("dkim: no signatures cover nothing");
	cov = vsmlist_dkim_coverage_init(pool, NULL);
	test_assert(vsmlist_dkim_covers(cov, "List-Id") == NULL);
	test_end();

	test_begin("dkim: signatures a verifier rejects are ignored");
	cov = vsmlist_dkim_coverage_init(pool, broken);
	test_assert(vsmlist_dkim_signature_count(cov) == 0);
	test_assert(vsmlist_dkim_covers(cov, "List-Id") == NULL);
	test_end();
	pool_unref(&pool);
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_dkim_coverage,
		NULL
	};
	return test_run(test_functions);
}
