/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "test-vsmlist.h"
#include "vsmlist-policy.h"
#include "vsmlist-decision.h"

static const char *const test_pairs[] = {
	"sieve_vsmlist_address", "friends@lists.example",
	"sieve_vsmlist_dmarc_force", "gmail.example, *.forced.example",
	"sieve_vsmlist_dmarc_exempt", "lists.example .own.example",
	NULL
};

/* A policy as discovery would leave it */
static struct vsmlist_policy *
test_policy(const char *from, enum vsmlist_dmarc_status status,
	    enum vsmlist_dmarc_policy p)
{
	struct vsmlist_policy *policy = t_new(struct vsmlist_policy, 1);
	const char *fields[] = { from, NULL };

	vsmlist_author_parse(pool_datastack_create(),
			     from == NULL ? NULL : fields, &policy->author);
	policy->status = status;
	policy->policy = p;
	return policy;
}

static const char *
test_decide(const char *const *pairs, enum vsmlist_dmarc_mode mode,
	    const struct vsmlist_policy *policy, const char **reason_r)
{
	struct vsmlist_decision decision;

	vsmlist_decide(test_vsmlist_settings(pairs), mode, policy, &decision);
	*reason_r = decision.reason;
	return vsmlist_mitigation_name(decision.mitigation);
}

#define P(from, status, pol) test_policy(from, VSMLIST_DMARC_STATUS_##status, \
					 VSMLIST_DMARC_POLICY_##pol)
#define AUTO VSMLIST_DMARC_MODE_AUTO

static void test_decision_auto(void)
{
	const char *reason;

	test_begin("decision: auto follows the policy");
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@r.example", POLICY, REJECT), &reason), "wrap");
	test_assert_strcmp(reason, "DMARC policy reject");
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@q.example", POLICY, QUARANTINE), &reason), "wrap");
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@n.example", POLICY, NONE), &reason), "none");
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@x.example", NOPOLICY, UNSET), &reason), "none");
	test_end();
}

static void test_decision_lists(void)
{
	const char *reason;

	test_begin("decision: force and exempt lists");
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@gmail.example", POLICY, NONE), &reason), "wrap");
	test_assert(strstr(reason, "forced") != NULL);
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@mail.forced.example", NOPOLICY, UNSET), &reason), "wrap");
	/* A suffix that is not a parent domain does not match */
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@notgmail.example", POLICY, NONE), &reason), "none");
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@lists.example", POLICY, REJECT), &reason), "none");
	test_assert(strstr(reason, "exempt") != NULL);
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@sub.own.example", POLICY, REJECT), &reason), "none");
	/* Exempt holds in wrap mode too */
	test_assert_strcmp(test_decide(test_pairs, VSMLIST_DMARC_MODE_WRAP,
		P("a@own.example", POLICY, REJECT), &reason), "none");
	test_end();
}

static void test_decision_modes(void)
{
	const char *reason;

	test_begin("decision: wrap, munge and none modes");
	test_assert_strcmp(test_decide(test_pairs, VSMLIST_DMARC_MODE_WRAP,
		P("a@n.example", NOPOLICY, UNSET), &reason), "wrap");
	test_assert_strcmp(test_decide(test_pairs, VSMLIST_DMARC_MODE_MUNGE,
		P("a@n.example", NOPOLICY, UNSET), &reason), "munge");
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@r.example", POLICY, REJECT), &reason), "wrap");
	test_assert_strcmp(test_decide(test_pairs, VSMLIST_DMARC_MODE_NONE,
		P("a@r.example", POLICY, REJECT), &reason), "none");
	test_assert_strcmp(test_decide(test_pairs, VSMLIST_DMARC_MODE_NONE,
		NULL, &reason), "none");
	test_end();
}

static void test_decision_unusable(void)
{
	const char *reason;

	test_begin("decision: unusable authors are wrapped");
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P(NULL, NOPOLICY, UNSET), &reason), "wrap");
	test_assert(strstr(reason, "unusable author") != NULL);
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@b@c.example", NOPOLICY, UNSET), &reason), "wrap");
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@one.example, b@two.example", POLICY, NONE), &reason),
		"wrap");
	/* munge needs one author: wrapped instead */
	test_assert_strcmp(test_decide(test_pairs, VSMLIST_DMARC_MODE_MUNGE,
		P("a@one.example, b@two.example", POLICY, NONE), &reason),
		"wrap");
	test_end();
}

static void test_decision_dns_failure(void)
{
	static const char *const tempfail[] = {
		"sieve_vsmlist_address", "friends@lists.example",
		"sieve_vsmlist_dns_failure", "tempfail", NULL };
	static const char *const none[] = {
		"sieve_vsmlist_address", "friends@lists.example",
		"sieve_vsmlist_dns_failure", "none", NULL };
	const char *reason;

	test_begin("decision: DNS failure policy");
	test_assert_strcmp(test_decide(test_pairs, AUTO,
		P("a@x.example", TEMPERROR, UNSET), &reason), "wrap");
	test_assert(strstr(reason, "DNS failure") != NULL);
	test_assert_strcmp(test_decide(tempfail, AUTO,
		P("a@x.example", TEMPERROR, UNSET), &reason), "tempfail");
	test_assert_strcmp(test_decide(none, AUTO,
		P("a@x.example", TEMPERROR, UNSET), &reason), "none");
	test_assert_strcmp(test_decide(tempfail, VSMLIST_DMARC_MODE_MUNGE,
		P("a@x.example", TEMPERROR, UNSET), &reason), "munge");
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_decision_auto,
		test_decision_lists,
		test_decision_modes,
		test_decision_unusable,
		test_decision_dns_failure,
		NULL
	};
	return test_run(test_functions);
}
