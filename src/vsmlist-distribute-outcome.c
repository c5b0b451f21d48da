/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* What a distribution's outcome means for the delivery, its one log line
   and its event fields. */

#include "lib.h"
#include "str.h"
#include "str-sanitize.h"

#include "vsmlist-distribute.h"

/* Texts from the relay or the post go into the log line bounded */
#define OUTCOME_TEXT_MAX 512

static const char *const distribute_status_names[] = {
	[VSMLIST_DISTRIBUTE_DISTRIBUTED] = "distributed",
	[VSMLIST_DISTRIBUTE_SKIPPED] = "skipped",
	[VSMLIST_DISTRIBUTE_MALFORMED] = "malformed",
	[VSMLIST_DISTRIBUTE_NO_MEMBERS] = "no_members",
	[VSMLIST_DISTRIBUTE_INVALID_SETTINGS] = "invalid_settings",
	[VSMLIST_DISTRIBUTE_ALREADY_DISTRIBUTED] = "already_distributed",
	[VSMLIST_DISTRIBUTE_SAME_CONTENT] = "same_content",
	[VSMLIST_DISTRIBUTE_CONCURRENT] = "concurrent",
	[VSMLIST_DISTRIBUTE_DEFERRED] = "deferred",
	[VSMLIST_DISTRIBUTE_FAILED] = "failed",
};

const char *
vsmlist_distribute_status_name(enum vsmlist_distribute_status status)
{
	i_assert(status < N_ELEMENTS(distribute_status_names));
	return distribute_status_names[status];
}

enum vsmlist_action_result
vsmlist_distribute_outcome_result(const struct vsmlist_distribute_outcome *outcome)
{
	switch (outcome->status) {
	case VSMLIST_DISTRIBUTE_DISTRIBUTED:
	case VSMLIST_DISTRIBUTE_ALREADY_DISTRIBUTED:
		return VSMLIST_ACTION_HANDLED;
	case VSMLIST_DISTRIBUTE_SKIPPED:
	case VSMLIST_DISTRIBUTE_MALFORMED:
	case VSMLIST_DISTRIBUTE_NO_MEMBERS:
	case VSMLIST_DISTRIBUTE_SAME_CONTENT:
		return VSMLIST_ACTION_KEEP;
	case VSMLIST_DISTRIBUTE_CONCURRENT:
	case VSMLIST_DISTRIBUTE_DEFERRED:
		return VSMLIST_ACTION_TEMPFAIL;
	case VSMLIST_DISTRIBUTE_INVALID_SETTINGS:
	case VSMLIST_DISTRIBUTE_FAILED:
		break;
	}
	return VSMLIST_ACTION_FAILURE;
}

/* How the members got the post */
static const char *outcome_form(enum vsmlist_mitigation mitigation)
{
	switch (mitigation) {
	case VSMLIST_MITIGATION_NONE:
		return "untouched";
	case VSMLIST_MITIGATION_WRAP:
		return "wrapped";
	case VSMLIST_MITIGATION_MUNGE:
		return "munged";
	case VSMLIST_MITIGATION_TEMPFAIL:
		break;
	}
	return "not sent";
}

static const char *outcome_text(const char *text)
{
	return str_sanitize(text != NULL ? text : "unknown error",
			    OUTCOME_TEXT_MAX);
}

/* "; <the post's DMARC policy>; <notes>" */
static void
outcome_append_notes(const struct vsmlist_distribute_outcome *outcome,
		     string_t *str)
{
	const struct vsmlist_fanout_result *result = &outcome->result;

	if (result->rejected > 0)
		str_printfa(str, "; %u member(s) rejected", result->rejected);
	if (result->previously_sent > 0 && result->sent > 0) {
		str_printfa(str, "; %u member(s) got it in an earlier "
			    "attempt", result->previously_sent);
	}
	if (outcome->disabled > 0) {
		str_printfa(str, "; %u disabled member(s) left out",
			    outcome->disabled);
	}
	if (outcome->have_policy && outcome->looked_up)
		str_printfa(str, "; %s",
			    vsmlist_policy_describe(&outcome->policy));
	if (outcome->left_out != NULL) {
		str_printfa(str, "; header(s) not added to keep the author's "
			    "DKIM signature valid: %s", outcome->left_out);
	}
	if (outcome->note != NULL)
		str_printfa(str, "; %s", outcome_text(outcome->note));
}

