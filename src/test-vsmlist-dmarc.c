/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "test-common.h"
#include "vsmlist-dns.h"
#include "vsmlist-dmarc.h"
#include "test-vsmlist-fake-dns.h"

#include <stdlib.h>
#include <unistd.h>


static struct vsmlist_psl *test_psl;

struct test_discovery {
	struct vsmlist_dmarc_result result;
	const char *queries;
	unsigned int count;
};

static void
test_discover(const struct fake_rr *zone, const char *domain,
	      struct test_discovery *disc_r)
{
	struct fake_resolver fake = {
		.zone = zone, .queries = t_str_new(256),
	};
	struct vsmlist_dns_resolver resolver = {
		.lookup_txt = fake_lookup_txt, .context = &fake,
	};

	vsmlist_dmarc_discover(&resolver, test_psl, pool_datastack_create(),
			       domain, &disc_r->result);
	disc_r->queries = str_c(fake.queries);
	disc_r->count = fake.count;
}

static const char *test_status(const struct vsmlist_dmarc_method_result *m)
{
	return vsmlist_dmarc_status_name(m->status, m->policy);
}

static const char *test_effective(const struct test_discovery *disc)
{
	return vsmlist_dmarc_status_name(disc->result.status,
					 disc->result.policy);
}

static void test_dmarc_deep_walk(void)
{
	static const struct fake_rr zone[] = {
		{ "_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine" },
		{ NULL, NULL }
	};
	struct test_discovery disc;

	test_begin("dmarc: RFC 9989 4.10 walk of a 13-label author");
	test_discover(zone, "a.b.c.d.e.f.g.h.i.j.mail.example.com", &disc);
	test_assert_strcmp(disc.queries,
		"_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com "
		"_dmarc.g.h.i.j.mail.example.com "
		"_dmarc.h.i.j.mail.example.com "
		"_dmarc.i.j.mail.example.com "
		"_dmarc.j.mail.example.com "
		"_dmarc.mail.example.com "
		"_dmarc.example.com "
		"_dmarc.com");
	test_assert(disc.count == 8);
	test_assert_strcmp(test_status(&disc.result.tree_walk), "quarantine");
	test_assert_strcmp(disc.result.tree_walk.policy_tag, "sp");
	test_assert_strcmp(disc.result.tree_walk.org_domain, "example.com");
	test_assert_strcmp(disc.result.tree_walk.policy_domain,
			   "example.com");
	/* RFC 7489 asks the same names: no further queries */
	test_assert_strcmp(test_status(&disc.result.psl), "quarantine");
	test_assert_strcmp(disc.result.psl.org_domain, "example.com");
	test_assert_strcmp(test_effective(&disc), "quarantine");
	test_end();
}

static void test_dmarc_author_record(void)
{
	static const struct fake_rr zone[] = {
		{ "_dmarc.example.com", "v=DMARC1; p=reject" },
		{ "_dmarc.mail.example.com", "v=DMARC1; p=none" },
		{ NULL, NULL }
	};
	struct test_discovery disc;

	test_begin("dmarc: the author's own record wins (App. B.4.1 kind)");
	test_discover(zone, "mail.example.com", &disc);
	test_assert_strcmp(test_status(&disc.result.tree_walk), "none");
	test_assert_strcmp(disc.result.tree_walk.policy_domain,
			   "mail.example.com");
	test_assert_strcmp(test_status(&disc.result.psl), "none");
	test_assert_strcmp(disc.queries, "_dmarc.mail.example.com");
	test_end();

	test_begin("dmarc: a subdomain without a record gets sp, else p");
	test_discover(zone, "news.example.com", &disc);
	test_assert_strcmp(test_status(&disc.result.tree_walk), "reject");
	test_assert_strcmp(disc.result.tree_walk.policy_tag, "p");
	test_assert_strcmp(test_status(&disc.result.psl), "reject");
	test_assert_strcmp(disc.queries,
		"_dmarc.news.example.com _dmarc.example.com _dmarc.com");
	test_end();
}

