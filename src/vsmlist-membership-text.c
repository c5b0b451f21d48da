/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* What the list writes about membership: the confirmation request, the
   replies, the welcome and goodbye, the owner's notice. */

#include "lib.h"
#include "message-date.h"
#include "smtp-address.h"

#include "vsmlist-settings.h"
#include "vsmlist-compose.h"
#include "vsmlist-membership-private.h"

/* sieve_vsmlist_welcome and _goodbye may use the first four (the settings
   check that: vsmlist_membership_text_variables[]); the built-in texts
   all of them */
static const char *const text_variables[] = {
	"list", "list_name", "address", "unsubscribe",
	"subscribe", "confirm", "expires", "request", NULL
};

#define TEXT_IGNORE \
	"If you did not ask for this, ignore this message: nothing happens " \
	"without your confirmation. The request expires on %{expires}.\n"
#define TEXT_HOW_TO_CONFIRM \
	"To confirm, reply to this message, or send a message to " \
	"%{confirm} (its subject and text do not matter).\n\n"

static const char *const text_confirm_subscribe =
	"Someone, probably you, asked to add %{address} to the "
	"%{list_name} list (%{list}).\n\n"
	TEXT_HOW_TO_CONFIRM TEXT_IGNORE;
static const char *const text_confirm_unsubscribe =
	"Someone, probably you, asked to remove %{address} from the "
	"%{list_name} list (%{list}).\n\n"
	TEXT_HOW_TO_CONFIRM TEXT_IGNORE;
static const char *const text_welcome =
	"Welcome to the %{list_name} list: %{address} is a member now.\n\n"
	"To write to the list, send your message to %{list}. To leave it, "
	"send a message to %{unsubscribe}.\n";
static const char *const text_goodbye =
	"%{address} has left the %{list_name} list (%{list}) and gets no "
	"more of its mail.\n\n"
	"To join again, send a message to %{subscribe}.\n";
static const char *const text_already_member =
	"%{address} is a member of the %{list_name} list (%{list}) "
	"already: nothing has changed.\n\n"
	"To leave the list, send a message to %{unsubscribe}.\n";
static const char *const text_not_member =
	"%{address} is not a member of the %{list_name} list (%{list}): "
	"nothing has changed.\n\n"
	"To join the list, send a message to %{subscribe}.\n";
static const char *const text_closed =
	"The %{list_name} list (%{list}) takes no new members by mail: "
	"nothing has changed. Its owner can add you.\n";
static const char *const text_bad_token =
	"Your message to the %{list_name} list (%{list}) looked like a "
	"confirmation, but its confirmation code is not valid for "
	"%{address}: it was changed on the way, or it was sent to another "
	"address. Nothing has changed.\n\n"
	"To start again, send a message to %{subscribe} to join the list, "
	"or to %{unsubscribe} to leave it.\n";
static const char *const text_expired_token =
	"Your confirmation for the %{list_name} list (%{list}) came too "
	"late: nothing has changed.\n\n"
	"To start again, send a message to %{request}.\n";

static const char *
text_subject(const struct vsmlist_settings *set,
	     const struct vsmlist_membership_text *text)
{
	bool subscribe = text->action == VSMLIST_TOKEN_ACTION_SUBSCRIBE;

	switch (text->kind) {
	case VSMLIST_MEMBERSHIP_REPLY_CONFIRM:
		/* "confirm <token>" first: the Subject of a reply is a
		   confirmation too (vsmlist_membership_request_parse()) */
		return t_strdup_printf("confirm %s (%s %s)", text->token,
			subscribe ? "subscribe to" : "unsubscribe from",
			smtp_address_encode(set->address));
	case VSMLIST_MEMBERSHIP_REPLY_WELCOME:
		return t_strdup_printf("Welcome to the %s list",
				       set->name);
	case VSMLIST_MEMBERSHIP_REPLY_GOODBYE:
		return t_strdup_printf("You have left the %s list",
				       set->name);
	case VSMLIST_MEMBERSHIP_REPLY_ALREADY_MEMBER:
		return t_strdup_printf("Already a member of the %s list",
				       set->name);
	case VSMLIST_MEMBERSHIP_REPLY_NOT_MEMBER:
		return t_strdup_printf("Not a member of the %s list",
				       set->name);
	case VSMLIST_MEMBERSHIP_REPLY_CLOSED:
		return t_strdup_printf("The %s list takes no new members by "
				       "mail", set->name);
	case VSMLIST_MEMBERSHIP_REPLY_BAD_TOKEN:
		return t_strdup_printf("Confirmation for the %s list not "
				       "accepted", set->name);
	case VSMLIST_MEMBERSHIP_REPLY_EXPIRED_TOKEN:
		return t_strdup_printf("Confirmation for the %s list expired",
				       set->name);
	case VSMLIST_MEMBERSHIP_REPLY_NONE:
		break;
	}
	i_unreached();
}

