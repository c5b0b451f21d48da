#ifndef VSMLIST_SMTP_H
#define VSMLIST_SMTP_H

#include "vsmlist-transport.h"
#include "vsmlist-settings.h"

struct ssl_iostream_settings;

/* The fan-out's SMTP client: Dovecot's lib-smtp, one connection to the
   relay reused for every transaction of a post, a result per recipient.
   Each transaction runs to its end in a private ioloop, so the caller
   stays synchronous (as Pigeonhole's actions are). The transaction is
   composed of lib-smtp commands (MAIL, RCPT commands of many lines with a
   reply each, DATA) rather than lib-smtp's transaction API, which costs
   a command, two pools and several events per recipient. */

struct vsmlist_smtp_settings {
	/* The relay (vsmlist_relay_host_parse()) */
	const char *host;
	in_port_t port;
	enum vsmlist_relay_ssl ssl;
	/* SSL client settings (CA, ...), or NULL */
	const struct ssl_iostream_settings *ssl_set;
	/* Our name in EHLO */
	const char *my_hostname;
	/* Bound for connecting, for each reply of the relay and for each
	   whole transaction */
	unsigned int timeout_msecs;
	/* SMTP AUTH (SASL PLAIN) as username, or as master_user for
	   username (Dovecot's submission service with a master user); NULL
	   username: no AUTH. Only over TLS or to a relay on loopback. */
	const char *username, *password, *master_user;
	bool debug;
};

struct vsmlist_smtp;

/* Returns 0, or -1 when the settings are unusable (error set). Nothing
   is connected yet: the first transaction connects. */
int vsmlist_smtp_init(const struct vsmlist_smtp_settings *set,
		      struct event *event_parent,
		      struct vsmlist_smtp **smtp_r, const char **error_r);
/* 127.0.0.0/8, ::1 or "localhost" */
bool vsmlist_smtp_host_is_loopback(const char *host);
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
		      struct vsmlist_transaction_result *result_r);

/* "host:port" of the relay, for the log */
const char *vsmlist_smtp_get_relay(struct vsmlist_smtp *smtp);
/* Connections opened so far (1 when all transactions shared one) */
unsigned int vsmlist_smtp_get_connections(struct vsmlist_smtp *smtp);

#endif
