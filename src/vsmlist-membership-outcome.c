/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* What a membership outcome means for the delivery, its one log line and
   its event fields. */

#include "lib.h"
#include "str.h"
#include "str-sanitize.h"

#include "vsmlist-membership.h"

/* Texts from the relay or the mail go into the log line bounded */
#define OUTCOME_TEXT_MAX 512

static const char *const result_names[] = {
	[VSMLIST_MEMBERSHIP_CONFIRMATION_SENT] = "confirmation_sent",
	[VSMLIST_MEMBERSHIP_SUBSCRIBED] = "subscribed",
	[VSMLIST_MEMBERSHIP_UNSUBSCRIBED] = "unsubscribed",
	[VSMLIST_MEMBERSHIP_ALREADY_MEMBER] = "already_member",
	[VSMLIST_MEMBERSHIP_NOT_MEMBER] = "not_member",
	[VSMLIST_MEMBERSHIP_CLOSED] = "closed",
	[VSMLIST_MEMBERSHIP_BAD_TOKEN] = "bad_token",
	[VSMLIST_MEMBERSHIP_EXPIRED_TOKEN] = "expired_token",
	[VSMLIST_MEMBERSHIP_RATE_LIMITED] = "rate_limited",
	[VSMLIST_MEMBERSHIP_IGNORED] = "ignored",
	[VSMLIST_MEMBERSHIP_NO_REQUEST] = "no_request",
	[VSMLIST_MEMBERSHIP_INVALID_REQUESTER] = "invalid_requester",
	[VSMLIST_MEMBERSHIP_MALFORMED] = "malformed",
	[VSMLIST_MEMBERSHIP_INVALID_SETTINGS] = "invalid_settings",
	[VSMLIST_MEMBERSHIP_DEFERRED] = "deferred",
	[VSMLIST_MEMBERSHIP_FAILED] = "failed",
};

static const char *const reply_names[] = {
	[VSMLIST_MEMBERSHIP_REPLY_NONE] = "none",
	[VSMLIST_MEMBERSHIP_REPLY_CONFIRM] = "confirm",
	[VSMLIST_MEMBERSHIP_REPLY_WELCOME] = "welcome",
	[VSMLIST_MEMBERSHIP_REPLY_GOODBYE] = "goodbye",
	[VSMLIST_MEMBERSHIP_REPLY_ALREADY_MEMBER] = "already_member",
	[VSMLIST_MEMBERSHIP_REPLY_NOT_MEMBER] = "not_member",
	[VSMLIST_MEMBERSHIP_REPLY_CLOSED] = "closed",
	[VSMLIST_MEMBERSHIP_REPLY_BAD_TOKEN] = "bad_token",
	[VSMLIST_MEMBERSHIP_REPLY_EXPIRED_TOKEN] = "expired_token",
};

/* What the log calls the mail */
static const char *const reply_phrases[] = {
	[VSMLIST_MEMBERSHIP_REPLY_NONE] = "mail",
	[VSMLIST_MEMBERSHIP_REPLY_CONFIRM] = "confirmation request",
	[VSMLIST_MEMBERSHIP_REPLY_WELCOME] = "welcome",
	[VSMLIST_MEMBERSHIP_REPLY_GOODBYE] = "goodbye",
	[VSMLIST_MEMBERSHIP_REPLY_ALREADY_MEMBER] = "reply",
	[VSMLIST_MEMBERSHIP_REPLY_NOT_MEMBER] = "reply",
	[VSMLIST_MEMBERSHIP_REPLY_CLOSED] = "reply",
	[VSMLIST_MEMBERSHIP_REPLY_BAD_TOKEN] = "reply",
	[VSMLIST_MEMBERSHIP_REPLY_EXPIRED_TOKEN] = "reply",
};

const char *
vsmlist_membership_reply_phrase(enum vsmlist_membership_reply reply)
{
	i_assert(reply < N_ELEMENTS(reply_phrases));
	return reply_phrases[reply];
}

const char *
vsmlist_membership_result_name(enum vsmlist_membership_result result)
{
	i_assert(result < N_ELEMENTS(result_names));
	return result_names[result];
}

const char *
vsmlist_membership_reply_name(enum vsmlist_membership_reply reply)
{
	i_assert(reply < N_ELEMENTS(reply_names));
	return reply_names[reply];
}

