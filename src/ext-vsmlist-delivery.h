#ifndef EXT_VSMLIST_DELIVERY_H
#define EXT_VSMLIST_DELIVERY_H

#include "vsmlist-delivery.h"

struct sieve_action_exec_env;
struct ext_vsmlist_transport;

/* Sieve glue shared by the list's actions (distribute, membership,
   bounce): the Sieve environment as the modules' vsmlist_delivery, and
   the module's outcome back as a Sieve status. */
struct ext_vsmlist_delivery {
	struct vsmlist_delivery delivery;
	/* NULL when the list's settings are invalid */
	struct ext_vsmlist_transport *transport;
	/* For the action's outcome; freed by ext_vsmlist_delivery_finish() */
	pool_t pool;
};

/* What an action's outcome is called: its event ("vsmlist_*_finished"),
   the event's outcome field ("vsmlist_outcome", "vsmlist_result") and
   the start of the line when the mail cannot be read ("failed to read
   the post") */
struct ext_vsmlist_action_names {
	const char *event;
	const char *outcome_field;
	const char *read_error;
};

/* Fill delivery_r from the action's environment: settings, the mail's
   stream, the envelope (none under imapsieve), the transport, the event.
   Returns SIEVE_EXEC_OK, or SIEVE_EXEC_TEMP_FAILURE when the mail cannot
   be read: then the action's event says "deferred" with the mail's error
   in vsmlist_error, its line is logged, and there is nothing to
   finish. */
int ext_vsmlist_delivery_init(const struct sieve_action_exec_env *aenv,
			      const struct ext_vsmlist_action_names *names,
			      struct ext_vsmlist_delivery *delivery_r);

/* The action's one event, named name, for the outcome's fields (its
   line goes out with ext_vsmlist_log_outcome()) */
struct event *
ext_vsmlist_delivery_event(const struct sieve_action_exec_env *aenv,
			   const char *name);

/* Say goodbye to the relay, free the pool, and turn result into the
   action's status (and *keep: no implicit keep for a handled mail) */
int ext_vsmlist_delivery_finish(const struct sieve_action_exec_env *aenv,
				struct ext_vsmlist_delivery *delivery,
				enum vsmlist_action_result result,
				bool *keep);

#endif
