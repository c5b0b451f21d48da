/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "istream.h"
#include "message-id.h"
#include "message-date.h"
#include "smtp-address.h"

#include "vsmlist-settings.h"
#include "vsmlist-compose.h"
#include "vsmlist-transport.h"
#include "vsmlist-reply.h"

#include <time.h>

/* "<id>" of the first valid message id of a Message-ID field, or NULL
   when it has none a header may carry as it is */
static const char *reply_message_id(const char *field)
{
	const char *id, *p;

	if (field == NULL)
		return NULL;
	id = message_id_get_next(&field);
	if (id == NULL || strlen(id) > VSMLIST_REPLY_MAX_MESSAGE_ID_LEN)
		return NULL;
	/* Dovecot's parser passes 8-bit octets and unquotes quoted
	   strings: only visible ASCII goes back into a header */
	for (p = id; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '<' || *p == '>')
			return NULL;
	}
	return t_strdup_printf("<%s>", id);
}

const char *vsmlist_reply_compose(const struct vsmlist_settings *set,
				  const struct vsmlist_reply *reply,
				  const char **message_id_r)
{
	string_t *msg = t_str_new(1024);
	const char *reference = reply_message_id(reply->in_reply_to);
	time_t date = reply->date != 0 ? reply->date : time(NULL);

	*message_id_r = vsmlist_compose_message_id(set);
	str_append(msg, vsmlist_compose_from(set, NULL));
	str_append(msg, vsmlist_compose_address_field("To", NULL, reply->to));
	if (reply->reply_to != NULL) {
		str_append(msg, vsmlist_compose_address_field(
			"Reply-To", NULL, reply->reply_to));
	}
	str_append(msg, vsmlist_compose_unstructured_field("Subject",
							   reply->subject));
	str_printfa(msg, "Date: %s\r\n", message_date_create(date));
	str_printfa(msg, "Message-ID: %s\r\n", *message_id_r);
	if (reference != NULL) {
		str_printfa(msg, "In-Reply-To: %s\r\nReferences: %s\r\n",
			    reference, reference);
	}
	/* RFC 3834: no responder answers it; Exchange's own switch too */
	str_append(msg, "Auto-Submitted: auto-replied\r\n"
		   "X-Auto-Response-Suppress: All\r\n");
	str_append(msg, vsmlist_compose_list_id_field(set));
	str_append(msg, vsmlist_compose_trace_field(set));
	str_append(msg, "MIME-Version: 1.0\r\n"
		   "Content-Type: text/plain; charset=utf-8\r\n"
		   "Content-Transfer-Encoding: quoted-printable\r\n"
		   "\r\n");
	str_append(msg, vsmlist_compose_qp(reply->text));
	return str_c(msg);
}

int vsmlist_reply_send(const struct vsmlist_settings *set,
		       const struct vsmlist_transport *transport,
		       const struct smtp_address *to, const char *message,
		       const char **queue_id_r, const char **error_r)
{
	struct vsmlist_transaction trans;
	struct vsmlist_rcpt_result result;
	struct vsmlist_transaction_result trans_result;
	int ret;

	*queue_id_r = NULL;
	i_zero(&trans);
	i_zero(&result);
	i_zero(&trans_result);
	trans.mail_from = set->bounce_address;
	trans.rcpts = &to;
	trans.rcpt_count = 1;
	/* Quoted-printable under GMime-encoded fields: 7-bit */
	trans.input = i_stream_create_from_data(message, strlen(message));
	ret = transport->send(transport->context, &trans, &result,
			      &trans_result);
	i_stream_unref(&trans.input);

	if (ret < 0 || (ret > 0 && result.status == VSMLIST_RCPT_DEFERRED)) {
		*error_r = ret < 0 ? trans_result.error : result.reply;
		ret = -1;
	} else if (ret == 0 || result.status != VSMLIST_RCPT_SENT) {
		*error_r = ret == 0 ? trans_result.error : result.reply;
		ret = 0;
	} else {
		*queue_id_r = vsmlist_transport_queue_id(
			trans_result.data_reply);
	}
	if (ret <= 0 && *error_r == NULL)
		*error_r = "unknown error";
	return ret;
}
