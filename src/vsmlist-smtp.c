/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "net.h"
#include "hostpid.h"
#include "str.h"
#include "istream.h"
#include "smtp-address.h"
#include "smtp-params.h"
#include "smtp-reply.h"
#include "smtp-client.h"
#include "smtp-client-connection.h"
#include "smtp-client-command.h"
#include "smtp-client-transaction.h"

#include "vsmlist-smtp.h"

struct vsmlist_smtp {
	pool_t pool;
	struct event *event;
	struct vsmlist_smtp_settings set;
	const char *host;
	in_port_t port;
	enum smtp_client_connection_ssl_mode ssl_mode;

	struct ioloop *ioloop;
	struct smtp_client *client;
	struct smtp_client_connection *conn;
	unsigned int connections;

	/* Replies of the current transaction live here */
	pool_t trans_pool;

	/* Connecting */
	const char *connect_error;
	bool connect_done;
};

struct vsmlist_smtp_trans;

struct vsmlist_smtp_rcpt {
	struct vsmlist_smtp_trans *trans;
	unsigned int index;
};

/* The state of one transaction */
struct vsmlist_smtp_trans {
	struct vsmlist_smtp *smtp;
	struct vsmlist_rcpt_result *results;
	unsigned int rcpt_count;
	/* Recipients the relay accepted at RCPT */
	unsigned int rcpts_accepted;

	/* MAIL FROM refused */
	const struct smtp_reply *mail_failure;
	/* The DATA reply */
	const struct smtp_reply *data_reply;
	/* The first failure that is not the relay's answer (connection,
	   timeout): the transaction failed temporarily */
	const struct smtp_reply *local_failure;

	bool finished:1;
};

static enum smtp_client_connection_ssl_mode
vsmlist_smtp_ssl_mode(enum vsmlist_relay_ssl ssl)
{
	switch (ssl) {
	case VSMLIST_RELAY_SSL_UNSET:
	case VSMLIST_RELAY_SSL_NO:
		break;
	case VSMLIST_RELAY_SSL_IMMEDIATE:
		return SMTP_CLIENT_SSL_MODE_IMMEDIATE;
	case VSMLIST_RELAY_SSL_STARTTLS:
		return SMTP_CLIENT_SSL_MODE_STARTTLS;
	}
	return SMTP_CLIENT_SSL_MODE_NONE;
}

int vsmlist_smtp_init(const struct vsmlist_smtp_settings *set,
		      struct event *event_parent,
		      struct vsmlist_smtp **smtp_r, const char **error_r)
{
	struct smtp_client_settings smtp_set;
	struct vsmlist_smtp *smtp;
	struct ioloop *prev_ioloop = current_ioloop;
	pool_t pool;

	i_assert(set->timeout_msecs > 0);

	if (set->host == NULL || *set->host == '\0' || set->port == 0) {
		*error_r = "no relay host";
		return -1;
	}

	pool = pool_alloconly_create("vsmlist smtp", 1024);
	smtp = p_new(pool, struct vsmlist_smtp, 1);
	smtp->pool = pool;
	smtp->set = *set;
	smtp->host = p_strdup(pool, set->host);
	smtp->port = set->port;
	smtp->ssl_mode = vsmlist_smtp_ssl_mode(set->ssl);
	smtp->event = event_create(event_parent);
	event_set_append_log_prefix(smtp->event, t_strdup_printf(
		"smtp(%s:%u): ", smtp->host, smtp->port));
	smtp->trans_pool = pool_alloconly_create("vsmlist smtp transaction",
						 1024);

	i_zero(&smtp_set);
	smtp_set.my_hostname = (set->my_hostname != NULL &&
				*set->my_hostname != '\0' ?
				set->my_hostname : my_hostdomain());
	smtp_set.connect_timeout_msecs = set->timeout_msecs;
	smtp_set.command_timeout_msecs = set->timeout_msecs;
	smtp_set.ssl = set->ssl_set;
	smtp_set.debug = set->debug;
	smtp_set.event_parent = smtp->event;

	/* The client and its connection belong to a private ioloop, made
	   current only while a transaction runs */
	smtp->ioloop = io_loop_create();
	smtp->client = smtp_client_init(&smtp_set);
	smtp->conn = smtp_client_connection_create(
		smtp->client, SMTP_PROTOCOL_SMTP, smtp->host, smtp->port,
		smtp->ssl_mode, NULL);
	io_loop_set_current(prev_ioloop);

	*smtp_r = smtp;
	return 0;
}

static void vsmlist_smtp_quit_callback(const struct smtp_reply *reply,
				       struct vsmlist_smtp *smtp)
{
	e_debug(smtp->event, "QUIT: %s", smtp_reply_log(reply));
	io_loop_stop(smtp->ioloop);
}

