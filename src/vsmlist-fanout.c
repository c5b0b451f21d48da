/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "istream.h"
#include "ostream.h"
#include "smtp-address.h"

#include "vsmlist-fanout.h"

static int
vsmlist_fanout_send_batch(const struct vsmlist_transport *transport,
			  const struct smtp_address *mail_from,
			  const struct smtp_address *const *rcpts,
			  unsigned int count,
			  vsmlist_fanout_message_func_t *message_func,
			  void *message_context, const char **error_r)
{
	struct istream *input;
	struct ostream *output;
	void *trans;
	unsigned int i;

	trans = transport->start(transport->context, mail_from);
	for (i = 0; i < count; i++)
		transport->add_rcpt(trans, rcpts[i]);
	output = transport->send(trans);

	input = message_func(message_context);
	o_stream_nsend_istream(output, input);
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(input),
					   i_stream_get_error(input));
		i_stream_unref(&input);
		transport->abort(trans);
		return -1;
	}
	i_stream_unref(&input);
	return transport->finish(trans, error_r);
}

int vsmlist_fanout_send(const struct vsmlist_transport *transport,
			const struct smtp_address *mail_from,
			const struct smtp_address *const *rcpts,
			unsigned int rcpt_count, unsigned int batch_size,
			vsmlist_fanout_message_func_t *message_func,
			void *message_context,
			struct vsmlist_fanout_result *result_r)
{
	unsigned int first, count;
	const char *error;
	int ret, status = 1;

	i_assert(batch_size > 0);
	i_zero(result_r);

	for (first = 0; first < rcpt_count; first += count) {
		count = I_MIN(batch_size, rcpt_count - first);
		result_r->transactions++;
		ret = vsmlist_fanout_send_batch(transport, mail_from,
						rcpts + first, count,
						message_func, message_context,
						&error);
		if (ret > 0) {
			result_r->recipients += count;
			continue;
		}
		result_r->error = error;
		if (ret < 0)
			return -1;
		/* Permanent: these members are logged by the caller; the
		   others must still get the post. */
		result_r->failed_transactions++;
		result_r->failed_recipients += count;
		status = 0;
	}
	return status;
}
