#ifndef VSMLIST_DELIVERY_H
#define VSMLIST_DELIVERY_H

struct istream;
struct event;
struct smtp_address;
struct vsmlist_settings;
struct vsmlist_transport;

/* What each of the list's actions (distribute, membership, bounce) is
   given about the mail it handles: the list's settings, the mail and its
   envelope, the way the list sends, the clock and the event. The Sieve
   glue fills it from the Sieve environment (ext-vsmlist-delivery.c); the
   tests fill it themselves. No Sieve dependency. */
struct vsmlist_delivery {
	/* The list's settings, or NULL when they are invalid
	   (settings_error says why) */
	const struct vsmlist_settings *set;
	const char *settings_error;

	/* The mail as delivered, seekable */
	struct istream *input;
	/* The envelope; have_envelope is FALSE under imapsieve */
	bool have_envelope;
	/* NULL for the null sender <> */
	const struct smtp_address *mail_from;
	/* The envelope recipient (a detail or VERP address says what the
	   mail is for), or NULL */
	const struct smtp_address *rcpt_to;

	/* How the list's mail is sent, and the relay's name for the log;
	   NULL transport: transport_error says why there is none */
	const struct vsmlist_transport *transport;
	const char *relay;
	const char *transport_error;

	/* The clock (tokens, rate limits, bounce days, Date:);
	   0 = time(NULL) */
	time_t now;
	struct event *event;
};

/* What an action's outcome means for the delivery */
enum vsmlist_action_result {
	/* The mail was handled (sent to the members, a request answered, a
	   bounce counted): no implicit keep */
	VSMLIST_ACTION_HANDLED = 0,
	/* The mail stays where it was delivered */
	VSMLIST_ACTION_KEEP,
	/* The delivery must fail temporarily: the MTA retries */
	VSMLIST_ACTION_TEMPFAIL,
	/* The action failed: the mail is kept by the failure */
	VSMLIST_ACTION_FAILURE,
};

#endif