static void test_dmarc_psd(void)
{
	/* A PSD publishing psd=y: the organizational domain is one label
	   below it; its record applies when the org has none */
	static const struct fake_rr zone[] = {
		{ "_dmarc.example", "v=DMARC1; p=reject; psd=y" },
		{ "_dmarc.bank.example", "v=DMARC1; p=quarantine" },
		{ NULL, NULL }
	};
	/* psd=n stops the walk and fixes the org domain */
	static const struct fake_rr zone_n[] = {
		{ "_dmarc.example.com", "v=DMARC1; p=quarantine; psd=n" },
		{ "_dmarc.com", "v=DMARC1; p=reject; psd=y" },
		{ NULL, NULL }
	};
	static const struct fake_rr zone_tld[] = {
		{ "_dmarc.example", "v=DMARC1; p=none; sp=reject; psd=y" },
		{ NULL, NULL }
	};
	struct test_discovery disc;

	test_begin("dmarc: psd=y (App. B.4.3 kind)");
	test_discover(zone, "a.b.bank.example", &disc);
	test_assert_strcmp(disc.result.tree_walk.org_domain, "bank.example");
	test_assert_strcmp(disc.result.tree_walk.policy_domain,
			   "bank.example");
	test_assert_strcmp(test_status(&disc.result.tree_walk), "quarantine");
	test_end();

	test_begin("dmarc: psd=y record used when the org has none");
	test_discover(zone_tld, "www.shop.example", &disc);
	test_assert_strcmp(disc.result.tree_walk.org_domain, "shop.example");
	test_assert_strcmp(disc.result.tree_walk.policy_domain, "example");
	test_assert_strcmp(test_status(&disc.result.tree_walk), "reject");
	test_assert_strcmp(disc.result.tree_walk.policy_tag, "sp");
	/* The PSL does not list "example": 7489 finds nothing */
	test_assert_strcmp(test_status(&disc.result.psl), "nopolicy");
	test_assert_strcmp(test_effective(&disc), "reject");
	test_end();

	test_begin("dmarc: psd=n stops the walk (App. B.4.2 kind)");
	test_discover(zone_n, "x.y.example.com", &disc);
	test_assert_strcmp(disc.queries,
		"_dmarc.x.y.example.com _dmarc.y.example.com "
		"_dmarc.example.com");
	test_assert_strcmp(disc.result.tree_walk.org_domain, "example.com");
	test_assert_strcmp(test_status(&disc.result.tree_walk), "quarantine");
	test_end();
}

static void test_dmarc_np(void)
{
	static const struct fake_rr zone[] = {
		{ "_dmarc.example.org", "v=DMARC1; p=none; sp=quarantine; np=reject" },
		{ "real.example.org", "" },
		{ NULL, NULL }
	};
	static const struct fake_rr zone_no_np[] = {
		{ "_dmarc.example.org", "v=DMARC1; p=quarantine; sp=none" },
		{ NULL, NULL }
	};
	struct test_discovery disc;

	test_begin("dmarc: np for a non-existent subdomain");
	test_discover(zone, "ghost.example.org", &disc);
	test_assert_strcmp(test_status(&disc.result.tree_walk), "reject");
	test_assert_strcmp(disc.result.tree_walk.policy_tag, "np");
	/* 7489 knows no np: sp */
	test_assert_strcmp(test_status(&disc.result.psl), "quarantine");
	test_assert_strcmp(test_effective(&disc), "reject");
	test_end();

	test_begin("dmarc: sp for an existing subdomain");
	test_discover(zone, "real.example.org", &disc);
	test_assert_strcmp(test_status(&disc.result.tree_walk), "quarantine");
	test_assert_strcmp(disc.result.tree_walk.policy_tag, "sp");
	test_end();

	test_begin("dmarc: without np a non-existent subdomain gets sp");
	test_discover(zone_no_np, "ghost.example.org", &disc);
	test_assert_strcmp(test_status(&disc.result.tree_walk), "none");
	test_assert_strcmp(disc.result.tree_walk.policy_tag, "sp");
	test_end();
}

