/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "istream.h"
#include "smtp-address.h"

#include "vsmlist-settings.h"
#include "vsmlist-store.h"
#include "vsmlist-dsn.h"
#include "vsmlist-verp.h"
#include "vsmlist-message.h"
#include "vsmlist-reply.h"
#include "vsmlist-transport.h"
#include "vsmlist-bounce.h"

struct bounce {
	pool_t pool;
	const struct vsmlist_delivery *params;
	const struct vsmlist_settings *set;
	struct vsmlist_bounce_outcome *outcome;
	struct vsmlist_dsn dsn;
	struct vsmlist_store *store;
	struct vsmlist_bounce_rules rules;
};

static void
bounce_end(struct bounce *b, enum vsmlist_bounce_status status,
	   const char *reason)
{
	b->outcome->status = status;
	b->outcome->reason = (reason == NULL ? NULL :
			      p_strdup(b->pool, reason));
}

/* The member a VERP address names, or NULL */
static void bounce_find_verp_member(struct bounce *b)
{
	const struct vsmlist_delivery *params = b->params;
	struct smtp_address *member;
	const char *error;
	int ret;

	if (!params->have_envelope || params->rcpt_to == NULL)
		return;
	ret = vsmlist_verp_decode(b->pool, params->rcpt_to,
				  b->set->address->localpart,
				  b->set->recipient_delimiter, &member,
				  &error);
	if (ret > 0)
		b->outcome->verp_member = member;
	else if (ret < 0) {
		e_debug(params->event, "bounce: %s is no VERP address of a "
			"member: %s", smtp_address_encode(params->rcpt_to),
			error);
	}
}

/* Count one failure for address. Returns 1 when it was a member, 0 when
   not, -1 on a store error (the outcome is set). */
static int
bounce_score_member(struct bounce *b, const struct smtp_address *address,
		    const char *status)
{
	struct vsmlist_bounce_outcome *outcome = b->outcome;
	struct vsmlist_bounce_member *member;
	const struct vsmlist_bounce_member *seen;
	struct vsmlist_bounce_score score;
	const char *key = vsmlist_store_address_key(address), *error;

	if (key == NULL)
		return 0;
	/* One report counts a member once, however often it names it */
	array_foreach(&outcome->members, seen) {
		if (strcmp(vsmlist_store_address_key(seen->address), key) == 0)
			return 1;
	}
	if (array_count(&outcome->members) >= VSMLIST_BOUNCE_MAX_MEMBERS) {
		outcome->skipped++;
		return 1;
	}
	if (vsmlist_bounce_score(b->store, address, b->params->now,
				 &b->rules, &score, &error) < 0) {
		bounce_end(b, VSMLIST_BOUNCE_DEFERRED, t_strdup_printf(
			"failed to change the members of %s: %s",
			outcome->list, error));
		return -1;
	}
	if (score.result == VSMLIST_BOUNCE_SCORE_NOT_MEMBER)
		return 0;
	member = array_append_space(&outcome->members);
	member->address = smtp_address_clone(b->pool, address);
	member->status = p_strdup(b->pool, status);
	member->score = score;
	if (score.result == VSMLIST_BOUNCE_SCORE_DISABLED)
		outcome->disabled++;
	return 1;
}

/* The failed recipients of a report. Returns 0, or -1 when the outcome is
   decided. */
static int bounce_score_report(struct bounce *b)
{
	struct vsmlist_bounce_outcome *outcome = b->outcome;
	const struct vsmlist_dsn_recipient *rcpt;
	const struct smtp_address *address;
	const char *status;
	int ret;

	outcome->recipients = array_count(&b->dsn.recipients) +
		b->dsn.recipients_skipped;
	array_foreach(&b->dsn.recipients, rcpt) {
		if (!vsmlist_dsn_recipient_is_hard_failure(rcpt))
			continue;
		outcome->hard_failures++;
		status = t_strdup_printf("%u.%u.%u", rcpt->status.class,
					 rcpt->status.subject,
					 rcpt->status.detail);
		address = vsmlist_dsn_recipient_address(rcpt);
		ret = (address == NULL ? 0 :
		       bounce_score_member(b, address, status));
		if (ret < 0)
			return -1;
		if (ret > 0)
			continue;
		/* Not a member as the report names it: forwarding may have
		   changed the address; the VERP address still names the
		   member the list sent to */
		if (outcome->verp_member != NULL) {
			ret = bounce_score_member(b, outcome->verp_member,
						  status);
			if (ret < 0)
				return -1;
			if (ret > 0)
				continue;
		}
		outcome->non_members++;
	}
	return 0;
}

