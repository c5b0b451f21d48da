/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "safe-memset.h"
#include "smtp-address.h"

#include "vsmlist-settings.h"
#include "vsmlist-message.h"
#include "vsmlist-guard.h"
#include "vsmlist-store.h"
#include "vsmlist-token.h"
#include "vsmlist-ratelimit.h"
#include "vsmlist-reply.h"
#include "vsmlist-membership-private.h"

#include <time.h>

/* The rate limit's window */
#define MEMBERSHIP_LIMIT_WINDOW_SECS (24*3600)

struct membership {
	pool_t pool;
	const struct vsmlist_delivery *params;
	const struct vsmlist_settings *set;
	struct vsmlist_membership_outcome *outcome;
	time_t now;

	/* The mail's header, and its Message-ID field */
	ARRAY_TYPE(vsmlist_header_field) fields;
	const char *message_id;
	/* Who the request is about (and whom the list answers) */
	const struct smtp_address *address;
	/* A confirmation's token is for this action */
	enum vsmlist_token_action action;

	struct vsmlist_token_secret secret;
	struct vsmlist_store *store;
};

static void
membership_end(struct membership *m, enum vsmlist_membership_result result,
	       const char *reason)
{
	m->outcome->result = result;
	m->outcome->reason = (reason == NULL ? NULL :
			      p_strdup(m->pool, reason));
}

static void membership_note(struct membership *m, const char *note)
{
	struct vsmlist_membership_outcome *outcome = m->outcome;

	outcome->note = (outcome->note == NULL ?
			 p_strdup(m->pool, note) :
			 p_strdup_printf(m->pool, "%s; %s", outcome->note,
					 note));
}

static void membership_set_address(struct membership *m,
				   const struct smtp_address *address)
{
	m->address = smtp_address_clone(m->pool, address);
	m->outcome->address = p_strdup(m->pool, smtp_address_encode(address));
}

/* Returns 0, or -1 when the outcome is decided */
static int membership_read_header(struct membership *m)
{
	struct istream *input = m->params->input;
	const char *const *values, *malformed, *error;

	p_array_init(&m->fields, m->pool, 32);
	i_stream_seek(input, 0);
	if (vsmlist_message_read_header(input, m->pool, &m->fields,
					&malformed, &error) < 0) {
		membership_end(m, VSMLIST_MEMBERSHIP_DEFERRED,
			t_strdup_printf("failed to read the mail: %s", error));
		return -1;
	}
	if (malformed != NULL) {
		membership_end(m, VSMLIST_MEMBERSHIP_MALFORMED, malformed);
		return -1;
	}
	values = vsmlist_message_header_values(&m->fields, "Message-ID");
	m->message_id = (values == NULL ? NULL : values[0]);
	return 0;
}

static const char *membership_guard(struct membership *m)
{
	const struct vsmlist_delivery *params = m->params;
	struct vsmlist_guard_input input;

	i_zero(&input);
	input.have_envelope = params->have_envelope;
	input.null_sender = (params->mail_from == NULL);
	input.auto_submitted = vsmlist_message_header_values(
		&m->fields, "Auto-Submitted");
	input.x_loop = vsmlist_message_header_values(
		&m->fields, VSMLIST_LOOP_HEADER);
	input.list_id = vsmlist_message_header_values(&m->fields, "List-Id");
	return vsmlist_guard_check(m->set, &input);
}

/* Returns 0, or -1 when the outcome is decided */
static int membership_store_failed(struct membership *m, const char *error)
{
	membership_end(m, vsmlist_store_get_last_error(m->store) ==
		       VSMLIST_STORE_ERROR_TEMP ?
		       VSMLIST_MEMBERSHIP_DEFERRED : VSMLIST_MEMBERSHIP_FAILED,
		       t_strdup_printf("member store: %s", error));
	return -1;
}

/* Whether address is a member (enabled_r: not disabled). Returns 1, 0, or
   -1 when the outcome is decided. */
static int membership_lookup(struct membership *m, bool *enabled_r)
{
	struct vsmlist_member member;
	pool_t pool;
	const char *error;
	int ret;

	/* One member: a dict looks it up alone, rather than reading a list
	   of any size for every request (a file is read whole either way).
	   Its own pool, gone right after. */
	pool = pool_alloconly_create("vsmlist membership lookup", 1024);
	ret = vsmlist_store_lookup(m->store, m->address, pool, &member,
				   &error);
	if (ret < 0)
		(void)membership_store_failed(m, error);
	*enabled_r = ret > 0 && member.state == VSMLIST_MEMBER_ENABLED;
	pool_unref(&pool);
	return ret;
}

