#ifndef VSMLIST_MEMBERSHIP_H
#define VSMLIST_MEMBERSHIP_H

#include "vsmlist-token.h"
#include "vsmlist-delivery.h"

struct istream;
struct smtp_address;
struct vsmlist_settings;
struct vsmlist_transport;

/* Joining and leaving a list by mail, with double opt-in (doc/vsmlist.md,
   "Joining and leaving"): one request in, one outcome out. The Sieve glue
   (cmd-membership.c) only turns the Sieve environment into these
   parameters and the outcome into a Sieve status, one log line and one
   event. No Sieve dependency. */

enum vsmlist_membership_request_type {
	/* Neither the detail nor the Subject holds a request */
	VSMLIST_MEMBERSHIP_REQUEST_NONE = 0,
	VSMLIST_MEMBERSHIP_REQUEST_SUBSCRIBE,
	VSMLIST_MEMBERSHIP_REQUEST_UNSUBSCRIBE,
	VSMLIST_MEMBERSHIP_REQUEST_CONFIRM,
};

struct vsmlist_membership_request {
	enum vsmlist_membership_request_type type;
	/* CONFIRM: the token as given (any bytes, at most
	   VSMLIST_MEMBERSHIP_MAX_TOKEN_LEN of them) */
	const char *token;
	/* Where it was found: the envelope recipient's detail, else the
	   Subject */
	bool from_detail;
};

/* What of the Subject is looked at, and of a token kept */
#define VSMLIST_MEMBERSHIP_MAX_SUBJECT_LEN 998
#define VSMLIST_MEMBERSHIP_MAX_TOKEN_LEN 64

/* The request of a mail: the detail of rcpt_to (NULL when there is no
   envelope), where it is "subscribe", "unsubscribe" or "confirm-<token>"
   (case-insensitive), else the first word of subject (NULL when there is
   none) after any "Re:"/"Fwd:"-style prefixes: "subscribe",
   "unsubscribe", or "confirm <token>". Allocated from the data stack. */
void vsmlist_membership_request_parse(const struct vsmlist_settings *set,
				      const struct smtp_address *rcpt_to,
				      const char *subject,
				      struct vsmlist_membership_request *request_r);
/* "subscribe", "unsubscribe", "confirm", "none" */
const char *
vsmlist_membership_request_name(enum vsmlist_membership_request_type type);

/* The requester: the first mailbox of the From fields (NULL-terminated
   unfolded values, or NULL), its domain as A-labels. Returns the address
   (data stack), or NULL with reason_r when there is none the list could
   write to or keep: none, malformed (a@b@c), a local part longer than 64
   octets or one the member store cannot hold (8-bit, control
   characters), or the list's own addresses. */
const struct smtp_address *
vsmlist_membership_requester(const struct vsmlist_settings *set,
			     const char *const *from_fields,
			     const char **reason_r);

/* Whether the list may write to address and keep it as a member (the
   checks of vsmlist_membership_requester() after parsing); reason_r says
   why not */
bool vsmlist_membership_address_usable(const struct vsmlist_settings *set,
				       const struct smtp_address *address,
				       const char **reason_r);