static void vsmlist_smtp_quit_timeout(struct vsmlist_smtp *smtp)
{
	e_debug(smtp->event, "no reply to QUIT");
	io_loop_stop(smtp->ioloop);
}

void vsmlist_smtp_deinit(struct vsmlist_smtp **_smtp)
{
	struct vsmlist_smtp *smtp = *_smtp;
	struct ioloop *prev_ioloop = current_ioloop;
	struct smtp_client_command *cmd;
	struct timeout *to;

	if (smtp == NULL)
		return;
	*_smtp = NULL;

	io_loop_set_current(smtp->ioloop);
	if (smtp_client_connection_get_state(smtp->conn) ==
	    SMTP_CLIENT_CONNECTION_STATE_READY) {
		/* Say goodbye, but never wait long for it */
		cmd = smtp_client_command_new(smtp->conn, 0,
					      vsmlist_smtp_quit_callback,
					      smtp);
		smtp_client_command_write(cmd, "QUIT");
		smtp_client_command_submit(cmd);
		to = timeout_add_short(I_MIN(smtp->set.timeout_msecs, 1000),
				       vsmlist_smtp_quit_timeout, smtp);
		io_loop_run(smtp->ioloop);
		timeout_remove(&to);
	}
	smtp_client_connection_close(&smtp->conn);
	smtp_client_deinit(&smtp->client);
	io_loop_destroy(&smtp->ioloop);
	if (prev_ioloop != current_ioloop)
		io_loop_set_current(prev_ioloop);

	event_unref(&smtp->event);
	pool_unref(&smtp->trans_pool);
	pool_unref(&smtp->pool);
}

static const char *
vsmlist_smtp_reply_text(struct vsmlist_smtp_trans *strans,
			const char *command, const struct smtp_reply *reply)
{
	return p_strdup_printf(strans->smtp->trans_pool, "%s: %s", command,
			       smtp_reply_log(reply));
}

/* Not an answer of the relay: the connection or a timeout */
static bool vsmlist_smtp_reply_is_local(const struct smtp_reply *reply)
{
	return !smtp_reply_is_remote(reply) ||
		reply->status == SMTP_CLIENT_COMMAND_ERROR_CONNECTION_CLOSED;
}

static void
vsmlist_smtp_note_failure(struct vsmlist_smtp_trans *strans,
			  const struct smtp_reply *reply)
{
	if (strans->local_failure == NULL && vsmlist_smtp_reply_is_local(reply))
		strans->local_failure =
			smtp_reply_clone(strans->smtp->trans_pool, reply);
}

static void
vsmlist_smtp_rcpt_failed(struct vsmlist_smtp_rcpt *rcpt,
			 const char *command, const struct smtp_reply *reply)
{
	struct vsmlist_smtp_trans *strans = rcpt->trans;
	struct vsmlist_rcpt_result *result = &strans->results[rcpt->index];

	vsmlist_smtp_note_failure(strans, reply);
	result->status = (smtp_reply_is_temp_fail(reply) ||
			  vsmlist_smtp_reply_is_local(reply) ?
			  VSMLIST_RCPT_DEFERRED : VSMLIST_RCPT_REJECTED);
	result->reply = vsmlist_smtp_reply_text(strans, command, reply);
	/* RFC 5321 4.5.3.1.10: the relay's recipient limit (4.5.3; not
	   452 4.2.2 "mailbox full") */
	result->too_many_rcpts =
		(reply->status == 452 && strcmp(command, "RCPT TO") == 0 &&
		 (!smtp_reply_has_enhanced_code(reply) ||
		  (reply->enhanced_code.y == 5 && reply->enhanced_code.z == 3)));
}

static void
vsmlist_smtp_rcpt_callback(const struct smtp_reply *reply,
			   struct vsmlist_smtp_rcpt *rcpt)
{
	if (!smtp_reply_is_success(reply))
		vsmlist_smtp_rcpt_failed(rcpt, "RCPT TO", reply);
	else
		rcpt->trans->rcpts_accepted++;
}

static void
vsmlist_smtp_rcpt_data_callback(const struct smtp_reply *reply,
				struct vsmlist_smtp_rcpt *rcpt)
{
	struct vsmlist_smtp_trans *strans = rcpt->trans;

	if (smtp_reply_is_success(reply))
		strans->results[rcpt->index].status = VSMLIST_RCPT_SENT;
	else
		vsmlist_smtp_rcpt_failed(rcpt, "DATA", reply);
}

