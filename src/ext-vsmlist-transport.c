/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "istream.h"
#include "ostream.h"
#include "settings-parser.h"
#include "iostream-ssl.h"
#include "smtp-address.h"
#include "smtp-submit-settings.h"
#include "mail-user.h"
#include "mail-storage-service.h"

#include "sieve-common.h"
#include "sieve-actions.h"
#include "sieve-smtp.h"

#include "vsmlist-settings.h"
#include "vsmlist-smtp.h"
#include "ext-vsmlist-transport.h"

/* Dovecot's own default for submission_timeout */
#define TRANSPORT_DEFAULT_TIMEOUT_MSECS (30*1000)

struct ext_vsmlist_transport_ctx {
	struct ext_vsmlist_transport public;
	struct vsmlist_transport transport;
	struct vsmlist_smtp *smtp;
};

/*
 * sieve_smtp_* as the fan-out transport: sendmail_path, sieve-test, the
 * testsuite. One status for the whole transaction.
 */

static int
transport_sieve_smtp_send(void *context,
			  const struct vsmlist_transaction *trans,
			  struct vsmlist_rcpt_result *results,
			  struct vsmlist_transaction_result *result_r)
{
	const struct sieve_script_env *senv = context;
	struct sieve_smtp_context *sctx;
	struct ostream *output;
	unsigned int i;
	int ret;

	sctx = sieve_smtp_start(senv, trans->mail_from);
	for (i = 0; i < trans->rcpt_count; i++)
		sieve_smtp_add_rcpt(sctx, trans->rcpts[i]);
	output = sieve_smtp_send(sctx);
	o_stream_nsend_istream(output, trans->input);
	if (trans->input->stream_errno != 0) {
		sieve_smtp_abort(sctx);
		result_r->error = "message could not be read";
		return -1;
	}
	ret = sieve_smtp_finish(sctx, &result_r->error);
	if (ret > 0) {
		for (i = 0; i < trans->rcpt_count; i++)
			results[i].status = VSMLIST_RCPT_SENT;
	}
	return ret;
}

/* Dovecot's smtp-submit settings of a delivery process (LMTP, LDA, IMAP),
   or NULL where the host has none: sieve-test and the testsuite, whose
   sieve_smtp_* only print or capture the message. */
static const struct smtp_submit_settings *
transport_get_submit_settings(struct mail_user *user)
{
	struct setting_parser_context *parser;
	const struct setting_parser_info *const *roots;
	void **sets;
	unsigned int i;

	if (user == NULL || user->_service_user == NULL)
		return NULL;
	parser = mail_storage_service_user_get_settings_parser(
		user->_service_user);
	roots = settings_parser_get_roots(parser);
	sets = settings_parser_get_list(parser);
	for (i = 0; roots[i] != NULL; i++) {
		if (roots[i] == &smtp_submit_setting_parser_info)
			return sets[i];
	}
	return NULL;
}

/* The relay: the list's own, else Dovecot's submission_host. Returns 1
   with vset filled, 0 when there is none, -1 on error. */
static int
transport_relay_settings(const struct vsmlist_settings *set,
			 const struct smtp_submit_settings *smtp_set,
			 struct vsmlist_smtp_settings *vset,
			 const char **error_r)
{
	i_zero(vset);
	if (set->submission_host != NULL) {
		vset->host = set->submission_host;
		vset->port = set->submission_port;
	} else if (smtp_set->submission_host != NULL &&
		   *smtp_set->submission_host != '\0') {
		if (vsmlist_relay_host_parse(smtp_set->submission_host,
					     &vset->host, &vset->port) < 0) {
			*error_r = t_strdup_printf(
				"invalid submission_host '%s'",
				smtp_set->submission_host);
			return -1;
		}
	} else {
		return 0;
	}
	vset->ssl = set->submission_ssl;
	if (vset->ssl == VSMLIST_RELAY_SSL_UNSET &&
	    smtp_set->submission_ssl != NULL &&
	    vsmlist_relay_ssl_parse(smtp_set->submission_ssl,
				    &vset->ssl) < 0) {
		*error_r = t_strdup_printf("invalid submission_ssl '%s'",
					   smtp_set->submission_ssl);
		return -1;
	}
	vset->my_hostname = smtp_set->hostname;
	vset->username = set->submission_user;
	vset->password = set->submission_password;
	vset->master_user = set->submission_master_user;
	vset->timeout_msecs = set->submission_timeout_msecs;
	if (vset->timeout_msecs == 0)
		vset->timeout_msecs = smtp_set->submission_timeout * 1000;
	if (vset->timeout_msecs == 0)
		vset->timeout_msecs = TRANSPORT_DEFAULT_TIMEOUT_MSECS;
	return 1;
}

