#ifndef VSMLIST_FANOUT_H
#define VSMLIST_FANOUT_H

struct event;
struct istream;
struct smtp_address;
struct vsmlist_progress;

/* What became of one recipient in one delivery attempt */
enum vsmlist_rcpt_status {
	/* Not (yet) attempted */
	VSMLIST_RCPT_PENDING = 0,
	/* The relay accepted the message for this recipient */
	VSMLIST_RCPT_SENT,
	/* Refused permanently (5xx): never retried */
	VSMLIST_RCPT_REJECTED,
	/* Refused temporarily (4xx), or the transaction failed before the
	   relay took the message: a retry sends it again */
	VSMLIST_RCPT_DEFERRED,
};

struct vsmlist_rcpt_result {
	enum vsmlist_rcpt_status status;
	/* The relay's reply (or the client's error) for a recipient that was
	   not sent, for the log; NULL otherwise */
	const char *reply;
	/* Deferred with 452 "too many recipients" (RFC 5321 4.5.3.1.10):
	   when the relay took others of the transaction, the fan-out sends
	   this one in its next transaction, and makes its batches smaller */
	bool too_many_rcpts;
};

/* One SMTP transaction */
struct vsmlist_transaction {
	const struct smtp_address *mail_from;
	const struct smtp_address *const *rcpts;
	unsigned int rcpt_count;
	/* The message contains 8-bit octets (MAIL FROM ... BODY=8BITMIME) */
	bool body_8bit;
	/* The message, read from its start */
	struct istream *input;
};

/* How one transaction is sent: the lib-smtp client (vsmlist-smtp.h),
   Pigeonhole's sieve_smtp_* in the Sieve glue, a recorder in unit tests.

   send() fills results[i] for each recipient (all of them PENDING on
   entry) and returns:
     1  the relay answered the transaction: the result of every recipient
        is SENT, REJECTED or DEFERRED;
     0  the relay refused the whole transaction permanently (MAIL FROM or
        DATA 5xx): every recipient not otherwise known is REJECTED;
    -1  temporary failure of the transaction (connection, timeout, 4xx for
        MAIL FROM or DATA): nothing was sent; recipients refused at RCPT
        keep their result, the others are DEFERRED.
   error_r is set when 0 or -1 is returned. */
struct vsmlist_transport {
	int (*send)(void *context, const struct vsmlist_transaction *trans,
		    struct vsmlist_rcpt_result *results,
		    const char **error_r);
	void *context;
};

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
};

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