static void bounce_note(struct bounce *b, const char *note)
{
	struct vsmlist_bounce_outcome *outcome = b->outcome;

	outcome->note = (outcome->note == NULL ? p_strdup(b->pool, note) :
			 p_strdup_printf(b->pool, "%s; %s", outcome->note,
					 note));
}

/* A short text from the list to one person; failures are noted */
static void
bounce_send_notice(struct bounce *b, const struct smtp_address *to,
		   const char *subject, const char *text)
{
	struct vsmlist_reply reply;
	const char *message, *message_id, *queue_id, *error;

	i_zero(&reply);
	reply.to = to;
	reply.subject = subject;
	reply.text = text;
	reply.date = b->params->now;
	message = vsmlist_reply_compose(b->set, &reply, &message_id);
	if (vsmlist_reply_send(b->set, b->params->transport, to, message,
			       &queue_id, &error) <= 0) {
		bounce_note(b, t_strdup_printf("notice to %s not sent: %s",
					       smtp_address_encode(to),
					       error));
	}
}

/* A member reached the threshold: tell them (at the address that fails,
   knowing it may not arrive) and the owner */
static void
bounce_notify_disabled(struct bounce *b,
		       const struct vsmlist_bounce_member *member)
{
	const struct vsmlist_settings *set = b->set;
	const char *member_addr = smtp_address_encode(member->address);
	const char *subscribe = smtp_address_encode(
		vsmlist_settings_detail_address(pool_datastack_create(), set,
						"subscribe"));

	bounce_send_notice(b, member->address, t_strdup_printf(
		"Your subscription to %s is on hold", set->name),
		t_strdup_printf(
		"Mail from the list %s <%s> to you (%s) has failed %u times.\n"
		"The list sends you no more posts for now.\n\n"
		"To get them again, write to %s (the list asks you to "
		"confirm), or ask the list's owner.\n", set->name,
		smtp_address_encode(set->address), member_addr,
		member->score.points, subscribe));
	if (set->owner == NULL)
		return;
	bounce_send_notice(b, set->owner, t_strdup_printf(
		"%s: %s disabled after %u bounces", set->name, member_addr,
		member->score.points), t_strdup_printf(
		"The list %s <%s> no longer sends posts to %s: mail to it "
		"failed %u times (the last: %s).\n\n"
		"To send to it again: doveadm vsmlist enable -u %s %s\n",
		set->name, smtp_address_encode(set->address), member_addr,
		member->score.points, member->status != NULL ?
		member->status : "a bounce to its VERP address",
		smtp_address_encode(set->address), member_addr));
}

/* Forward what is no bounce to the owner, as it came, marked as the
   list's own. Returns 1 forwarded, 0 with nobody to forward to, -1 when
   the outcome is decided (the relay failed). */
static int bounce_forward_to_owner(struct bounce *b, const char *reason)
{
	const struct vsmlist_delivery *params = b->params;
	const struct vsmlist_settings *set = b->set;
	struct vsmlist_transaction trans;
	struct vsmlist_transaction_result result;
	struct vsmlist_rcpt_result rcpt_result;
	struct vsmlist_message_filter filter;
	const struct smtp_address *rcpts[1];
	int ret;

	if (set->owner == NULL)
		return 0;
	if (params->transport == NULL) {
		bounce_end(b, VSMLIST_BOUNCE_NOT_A_BOUNCE, t_strdup_printf(
			"%s; not forwarded: %s", reason,
			params->transport_error));
		return -1;
	}
	i_zero(&filter);
	i_zero(&trans);
	i_zero(&result);
	i_zero(&rcpt_result);
	rcpts[0] = set->owner;
	trans.mail_from = set->bounce_address;
	trans.rcpts = rcpts;
	trans.rcpt_count = 1;
	i_stream_seek(params->input, 0);
	trans.input = vsmlist_message_prepend(params->input, t_strdup_printf(
		"X-Loop: %s\r\n", smtp_address_encode(set->address)),
		&filter);
	ret = params->transport->send(params->transport->context, &trans,
				      &rcpt_result, &result);
	i_stream_unref(&trans.input);
	if (ret > 0 && rcpt_result.status == VSMLIST_RCPT_SENT)
		return 1;
	bounce_end(b, ret < 0 || rcpt_result.status == VSMLIST_RCPT_DEFERRED ?
		   VSMLIST_BOUNCE_DEFERRED : VSMLIST_BOUNCE_NOT_A_BOUNCE,
		   t_strdup_printf("%s; forwarding to the owner %s failed: %s",
				   reason, smtp_address_encode(set->owner),
				   result.error != NULL ? result.error :
				   rcpt_result.reply));
	return -1;
}

