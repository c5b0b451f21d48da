/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "smtp-address.h"

#include "vsmlist-progress.h"
#include "vsmlist-fanout.h"

struct vsmlist_fanout {
	const struct vsmlist_fanout_params *params;
	struct vsmlist_fanout_result *result;

	/* The members of the current batch and their results */
	ARRAY(const struct smtp_address *) batch;
	ARRAY(struct vsmlist_rcpt_result) results;
	/* Members the relay put off to another transaction (452 too many
	   recipients), sent first in the next one */
	ARRAY(const struct smtp_address *) carry;
	/* Recipients per transaction: the setting, or the relay's limit
	   once it showed one */
	unsigned int batch_size;

	unsigned int logged_rejected, logged_deferred;
	/* The first failure to record progress (i_malloc()ed) */
	char *progress_error;
	/* The relay's queue ids, comma-separated (heap: each batch runs in
	   a data stack frame of its own) */
	string_t *queue_ids;
	unsigned int queue_id_count;
};

int vsmlist_fanout_is_8bit(struct istream *input)
{
	const unsigned char *data;
	size_t i, size;
	int ret = 0;

	while (i_stream_read_more(input, &data, &size) > 0) {
		for (i = 0; i < size; i++) {
			if ((data[i] & 0x80) != 0)
				return 1;
		}
		i_stream_skip(input, size);
	}
	if (input->stream_errno != 0)
		ret = -1;
	return ret;
}

static void
vsmlist_fanout_log_rcpt(struct vsmlist_fanout *fanout,
			const struct smtp_address *rcpt,
			const struct vsmlist_rcpt_result *result)
{
	struct event *event = fanout->params->event;
	const char *reply = (result->reply != NULL ?
			     result->reply : "no reply");

	if (event == NULL)
		return;
	switch (result->status) {
	case VSMLIST_RCPT_REJECTED:
		if (fanout->logged_rejected++ <
		    VSMLIST_FANOUT_MAX_LOGGED_RCPTS) {
			e_warning(event, "member %s rejected: %s",
				  smtp_address_encode(rcpt), reply);
		}
		break;
	case VSMLIST_RCPT_DEFERRED:
		if (fanout->logged_deferred++ <
		    VSMLIST_FANOUT_MAX_LOGGED_RCPTS) {
			e_info(event, "member %s deferred: %s",
			       smtp_address_encode(rcpt), reply);
		}
		break;
	default:
		break;
	}
}

static void
vsmlist_fanout_count(struct vsmlist_fanout *fanout,
		     const struct smtp_address *rcpt,
		     struct vsmlist_rcpt_result *result)
{
	struct vsmlist_fanout_result *res = fanout->result;

	switch (result->status) {
	case VSMLIST_RCPT_SENT:
		res->sent++;
		return;
	case VSMLIST_RCPT_REJECTED:
		res->rejected++;
		break;
	case VSMLIST_RCPT_PENDING:
		/* A transport that left one open: it was not sent */
		result->status = VSMLIST_RCPT_DEFERRED;
		/* fall through */
	case VSMLIST_RCPT_DEFERRED:
		res->deferred++;
		break;
	}
	vsmlist_fanout_log_rcpt(fanout, rcpt, result);
}

/* Send the current batch. Returns the transport's status, or -1 with an
   error when the message could not be read. */
static void
vsmlist_fanout_note_queue_id(struct vsmlist_fanout *fanout,
			     const char *data_reply)
{
	const char *queue_id = vsmlist_transport_queue_id(data_reply);

	if (queue_id == NULL)
		return;
	if (fanout->queue_id_count++ >= VSMLIST_FANOUT_MAX_QUEUE_IDS)
		return;
	if (str_len(fanout->queue_ids) > 0)
		str_append_c(fanout->queue_ids, ',');
	str_append(fanout->queue_ids, queue_id);
}