enum membership_send_result {
	MEMBERSHIP_SENT,
	/* Over the rate limit */
	MEMBERSHIP_SEND_LIMITED,
	/* The relay refused it */
	MEMBERSHIP_SEND_REFUSED,
	/* A temporary failure of the relay or the rate limit file */
	MEMBERSHIP_SEND_DEFERRED,
};

/* Send one mail of the list about membership: counted against the rate
   limit of its recipient when limited. error_r says why it was not
   sent. */
static enum membership_send_result
membership_send(struct membership *m, bool limited,
		const struct vsmlist_reply *reply, const char **queue_id_r,
		const char **error_r)
{
	const struct vsmlist_settings *set = m->set;
	enum vsmlist_ratelimit_result limit;
	const char *message, *message_id;
	int ret;

	*queue_id_r = NULL;
	if (limited &&
	    vsmlist_ratelimit_check_and_count(set->confirm_limit_file,
			vsmlist_store_address_key(reply->to),
			set->confirm_limit, MEMBERSHIP_LIMIT_WINDOW_SECS,
			m->now, m->params->event, &limit, error_r) < 0) {
		*error_r = t_strdup_printf("rate limit: %s", *error_r);
		return MEMBERSHIP_SEND_DEFERRED;
	}
	if (limited && limit != VSMLIST_RATELIMIT_ALLOWED) {
		*error_r = limit == VSMLIST_RATELIMIT_LIMITED ?
			t_strdup_printf("it had %u mails about membership "
					"in 24 hours", set->confirm_limit) :
			"the rate limit file is full";
		return MEMBERSHIP_SEND_LIMITED;
	}
	message = vsmlist_reply_compose(set, reply, &message_id);
	ret = vsmlist_reply_send(set, m->params->transport, reply->to,
				 message, queue_id_r, error_r);
	return ret > 0 ? MEMBERSHIP_SENT :
		(ret == 0 ? MEMBERSHIP_SEND_REFUSED :
		 MEMBERSHIP_SEND_DEFERRED);
}

/* The texts' variables for a reply to the requester; a confirmation
   request gets a new token and its confirm address */
static void
membership_text_params(struct membership *m,
		       enum vsmlist_membership_reply kind,
		       struct vsmlist_membership_text *text_r)
{
	const struct vsmlist_settings *set = m->set;
	time_t expires;

	i_zero(text_r);
	text_r->kind = kind;
	text_r->action = m->action;
	text_r->address = m->address;
	if (kind != VSMLIST_MEMBERSHIP_REPLY_CONFIRM)
		return;
	/* Tokens hold a 32-bit expiry */
	expires = m->now + set->confirm_expire_secs;
	if ((uintmax_t)expires > (uint32_t)-1)
		expires = (uint32_t)-1;
	text_r->expires = expires;
	text_r->token = vsmlist_token_create(&m->secret, m->action,
					     set->address, m->address,
					     expires);
	/* The requester was checked to have a key */
	i_assert(text_r->token != NULL);
	text_r->confirm_address = vsmlist_settings_detail_address(
		pool_datastack_create(), set,
		t_strconcat("confirm-", text_r->token, NULL));
}

/* The reply to the requester. When it is the whole outcome (no change was
   made), not sending it decides the outcome; after a change it is a
   note. */
static void
membership_reply(struct membership *m, enum vsmlist_membership_reply kind,
		 bool after_change)
{
	struct vsmlist_membership_outcome *outcome = m->outcome;
	struct vsmlist_membership_text text;
	struct vsmlist_reply reply;
	const char *queue_id, *error;

	outcome->reply = kind;
	membership_text_params(m, kind, &text);
	i_zero(&reply);
	reply.to = m->address;
	reply.reply_to = text.confirm_address;
	reply.in_reply_to = m->message_id;
	reply.date = m->now;
	vsmlist_membership_text(m->set, &text, &reply.subject, &reply.text);

	switch (membership_send(m, TRUE, &reply, &queue_id, &error)) {
	case MEMBERSHIP_SENT:
		outcome->reply_sent = TRUE;
		outcome->queue_id = p_strdup(m->pool, queue_id);
		if (text.confirm_address != NULL &&
		    strlen(text.confirm_address->localpart) >
		    VSMLIST_LOCAL_PART_MAX_LEN) {
			membership_note(m, t_strdup_printf(
				"the confirm address's local part is longer "
				"than %u octets: confirmations rely on the "
				"Subject", VSMLIST_LOCAL_PART_MAX_LEN));
		}
		return;
	case MEMBERSHIP_SEND_LIMITED:
		if (!after_change) {
			membership_end(m, VSMLIST_MEMBERSHIP_RATE_LIMITED,
				       error);
			return;
		}
		break;
	case MEMBERSHIP_SEND_REFUSED:
		if (!after_change) {
			membership_end(m, VSMLIST_MEMBERSHIP_FAILED,
				t_strdup_printf("the relay refused %s: %s",
						outcome->address, error));
			return;
		}
		break;
	case MEMBERSHIP_SEND_DEFERRED:
		if (!after_change) {
			membership_end(m, VSMLIST_MEMBERSHIP_DEFERRED, error);
			return;
		}
		break;
	}
	membership_note(m, t_strdup_printf("no %s sent: %s",
		vsmlist_membership_reply_phrase(kind), error));
}