static bool bounce_counted_any(const struct vsmlist_bounce_outcome *outcome)
{
	const struct vsmlist_bounce_member *member;

	array_foreach(&outcome->members, member) {
		if (member->score.result == VSMLIST_BOUNCE_SCORE_COUNTED ||
		    member->score.result == VSMLIST_BOUNCE_SCORE_DISABLED)
			return TRUE;
	}
	return FALSE;
}

/* Notices for the members this bounce disabled */
static void bounce_notify(struct bounce *b)
{
	const struct vsmlist_bounce_member *member;

	array_foreach(&b->outcome->members, member) {
		if (member->score.result != VSMLIST_BOUNCE_SCORE_DISABLED)
			continue;
		if (b->params->transport == NULL) {
			bounce_note(b, t_strdup_printf(
				"no notice of %s sent: %s",
				smtp_address_encode(member->address),
				b->params->transport_error));
			continue;
		}
		bounce_notify_disabled(b, member);
	}
}

static void bounce_run(struct bounce *b)
{
	const struct vsmlist_delivery *params = b->params;
	struct vsmlist_bounce_outcome *outcome = b->outcome;
	const char *reason, *error;
	int ret;

	i_stream_seek(params->input, 0);
	if (vsmlist_dsn_parse(b->pool, params->input, &b->dsn, &error) < 0) {
		bounce_end(b, VSMLIST_BOUNCE_DEFERRED, t_strdup_printf(
			"failed to read the message: %s", error));
		return;
	}
	outcome->is_report = b->dsn.is_report;
	outcome->envid = b->dsn.envid;
	outcome->reporting_mta = b->dsn.reporting_mta;
	bounce_find_verp_member(b);

	if (vsmlist_dsn_is_auto_reply(&b->dsn, &reason)) {
		bounce_end(b, VSMLIST_BOUNCE_AUTO_REPLY, reason);
		return;
	}
	/* Without a report, only a bounce to a VERP address from a mailer
	   names a member: the null sender (or a mailer daemon's signs) */
	if (!b->dsn.is_report &&
	    (outcome->verp_member == NULL ||
	     (params->mail_from != NULL && b->dsn.bounce_sign == NULL))) {
		reason = (b->dsn.problem != NULL ? b->dsn.problem :
			  "no delivery report and no VERP address");
		ret = bounce_forward_to_owner(b, reason);
		if (ret >= 0) {
			bounce_end(b, ret > 0 ? VSMLIST_BOUNCE_FORWARDED :
				   VSMLIST_BOUNCE_NOT_A_BOUNCE, reason);
		}
		return;
	}

	if (vsmlist_settings_open_store(b->set, params->event, &b->store,
					&error) < 0) {
		bounce_end(b, VSMLIST_BOUNCE_DEFERRED, t_strdup_printf(
			"failed to open the members of %s: %s",
			outcome->list, error));
		return;
	}
	if (b->dsn.is_report)
		ret = bounce_score_report(b);
	else {
		outcome->hard_failures = 1;
		ret = bounce_score_member(b, outcome->verp_member, NULL);
		if (ret == 0)
			outcome->non_members++;
	}
	if (ret < 0)
		return;
	bounce_end(b, bounce_counted_any(outcome) ?
		   VSMLIST_BOUNCE_SCORED : VSMLIST_BOUNCE_NOTHING_COUNTED,
		   b->dsn.problem);
	bounce_notify(b);
}

