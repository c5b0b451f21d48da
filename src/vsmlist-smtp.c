/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "net.h"
#include "hostpid.h"
#include "str.h"
#include "istream.h"
#include "istream-crlf.h"
#include "smtp-address.h"
#include "smtp-params.h"
#include "smtp-syntax.h"
#include "smtp-reply.h"
#include "smtp-client.h"
#include "smtp-client-connection.h"
#include "smtp-client-command.h"

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
	/* The RCPT lines of one command being composed */
	string_t *rcpt_lines;

	/* Connecting */
	const char *connect_error;
	bool connect_done;
	/* The last transaction left the relay in a transaction (it did not
	   take the message): RSET before the next one */
	bool reset_needed;
};

/* RCPTs written as one lib-smtp command with a reply per recipient.
   lib-smtp spends an event and a pool on every command, and walks the
   commands waiting for a reply whenever it sends one; one command per
   recipient made that the bulk of a fan-out's CPU time (doc/fanout.md).
   With PIPELINING the relay sees the same RCPT lines either way. */
#define VSMLIST_SMTP_RCPTS_PER_COMMAND 100

struct vsmlist_smtp_trans;

/* One RCPT command: recipients first .. first + count - 1 */
struct vsmlist_smtp_rcpt_command {
	struct vsmlist_smtp_trans *strans;
	unsigned int first, count;
	/* Recipients answered so far */
	unsigned int replied;
};

/* The state of one transaction */
struct vsmlist_smtp_trans {
	struct vsmlist_smtp *smtp;
	const struct vsmlist_transaction *trans;
	struct vsmlist_rcpt_result *results;
	/* Commands submitted whose last reply (or failure) has not come:
	   the transaction runs until there are none */
	unsigned int commands_pending;
	/* Recipients the relay accepted at RCPT */
	unsigned int rcpts_accepted;
	/* Bounds the whole transaction */
	struct timeout *to;

	/* MAIL FROM refused */
	const struct smtp_reply *mail_failure;
	/* The DATA reply */
	const struct smtp_reply *data_reply;
	/* The first failure that is not the relay's answer (connection,
	   timeout): the transaction failed temporarily */
	const struct smtp_reply *local_failure;
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

bool vsmlist_smtp_host_is_loopback(const char *host)
{
	struct ip_addr ip;

	if (strcasecmp(host, "localhost") == 0)
		return TRUE;
	if (net_addr2ip(host, &ip) < 0)
		return FALSE;
	if (IPADDR_IS_V4(&ip))
		return (ntohl(ip.u.ip4.s_addr) >> 24) == 127;
	return IPADDR_IS_V6(&ip) && IN6_IS_ADDR_LOOPBACK(&ip.u.ip6);
}

int vsmlist_smtp_init(const struct vsmlist_smtp_settings *set,
		      struct event *event_parent,
		      struct vsmlist_smtp **smtp_r, const char **error_r)
{
	struct smtp_client_settings smtp_set, conn_set;
	struct vsmlist_smtp *smtp;
	struct ioloop *prev_ioloop = current_ioloop;
	pool_t pool;

	i_assert(set->timeout_msecs > 0);

