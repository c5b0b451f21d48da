#ifndef DISTRIBUTE_SEND_H
#define DISTRIBUTE_SEND_H

#include "vsmlist-fanout.h"

struct mail;
struct vsmlist_settings;
struct vsmlist_policy;
struct sieve_action_exec_env;

/* One post on its way to the members */
struct distribute_post {
	const struct vsmlist_settings *set;
	struct mail *mail;
	/* DMARC policy of the post, or NULL when not looked up */
	const struct vsmlist_policy *policy;

	const struct smtp_address *const *rcpts;
	unsigned int rcpt_count;

	/* The decision: "none", "wrap" or "munge", and why */
	const char *mitigation, *mitigation_reason;

	/* What members receive has 8-bit octets (BODY=8BITMIME) */
	bool has_8bit;

	/* A fresh stream of what the members receive, per transaction */
	vsmlist_fanout_message_func_t *message_func;
	void *message_context;
};

/* Send the post, log the outcome with its event. keep_r: the post must
   still be kept (nothing sent, and whether it is a retry cannot be told).
   Returns a SIEVE_EXEC_* status. */
int distribute_send(const struct sieve_action_exec_env *aenv,
		    const struct distribute_post *post, bool *keep_r);

#endif