static int
vsmlist_fanout_send_batch(struct vsmlist_fanout *fanout,
			  const char **error_r)
{
	const struct vsmlist_fanout_params *params = fanout->params;
	struct vsmlist_fanout_result *res = fanout->result;
	struct vsmlist_transaction_result trans_result;
	struct vsmlist_transaction trans;
	struct vsmlist_rcpt_result *results;
	unsigned int i, count, sent = 0, carried = 0;
	int ret;

	i_zero(&trans);
	trans.mail_from = params->mail_from;
	if (params->verp_mail_from != NULL) {
		const struct smtp_address *verp =
			params->verp_mail_from(params->verp_context,
					       array_idx_elem(&fanout->batch, 0));
		if (verp != NULL)
			trans.mail_from = verp;
	}
	trans.rcpts = array_get(&fanout->batch, &count);
	trans.rcpt_count = count;
	trans.body_8bit = params->body_8bit;
	trans.envid = params->envid;
	trans.input = params->message_func(params->message_context);

	array_clear(&fanout->results);
	array_idx_clear(&fanout->results, count - 1);
	results = array_front_modifiable(&fanout->results);

	res->transactions++;
	i_zero(&trans_result);
	ret = params->transport->send(params->transport->context, &trans,
				      results, &trans_result);
	*error_r = trans_result.error;
	if (ret > 0)
		vsmlist_fanout_note_queue_id(fanout, trans_result.data_reply);
	if (trans.input->stream_errno != 0) {
		/* The transport stopped reading: nothing was sent */
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(trans.input),
					   i_stream_get_error(trans.input));
		for (i = 0; i < count; i++) {
			if (results[i].status == VSMLIST_RCPT_SENT ||
			    results[i].status == VSMLIST_RCPT_PENDING)
				results[i].status = VSMLIST_RCPT_DEFERRED;
		}
		ret = -1;
	}
	i_stream_unref(&trans.input);
	if (ret <= 0)
		res->failed_transactions++;

	for (i = 0; i < count; i++) {
		if (ret == 0 && results[i].status == VSMLIST_RCPT_PENDING) {
			results[i].status = VSMLIST_RCPT_REJECTED;
			results[i].reply = *error_r;
		} else if (ret < 0 &&
			   results[i].status == VSMLIST_RCPT_PENDING) {
			results[i].status = VSMLIST_RCPT_DEFERRED;
			results[i].reply = *error_r;
		} else if (results[i].status == VSMLIST_RCPT_SENT) {
			sent++;
		}
	}
	for (i = 0; i < count; i++) {
		if (ret > 0 && sent > 0 && results[i].too_many_rcpts &&
		    results[i].status == VSMLIST_RCPT_DEFERRED) {
			/* The relay's recipient limit: next transaction */
			array_push_back(&fanout->carry, &trans.rcpts[i]);
			carried++;
			continue;
		}
		vsmlist_fanout_count(fanout, trans.rcpts[i], &results[i]);
	}
	if (carried > 0 && sent < fanout->batch_size) {
		if (params->event != NULL) {
			e_debug(params->event, "the relay takes %u recipients "
				"per transaction: batches made smaller", sent);
		}
		fanout->batch_size = sent;
	}
	return ret;
}

static int
vsmlist_fanout_record(struct vsmlist_fanout *fanout)
{
	const struct vsmlist_fanout_params *params = fanout->params;
	const struct vsmlist_rcpt_result *results;
	const struct smtp_address *const *rcpts;
	const char *error;
	unsigned int count;

	if (params->progress == NULL)
		return 0;
	rcpts = array_get(&fanout->batch, &count);
	results = array_front(&fanout->results);
	if (vsmlist_progress_record(params->progress, rcpts, results,
				    count, &error) < 0) {
		/* The post went out; only a retry could duplicate it now.
		   Go on, but make it known. */
		if (params->event != NULL) {
			e_error(params->event, "progress not recorded: %s",
				error);
		}
		if (fanout->progress_error == NULL) {
			fanout->progress_error = i_strdup_printf(
				"progress not recorded: %s", error);
		}
		return -1;
	}
	return 0;
}

/* Whether an earlier attempt dealt with this member */
static bool
vsmlist_fanout_done_before(struct vsmlist_fanout *fanout,
			   const struct smtp_address *rcpt)
{
	struct vsmlist_progress *progress = fanout->params->progress;

	if (progress == NULL)
		return FALSE;
	switch (vsmlist_progress_lookup(progress, rcpt)) {
	case VSMLIST_PROGRESS_NONE:
		return FALSE;
	case VSMLIST_PROGRESS_SENT:
		fanout->result->previously_sent++;
		return TRUE;
	case VSMLIST_PROGRESS_REJECTED:
		fanout->result->previously_rejected++;
		return TRUE;
	}
	i_unreached();
}