void vsmlist_bounce(pool_t pool, const struct vsmlist_delivery *params,
		    struct vsmlist_bounce_outcome *outcome_r)
{
	struct bounce b;

	i_zero(outcome_r);
	i_zero(&b);
	b.pool = pool;
	b.params = params;
	b.set = params->set;
	b.outcome = outcome_r;
	p_array_init(&outcome_r->members, pool, 4);
	if (b.set == NULL) {
		bounce_end(&b, VSMLIST_BOUNCE_INVALID_SETTINGS,
			   params->settings_error);
		return;
	}
	outcome_r->list = p_strdup(pool, smtp_address_encode(b.set->address));
	b.rules.reset_secs = b.set->bounce_reset_secs;
	b.rules.threshold = b.set->bounce_threshold;

	T_BEGIN {
		bounce_run(&b);
	} T_END;
	vsmlist_store_close(&b.store);
}

static const char *const bounce_status_names[] = {
	[VSMLIST_BOUNCE_SCORED] = "scored",
	[VSMLIST_BOUNCE_NOTHING_COUNTED] = "nothing_counted",
	[VSMLIST_BOUNCE_AUTO_REPLY] = "auto_reply",
	[VSMLIST_BOUNCE_FORWARDED] = "forwarded",
	[VSMLIST_BOUNCE_NOT_A_BOUNCE] = "not_a_bounce",
	[VSMLIST_BOUNCE_DEFERRED] = "deferred",
	[VSMLIST_BOUNCE_INVALID_SETTINGS] = "invalid_settings",
};

const char *vsmlist_bounce_status_name(enum vsmlist_bounce_status status)
{
	i_assert(status < N_ELEMENTS(bounce_status_names));
	return bounce_status_names[status];
}

/* "a@example.net (5.1.1, 3 points), b@example.org (disabled)" */
static const char *
bounce_members_text(const struct vsmlist_bounce_outcome *outcome)
{
	const struct vsmlist_bounce_member *member;
	string_t *str = t_str_new(128);

	array_foreach(&outcome->members, member) {
		if (str_len(str) > 0)
			str_append(str, ", ");
		str_printfa(str, "%s (", smtp_address_encode(member->address));
		if (member->status != NULL)
			str_printfa(str, "%s, ", member->status);
		switch (member->score.result) {
		case VSMLIST_BOUNCE_SCORE_COUNTED:
			str_printfa(str, "%u point(s)", member->score.points);
			break;
		case VSMLIST_BOUNCE_SCORE_DISABLED:
			str_printfa(str, "%u points: disabled",
				    member->score.points);
			break;
		case VSMLIST_BOUNCE_SCORE_TODAY_ALREADY:
			str_printfa(str, "%u point(s), counted today already",
				    member->score.points);
			break;
		case VSMLIST_BOUNCE_SCORE_ALREADY_DISABLED:
			str_append(str, "disabled already");
			break;
		case VSMLIST_BOUNCE_SCORE_NOT_MEMBER:
			str_append(str, "not a member");
			break;
		}
		str_append_c(str, ')');
	}
	return str_c(str);
}

