/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "istream.h"
#include "istream-concat.h"
#include "istream-crlf.h"
#include "istream-header-filter.h"
#include "smtp-address.h"

#include "vsmlist-settings.h"
#include "vsmlist-guard.h"
#include "vsmlist-message.h"

static const char *const vsmlist_untouched_hide_headers[] = {
	"Return-Path",
};

struct istream *
vsmlist_message_untouched(struct istream *input,
			  const struct vsmlist_settings *set)
{
	struct istream *inputs[3], *filtered, *output;
	string_t *trace;

	filtered = i_stream_create_header_filter(
		input, HEADER_FILTER_EXCLUDE | HEADER_FILTER_CRLF_PRESERVE,
		vsmlist_untouched_hide_headers,
		N_ELEMENTS(vsmlist_untouched_hide_headers),
		*null_header_filter_callback, (void *)NULL);

	trace = t_str_new(128);
	str_printfa(trace, VSMLIST_LOOP_HEADER": %s\r\n",
		    smtp_address_encode(set->address));
	inputs[0] = i_stream_create_copy_from_data(str_data(trace),
						   str_len(trace));
	inputs[1] = filtered;
	inputs[2] = NULL;
	output = i_stream_create_concat(inputs);
	i_stream_unref(&inputs[0]);
	i_stream_unref(&filtered);

	filtered = output;
	output = i_stream_create_crlf(filtered);
	i_stream_unref(&filtered);
	i_stream_set_name(output, t_strdup_printf(
		"vsmlist untouched(%s)", i_stream_get_name(input)));
	return output;
}
