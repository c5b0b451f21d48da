#ifndef VSMLIST_BOUNCE_H
#define VSMLIST_BOUNCE_H

#include "array-decl.h"
#include "vsmlist-delivery.h"
#include "vsmlist-bounce-score.h"

struct istream;
struct smtp_address;
struct vsmlist_settings;
struct vsmlist_transport;

/* What reached the bounce address (doc/vsmlist.md, "Bounces"): a
   delivery report (RFC 3464; vsmlist-dsn), or a bounce to a VERP address
   that names its member without one, scores the failed members
   (vsmlist-bounce-score); an automatic reply scores nothing; anything
   else is no bounce (the glue forwards it to the owner or keeps it).
   No Sieve dependency. */

/* Members scored from one report at most; the others are counted */
#define VSMLIST_BOUNCE_MAX_MEMBERS 100

enum vsmlist_bounce_status {
	/* A bounce that counted a point for at least one member */
	VSMLIST_BOUNCE_SCORED = 0,
	/* A bounce that counted nothing: delayed, 4.x.x, not a member, a
	   point counted today already, the member disabled already */
	VSMLIST_BOUNCE_NOTHING_COUNTED,
	/* An automatic reply (vacation, out of office): nothing counted */
	VSMLIST_BOUNCE_AUTO_REPLY,
	/* Neither a report nor a VERP bounce: forwarded to the owner */
	VSMLIST_BOUNCE_FORWARDED,
	/* The same without an owner: kept */
	VSMLIST_BOUNCE_NOT_A_BOUNCE,
	/* The store could not be changed, or the message read: retry */
	VSMLIST_BOUNCE_DEFERRED,
	VSMLIST_BOUNCE_INVALID_SETTINGS,
};

struct vsmlist_bounce_member {
	const struct smtp_address *address;
	/* The report's Status ("5.1.1"), NULL for a VERP bounce without a
	   report */
	const char *status;
	struct vsmlist_bounce_score score;
};
ARRAY_DEFINE_TYPE(vsmlist_bounce_member, struct vsmlist_bounce_member);

struct vsmlist_bounce_outcome {
	enum vsmlist_bounce_status status;
	/* Why (the auto-reply sign, what is wrong, the error), or NULL */
	const char *reason;
	const char *list;

	bool is_report;
	/* The member the VERP address named, or NULL */
	const struct smtp_address *verp_member;
	/* The report's ENVID and reporting MTA, or NULL */
	const char *envid, *reporting_mta;

	/* The members a failure was reported for, and what it did */
	ARRAY_TYPE(vsmlist_bounce_member) members;
	/* Recipients in the report; hard failures (failed, 5.x.x) among
	   them; the ones that were no member; not scored (beyond
	   VSMLIST_BOUNCE_MAX_MEMBERS) */
	unsigned int recipients, hard_failures, non_members, skipped;
	/* Members disabled by this report */
	unsigned int disabled;
	/* Notices that could not be sent (the scoring stands), for the
	   log; NULL if none */
	const char *note;
};

enum vsmlist_action_result
vsmlist_bounce_outcome_result(const struct vsmlist_bounce_outcome *outcome);

void vsmlist_bounce(pool_t pool, const struct vsmlist_delivery *params,
		    struct vsmlist_bounce_outcome *outcome_r);

/* "scored", "nothing_counted", ... (the event's vsmlist_result) */
const char *vsmlist_bounce_status_name(enum vsmlist_bounce_status status);
/* The outcome's one log line, and whether it is an error */
const char *
vsmlist_bounce_outcome_log(const struct vsmlist_bounce_outcome *outcome,
			   bool *error_r);
/* Its fields on the vsmlist_bounce_finished event */
void vsmlist_bounce_outcome_event(const struct vsmlist_bounce_outcome *outcome,
				  struct event *event);

#endif