	if (set->host == NULL || *set->host == '\0' || set->port == 0) {
		*error_r = "no relay host";
		return -1;
	}
	if (set->username != NULL &&
	    (set->ssl == VSMLIST_RELAY_SSL_UNSET ||
	     set->ssl == VSMLIST_RELAY_SSL_NO) &&
	    !vsmlist_smtp_host_is_loopback(set->host)) {
		/* PLAIN sends the password as it is */
		*error_r = t_strdup_printf("SMTP AUTH to %s without TLS: the "
			"password would cross the network in clear (set "
			"sieve_vsmlist_submission_ssl, or use a relay on "
			"loopback)", set->host);
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
	smtp->rcpt_lines = str_new(pool, 64 * VSMLIST_SMTP_RCPTS_PER_COMMAND);

	i_zero(&smtp_set);
	smtp_set.my_hostname = (set->my_hostname != NULL &&
				*set->my_hostname != '\0' ?
				set->my_hostname : my_hostdomain());
	smtp_set.connect_timeout_msecs = set->timeout_msecs;
	smtp_set.command_timeout_msecs = set->timeout_msecs;
	smtp_set.ssl = set->ssl_set;
	smtp_set.debug = set->debug;
	smtp_set.event_parent = smtp->event;
	/* The login is the connection's (lib-smtp keeps a password only in
	   a connection's settings) */
	i_zero(&conn_set);
	conn_set.username = set->username;
	conn_set.password = set->password;
	conn_set.master_user = set->master_user;

	/* The client and its connection belong to a private ioloop, made
	   current only while a transaction runs */
	smtp->ioloop = io_loop_create();
	smtp->client = smtp_client_init(&smtp_set);
	smtp->conn = smtp_client_connection_create(
		smtp->client, SMTP_PROTOCOL_SMTP, smtp->host, smtp->port,
		smtp->ssl_mode, &conn_set);
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
vsmlist_smtp_rcpt_failed(struct vsmlist_smtp_trans *strans, unsigned int i,
			 const char *command, const struct smtp_reply *reply)
{
	struct vsmlist_rcpt_result *result = &strans->results[i];

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

/* A command had its last reply (or failed) */
static void vsmlist_smtp_command_done(struct vsmlist_smtp_trans *strans)
{
	i_assert(strans->commands_pending > 0);
	if (--strans->commands_pending == 0)
		io_loop_stop(strans->smtp->ioloop);
}

static void
vsmlist_smtp_rcpt_callback(const struct smtp_reply *reply,
			   struct vsmlist_smtp_rcpt_command *rcmd)
{
	struct vsmlist_smtp_trans *strans = rcmd->strans;

	i_assert(rcmd->replied < rcmd->count);
	if (vsmlist_smtp_reply_is_local(reply)) {
		/* The command failed as a whole (connection lost, timeout):
		   lib-smtp says so once for the recipients not answered */
		for (; rcmd->replied < rcmd->count; rcmd->replied++) {
			vsmlist_smtp_rcpt_failed(strans,
						 rcmd->first + rcmd->replied,
						 "RCPT TO", reply);
		}
	} else if (!smtp_reply_is_success(reply)) {
		vsmlist_smtp_rcpt_failed(strans, rcmd->first + rcmd->replied++,
					 "RCPT TO", reply);
	} else {
		/* Stays PENDING until the DATA reply */
		rcmd->replied++;
		strans->rcpts_accepted++;
	}
	if (rcmd->replied == rcmd->count)
		vsmlist_smtp_command_done(strans);
}

static void
vsmlist_smtp_mail_callback(const struct smtp_reply *reply,
			   struct vsmlist_smtp_trans *strans)
{
	if (!smtp_reply_is_success(reply)) {
		vsmlist_smtp_note_failure(strans, reply);
		strans->mail_failure =
			smtp_reply_clone(strans->smtp->trans_pool, reply);
	}
	vsmlist_smtp_command_done(strans);
}

static void
vsmlist_smtp_data_callback(const struct smtp_reply *reply,
			   struct vsmlist_smtp_trans *strans)
{
	unsigned int i;

	if (!smtp_reply_is_success(reply))
		vsmlist_smtp_note_failure(strans, reply);
	strans->data_reply = smtp_reply_clone(strans->smtp->trans_pool, reply);
	/* Every RCPT was answered before DATA: those still pending were
	   accepted, and the DATA reply is theirs */
	for (i = 0; i < strans->trans->rcpt_count; i++) {
		if (strans->results[i].status != VSMLIST_RCPT_PENDING)
			continue;
		if (smtp_reply_is_success(reply))
			strans->results[i].status = VSMLIST_RCPT_SENT;
		else
			vsmlist_smtp_rcpt_failed(strans, i, "DATA", reply);
	}
	vsmlist_smtp_command_done(strans);
}

static void
vsmlist_smtp_rset_callback(const struct smtp_reply *reply ATTR_UNUSED,
			   struct vsmlist_smtp_trans *strans)
{
	/* What RSET answers does not matter: MAIL FROM's reply does */
	vsmlist_smtp_command_done(strans);
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
		for (i = 0; i < strans->trans->rcpt_count; i++) {
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

/* One recipient's RCPT TO line. Where the relay offers DSN (RFC 3461),
   it is asked to report failures and delays only, naming the member as
   the list addressed it (ORCPT): a report then names the member even when
   forwarding changed the final address. */
static void
vsmlist_smtp_write_rcpt(string_t *out, const struct smtp_address *rcpt,
			bool dsn)
{
	str_append(out, "RCPT TO:");
	smtp_address_write_path(out, rcpt);
	if (!dsn)
		return;
	str_append(out, " NOTIFY=FAILURE,DELAY ORCPT=rfc822;");
	smtp_xtext_encode_cstr(out, smtp_address_encode(rcpt));
}

/* Submit RCPT commands for all recipients of the transaction: with
   PIPELINING a command of up to VSMLIST_SMTP_RCPTS_PER_COMMAND lines
   (and as many replies), otherwise one line each (lib-smtp then waits for
   each reply before it sends the next). */
static void vsmlist_smtp_submit_rcpts(struct vsmlist_smtp_trans *strans)
{
	struct vsmlist_smtp *smtp = strans->smtp;
	const struct vsmlist_transaction *trans = strans->trans;
	struct vsmlist_smtp_rcpt_command *rcmd;
	struct smtp_client_command *cmd;
	unsigned int i, per_command = VSMLIST_SMTP_RCPTS_PER_COMMAND;
	enum smtp_capability caps =
		smtp_client_connection_get_capabilities(smtp->conn);
	bool dsn = (caps & SMTP_CAPABILITY_DSN) != 0;

	if ((caps & SMTP_CAPABILITY_PIPELINING) == 0)
		per_command = 1;

	for (i = 0; i < trans->rcpt_count; i += rcmd->count) {
		rcmd = p_new(smtp->trans_pool,
			     struct vsmlist_smtp_rcpt_command, 1);
		rcmd->strans = strans;
		rcmd->first = i;
		rcmd->count = I_MIN(per_command, trans->rcpt_count - i);

		str_truncate(smtp->rcpt_lines, 0);
		vsmlist_smtp_write_rcpt(smtp->rcpt_lines, trans->rcpts[i],
					dsn);
		for (unsigned int j = 1; j < rcmd->count; j++) {
			/* lib-smtp ends the last line */
			str_append(smtp->rcpt_lines, "\r\n");
			vsmlist_smtp_write_rcpt(smtp->rcpt_lines,
						trans->rcpts[i + j], dsn);
		}
		cmd = smtp_client_command_new(smtp->conn,
					      SMTP_CLIENT_COMMAND_FLAG_PIPELINE,
					      vsmlist_smtp_rcpt_callback, rcmd);
		smtp_client_command_write(cmd, str_c(smtp->rcpt_lines));
		smtp_client_command_set_replies(cmd, rcmd->count);
		smtp_client_command_submit(cmd);
		strans->commands_pending++;
	}
}

/* The transaction took longer than the timeout although the relay kept
   answering (lib-smtp bounds each single wait): give up the connection.
   lib-smtp fails the commands still pending, which ends the
   transaction. */
static void vsmlist_smtp_trans_timeout(struct vsmlist_smtp_trans *strans)
{
	struct smtp_reply reply;

	timeout_remove(&strans->to);
	if (strans->local_failure == NULL) {
		smtp_reply_init(&reply, SMTP_CLIENT_COMMAND_ERROR_TIMED_OUT,
				t_strdup_printf("Transaction timed out after "
						"%u ms", strans->smtp->set.
						timeout_msecs));
		strans->local_failure =
			smtp_reply_clone(strans->smtp->trans_pool, &reply);
	}
	smtp_client_connection_disconnect(strans->smtp->conn);
}

/* MAIL FROM, the RCPTs and DATA, pipelined where the relay offers
   PIPELINING (lib-smtp sends the message after the 354); then wait for
   every reply. Runs in the private ioloop. */
static void vsmlist_smtp_run_transaction(struct vsmlist_smtp_trans *strans)
{
	struct vsmlist_smtp *smtp = strans->smtp;
	const struct vsmlist_transaction *trans = strans->trans;
	struct smtp_params_mail mail_params;
	struct istream *input;

	if (smtp->reset_needed) {
		(void)smtp_client_command_rset_submit(
			smtp->conn, 0, vsmlist_smtp_rset_callback, strans);
		strans->commands_pending++;
	}

	i_zero(&mail_params);
	if (trans->body_8bit &&
	    (smtp_client_connection_get_capabilities(smtp->conn) &
	     SMTP_CAPABILITY_8BITMIME) != 0) {
		/* A relay without 8BITMIME gets the octets anyway, as
		   sendmail would give them (RFC 6152 leaves it to us) */
		mail_params.body.type = SMTP_PARAM_MAIL_BODY_TYPE_8BITMIME;
	}
	if (trans->envid != NULL &&
	    (smtp_client_connection_get_capabilities(smtp->conn) &
	     SMTP_CAPABILITY_DSN) != 0) {
		/* Reports carry the post's id, and only its header: the
		   post itself need not come back */
		mail_params.envid = trans->envid;
		mail_params.ret = SMTP_PARAM_MAIL_RET_HDRS;
	}
	(void)smtp_client_command_mail_submit(
		smtp->conn, 0, trans->mail_from, &mail_params,
		vsmlist_smtp_mail_callback, strans);
	strans->commands_pending++;

	vsmlist_smtp_submit_rcpts(strans);

	/* Pipelined even though every RCPT may be refused: the relay then
	   refuses DATA (RFC 2920 3.1) */
	input = i_stream_create_crlf(trans->input);
	(void)smtp_client_command_data_submit(
		smtp->conn, 0, input, vsmlist_smtp_data_callback, strans);
	i_stream_unref(&input);
	strans->commands_pending++;

	strans->to = timeout_add(smtp->set.timeout_msecs,
				 vsmlist_smtp_trans_timeout, strans);
	/* Every command ends, by its replies or by lib-smtp failing it
	   (the command and transaction timeouts); none may outlive strans */
	while (strans->commands_pending > 0)
		io_loop_run(smtp->ioloop);
	timeout_remove(&strans->to);

	smtp->reset_needed = (strans->data_reply == NULL ||
			      !smtp_reply_is_success(strans->data_reply));
}

int vsmlist_smtp_send(struct vsmlist_smtp *smtp,
		      const struct vsmlist_transaction *trans,
		      struct vsmlist_rcpt_result *results,
		      struct vsmlist_transaction_result *result_r)
{
	const char **error_r = &result_r->error;
	struct ioloop *prev_ioloop = current_ioloop;
	struct vsmlist_smtp_trans strans;
	unsigned int i;
	int ret;

	i_assert(trans->rcpt_count > 0);

	p_clear(smtp->trans_pool);
	i_zero(&strans);
	strans.smtp = smtp;
	strans.trans = trans;
	strans.results = results;

	io_loop_set_current(smtp->ioloop);
	if (vsmlist_smtp_connect(smtp, error_r) < 0) {
		io_loop_set_current(prev_ioloop);
		for (i = 0; i < trans->rcpt_count; i++) {
			results[i].status = VSMLIST_RCPT_DEFERRED;
			results[i].reply = *error_r;
		}
		return -1;
	}
	vsmlist_smtp_run_transaction(&strans);
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