static void test_dmarc_disagreements(void)
{
	static const struct fake_rr two[] = {
		{ "_dmarc.two.example", "v=DMARC1; p=reject|v=DMARC1; p=none" },
		{ NULL, NULL }
	};
	static const struct fake_rr lead_space[] = {
		{ "_dmarc.sp.example", " v=DMARC1;p=reject" },
		{ NULL, NULL }
	};
	static const struct fake_rr wsp_eq[] = {
		{ "_dmarc.wsp.example", "v = DMARC1; p=reject" },
		{ NULL, NULL }
	};
	static const struct fake_rr dup[] = {
		{ "_dmarc.dup.example", "v=DMARC1; p=reject; p=none" },
		{ NULL, NULL }
	};
	static const struct fake_rr rua_only[] = {
		{ "_dmarc.rua.example", "v=DMARC1; rua=mailto:a@b.example" },
		{ NULL, NULL }
	};
	static const struct fake_rr psd_tld[] = {
		{ "_dmarc.tld", "v=DMARC1; p=reject; psd=y" },
		{ NULL, NULL }
	};
	static const struct fake_rr mixed[] = {
		{ "_dmarc.mixed.example", "v=spf1 -all|v=DMARC1; p=quarantine" },
		{ NULL, NULL }
	};
	struct test_discovery disc;

	test_begin("dmarc: two v=DMARC1 records -> none used");
	test_discover(two, "two.example", &disc);
	test_assert_strcmp(test_effective(&disc), "nopolicy");
	test_end();

	test_begin("dmarc: leading space -> discarded");
	test_discover(lead_space, "sp.example", &disc);
	test_assert_strcmp(test_effective(&disc), "nopolicy");
	test_end();

	test_begin("dmarc: white space around = -> valid");
	test_discover(wsp_eq, "wsp.example", &disc);
	test_assert_strcmp(test_effective(&disc), "reject");
	test_end();

	test_begin("dmarc: duplicate p -> the stricter");
	test_discover(dup, "dup.example", &disc);
	test_assert_strcmp(test_effective(&disc), "reject");
	test_end();

	test_begin("dmarc: rua only -> p=none (RFC 9989 and 7489)");
	test_discover(rua_only, "rua.example", &disc);
	test_assert_strcmp(test_status(&disc.result.tree_walk), "none");
	test_assert_strcmp(test_status(&disc.result.psl), "none");
	test_end();

	test_begin("dmarc: psd=y at a TLD is used");
	test_discover(psd_tld, "brand.tld", &disc);
	test_assert_strcmp(test_status(&disc.result.tree_walk), "reject");
	test_assert_strcmp(disc.result.tree_walk.org_domain, "brand.tld");
	test_end();

	test_begin("dmarc: other TXT records are ignored");
	test_discover(mixed, "mixed.example", &disc);
	test_assert_strcmp(test_effective(&disc), "quarantine");
	test_end();
}

static void test_dmarc_testing(void)
{
	static const struct fake_rr zone[] = {
		{ "_dmarc.test.example", "v=DMARC1; p=reject; t=y" },
		{ NULL, NULL }
	};
	struct test_discovery disc;

	test_begin("dmarc: t=y is reported and lowers nothing");
	test_discover(zone, "test.example", &disc);
	test_assert(disc.result.tree_walk.testing);
	test_assert(disc.result.psl.testing);
	test_assert_strcmp(test_effective(&disc), "reject");
	test_end();
}

static void test_dmarc_psl_file(void)
{
	static const char psl_text[] =
		"// a private list: \"example\" and \"corp.example\" are suffixes\n"
		"example\n"
		"corp.example\n";
	char path[] = "/tmp/test-vsmlist-psl.XXXXXX";
	struct vsmlist_psl *psl;
	const char *error;
	int fd;

	test_begin("dmarc: sieve_vsmlist_psl_file replaces the list");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, psl_text, sizeof(psl_text) - 1) < 0 ||
	    close(fd) < 0)
		i_fatal("write(%s) failed: %m", path);
	test_assert(vsmlist_psl_init(path, &psl, &error) == 0);
	test_assert_strcmp(vsmlist_psl_org_domain(psl, "a.b.corp.example"),
			   "b.corp.example");
	test_assert_strcmp(vsmlist_psl_org_domain(psl, "a.b.example"),
			   "b.example");
	vsmlist_psl_deinit(&psl);
	i_unlink(path);
	test_assert(vsmlist_psl_init("/nonexistent/psl.dat", &psl,
				     &error) < 0);
	test_assert(strstr(error, "/nonexistent/psl.dat") != NULL);
	test_end();
}