static void membership_notify_owner(struct membership *m)
{
	const struct vsmlist_settings *set = m->set;
	struct vsmlist_reply reply;
	const char *queue_id, *error;

	if (set->owner == NULL)
		return;
	i_zero(&reply);
	reply.to = set->owner;
	reply.date = m->now;
	vsmlist_membership_owner_text(set, m->outcome, &reply.subject,
				      &reply.text);
	/* Not counted: the owner is the list's own */
	if (membership_send(m, FALSE, &reply, &queue_id, &error) ==
	    MEMBERSHIP_SENT)
		m->outcome->owner_notified = TRUE;
	else {
		membership_note(m, t_strdup_printf(
			"the owner %s was not told: %s",
			smtp_address_encode(set->owner), error));
	}
}

static void membership_request_confirmation(struct membership *m)
{
	membership_end(m, VSMLIST_MEMBERSHIP_CONFIRMATION_SENT, NULL);
	membership_reply(m, VSMLIST_MEMBERSHIP_REPLY_CONFIRM, FALSE);
}

static void membership_subscribe(struct membership *m)
{
	bool enabled;
	int ret;

	m->action = VSMLIST_TOKEN_ACTION_SUBSCRIBE;
	if (m->set->subscription == VSMLIST_SUBSCRIPTION_CLOSED) {
		membership_end(m, VSMLIST_MEMBERSHIP_CLOSED, NULL);
		membership_reply(m, VSMLIST_MEMBERSHIP_REPLY_CLOSED, FALSE);
		return;
	}
	if ((ret = membership_lookup(m, &enabled)) < 0)
		return;
	if (ret > 0 && enabled) {
		membership_end(m, VSMLIST_MEMBERSHIP_ALREADY_MEMBER, NULL);
		membership_reply(m, VSMLIST_MEMBERSHIP_REPLY_ALREADY_MEMBER,
				 FALSE);
		return;
	}
	/* A disabled member confirms to be enabled again */
	membership_request_confirmation(m);
}

static void membership_unsubscribe(struct membership *m)
{
	bool enabled;
	int ret;

	m->action = VSMLIST_TOKEN_ACTION_UNSUBSCRIBE;
	if ((ret = membership_lookup(m, &enabled)) < 0)
		return;
	if (ret == 0) {
		membership_end(m, VSMLIST_MEMBERSHIP_NOT_MEMBER, NULL);
		membership_reply(m, VSMLIST_MEMBERSHIP_REPLY_NOT_MEMBER, FALSE);
		return;
	}
	membership_request_confirmation(m);
}

static bool
membership_enable_callback(struct vsmlist_member *member,
			   time_t now ATTR_UNUSED, void *context ATTR_UNUSED)
{
	return vsmlist_member_reset(member);
}

