#ifndef EXT_VSMLIST_TRANSPORT_H
#define EXT_VSMLIST_TRANSPORT_H

#include "vsmlist-transport.h"

struct sieve_action_exec_env;
struct vsmlist_settings;

/* Sieve glue: how a delivery sends the list's mail. The relay (the
   list's sieve_vsmlist_submission_host, else Dovecot's submission_host)
   through the lib-smtp client, or Pigeonhole's sieve_smtp_* where there is
   none (sendmail_path; sieve-test and the testsuite, which only show what
   would be sent). */
struct ext_vsmlist_transport {
	/* NULL when there is no way to send (error says why) */
	const struct vsmlist_transport *transport;
	const char *error;
	/* "host:port", or "sieve_smtp" */
	const char *relay;
	/* A delivery process (not a tool): keep per-post progress */
	bool delivery;
};

void ext_vsmlist_transport_init(const struct sieve_action_exec_env *aenv,
				const struct vsmlist_settings *set,
				struct ext_vsmlist_transport **transport_r);
/* Connections opened to the relay so far */
unsigned int
ext_vsmlist_transport_connections(const struct ext_vsmlist_transport *transport);
/* Says goodbye to the relay */
void ext_vsmlist_transport_deinit(struct ext_vsmlist_transport **transport);

#endif
