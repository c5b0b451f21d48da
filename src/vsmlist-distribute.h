#ifndef VSMLIST_DISTRIBUTE_H
#define VSMLIST_DISTRIBUTE_H

#include "vsmlist-settings.h"
#include "vsmlist-policy.h"
#include "vsmlist-decision.h"
#include "vsmlist-fanout.h"
#include "vsmlist-delivery.h"

struct istream;
struct smtp_address;
struct vsmlist_dns_resolver;

/* The distribution of one post (doc/vsmlist.md, "What a post goes through"):
   header -> guard -> members -> policy and decision -> message ->
   progress -> fan-out, and one outcome that says what became of it. The
   Sieve glue (cmd-distribute.c) only turns the Sieve environment into
   these parameters and the outcome into a Sieve status, one log line and
   one event. No Sieve dependency. */

struct vsmlist_distribute_params {
	/* The post (delivery.input) and its list */
	struct vsmlist_delivery delivery;

	/* :dmarc, else the setting */
	enum vsmlist_dmarc_mode dmarc_mode;
	/* :members (NULL-terminated), or NULL for the configured store */
	const char *const *inline_members;
	/* Keep per-post progress records (not in tools that only show what
	   would be sent) */
	bool keep_progress;
	/* For tests: a fake DNS resolver instead of the settings' servers */
	const struct vsmlist_dns_resolver *resolver;
};

enum vsmlist_distribute_status {
	/* Sent to at least one member now (some may have been rejected) */
	VSMLIST_DISTRIBUTE_DISTRIBUTED = 0,
	/* The guard stopped it (reason): kept */
	VSMLIST_DISTRIBUTE_SKIPPED,
	/* Its header cannot be used (reason): kept */
	VSMLIST_DISTRIBUTE_MALFORMED,
	/* The list has no members: kept */
	VSMLIST_DISTRIBUTE_NO_MEMBERS,
	/* The settings are invalid (reason): kept */
	VSMLIST_DISTRIBUTE_INVALID_SETTINGS,
	/* An earlier delivery of this post reached every member: nothing
	   sent */
	VSMLIST_DISTRIBUTE_ALREADY_DISTRIBUTED,
	/* Nothing sent because a post without Message-ID had the same
	   content as one distributed before: kept (retry or second post,
	   a person can tell) */
	VSMLIST_DISTRIBUTE_SAME_CONTENT,
	/* Another delivery of the same post is distributing it now:
	   deferred */
	VSMLIST_DISTRIBUTE_CONCURRENT,
	/* A temporary failure (reason): the delivery fails temporarily, the
	   MTA retries */
	VSMLIST_DISTRIBUTE_DEFERRED,
	/* Nobody can get it (every member refused, no way to send): kept
	   by the failure */
	VSMLIST_DISTRIBUTE_FAILED,
};

struct vsmlist_distribute_outcome {
	enum vsmlist_distribute_status status;
	/* Why it was skipped, kept, deferred or failed; NULL otherwise */
	const char *reason;
	/* The list's address and bounce address (the envelope sender of
	   copies), and the relay, for the log */
	const char *list, *envelope_sender, *relay;
	/* Each copy had its member's own envelope sender (VERP) */
	bool verp;

	/* The policy (when the post got that far) and the decision */
	bool have_policy, looked_up;
	struct vsmlist_policy policy;
	struct vsmlist_decision decision;
	/* Fields an untouched copy left out for DKIM, or NULL */
	const char *left_out;
	/* The Message-ID members see (a wrapped post's new one), or NULL */
	const char *message_id;

	/* Members enabled for posts (the ones sent to); in the store but
	   disabled */
	unsigned int members, disabled;
	/* How the sending went */
	struct vsmlist_fanout_result result;
	/* Problems that did not change the outcome (the progress record
	   could not be written), for the log; NULL if none */
	const char *note;
};

/* Distribute the post. Everything allocated lives in pool. */
void vsmlist_distribute(pool_t pool,
			const struct vsmlist_distribute_params *params,
			struct vsmlist_distribute_outcome *outcome_r);

enum vsmlist_action_result
vsmlist_distribute_outcome_result(const struct vsmlist_distribute_outcome *outcome);

/* "distributed", "skipped", ... (the event's vsmlist_outcome) */
const char *
vsmlist_distribute_status_name(enum vsmlist_distribute_status status);

/* The outcome's one log line, and whether it is an error */
const char *
vsmlist_distribute_outcome_log(const struct vsmlist_distribute_outcome *outcome,
			       bool *error_r);
/* Its fields on the vsmlist_distribute_finished event */
void vsmlist_distribute_outcome_event(const struct vsmlist_distribute_outcome *outcome,
				      struct event *event);

#endif
