#ifndef VSMLIST_TRANSPORT_H
#define VSMLIST_TRANSPORT_H

struct istream;
struct smtp_address;

/* What sending a post and recording its progress share: one SMTP
   transaction, the result of each recipient, and the transport that sends
   it (the lib-smtp client, Pigeonhole's sieve_smtp_* in the Sieve glue, a
   recorder in unit tests). No Sieve dependency. */

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
	/* The post's id for delivery reports (DSN's ENVID, xtext-safe, at
	   most 100 characters), or NULL */
	const char *envid;
	/* The message, read from its start */
	struct istream *input;
};

/* What the relay said about the transaction as a whole */
struct vsmlist_transaction_result {
	/* Set when send() returns 0 or -1: why */
	const char *error;
	/* The relay's reply to DATA when it took the message ("250 2.0.0 Ok:
	   queued as 4Qx1"), for the log; NULL if none */
	const char *data_reply;
};

/* How one transaction is sent.

   send() fills results[i] for each recipient (all of them PENDING on
   entry) and returns:
     1  the relay answered the transaction: the result of every recipient
        is SENT, REJECTED or DEFERRED;
     0  the relay refused the whole transaction permanently (MAIL FROM or
        DATA 5xx): every recipient not otherwise known is REJECTED;
    -1  temporary failure of the transaction (connection, timeout, 4xx for
        MAIL FROM or DATA): nothing was sent; recipients refused at RCPT
        keep their result, the others are DEFERRED.
   result_r->error is set when 0 or -1 is returned. */
struct vsmlist_transport {
	int (*send)(void *context, const struct vsmlist_transaction *trans,
		    struct vsmlist_rcpt_result *results,
		    struct vsmlist_transaction_result *result_r);
	void *context;
};

/* The queue id in a relay's reply to DATA ("queued as X" of Postfix,
   "id=X" of Exim), or NULL */
const char *vsmlist_transport_queue_id(const char *data_reply);

#endif
