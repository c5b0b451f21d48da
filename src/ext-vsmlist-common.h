#ifndef EXT_VSMLIST_COMMON_H
#define EXT_VSMLIST_COMMON_H

#include "sieve-common.h"

/* Sieve glue shared by the extension and its command. */

struct vsmlist_settings;

struct ext_vsmlist_context {
	pool_t pool;
	/* NULL when the settings are invalid; error then says why */
	const struct vsmlist_settings *set;
	const char *set_error;
};

enum ext_vsmlist_opcode {
	EXT_VSMLIST_OPERATION_DISTRIBUTE,
	EXT_VSMLIST_OPERATION_MEMBER,
	EXT_VSMLIST_OPERATION_MEMBERSHIP,
	EXT_VSMLIST_OPERATION_BOUNCE,
};

extern const struct sieve_extension_def vsmlist_extension;
extern const struct sieve_command_def distribute_command;
extern const struct sieve_operation_def distribute_operation;
extern const struct sieve_command_def member_test;
extern const struct sieve_operation_def member_operation;
extern const struct sieve_action_def act_distribute;
extern const struct sieve_command_def membership_command;
extern const struct sieve_operation_def membership_operation;
extern const struct sieve_action_def act_membership;
extern const struct sieve_command_def bounce_command;
extern const struct sieve_operation_def bounce_operation;
extern const struct sieve_action_def act_bounce;

/* Log an action's outcome at Info wherever the action runs: Pigeonhole's
   result log drops to Debug where the caller does not ask for result
   logging (imapsieve), and a list's administrator needs these lines
   there too. */
void ext_vsmlist_log(const struct sieve_action_exec_env *aenv,
		     struct event *event, const char *fmt, ...)
		     ATTR_FORMAT(3, 4);
/* The same at Error, for outcomes an administrator must act on */
void ext_vsmlist_log_error(const struct sieve_action_exec_env *aenv,
			   struct event *event, const char *fmt, ...)
			   ATTR_FORMAT(3, 4);

/* An action's one outcome line on its finish event: at Error when error,
   else at Info */
void ext_vsmlist_log_outcome(const struct sieve_action_exec_env *aenv,
			     struct event *event, bool error,
			     const char *line);

static inline const struct ext_vsmlist_context *
ext_vsmlist_get_context(const struct sieve_extension *ext)
{
	return (const struct ext_vsmlist_context *)ext->context;
}

#endif