static void test_dmarc_temperror(void)
{
	static const struct fake_rr author_fail[] = {
		{ "_dmarc.x.example.com", "SERVFAIL" },
		{ NULL, NULL }
	};
	static const struct fake_rr parent_fail[] = {
		{ "_dmarc.example.net", "SERVFAIL" },
		{ NULL, NULL }
	};
	static const struct fake_rr fail_but_reject[] = {
		{ "_dmarc.a.example.org", "NXDOMAIN" },
		{ "_dmarc.example.org", "v=DMARC1; p=reject" },
		{ "_dmarc.org", "SERVFAIL" },
		{ NULL, NULL }
	};
	struct test_discovery disc;

	test_begin("dmarc: SERVFAIL for the author -> temperror");
	test_discover(author_fail, "x.example.com", &disc);
	test_assert_strcmp(test_effective(&disc), "temperror");
	test_assert(disc.result.tree_walk.error != NULL);
	test_end();

	test_begin("dmarc: SERVFAIL in the walk -> temperror");
	test_discover(parent_fail, "mail.example.net", &disc);
	test_assert_strcmp(test_status(&disc.result.tree_walk), "temperror");
	test_assert_strcmp(test_status(&disc.result.psl), "temperror");
	test_assert_strcmp(test_effective(&disc), "temperror");
	test_end();

	test_begin("dmarc: reject from one method stands despite a failure");
	test_discover(fail_but_reject, "a.example.org", &disc);
	test_assert_strcmp(test_status(&disc.result.tree_walk), "temperror");
	test_assert_strcmp(test_status(&disc.result.psl), "reject");
	test_assert_strcmp(test_effective(&disc), "reject");
	test_end();
}

static void test_dmarc_psl(void)
{
	static const struct fake_rr zone[] = {
		{ "_dmarc.shop.co.uk", "v=DMARC1; p=reject" },
		{ "_dmarc.co.uk", "v=DMARC1; p=none" },
		{ "_dmarc.x.ck", "v=DMARC1; p=quarantine" },
		{ "_dmarc.www.ck", "v=DMARC1; p=reject" },
		{ NULL, NULL }
	};
	struct test_discovery disc;

	test_begin("dmarc: RFC 7489 multi-label public suffix");
	test_assert_strcmp(vsmlist_psl_org_domain(test_psl, "a.shop.co.uk"),
			   "shop.co.uk");
	test_assert(vsmlist_psl_org_domain(test_psl, "co.uk") == NULL);
	test_discover(zone, "mail.shop.co.uk", &disc);
	test_assert_strcmp(disc.result.psl.org_domain, "shop.co.uk");
	test_assert_strcmp(test_status(&disc.result.psl), "reject");
	/* The walk stops at no psd flag, takes the shortest: co.uk */
	test_assert_strcmp(disc.result.tree_walk.org_domain, "co.uk");
	test_assert_strcmp(test_status(&disc.result.tree_walk), "none");
	test_assert_strcmp(test_effective(&disc), "reject");
	test_end();

	test_begin("dmarc: RFC 7489 wildcard and exception rules (*.ck, !www.ck)");
	test_assert_strcmp(vsmlist_psl_org_domain(test_psl, "a.b.x.ck"),
			   "b.x.ck");
	test_assert(vsmlist_psl_org_domain(test_psl, "x.ck") == NULL);
	test_assert_strcmp(vsmlist_psl_org_domain(test_psl, "a.www.ck"),
			   "www.ck");
	test_discover(zone, "mail.www.ck", &disc);
	test_assert_strcmp(disc.result.psl.org_domain, "www.ck");
	test_assert_strcmp(test_status(&disc.result.psl), "reject");
	/* x.ck is itself a public suffix: 7489 has no org domain */
	test_discover(zone, "x.ck", &disc);
	test_assert_strcmp(test_status(&disc.result.psl), "quarantine");
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_dmarc_deep_walk,
		test_dmarc_author_record,
		test_dmarc_psd,
		test_dmarc_np,
		test_dmarc_disagreements,
		test_dmarc_testing,
		test_dmarc_temperror,
		test_dmarc_psl,
		test_dmarc_psl_file,
		NULL
	};
	const char *error;
	int ret;

	lib_init();
	/* Debian's list, as in production */
	if (vsmlist_psl_init(NULL, &test_psl, &error) < 0)
		i_fatal("%s", error);
	ret = test_run(test_functions);
	vsmlist_psl_deinit(&test_psl);
	lib_deinit();
	return ret;
}
