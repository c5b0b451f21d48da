#ifndef VSMLIST_SMTP_H
#define VSMLIST_SMTP_H

#include "vsmlist-fanout.h"

struct ssl_iostream_settings;

/* The fan-out's SMTP client: Dovecot's lib-smtp, one connection to the
   relay reused for every transaction of a post, a result per recipient.
   Each transaction runs to its end in a private ioloop, so the caller
   stays synchronous (as Pigeonhole's actions are). */

#define VSMLIST_SMTP_DEFAULT_PORT 25

struct vsmlist_smtp_settings {
	/* "host[:port]" (IPv6 as "[::1]:25") */
	const char *host;
	/* "no" (or NULL), "smtps"/"submissions" or "starttls" */
	const char *ssl;
	/* SSL client settings (CA, ...), or NULL */
	const struct ssl_iostream_settings *ssl_set;
	/* Our name in EHLO */
	const char *my_hostname;
	/* Bound for connecting, for each reply of the relay and for each
	   whole transaction */
	unsigned int timeout_msecs;
	bool debug;
};

struct vsmlist_smtp;

/* Returns 0, or -1 when the settings are unusable (error set). Nothing
   is connected yet. */
int vsmlist_smtp_init(const struct vsmlist_smtp_settings *set,
		      struct event *event_parent,
		      struct vsmlist_smtp **smtp_r, const char **error_r);
/* Says QUIT (briefly, bounded by the timeout) and disconnects */
void vsmlist_smtp_deinit(struct vsmlist_smtp **smtp);

/* The fan-out transport sending through this client */
void vsmlist_smtp_get_transport(struct vsmlist_smtp *smtp,
				struct vsmlist_transport *transport_r);

/* Send one transaction and wait for its end (see struct
   vsmlist_transport for the results and the return value). */
int vsmlist_smtp_send(struct vsmlist_smtp *smtp,
		      const struct vsmlist_transaction *trans,
		      struct vsmlist_rcpt_result *results,
		      const char **error_r);

/* "host:port" of the relay, for the log */
const char *vsmlist_smtp_get_relay(struct vsmlist_smtp *smtp);
/* Connections opened so far (1 when all transactions shared one) */
unsigned int vsmlist_smtp_get_connections(struct vsmlist_smtp *smtp);

/* Parse an ssl mode keyword as Dovecot's submission_ssl has it: "no",
   "smtps", "submissions", "starttls" (case-insensitive). */
bool vsmlist_smtp_ssl_mode_is_valid(const char *ssl);

#endif