static const char *
outcome_log_distributed(const struct vsmlist_distribute_outcome *outcome)
{
	const struct vsmlist_fanout_result *result = &outcome->result;
	string_t *str = t_str_new(256);

	/* The decision and its reason, then how it went out */
	str_printfa(str, "distributed to %u member(s) of %s, %s (%s), in %u "
		    "SMTP transaction(s), envelope sender <%s>%s",
		    result->sent, outcome->list,
		    outcome_form(outcome->decision.mitigation),
		    outcome->decision.reason != NULL ?
		    outcome->decision.reason : "no DMARC lookup",
		    result->transactions, outcome->envelope_sender,
		    outcome->verp ? " (VERP: each member's own)" : "");
	if (outcome->message_id != NULL) {
		str_printfa(str, ", message-id %s",
			    str_sanitize(outcome->message_id, 256));
	}
	if (result->queue_ids != NULL) {
		/* The link to the relay's log: its first queue id */
		str_printfa(str, ", queued as %s",
			    t_strcut(result->queue_ids, ','));
	}
	outcome_append_notes(outcome, str);
	return str_c(str);
}

static const char *
outcome_log_deferred(const struct vsmlist_distribute_outcome *outcome)
{
	const struct vsmlist_fanout_result *result = &outcome->result;
	string_t *str = t_str_new(256);

	if (result->transactions == 0 && result->sent == 0 &&
	    result->deferred == 0) {
		/* Nothing was attempted: the store, the post or DNS */
		str_printfa(str, "not distributed: %s",
			    outcome_text(outcome->reason));
		if (outcome->have_policy && outcome->looked_up) {
			str_printfa(str, "; %s", vsmlist_policy_describe(
				&outcome->policy));
		}
		str_append(str, " (temporary failure)");
		return str_c(str);
	}
	str_printfa(str, "distribution to the members of %s deferred: %u "
		    "sent, %u deferred, %u rejected", outcome->list,
		    result->sent, result->deferred, result->rejected);
	if (result->previously_sent > 0) {
		str_printfa(str, ", %u in earlier attempts",
			    result->previously_sent);
	}
	if (result->transactions > 0) {
		str_printfa(str, " in %u SMTP transaction(s)",
			    result->transactions);
	}
	str_printfa(str, ": %s (temporary failure: the retry sends only to "
		    "the members who have not got it)",
		    outcome_text(outcome->reason));
	return str_c(str);
}