const char *
vsmlist_bounce_outcome_log(const struct vsmlist_bounce_outcome *outcome,
			   bool *error_r)
{
	const char *what = outcome->is_report ? "delivery report" :
		"VERP bounce";
	string_t *str;

	*error_r = FALSE;
	switch (outcome->status) {
	case VSMLIST_BOUNCE_SCORED:
	case VSMLIST_BOUNCE_NOTHING_COUNTED:
		str = t_str_new(256);
		str_printfa(str, "%s for %s: ", what, outcome->list);
		if (array_count(&outcome->members) > 0)
			str_append(str, bounce_members_text(outcome));
		else
			str_append(str, "no member failed");
		str_printfa(str, "; %u recipient(s), %u failed, %u not "
			    "member(s)", outcome->recipients,
			    outcome->hard_failures, outcome->non_members);
		if (outcome->skipped > 0) {
			str_printfa(str, ", %u more not counted",
				    outcome->skipped);
		}
		if (outcome->reason != NULL) {
			str_printfa(str, " (%s)",
				    str_sanitize(outcome->reason, 256));
		}
		if (outcome->note != NULL) {
			str_printfa(str, "; %s",
				    str_sanitize(outcome->note, 512));
		}
		return str_c(str);
	case VSMLIST_BOUNCE_AUTO_REPLY:
		return t_strdup_printf("automatic reply to %s ignored: %s",
			outcome->list, str_sanitize(outcome->reason, 256));
	case VSMLIST_BOUNCE_FORWARDED:
		return t_strdup_printf("not a bounce for %s, forwarded to "
			"the owner: %s", outcome->list,
			str_sanitize(outcome->reason, 256));
	case VSMLIST_BOUNCE_NOT_A_BOUNCE:
		return t_strdup_printf("not a bounce for %s (message kept): "
			"%s", outcome->list,
			str_sanitize(outcome->reason, 256));
	case VSMLIST_BOUNCE_DEFERRED:
		*error_r = TRUE;
		return t_strdup_printf("bounce not processed: %s (temporary "
			"failure)", str_sanitize(outcome->reason, 512));
	case VSMLIST_BOUNCE_INVALID_SETTINGS:
		*error_r = TRUE;
		return t_strdup_printf("bounce not processed: invalid "
			"settings: %s (message kept)",
			str_sanitize(outcome->reason, 512));
	}
	i_unreached();
}

void vsmlist_bounce_outcome_event(const struct vsmlist_bounce_outcome *outcome,
				  struct event *event)
{
	const struct vsmlist_bounce_member *member;
	string_t *members = t_str_new(128), *statuses = t_str_new(64);
	unsigned int points = 0;

	event_add_str(event, "vsmlist_result",
		      vsmlist_bounce_status_name(outcome->status));
	if (outcome->list != NULL)
		event_add_str(event, "vsmlist_list", outcome->list);
	event_add_str(event, "vsmlist_report",
		      outcome->is_report ? "yes" : "no");
	if (outcome->verp_member != NULL) {
		event_add_str(event, "vsmlist_verp_member",
			      smtp_address_encode(outcome->verp_member));
	}
	array_foreach(&outcome->members, member) {
		if (str_len(members) > 0) {
			str_append_c(members, ',');
			str_append_c(statuses, ',');
		}
		str_append(members, smtp_address_encode(member->address));
		str_append(statuses, member->status != NULL ?
			   member->status : "-");
		points = I_MAX(points, member->score.points);
	}
	if (str_len(members) > 0) {
		event_add_str(event, "vsmlist_members", str_c(members));
		event_add_str(event, "vsmlist_status", str_c(statuses));
	}
	event_add_int(event, "vsmlist_points", points);
	event_add_int(event, "vsmlist_disabled", outcome->disabled);
	event_add_int(event, "vsmlist_failed_recipients",
		      outcome->hard_failures);
	event_add_int(event, "vsmlist_non_members", outcome->non_members);
	if (outcome->envid != NULL)
		event_add_str(event, "vsmlist_envid", outcome->envid);
	if (outcome->note != NULL)
		event_add_str(event, "vsmlist_note", outcome->note);
	if (outcome->reason != NULL) {
		event_add_str(event, outcome->status ==
			      VSMLIST_BOUNCE_DEFERRED ||
			      outcome->status ==
			      VSMLIST_BOUNCE_INVALID_SETTINGS ?
			      "error" : "vsmlist_reason", outcome->reason);
	}
}

enum vsmlist_action_result
vsmlist_bounce_outcome_result(const struct vsmlist_bounce_outcome *outcome)
{
	switch (outcome->status) {
	case VSMLIST_BOUNCE_SCORED:
	case VSMLIST_BOUNCE_NOTHING_COUNTED:
	case VSMLIST_BOUNCE_AUTO_REPLY:
	case VSMLIST_BOUNCE_FORWARDED:
		return VSMLIST_ACTION_HANDLED;
	case VSMLIST_BOUNCE_NOT_A_BOUNCE:
		return VSMLIST_ACTION_KEEP;
	case VSMLIST_BOUNCE_DEFERRED:
		return VSMLIST_ACTION_TEMPFAIL;
	case VSMLIST_BOUNCE_INVALID_SETTINGS:
		break;
	}
	return VSMLIST_ACTION_FAILURE;
}