void ext_vsmlist_transport_init(const struct sieve_action_exec_env *aenv,
				const struct vsmlist_settings *set,
				struct ext_vsmlist_transport **transport_r)
{
	const struct sieve_script_env *senv = aenv->exec_env->scriptenv;
	const struct smtp_submit_settings *smtp_set;
	struct ext_vsmlist_transport_ctx *ctx;
	struct vsmlist_smtp_settings vset;
	struct ssl_iostream_settings ssl_set;
	const char *error;
	int ret = 0;

	ctx = i_new(struct ext_vsmlist_transport_ctx, 1);
	*transport_r = &ctx->public;

	/* A delivery process has Dovecot's submission settings; the tools
	   (sieve-test, the testsuite) have none */
	smtp_set = transport_get_submit_settings(senv->user);
	ctx->public.delivery = (smtp_set != NULL);
	if (smtp_set != NULL)
		ret = transport_relay_settings(set, smtp_set, &vset, &error);
	if (ret < 0) {
		ctx->public.error = t_strdup_printf(
			"cannot send to the relay: %s", error);
		return;
	}
	if (ret == 0) {
		/* No relay: Dovecot's sendmail_path, or a tool */
		if (!sieve_smtp_available(senv)) {
			ctx->public.error = "no means to send mail";
			return;
		}
		ctx->transport.send = transport_sieve_smtp_send;
		ctx->transport.context = (void *)senv;
		ctx->public.transport = &ctx->transport;
		ctx->public.relay = "sieve_smtp";
		return;
	}

	vset.debug = senv->user->mail_debug;
	if (vset.ssl != VSMLIST_RELAY_SSL_UNSET &&
	    vset.ssl != VSMLIST_RELAY_SSL_NO) {
		i_zero(&ssl_set);
		mail_user_init_ssl_client_settings(senv->user, &ssl_set);
		vset.ssl_set = &ssl_set;
	}
	if (vsmlist_smtp_init(&vset, aenv->event, &ctx->smtp, &error) < 0) {
		ctx->public.error = t_strdup_printf(
			"cannot send to the relay: %s", error);
		return;
	}
	vsmlist_smtp_get_transport(ctx->smtp, &ctx->transport);
	ctx->public.transport = &ctx->transport;
	ctx->public.relay = vsmlist_smtp_get_relay(ctx->smtp);
}

unsigned int
ext_vsmlist_transport_connections(const struct ext_vsmlist_transport *transport)
{
	const struct ext_vsmlist_transport_ctx *ctx =
		container_of(transport, const struct ext_vsmlist_transport_ctx,
			     public);

	return ctx->smtp == NULL ? 0 : vsmlist_smtp_get_connections(ctx->smtp);
}

void ext_vsmlist_transport_deinit(struct ext_vsmlist_transport **_transport)
{
	struct ext_vsmlist_transport *transport = *_transport;
	struct ext_vsmlist_transport_ctx *ctx;

	if (transport == NULL)
		return;
	*_transport = NULL;
	ctx = container_of(transport, struct ext_vsmlist_transport_ctx,
			   public);
	vsmlist_smtp_deinit(&ctx->smtp);
	i_free(ctx);
}