enum vsmlist_action_result
vsmlist_membership_outcome_action(const struct vsmlist_membership_outcome *outcome)
{
	switch (outcome->result) {
	case VSMLIST_MEMBERSHIP_CONFIRMATION_SENT:
	case VSMLIST_MEMBERSHIP_SUBSCRIBED:
	case VSMLIST_MEMBERSHIP_UNSUBSCRIBED:
	case VSMLIST_MEMBERSHIP_ALREADY_MEMBER:
	case VSMLIST_MEMBERSHIP_NOT_MEMBER:
	case VSMLIST_MEMBERSHIP_CLOSED:
	case VSMLIST_MEMBERSHIP_BAD_TOKEN:
	case VSMLIST_MEMBERSHIP_EXPIRED_TOKEN:
	/* Answered by not answering: keeping each would fill the list's
	   mailbox for whoever floods it */
	case VSMLIST_MEMBERSHIP_RATE_LIMITED:
		return VSMLIST_ACTION_HANDLED;
	case VSMLIST_MEMBERSHIP_IGNORED:
	case VSMLIST_MEMBERSHIP_NO_REQUEST:
	case VSMLIST_MEMBERSHIP_INVALID_REQUESTER:
	case VSMLIST_MEMBERSHIP_MALFORMED:
		return VSMLIST_ACTION_KEEP;
	case VSMLIST_MEMBERSHIP_DEFERRED:
		return VSMLIST_ACTION_TEMPFAIL;
	case VSMLIST_MEMBERSHIP_INVALID_SETTINGS:
	case VSMLIST_MEMBERSHIP_FAILED:
		break;
	}
	return VSMLIST_ACTION_FAILURE;
}

static const char *outcome_text(const char *text)
{
	return str_sanitize(text != NULL ? text : "unknown error",
			    OUTCOME_TEXT_MAX);
}

static const char *outcome_address(const struct vsmlist_membership_outcome *outcome)
{
	return str_sanitize(outcome->address != NULL ? outcome->address :
			    "an unknown sender", 256);
}

/* "subscribe request from <a>", "confirmation from <a>" */
static const char *
outcome_request(const struct vsmlist_membership_outcome *outcome)
{
	switch (outcome->request.type) {
	case VSMLIST_MEMBERSHIP_REQUEST_SUBSCRIBE:
	case VSMLIST_MEMBERSHIP_REQUEST_UNSUBSCRIBE:
		return t_strdup_printf("%s request from %s",
			vsmlist_membership_request_name(outcome->request.type),
			outcome_address(outcome));
	case VSMLIST_MEMBERSHIP_REQUEST_CONFIRM:
		return t_strdup_printf("confirmation from %s",
				       outcome_address(outcome));
	case VSMLIST_MEMBERSHIP_REQUEST_NONE:
		break;
	}
	return "membership request";
}

/* "; <reply> sent, queued as X; owner notified; <note>" */
static void
outcome_append_mails(const struct vsmlist_membership_outcome *outcome,
		     string_t *str)
{
	if (outcome->reply_sent) {
		str_printfa(str, "; %s sent",
			    vsmlist_membership_reply_phrase(outcome->reply));
		if (outcome->queue_id != NULL)
			str_printfa(str, ", queued as %s", outcome->queue_id);
	}
	if (outcome->owner_notified)
		str_append(str, "; owner notified");
	if (outcome->note != NULL)
		str_printfa(str, "; %s", outcome_text(outcome->note));
}

static const char *
outcome_what(const struct vsmlist_membership_outcome *outcome)
{
	switch (outcome->result) {
	case VSMLIST_MEMBERSHIP_CONFIRMATION_SENT:
		return "confirmation requested";
	case VSMLIST_MEMBERSHIP_SUBSCRIBED:
		return t_strdup_printf("subscribed to %s%s", outcome->list,
				       outcome->reenabled ?
				       " (a disabled member: enabled again)" :
				       "");
	case VSMLIST_MEMBERSHIP_UNSUBSCRIBED:
		return t_strdup_printf("unsubscribed from %s", outcome->list);
	case VSMLIST_MEMBERSHIP_ALREADY_MEMBER:
		return t_strdup_printf("already a member of %s",
				       outcome->list);
	case VSMLIST_MEMBERSHIP_NOT_MEMBER:
		return t_strdup_printf("not a member of %s", outcome->list);
	case VSMLIST_MEMBERSHIP_CLOSED:
		return t_strdup_printf("subscription to %s is closed",
				       outcome->list);
	case VSMLIST_MEMBERSHIP_BAD_TOKEN:
	case VSMLIST_MEMBERSHIP_EXPIRED_TOKEN:
		return t_strdup_printf("token %s (%s)",
			vsmlist_token_result_str(outcome->token_result),
			str_sanitize(outcome->request.token, 64));
	default:
		break;
	}
	i_unreached();
}