static const char *
text_template(const struct vsmlist_settings *set,
	      const struct vsmlist_membership_text *text)
{
	switch (text->kind) {
	case VSMLIST_MEMBERSHIP_REPLY_CONFIRM:
		return text->action == VSMLIST_TOKEN_ACTION_SUBSCRIBE ?
			text_confirm_subscribe : text_confirm_unsubscribe;
	case VSMLIST_MEMBERSHIP_REPLY_WELCOME:
		return set->welcome != NULL ? set->welcome : text_welcome;
	case VSMLIST_MEMBERSHIP_REPLY_GOODBYE:
		return set->goodbye != NULL ? set->goodbye : text_goodbye;
	case VSMLIST_MEMBERSHIP_REPLY_ALREADY_MEMBER:
		return text_already_member;
	case VSMLIST_MEMBERSHIP_REPLY_NOT_MEMBER:
		return text_not_member;
	case VSMLIST_MEMBERSHIP_REPLY_CLOSED:
		return text_closed;
	case VSMLIST_MEMBERSHIP_REPLY_BAD_TOKEN:
		return text_bad_token;
	case VSMLIST_MEMBERSHIP_REPLY_EXPIRED_TOKEN:
		return text_expired_token;
	case VSMLIST_MEMBERSHIP_REPLY_NONE:
		break;
	}
	i_unreached();
}

static const char *const text_owner_subscribed =
	"%{address} has joined the %{list_name} list (%{list}): the request "
	"was confirmed by mail from that address.\n";
static const char *const text_owner_reenabled =
	"%{address}, a member disabled by bounces, is enabled again on the "
	"%{list_name} list (%{list}): the request was confirmed by mail from "
	"that address.\n";
static const char *const text_owner_unsubscribed =
	"%{address} has left the %{list_name} list (%{list}): the request "
	"was confirmed by mail from that address.\n";

static const char *detail_address(const struct vsmlist_settings *set,
				  const char *detail)
{
	return smtp_address_encode(vsmlist_settings_detail_address(
		pool_datastack_create(), set, detail));
}

/* template with text_variables[] expanded (no value is expanded again:
   an address may hold '%') */
static const char *
text_expand(const struct vsmlist_settings *set, const char *template,
	    const char *address, const struct vsmlist_membership_text *text)
{
	const char *subscribe = detail_address(set, "subscribe");
	const char *unsubscribe = detail_address(set, "unsubscribe");
	/* In the order of text_variables[] */
	const char *const values[] = {
		smtp_address_encode(set->address), set->name, address,
		unsubscribe, subscribe,
		text == NULL || text->confirm_address == NULL ? "" :
		smtp_address_encode(text->confirm_address),
		text == NULL || text->expires == 0 ? "" :
		message_date_create(text->expires),
		text != NULL &&
		text->action == VSMLIST_TOKEN_ACTION_UNSUBSCRIBE ?
		unsubscribe : subscribe,
	};

	i_assert(str_array_length(text_variables) == N_ELEMENTS(values));
	return vsmlist_compose_text(template, text_variables, values);
}

void vsmlist_membership_text(const struct vsmlist_settings *set,
			     const struct vsmlist_membership_text *text,
			     const char **subject_r, const char **body_r)
{
	*subject_r = text_subject(set, text);
	*body_r = text_expand(set, text_template(set, text),
			      smtp_address_encode(text->address), text);
}

void vsmlist_membership_owner_text(const struct vsmlist_settings *set,
				   const struct vsmlist_membership_outcome *outcome,
				   const char **subject_r,
				   const char **body_r)
{
	bool subscribed = outcome->result == VSMLIST_MEMBERSHIP_SUBSCRIBED;

	*subject_r = t_strdup_printf("%s: %s %s", set->name,
				     outcome->address, subscribed ?
				     "subscribed" : "unsubscribed");
	*body_r = text_expand(set, !subscribed ? text_owner_unsubscribed :
			      (outcome->reenabled ? text_owner_reenabled :
			       text_owner_subscribed),
			      outcome->address, NULL);
}