enum vsmlist_membership_result {
	/* A confirmation request went to the requester */
	VSMLIST_MEMBERSHIP_CONFIRMATION_SENT = 0,
	/* A confirmed change: the member was added (or re-enabled), or
	   removed */
	VSMLIST_MEMBERSHIP_SUBSCRIBED,
	VSMLIST_MEMBERSHIP_UNSUBSCRIBED,
	/* Nothing to do, and the requester was told so */
	VSMLIST_MEMBERSHIP_ALREADY_MEMBER,
	VSMLIST_MEMBERSHIP_NOT_MEMBER,
	/* sieve_vsmlist_subscription = closed: the requester was told */
	VSMLIST_MEMBERSHIP_CLOSED,
	/* A confirmation whose token is forged or malformed, or expired:
	   the requester was told */
	VSMLIST_MEMBERSHIP_BAD_TOKEN,
	VSMLIST_MEMBERSHIP_EXPIRED_TOKEN,
	/* The requester had sieve_vsmlist_confirm_limit mails in 24 hours:
	   nothing sent */
	VSMLIST_MEMBERSHIP_RATE_LIMITED,
	/* The guard stopped it (reason): kept */
	VSMLIST_MEMBERSHIP_IGNORED,
	/* No request in it: kept */
	VSMLIST_MEMBERSHIP_NO_REQUEST,
	/* No requester the list could write to (reason): kept */
	VSMLIST_MEMBERSHIP_INVALID_REQUESTER,
	/* Its header cannot be used (reason): kept */
	VSMLIST_MEMBERSHIP_MALFORMED,
	/* The settings are invalid (reason): the action fails */
	VSMLIST_MEMBERSHIP_INVALID_SETTINGS,
	/* A temporary failure before anything changed (the store's lock,
	   the rate limit file, the relay): the delivery fails temporarily */
	VSMLIST_MEMBERSHIP_DEFERRED,
	/* A permanent failure (no home, a refused secret or store, the
	   relay refused the requester): the action fails */
	VSMLIST_MEMBERSHIP_FAILED,
};

/* The mail sent to the requester */
enum vsmlist_membership_reply {
	VSMLIST_MEMBERSHIP_REPLY_NONE = 0,
	VSMLIST_MEMBERSHIP_REPLY_CONFIRM,
	VSMLIST_MEMBERSHIP_REPLY_WELCOME,
	VSMLIST_MEMBERSHIP_REPLY_GOODBYE,
	VSMLIST_MEMBERSHIP_REPLY_ALREADY_MEMBER,
	VSMLIST_MEMBERSHIP_REPLY_NOT_MEMBER,
	VSMLIST_MEMBERSHIP_REPLY_CLOSED,
	VSMLIST_MEMBERSHIP_REPLY_BAD_TOKEN,
	VSMLIST_MEMBERSHIP_REPLY_EXPIRED_TOKEN,
};

struct vsmlist_membership_outcome {
	enum vsmlist_membership_result result;
	/* Why it was ignored, kept, deferred or failed; NULL otherwise */
	const char *reason;
	/* The list's address, and the relay, for the log */
	const char *list, *relay;

	struct vsmlist_membership_request request;
	/* The requester (From:) or, for a confirmation, the address the
	   token was made for; NULL when there is none */
	const char *address;
	/* A confirmation: what its token gave, and for what */
	bool token_checked;
	enum vsmlist_token_result token_result;
	enum vsmlist_token_action token_action;
	/* A confirmed subscription of a disabled member re-enabled it */
	bool reenabled;

	/* The mail meant for the requester, and whether it went (not over
	   the rate limit, taken by the relay) */
	enum vsmlist_membership_reply reply;
	bool reply_sent;
	/* The relay's queue id of it, or NULL */
	const char *queue_id;
	/* The owner was told of the change */
	bool owner_notified;
	/* Problems that did not change the outcome (the welcome or the
	   owner's notice not sent), for the log; NULL if none */
	const char *note;
};

/* Carry out the request of the mail. Everything allocated lives in
   pool. */
void vsmlist_membership(pool_t pool,
			const struct vsmlist_delivery *params,
			struct vsmlist_membership_outcome *outcome_r);

enum vsmlist_action_result
vsmlist_membership_outcome_action(const struct vsmlist_membership_outcome *outcome);

/* "confirmation_sent", "subscribed", ... (the event's vsmlist_result) */
const char *
vsmlist_membership_result_name(enum vsmlist_membership_result result);
/* "confirm", "welcome", ... (the event's vsmlist_reply) */
const char *
vsmlist_membership_reply_name(enum vsmlist_membership_reply reply);
/* "confirmation request", "welcome", "goodbye", "reply" (log lines) */
const char *
vsmlist_membership_reply_phrase(enum vsmlist_membership_reply reply);

/* The outcome's one log line, and whether it is an error */
const char *
vsmlist_membership_outcome_log(const struct vsmlist_membership_outcome *outcome,
			       bool *error_r);
/* Its fields on the vsmlist_membership_finished event */
void vsmlist_membership_outcome_event(const struct vsmlist_membership_outcome *outcome,
				      struct event *event);

#endif