const char *
vsmlist_membership_outcome_log(const struct vsmlist_membership_outcome *outcome,
			       bool *error_r)
{
	string_t *str;

	*error_r = FALSE;
	switch (outcome->result) {
	case VSMLIST_MEMBERSHIP_IGNORED:
		return t_strdup_printf("membership request ignored: %s "
				       "(message kept)",
				       outcome_text(outcome->reason));
	case VSMLIST_MEMBERSHIP_NO_REQUEST:
		return t_strdup_printf("no membership request: %s (message "
				       "kept)", outcome_text(outcome->reason));
	case VSMLIST_MEMBERSHIP_INVALID_REQUESTER:
		return t_strdup_printf("%s request refused: %s (message kept)",
			vsmlist_membership_request_name(outcome->request.type),
			outcome_text(outcome->reason));
	case VSMLIST_MEMBERSHIP_MALFORMED:
		return t_strdup_printf("membership request not handled: "
				       "malformed mail: %s (message kept)",
				       outcome_text(outcome->reason));
	case VSMLIST_MEMBERSHIP_INVALID_SETTINGS:
		*error_r = TRUE;
		return t_strdup_printf("membership request not handled: "
				       "invalid settings: %s (message kept)",
				       outcome_text(outcome->reason));
	case VSMLIST_MEMBERSHIP_RATE_LIMITED:
		return t_strdup_printf("%s: no %s sent: rate limit: %s",
			outcome_request(outcome),
			vsmlist_membership_reply_phrase(outcome->reply),
			outcome_text(outcome->reason));
	case VSMLIST_MEMBERSHIP_DEFERRED:
		*error_r = TRUE;
		return t_strdup_printf("%s: %s (temporary failure)",
				       outcome_request(outcome),
				       outcome_text(outcome->reason));
	case VSMLIST_MEMBERSHIP_FAILED:
		*error_r = TRUE;
		return t_strdup_printf("%s: %s (message kept)",
				       outcome_request(outcome),
				       outcome_text(outcome->reason));
	default:
		break;
	}
	str = t_str_new(256);
	str_printfa(str, "%s: %s", outcome_request(outcome),
		    outcome_what(outcome));
	outcome_append_mails(outcome, str);
	return str_c(str);
}

void vsmlist_membership_outcome_event(const struct vsmlist_membership_outcome *outcome,
				      struct event *event)
{
	const struct vsmlist_membership_request *request = &outcome->request;

	event_add_str(event, "vsmlist_result",
		      vsmlist_membership_result_name(outcome->result));
	event_add_str(event, "vsmlist_request",
		      vsmlist_membership_request_name(request->type));
	if (request->type != VSMLIST_MEMBERSHIP_REQUEST_NONE) {
		event_add_str(event, "vsmlist_request_source",
			      request->from_detail ? "detail" : "subject");
	}
	if (outcome->list != NULL)
		event_add_str(event, "vsmlist_list", outcome->list);
	if (outcome->address != NULL)
		event_add_str(event, "vsmlist_address", outcome->address);
	if (outcome->token_checked) {
		event_add_str(event, "vsmlist_token",
			      vsmlist_token_result_str(outcome->token_result));
	}
	switch (outcome->result) {
	case VSMLIST_MEMBERSHIP_INVALID_SETTINGS:
	case VSMLIST_MEMBERSHIP_DEFERRED:
	case VSMLIST_MEMBERSHIP_FAILED:
		if (outcome->reason != NULL)
			event_add_str(event, "error", outcome->reason);
		break;
	default:
		if (outcome->reason != NULL)
			event_add_str(event, "vsmlist_reason", outcome->reason);
		break;
	}
	if (outcome->reply != VSMLIST_MEMBERSHIP_REPLY_NONE) {
		event_add_str(event, "vsmlist_reply",
			      vsmlist_membership_reply_name(outcome->reply));
		event_add_int(event, "vsmlist_reply_sent",
			      outcome->reply_sent ? 1 : 0);
	}
	if (outcome->queue_id != NULL)
		event_add_str(event, "vsmlist_queue_id", outcome->queue_id);
	if (outcome->reenabled)
		event_add_int(event, "vsmlist_reenabled", 1);
	if (outcome->owner_notified)
		event_add_int(event, "vsmlist_owner_notified", 1);
	if (outcome->relay != NULL)
		event_add_str(event, "vsmlist_relay", outcome->relay);
	if (outcome->note != NULL)
		event_add_str(event, "vsmlist_note", outcome->note);
}
