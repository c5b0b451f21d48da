#ifndef VSMLIST_FANOUT_H
#define VSMLIST_FANOUT_H

#include "vsmlist-transport.h"

struct event;
struct vsmlist_progress;

/* The message source: a fresh stream of what the members receive, for
   each transaction. */
typedef struct istream *vsmlist_fanout_message_func_t(void *context);

struct vsmlist_fanout_params {
	const struct vsmlist_transport *transport;
	const struct smtp_address *mail_from;
	const struct smtp_address *const *rcpts;
	unsigned int rcpt_count;
	unsigned int batch_size;

	vsmlist_fanout_message_func_t *message_func;
	void *message_context;
	/* The message has 8-bit octets (vsmlist_fanout_is_8bit()) */
	bool body_8bit;
	/* The post's id in delivery reports (vsmlist_transaction), or NULL */
	const char *envid;
	/* VERP: each member in a transaction of its own, with the envelope
	   sender this gives for it (NULL: mail_from); NULL function: one
	   envelope sender for all, batch_size members a transaction */
	const struct smtp_address *
		(*verp_mail_from)(void *context, const struct smtp_address *rcpt);
	void *verp_context;

	/* Progress of earlier attempts of this post, updated as transactions
	   succeed; NULL for none */
	struct vsmlist_progress *progress;
	/* Rejected and deferred members are logged here (the first
	   VSMLIST_FANOUT_MAX_LOGGED_RCPTS of each, then a count) */
	struct event *event;
};

#define VSMLIST_FANOUT_MAX_LOGGED_RCPTS 100

struct vsmlist_fanout_result {
	/* Members given */
	unsigned int members;
	/* Members the relay accepted in this attempt */
	unsigned int sent;
	/* Members skipped because an earlier attempt of this post sent the
	   post to them or had them rejected */
	unsigned int previously_sent;
	unsigned int previously_rejected;
	/* Members refused permanently / temporarily in this attempt;
	   deferred includes the ones not attempted after a temporary failure
	   stopped the fan-out */
	unsigned int rejected;
	unsigned int deferred;

	unsigned int transactions;
	/* Transactions the relay refused as a whole (permanently or
	   temporarily) */
	unsigned int failed_transactions;
	/* The last transaction-level failure (or progress error), for the
	   log; NULL if none */
	const char *error;
	/* The relay's queue ids of the transactions it took, in order,
	   comma-separated (the first VSMLIST_FANOUT_MAX_QUEUE_IDS), or NULL
	   when its replies named none */
	const char *queue_ids;
};

#define VSMLIST_FANOUT_MAX_QUEUE_IDS 100

/* Send the message to every member not done in an earlier attempt,
   batch_size RCPTs per transaction. A rejected member never stops the
   others; a temporary failure of a transaction stops the fan-out (the
   relay is in trouble: the MTA retries the whole delivery later).

   Returns 1 when every member has been dealt with (sent or rejected, now
   or earlier) and at least one got the post; 0 when every member was
   rejected (nobody got the post); -1 when some member is deferred (the
   delivery must fail temporarily) or the message could not be read
   (error set). */
int vsmlist_fanout_send(const struct vsmlist_fanout_params *params,
			struct vsmlist_fanout_result *result_r);

/* Whether the stream contains octets >= 0x80 (reads it to the end).
   Returns 1 yes, 0 no, -1 on a read error. */
int vsmlist_fanout_is_8bit(struct istream *input);

#endif
