#ifndef VSMLIST_REPLY_H
#define VSMLIST_REPLY_H

struct smtp_address;
struct vsmlist_settings;
struct vsmlist_transport;

/* "List mail": a short text the list itself writes to one person (a
   membership confirmation request or reply, a notice to the owner, a
   bounce notice), and its sending through the posts' transport. It is
   marked as the list's own (X-Loop, List-Id) and as an automatic reply
   (Auto-Submitted: auto-replied), so that a reply loop stops at the
   guard; every header field is composed by GMime (vsmlist-compose), none
   holds raw text of the mail it answers. No Sieve dependency. */

struct vsmlist_reply {
	/* The recipient: To: and RCPT TO */
	const struct smtp_address *to;
	/* Reply-To:, or NULL */
	const struct smtp_address *reply_to;
	/* UTF-8; see vsmlist_compose_unstructured_field() */
	const char *subject;
	/* The Message-ID field of the mail answered, as received, or NULL:
	   its first valid message id becomes In-Reply-To and References */
	const char *in_reply_to;
	/* UTF-8 text (lines ending in LF or CRLF), sent quoted-printable */
	const char *text;
	/* Date:; 0 = now */
	time_t date;
};

/* A message id of the mail answered longer than this is not referred to */
#define VSMLIST_REPLY_MAX_MESSAGE_ID_LEN 250

/* The whole message, lines ending in CRLF. message_id_r gets its new
   Message-ID. */
const char *vsmlist_reply_compose(const struct vsmlist_settings *set,
				  const struct vsmlist_reply *reply,
				  const char **message_id_r);

/* Send message to one recipient in one transaction, the list's bounce
   address as envelope sender. Returns 1 when the relay took it
   (queue_id_r: its queue id, or NULL), 0 when it refused it
   permanently, -1 on a temporary failure; error_r says why for 0 and
   -1. */
int vsmlist_reply_send(const struct vsmlist_settings *set,
		       const struct vsmlist_transport *transport,
		       const struct smtp_address *to, const char *message,
		       const char **queue_id_r, const char **error_r);

#endif