static void membership_confirmed_subscribe(struct membership *m)
{
	struct vsmlist_membership_outcome *outcome = m->outcome;
	enum vsmlist_store_add_result added;
	const char *error;

	if (m->set->subscription == VSMLIST_SUBSCRIPTION_CLOSED) {
		membership_end(m, VSMLIST_MEMBERSHIP_CLOSED, NULL);
		membership_reply(m, VSMLIST_MEMBERSHIP_REPLY_CLOSED, FALSE);
		return;
	}
	if (vsmlist_store_add(m->store, m->address, &added, &error) < 0) {
		(void)membership_store_failed(m, error);
		return;
	}
	if (added == VSMLIST_STORE_ADD_ALREADY_MEMBER) {
		membership_end(m, VSMLIST_MEMBERSHIP_ALREADY_MEMBER, NULL);
		membership_reply(m, VSMLIST_MEMBERSHIP_REPLY_ALREADY_MEMBER,
				 FALSE);
		return;
	}
	if (added == VSMLIST_STORE_ADD_ALREADY_DISABLED) {
		if (vsmlist_store_update(m->store, m->address,
					 membership_enable_callback, NULL,
					 &error) < 0) {
			(void)membership_store_failed(m, error);
			return;
		}
		outcome->reenabled = TRUE;
	}
	membership_end(m, VSMLIST_MEMBERSHIP_SUBSCRIBED, NULL);
	membership_reply(m, VSMLIST_MEMBERSHIP_REPLY_WELCOME, TRUE);
	membership_notify_owner(m);
}

static void membership_confirmed_unsubscribe(struct membership *m)
{
	const char *error;
	int ret;

	ret = vsmlist_store_remove(m->store, m->address, &error);
	if (ret < 0) {
		(void)membership_store_failed(m, error);
		return;
	}
	if (ret == 0) {
		membership_end(m, VSMLIST_MEMBERSHIP_NOT_MEMBER, NULL);
		membership_reply(m, VSMLIST_MEMBERSHIP_REPLY_NOT_MEMBER, FALSE);
		return;
	}
	membership_end(m, VSMLIST_MEMBERSHIP_UNSUBSCRIBED, NULL);
	membership_reply(m, VSMLIST_MEMBERSHIP_REPLY_GOODBYE, TRUE);
	membership_notify_owner(m);
}

/* The envelope sender is a confirmation's second candidate */
static bool membership_sender_usable(struct membership *m)
{
	const struct vsmlist_delivery *params = m->params;
	const char *reason;

	return params->have_envelope && params->mail_from != NULL &&
		vsmlist_membership_address_usable(m->set, params->mail_from,
						  &reason);
}

/* Check the token against the From mailbox, then the envelope sender.
   Returns the result; m->address is the one it was made for (or, when
   none, the one the list answers). */
static enum vsmlist_token_result
membership_verify(struct membership *m, const struct smtp_address *from)
{
	const struct vsmlist_delivery *params = m->params;
	const struct smtp_address *candidates[2], *answer = NULL;
	enum vsmlist_token_result result, best = VSMLIST_TOKEN_MALFORMED;
	enum vsmlist_token_action action;
	unsigned int i, count = 0;

	if (from != NULL)
		candidates[count++] = from;
	if (membership_sender_usable(m))
		candidates[count++] = params->mail_from;
	i_assert(count > 0);

	for (i = 0; i < count; i++) {
		result = vsmlist_token_verify(&m->secret,
					      m->outcome->request.token,
					      m->set->address, candidates[i],
					      m->now, &action);
		if (result == VSMLIST_TOKEN_OK) {
			m->action = action;
			membership_set_address(m, candidates[i]);
			return result;
		}
		/* Expired is said only of a genuine token: answer the
		   address it was made for */
		if (result == VSMLIST_TOKEN_EXPIRED) {
			best = result;
			answer = candidates[i];
			m->action = action;
		} else if (best != VSMLIST_TOKEN_EXPIRED) {
			best = result;
		}
	}
	membership_set_address(m, answer != NULL ? answer : candidates[0]);
	return best;
}

static void membership_confirm(struct membership *m,
			       const struct smtp_address *from)
{
	struct vsmlist_membership_outcome *outcome = m->outcome;

	outcome->token_checked = TRUE;
	outcome->token_result = membership_verify(m, from);
	outcome->token_action = m->action;
	switch (outcome->token_result) {
	case VSMLIST_TOKEN_OK:
		if (m->action == VSMLIST_TOKEN_ACTION_SUBSCRIBE)
			membership_confirmed_subscribe(m);
		else
			membership_confirmed_unsubscribe(m);
		return;
	case VSMLIST_TOKEN_EXPIRED:
		membership_end(m, VSMLIST_MEMBERSHIP_EXPIRED_TOKEN, NULL);
		membership_reply(m, VSMLIST_MEMBERSHIP_REPLY_EXPIRED_TOKEN,
				 FALSE);
		return;
	case VSMLIST_TOKEN_MALFORMED:
	case VSMLIST_TOKEN_FORGED:
		membership_end(m, VSMLIST_MEMBERSHIP_BAD_TOKEN, NULL);
		membership_reply(m, VSMLIST_MEMBERSHIP_REPLY_BAD_TOKEN, FALSE);
		return;
	}
	i_unreached();
}