static void
vsmlist_smtp_mail_callback(const struct smtp_reply *reply,
			   struct vsmlist_smtp_trans *strans)
{
	if (smtp_reply_is_success(reply))
		return;
	vsmlist_smtp_note_failure(strans, reply);
	strans->mail_failure = smtp_reply_clone(strans->smtp->trans_pool,
						reply);
}

static void
vsmlist_smtp_data_callback(const struct smtp_reply *reply,
			   struct vsmlist_smtp_trans *strans)
{
	if (!smtp_reply_is_success(reply))
		vsmlist_smtp_note_failure(strans, reply);
	strans->data_reply = smtp_reply_clone(strans->smtp->trans_pool, reply);
}

static void vsmlist_smtp_finished(struct vsmlist_smtp_trans *strans)
{
	strans->finished = TRUE;
	io_loop_stop(strans->smtp->ioloop);
}

/* The transaction's status from what the relay said */
static int
vsmlist_smtp_trans_status(struct vsmlist_smtp_trans *strans,
			  const char **error_r, const char **data_reply_r)
{
	const struct smtp_reply *reply;
	unsigned int i;

	if (strans->local_failure != NULL) {
		*error_r = smtp_reply_log(strans->local_failure);
		return -1;
	}
	if (strans->mail_failure != NULL) {
		/* The whole transaction was refused: the recipients saw
		   the MAIL reply, not their own */
		reply = strans->mail_failure;
		*error_r = t_strconcat("MAIL FROM: ", smtp_reply_log(reply),
				       NULL);
		for (i = 0; i < strans->rcpt_count; i++) {
			strans->results[i].status = VSMLIST_RCPT_PENDING;
			strans->results[i].reply = NULL;
		}
		return smtp_reply_is_temp_fail(reply) ? -1 : 0;
	}
	if (strans->rcpts_accepted == 0) {
		/* Every RCPT refused: that is each member's own result */
		return 1;
	}
	reply = strans->data_reply;
	if (reply == NULL) {
		*error_r = "transaction ended without a DATA reply";
		return -1;
	}
	if (!smtp_reply_is_success(reply)) {
		*error_r = t_strconcat("DATA: ", smtp_reply_log(reply), NULL);
		return smtp_reply_is_temp_fail(reply) ? -1 : 0;
	}
	*data_reply_r = t_strdup(smtp_reply_log(reply));
	return 1;
}

static void
vsmlist_smtp_login_callback(const struct smtp_reply *reply,
			    struct vsmlist_smtp *smtp)
{
	if (!smtp_reply_is_success(reply)) {
		smtp->connect_error = p_strdup(smtp->trans_pool,
					       smtp_reply_log(reply));
	}
	smtp->connect_done = TRUE;
	io_loop_stop(smtp->ioloop);
}

static void vsmlist_smtp_poll_done(struct vsmlist_smtp *smtp)
{
	io_loop_stop(smtp->ioloop);
}

/* Connect (and say EHLO) unless connected: the MAIL parameters depend on
   the relay's capabilities. Bounded by the connect and command timeouts.
   A connection is opened once per post: one the relay dropped is a
   temporary failure. Runs in the private ioloop. */
static int vsmlist_smtp_connect(struct vsmlist_smtp *smtp,
				const char **error_r)
{
	struct timeout *to;

	if (smtp->connections > 0) {
		/* Notice a connection the relay closed since the last
		   transaction before writing to it */
		to = timeout_add_short(0, vsmlist_smtp_poll_done, smtp);
		io_loop_run(smtp->ioloop);
		timeout_remove(&to);
	}
	switch (smtp_client_connection_get_state(smtp->conn)) {
	case SMTP_CLIENT_CONNECTION_STATE_READY:
	case SMTP_CLIENT_CONNECTION_STATE_TRANSACTION:
		return 0;
	default:
		break;
	}
	if (smtp->connections > 0) {
		/* The relay dropped the connection (restart, overload):
		   leave the rest to the MTA's retry rather than hammer it;
		   the progress record keeps the retry from duplicating */
		*error_r = "connection to the relay lost";
		return -1;
	}
	smtp->connections++;
	smtp->connect_done = FALSE;
	smtp->connect_error = NULL;
	smtp_client_connection_connect(
		smtp->conn,
		(smtp_client_command_callback_t *)vsmlist_smtp_login_callback,
		smtp);
	if (!smtp->connect_done)
		io_loop_run(smtp->ioloop);
	if (smtp->connect_error != NULL) {
		*error_r = t_strdup(smtp->connect_error);
		return -1;
	}
	return 0;
}