int vsmlist_fanout_send(const struct vsmlist_fanout_params *params,
			struct vsmlist_fanout_result *result_r)
{
	struct vsmlist_fanout fanout;
	const char *error = NULL;
	char *error_heap = NULL;
	const struct smtp_address *const *carried;
	/* VERP: one member a transaction, each its own envelope sender */
	unsigned int i, n, batch_size = (params->verp_mail_from != NULL ? 1 :
					 params->batch_size);
	bool stopped = FALSE;
	int ret;

	i_assert(batch_size > 0);
	i_zero(result_r);
	i_zero(&fanout);
	fanout.params = params;
	fanout.result = result_r;
	result_r->members = params->rcpt_count;

	fanout.batch_size = batch_size;
	fanout.queue_ids = str_new(default_pool, 64);

	/* Not on the data stack: each batch runs in a frame of its own */
	i_array_init(&fanout.batch, I_MIN(batch_size, params->rcpt_count));
	i_array_init(&fanout.results, I_MIN(batch_size, params->rcpt_count));
	i_array_init(&fanout.carry, 16);

	for (i = 0; i < params->rcpt_count || array_count(&fanout.carry) > 0; ) {
		array_clear(&fanout.batch);
		/* Those the relay put off come first */
		carried = array_get(&fanout.carry, &n);
		n = I_MIN(n, fanout.batch_size);
		array_append(&fanout.batch, carried, n);
		array_delete(&fanout.carry, 0, n);
		for (; i < params->rcpt_count &&
		       array_count(&fanout.batch) < fanout.batch_size; i++) {
			if (vsmlist_fanout_done_before(&fanout,
						       params->rcpts[i]))
				continue;
			array_push_back(&fanout.batch, &params->rcpts[i]);
		}
		if (array_count(&fanout.batch) == 0)
			break;

		T_BEGIN {
			ret = vsmlist_fanout_send_batch(&fanout, &error);
			(void)vsmlist_fanout_record(&fanout);
			if (ret <= 0)
				error_heap = i_strdup(error);
		} T_END;
		if (ret <= 0) {
			result_r->error = t_strdup(error_heap);
			i_free(error_heap);
		}
		if (ret < 0) {
			/* The relay is in trouble: leave the rest to the
			   MTA's retry */
			stopped = TRUE;
			break;
		}
	}

	if (stopped) {
		/* Members not attempted are deferred too */
		result_r->deferred += array_count(&fanout.carry);
		for (; i < params->rcpt_count; i++) {
			if (!vsmlist_fanout_done_before(&fanout,
							params->rcpts[i]))
				result_r->deferred++;
		}
	}
	n = fanout.logged_rejected;
	if (n > VSMLIST_FANOUT_MAX_LOGGED_RCPTS && params->event != NULL) {
		e_warning(params->event, "%u more member(s) rejected "
			  "(not logged one by one)",
			  n - VSMLIST_FANOUT_MAX_LOGGED_RCPTS);
	}
	n = fanout.logged_deferred;
	if (n > VSMLIST_FANOUT_MAX_LOGGED_RCPTS && params->event != NULL) {
		e_info(params->event, "%u more member(s) deferred "
		       "(not logged one by one)",
		       n - VSMLIST_FANOUT_MAX_LOGGED_RCPTS);
	}

	array_free(&fanout.batch);
	array_free(&fanout.results);
	array_free(&fanout.carry);
	if (str_len(fanout.queue_ids) > 0) {
		result_r->queue_ids = t_strdup(str_c(fanout.queue_ids));
		if (fanout.queue_id_count > VSMLIST_FANOUT_MAX_QUEUE_IDS) {
			result_r->queue_ids = t_strdup_printf("%s,(+%u more)",
				result_r->queue_ids, fanout.queue_id_count -
				VSMLIST_FANOUT_MAX_QUEUE_IDS);
		}
	}
	str_free(&fanout.queue_ids);
	if (fanout.progress_error != NULL) {
		if (result_r->error == NULL)
			result_r->error = t_strdup(fanout.progress_error);
		i_free(fanout.progress_error);
	}

	if (result_r->deferred > 0)
		return -1;
	if (result_r->sent == 0 && result_r->previously_sent == 0)
		return 0;
	return 1;
}