/* What is needed before anything is read or sent: a way to send, the
   secret, the store. Returns 0, or -1 when the outcome is decided. */
static int membership_prepare(struct membership *m)
{
	const struct vsmlist_delivery *params = m->params;
	const struct vsmlist_settings *set = m->set;
	const char *error;

	if (set->token_secret == NULL) {
		membership_end(m, VSMLIST_MEMBERSHIP_FAILED,
			"the list user has no home directory for "
			VSMLIST_TOKEN_SECRET_FILE" and "
			VSMLIST_CONFIRM_LIMIT_FILE);
		return -1;
	}
	if (params->transport == NULL) {
		membership_end(m, VSMLIST_MEMBERSHIP_FAILED,
			       params->transport_error);
		return -1;
	}
	if (vsmlist_token_secret_get(set->token_secret, &m->secret,
				     &error) < 0) {
		membership_end(m, VSMLIST_MEMBERSHIP_FAILED, t_strdup_printf(
			"confirmation secret: %s", error));
		return -1;
	}
	if (vsmlist_settings_open_store(set, params->event, &m->store,
					&error) < 0) {
		membership_end(m, VSMLIST_MEMBERSHIP_FAILED, error);
		return -1;
	}
	return 0;
}

static void membership_run(struct membership *m)
{
	const struct vsmlist_delivery *params = m->params;
	struct vsmlist_membership_outcome *outcome = m->outcome;
	struct vsmlist_membership_request *request = &outcome->request;
	const struct smtp_address *from;
	const char *const *values, *reason, *subject;

	if (membership_read_header(m) < 0)
		return;
	reason = membership_guard(m);
	if (reason != NULL) {
		membership_end(m, VSMLIST_MEMBERSHIP_IGNORED, reason);
		return;
	}

	values = vsmlist_message_header_values(&m->fields, "Subject");
	subject = (values == NULL ? NULL : values[0]);
	vsmlist_membership_request_parse(m->set, params->have_envelope ?
					 params->rcpt_to : NULL, subject,
					 request);
	request->token = p_strdup(m->pool, request->token);
	if (request->type == VSMLIST_MEMBERSHIP_REQUEST_NONE) {
		membership_end(m, VSMLIST_MEMBERSHIP_NO_REQUEST,
			       vsmlist_membership_describe_none(
					m->set, params->have_envelope ?
					params->rcpt_to : NULL, subject));
		return;
	}

	from = vsmlist_membership_requester(
		m->set, vsmlist_message_header_values(&m->fields, "From"),
		&reason);
	if (from != NULL)
		membership_set_address(m, from);
	else if (request->type != VSMLIST_MEMBERSHIP_REQUEST_CONFIRM ||
		 !membership_sender_usable(m)) {
		/* A confirmation may come from its envelope sender */
		membership_end(m, VSMLIST_MEMBERSHIP_INVALID_REQUESTER,
			       reason);
		return;
	}
	if (membership_prepare(m) < 0)
		return;

	switch (request->type) {
	case VSMLIST_MEMBERSHIP_REQUEST_SUBSCRIBE:
		membership_subscribe(m);
		break;
	case VSMLIST_MEMBERSHIP_REQUEST_UNSUBSCRIBE:
		membership_unsubscribe(m);
		break;
	case VSMLIST_MEMBERSHIP_REQUEST_CONFIRM:
		membership_confirm(m, from);
		break;
	case VSMLIST_MEMBERSHIP_REQUEST_NONE:
		i_unreached();
	}
}

void vsmlist_membership(pool_t pool,
			const struct vsmlist_delivery *params,
			struct vsmlist_membership_outcome *outcome_r)
{
	struct membership m;

	i_zero(outcome_r);
	i_zero(&m);
	m.pool = pool;
	m.params = params;
	m.set = params->set;
	m.outcome = outcome_r;
	m.now = params->now != 0 ? params->now : time(NULL);
	if (m.set == NULL) {
		membership_end(&m, VSMLIST_MEMBERSHIP_INVALID_SETTINGS,
			       params->settings_error);
		return;
	}
	outcome_r->list = p_strdup(pool, smtp_address_encode(m.set->address));
	outcome_r->relay = p_strdup(pool, params->relay);

	T_BEGIN {
		membership_run(&m);
	} T_END;
	vsmlist_store_close(&m.store);
	safe_memset(&m.secret, 0, sizeof(m.secret));
}