const char *
vsmlist_distribute_outcome_log(const struct vsmlist_distribute_outcome *outcome,
			       bool *error_r)
{
	*error_r = FALSE;
	switch (outcome->status) {
	case VSMLIST_DISTRIBUTE_DISTRIBUTED:
		return outcome_log_distributed(outcome);
	case VSMLIST_DISTRIBUTE_SKIPPED:
		return t_strdup_printf("not distributed: %s",
				       outcome_text(outcome->reason));
	case VSMLIST_DISTRIBUTE_MALFORMED:
		return t_strdup_printf("not distributed: malformed post: %s "
				       "(message kept)",
				       outcome_text(outcome->reason));
	case VSMLIST_DISTRIBUTE_NO_MEMBERS:
		if (outcome->disabled > 0) {
			return t_strdup_printf("not distributed: the list %s "
				"has no enabled members (%u disabled; message "
				"kept)", outcome->list, outcome->disabled);
		}
		return t_strdup_printf("not distributed: the list %s has no "
				       "members (message kept)",
				       outcome->list);
	case VSMLIST_DISTRIBUTE_INVALID_SETTINGS:
		*error_r = TRUE;
		return t_strdup_printf("not distributed: invalid settings: %s "
				       "(message kept)",
				       outcome_text(outcome->reason));
	case VSMLIST_DISTRIBUTE_ALREADY_DISTRIBUTED:
		return t_strdup_printf("already distributed to the members of "
				       "%s by an earlier delivery of this "
				       "post: nothing sent", outcome->list);
	case VSMLIST_DISTRIBUTE_SAME_CONTENT:
		return t_strdup_printf("not distributed: a post to %s without "
			"Message-ID and with the same From, Date, Subject and "
			"body was distributed before (message kept: a retry "
			"or a second post, a person can tell)", outcome->list);
	case VSMLIST_DISTRIBUTE_CONCURRENT:
		*error_r = TRUE;
		return "not distributed now: another delivery of this post "
			"is distributing it (temporary failure)";
	case VSMLIST_DISTRIBUTE_DEFERRED:
		*error_r = TRUE;
		return outcome_log_deferred(outcome);
	case VSMLIST_DISTRIBUTE_FAILED:
		*error_r = TRUE;
		if (outcome->result.transactions == 0) {
			return t_strdup_printf("not distributed: %s (message "
					       "kept)",
					       outcome_text(outcome->reason));
		}
		return t_strdup_printf("not distributed: every one of the %u "
			"member(s) of %s was rejected (last error: %s)",
			outcome->result.members, outcome->list,
			outcome_text(outcome->reason));
	}
	i_unreached();
}

void vsmlist_distribute_outcome_event(const struct vsmlist_distribute_outcome *outcome,
				      struct event *event)
{
	const struct vsmlist_fanout_result *result = &outcome->result;

	event_add_str(event, "vsmlist_outcome",
		      vsmlist_distribute_status_name(outcome->status));
	if (outcome->list != NULL)
		event_add_str(event, "vsmlist_list", outcome->list);
	switch (outcome->status) {
	case VSMLIST_DISTRIBUTE_SKIPPED:
	case VSMLIST_DISTRIBUTE_MALFORMED:
		event_add_str(event, "vsmlist_skipped", outcome->reason);
		break;
	case VSMLIST_DISTRIBUTE_INVALID_SETTINGS:
	case VSMLIST_DISTRIBUTE_DEFERRED:
	case VSMLIST_DISTRIBUTE_FAILED:
		if (outcome->reason != NULL)
			event_add_str(event, "error", outcome->reason);
		break;
	default:
		break;
	}
	if (outcome->have_policy) {
		event_add_str(event, "vsmlist_mitigation",
			      vsmlist_mitigation_name(
				outcome->decision.mitigation));
		event_add_str(event, "vsmlist_reason",
			      outcome->decision.reason);
		vsmlist_policy_add_event_fields(&outcome->policy, event);
	}
	if (outcome->message_id != NULL)
		event_add_str(event, "vsmlist_message_id", outcome->message_id);
	if (outcome->relay != NULL)
		event_add_str(event, "vsmlist_relay", outcome->relay);
	if (outcome->verp)
		event_add_str(event, "vsmlist_verp", "yes");
	event_add_int(event, "vsmlist_members", outcome->members);
	event_add_int(event, "vsmlist_disabled_members", outcome->disabled);
	event_add_int(event, "vsmlist_recipients", result->sent);
	event_add_int(event, "vsmlist_transactions", result->transactions);
	event_add_int(event, "vsmlist_failed_recipients",
		      result->rejected + result->deferred);
	event_add_int(event, "vsmlist_rejected_recipients", result->rejected);
	event_add_int(event, "vsmlist_deferred_recipients", result->deferred);
	event_add_int(event, "vsmlist_previous_recipients",
		      result->previously_sent);
	if (result->queue_ids != NULL)
		event_add_str(event, "vsmlist_queue_ids", result->queue_ids);
	if (outcome->note != NULL)
		event_add_str(event, "vsmlist_note", outcome->note);
}