int vsmlist_smtp_send(struct vsmlist_smtp *smtp,
		      const struct vsmlist_transaction *trans,
		      struct vsmlist_rcpt_result *results,
		      struct vsmlist_transaction_result *result_r)
{
	const char **error_r = &result_r->error;
	struct ioloop *prev_ioloop = current_ioloop;
	struct smtp_client_transaction *smtp_trans;
	struct smtp_params_mail mail_params;
	struct vsmlist_smtp_trans strans;
	struct vsmlist_smtp_rcpt *rcpts;
	unsigned int i;
	int ret;

	i_assert(trans->rcpt_count > 0);

	p_clear(smtp->trans_pool);
	i_zero(&strans);
	strans.smtp = smtp;
	strans.results = results;
	strans.rcpt_count = trans->rcpt_count;

	io_loop_set_current(smtp->ioloop);
	if (vsmlist_smtp_connect(smtp, error_r) < 0) {
		io_loop_set_current(prev_ioloop);
		for (i = 0; i < trans->rcpt_count; i++) {
			results[i].status = VSMLIST_RCPT_DEFERRED;
			results[i].reply = *error_r;
		}
		return -1;
	}

	i_zero(&mail_params);
	if (trans->body_8bit &&
	    (smtp_client_connection_get_capabilities(smtp->conn) &
	     SMTP_CAPABILITY_8BITMIME) != 0) {
		/* A relay without 8BITMIME gets the octets anyway, as
		   sendmail would give them (RFC 6152 leaves it to us) */
		mail_params.body.type = SMTP_PARAM_MAIL_BODY_TYPE_8BITMIME;
	}

	smtp_trans = smtp_client_transaction_create(
		smtp->conn, trans->mail_from, &mail_params, 0,
		vsmlist_smtp_finished, &strans);
	smtp_client_transaction_set_event(smtp_trans, smtp->event);
	smtp_client_transaction_start(smtp_trans, vsmlist_smtp_mail_callback,
				      &strans);
	rcpts = p_new(smtp->trans_pool, struct vsmlist_smtp_rcpt,
		      trans->rcpt_count);
	for (i = 0; i < trans->rcpt_count; i++) {
		rcpts[i].trans = &strans;
		rcpts[i].index = i;
		(void)smtp_client_transaction_add_rcpt(
			smtp_trans, trans->rcpts[i], NULL,
			vsmlist_smtp_rcpt_callback,
			vsmlist_smtp_rcpt_data_callback, &rcpts[i]);
	}
	/* The whole transaction is bounded too, not only each reply */
	smtp_client_transaction_set_timeout(smtp_trans,
					    smtp->set.timeout_msecs);
	smtp_client_transaction_send(smtp_trans, trans->input,
				     vsmlist_smtp_data_callback, &strans);
	if (!strans.finished)
		io_loop_run(smtp->ioloop);
	/* A finished transaction has already dropped the reference we got
	   at creation */
	if (!strans.finished)
		smtp_client_transaction_destroy(&smtp_trans);
	io_loop_set_current(prev_ioloop);

	ret = vsmlist_smtp_trans_status(&strans, error_r, &result_r->data_reply);
	if (ret < 0) {
		/* Not sent: those accepted at RCPT wait for the retry */
		for (i = 0; i < trans->rcpt_count; i++) {
			if (results[i].status == VSMLIST_RCPT_PENDING ||
			    results[i].status == VSMLIST_RCPT_SENT) {
				results[i].status = VSMLIST_RCPT_DEFERRED;
				results[i].reply = *error_r;
			}
		}
	}
	e_debug(smtp->event, "transaction: %u recipient(s), status %d%s%s",
		trans->rcpt_count, ret, ret <= 0 ? ": " : "",
		ret <= 0 ? *error_r : "");
	return ret;
}

static int
vsmlist_smtp_transport_send(void *context,
			    const struct vsmlist_transaction *trans,
			    struct vsmlist_rcpt_result *results,
			    struct vsmlist_transaction_result *result_r)
{
	return vsmlist_smtp_send(context, trans, results, result_r);
}

void vsmlist_smtp_get_transport(struct vsmlist_smtp *smtp,
				struct vsmlist_transport *transport_r)
{
	i_zero(transport_r);
	transport_r->send = vsmlist_smtp_transport_send;
	transport_r->context = smtp;
}

const char *vsmlist_smtp_get_relay(struct vsmlist_smtp *smtp)
{
	if (strchr(smtp->host, ':') != NULL)
		return t_strdup_printf("[%s]:%u", smtp->host, smtp->port);
	return t_strdup_printf("%s:%u", smtp->host, smtp->port);
}

unsigned int vsmlist_smtp_get_connections(struct vsmlist_smtp *smtp)
{
	return smtp->connections;
}
