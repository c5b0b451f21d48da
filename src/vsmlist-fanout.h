#ifndef VSMLIST_FANOUT_H
#define VSMLIST_FANOUT_H

struct istream;
struct ostream;
struct smtp_address;

/* How one SMTP transaction is sent. The Sieve glue plugs in Pigeonhole's
   sieve_smtp_*; unit tests plug in a recorder. */
struct vsmlist_transport {
	void *(*start)(void *context, const struct smtp_address *mail_from);
	void (*add_rcpt)(void *trans, const struct smtp_address *rcpt_to);
	struct ostream *(*send)(void *trans);
	void (*abort)(void *trans);
	/* Returns 1 ok, 0 permanent failure, -1 temporary failure */
	int (*finish)(void *trans, const char **error_r);
	void *context;
};

struct vsmlist_fanout_result {
	unsigned int recipients;
	unsigned int transactions;
	/* Transactions refused permanently (their recipients are counted in
	   failed_recipients) */
	unsigned int failed_transactions;
	unsigned int failed_recipients;
	/* The last failure, for the log */
	const char *error;
};

/* The message source: a fresh stream for each transaction. */
typedef struct istream *vsmlist_fanout_message_func_t(void *context);

/* Send the message to all recipients, batch_size RCPTs per transaction.
   A permanent failure of one transaction does not stop the others.
   Returns 1 when all were accepted, 0 when some transaction failed
   permanently, -1 on a temporary failure (sending stopped there) or a
   read error of the message (error set). */
int vsmlist_fanout_send(const struct vsmlist_transport *transport,
			const struct smtp_address *mail_from,
			const struct smtp_address *const *rcpts,
			unsigned int rcpt_count, unsigned int batch_size,
			vsmlist_fanout_message_func_t *message_func,
			void *message_context,
			struct vsmlist_fanout_result *result_r);

#endif
