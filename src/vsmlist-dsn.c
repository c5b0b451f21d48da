/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* Finds the delivery-status part of a report with Dovecot's MIME parser,
   decodes it and splits it into blocks as it streams by, so that memory
   stays bounded by one block however long the report is. */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "str.h"
#include "istream.h"
#include "rfc822-parser.h"
#include "rfc2231-parser.h"
#include "message-parser.h"
#include "message-decoder.h"
#include "smtp-address.h"

#include "vsmlist-dsn-private.h"

enum dsn_part_kind {
	DSN_PART_OTHER = 0,
	/* multipart/report; report-type=[global-]delivery-status */
	DSN_PART_REPORT,
	/* message/[global-]delivery-status */
	DSN_PART_STATUS,
};
/* message_part.context points at one of these */
static const enum dsn_part_kind dsn_part_kinds[] = {
	DSN_PART_OTHER, DSN_PART_REPORT, DSN_PART_STATUS
};

struct dsn_parse_context {
	pool_t pool;
	struct vsmlist_dsn *dsn;

	struct message_part *report_part, *status_part;
	struct message_decoder_context *decoder;
	/* Cleared after each block */
	pool_t scratch;

	/* The delivery-status part's decoded text not yet split off */
	buffer_t *pending;
	/* Where the search for the blank line resumes */
	size_t scan_pos;
	/* Within a block over VSMLIST_DSN_MAX_BLOCK_SIZE: drop until the
	   next blank line */
	bool skipping;
	unsigned int blocks_seen;
};

const char *vsmlist_dsn_action_name(enum vsmlist_dsn_action action)
{
	switch (action) {
	case VSMLIST_DSN_ACTION_FAILED:
		return "failed";
	case VSMLIST_DSN_ACTION_DELAYED:
		return "delayed";
	case VSMLIST_DSN_ACTION_DELIVERED:
		return "delivered";
	case VSMLIST_DSN_ACTION_RELAYED:
		return "relayed";
	case VSMLIST_DSN_ACTION_EXPANDED:
		return "expanded";
	case VSMLIST_DSN_ACTION_UNKNOWN:
		break;
	}
	return "unknown";
}

bool vsmlist_dsn_recipient_is_hard_failure(
	const struct vsmlist_dsn_recipient *rcpt)
{
	return rcpt->action == VSMLIST_DSN_ACTION_FAILED &&
		rcpt->status.valid && rcpt->status.class == 5;
}

const struct smtp_address *
vsmlist_dsn_recipient_address(const struct vsmlist_dsn_recipient *rcpt)
{
	return rcpt->original_recipient != NULL ?
		rcpt->original_recipient : rcpt->final_recipient;
}

bool vsmlist_dsn_is_auto_reply(const struct vsmlist_dsn *dsn,
			       const char **reason_r)
{
	*reason_r = dsn->auto_reply_sign;
	return !dsn->is_report && dsn->bounce_sign == NULL &&
		dsn->auto_reply_sign != NULL;
}

static void dsn_problem(struct dsn_parse_context *ctx, const char *problem)
{
	if (ctx->dsn->problem == NULL)
		ctx->dsn->problem = p_strdup(ctx->pool, problem);
}

static bool dsn_is_blank(const unsigned char *data, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++) {
		if (data[i] != ' ' && data[i] != '\t' &&
		    data[i] != '\r' && data[i] != '\n')
			return FALSE;
	}
	return TRUE;
}

static void dsn_recipient_skipped(struct dsn_parse_context *ctx,
				  const char *problem)
{
	ctx->dsn->recipients_skipped++;
	dsn_problem(ctx, problem);
}

/* rcpt's values, from a scratch pool, copied to pool */
static void dsn_recipient_copy(pool_t pool, struct vsmlist_dsn_recipient *rcpt)
{
	rcpt->original_recipient_raw = p_strdup(pool,
						rcpt->original_recipient_raw);
	rcpt->final_recipient_raw = p_strdup(pool, rcpt->final_recipient_raw);
	rcpt->status_raw = p_strdup(pool, rcpt->status_raw);
	rcpt->diagnostic = p_strdup(pool, rcpt->diagnostic);
	rcpt->remote_mta = p_strdup(pool, rcpt->remote_mta);
	rcpt->original_recipient = smtp_address_clone(pool,
						      rcpt->original_recipient);
	rcpt->final_recipient = smtp_address_clone(pool, rcpt->final_recipient);
}

/* One complete block: the per-message one first, then the recipients.
   The work is done in a data stack frame and a scratch pool; only the
   result is copied to the caller's pool (which may be a data stack
   pool). */
static void dsn_block(struct dsn_parse_context *ctx,
		      const unsigned char *data, size_t size)
{
	struct vsmlist_dsn *dsn = ctx->dsn;
	struct vsmlist_dsn_block block;
	struct vsmlist_dsn_recipient rcpt;
	bool first, per_message = FALSE;

	if (dsn_is_blank(data, size))
		return;
	first = ctx->blocks_seen++ == 0;
	if (!first && array_count(&dsn->recipients) >=
			VSMLIST_DSN_MAX_RECIPIENTS) {
		dsn_recipient_skipped(ctx, "too many recipient blocks "
				      "(the rest counted, not parsed)");
		return;
	}
	T_BEGIN {
		vsmlist_dsn_block_read(data, size, &block);
		/* Some reporters leave out the per-message block */
		per_message = first && (block.reporting_mta != NULL ||
					block.final_recipient == NULL);
		if (per_message) {
			block.reporting_mta = vsmlist_dsn_value_keep(
				ctx->scratch, block.reporting_mta);
			block.envid = vsmlist_dsn_value_keep(ctx->scratch,
							     block.envid);
			block.arrival_date = vsmlist_dsn_value_keep(
				ctx->scratch, block.arrival_date);
		} else {
			vsmlist_dsn_recipient_init(ctx->scratch, &block,
						   &rcpt);
		}
	} T_END;

	if (per_message) {
		dsn->reporting_mta = p_strdup(ctx->pool, block.reporting_mta);
		dsn->envid = p_strdup(ctx->pool, block.envid);
		dsn->arrival_date = p_strdup(ctx->pool, block.arrival_date);
	} else {
		if (first)
			dsn_problem(ctx, "no per-message fields");
		if (rcpt.final_recipient_raw == NULL)
			dsn_problem(ctx, "recipient block without "
				    "Final-Recipient");
		dsn_recipient_copy(ctx->pool, &rcpt);
		array_push_back(&dsn->recipients, &rcpt);
	}
	p_clear(ctx->scratch);
}

static void dsn_oversized_block(struct dsn_parse_context *ctx)
{
	ctx->blocks_seen++;
	dsn_recipient_skipped(ctx, "oversized block skipped");
}

/* The length of the blank line starting at pos (1 or 2), 0 when the line
   there is not blank, -1 when more data is needed to tell */
static int dsn_blank_line_at(const buffer_t *buf, size_t pos)
{
	const unsigned char *data = buf->data;

	if (pos >= buf->used)
		return -1;
	if (data[pos] == '\n')
		return 1;
	if (data[pos] != '\r')
		return 0;
	if (pos + 1 >= buf->used)
		return -1;
	return data[pos + 1] == '\n' ? 2 : 0;
}

/* Split off every block that a blank line has completed */
static void dsn_status_split(struct dsn_parse_context *ctx)
{
	buffer_t *buf = ctx->pending;
	const unsigned char *data = buf->data, *lf;
	size_t start = 0, pos = ctx->scan_pos, line_start;
	int blank = 0;

	for (;;) {
		/* Blank lines at a block's start only separate (while
		   skipping, start may be in the middle of a line) */
		while (!ctx->skipping &&
		       (blank = dsn_blank_line_at(buf, start)) > 0)
			start += blank;
		if (!ctx->skipping && blank < 0) {
			pos = start;
			break;
		}
		if (pos < start)
			pos = start;
		lf = memchr(data + pos, '\n', buf->used - pos);
		if (lf == NULL) {
			pos = buf->used;
			break;
		}
		line_start = lf - data + 1;
		blank = dsn_blank_line_at(buf, line_start);
		if (blank < 0) {
			/* revisit this LF when more data is here */
			pos = lf - data;
			break;
		}
		if (blank == 0) {
			pos = line_start;
			continue;
		}
		if (ctx->skipping)
			ctx->skipping = FALSE;
		else if (line_start - start > VSMLIST_DSN_MAX_BLOCK_SIZE)
			dsn_oversized_block(ctx);
		else
			dsn_block(ctx, data + start, line_start - start);
		start = pos = line_start + blank;
	}

	if (!ctx->skipping && pos - start > VSMLIST_DSN_MAX_BLOCK_SIZE) {
		/* Do not keep it: drop the rest up to the next blank line */
		dsn_oversized_block(ctx);
		ctx->skipping = TRUE;
	}
	if (ctx->skipping)
		start = pos;
	buffer_delete(buf, 0, start);
	ctx->scan_pos = pos - start;
}

/* The delivery-status part ended: by its boundary (closed), or by the
   end of the input (a block cut there is not trusted) */
static void dsn_status_finish(struct dsn_parse_context *ctx, bool closed)
{
	const unsigned char *data = ctx->pending->data;
	size_t size = ctx->pending->used;

	if (!closed) {
		ctx->dsn->truncated = TRUE;
		dsn_problem(ctx, "delivery-status part not closed (truncated)");
	}
	if (!ctx->skipping && !dsn_is_blank(data, size)) {
		if (closed)
			dsn_block(ctx, data, size);
		else
			dsn_recipient_skipped(ctx, "truncated block skipped");
	}
	if (ctx->dsn->reporting_mta == NULL &&
	    array_count(&ctx->dsn->recipients) == 0)
		dsn_problem(ctx, "empty delivery-status part");
}

static void dsn_status_data(struct dsn_parse_context *ctx,
			    const unsigned char *data, size_t size)
{
	buffer_append(ctx->pending, data, size);
	dsn_status_split(ctx);
}

static enum dsn_part_kind
dsn_content_type_kind(const struct message_header_line *hdr)
{
	struct rfc822_parser_context parser;
	const char *const *params;
	enum dsn_part_kind kind = DSN_PART_OTHER;
	string_t *type = t_str_new(64);

	rfc822_parser_init(&parser, hdr->full_value, hdr->full_value_len,
			   NULL);
	rfc822_skip_lwsp(&parser);
	if (rfc822_parse_content_type(&parser, type) < 0) {
		rfc822_parser_deinit(&parser);
		return DSN_PART_OTHER;
	}
	if (strcasecmp(str_c(type), "message/delivery-status") == 0 ||
	    strcasecmp(str_c(type), "message/global-delivery-status") == 0)
		kind = DSN_PART_STATUS;
	else if (strcasecmp(str_c(type), "multipart/report") == 0) {
		rfc2231_parse(&parser, &params);
		for (; params[0] != NULL; params += 2) {
			if (strcasecmp(params[0], "report-type") != 0)
				continue;
			if (strcasecmp(params[1], "delivery-status") == 0 ||
			    strcasecmp(params[1],
				       "global-delivery-status") == 0)
				kind = DSN_PART_REPORT;
			break;
		}
	}
	rfc822_parser_deinit(&parser);
	return kind;
}

static enum dsn_part_kind dsn_part_kind(const struct message_part *part)
{
	return part->context == NULL ? DSN_PART_OTHER :
		*(const enum dsn_part_kind *)part->context;
}

/* The number of message/rfc822 parts the part is inside of */
static unsigned int dsn_message_depth(const struct message_part *part)
{
	unsigned int depth = 0;

	for (part = part->parent; part != NULL; part = part->parent) {
		if ((part->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0)
			depth++;
	}
	return depth;
}

/* A part's header is complete: is it the report, or its status part? */
static void dsn_part_header_end(struct dsn_parse_context *ctx,
				struct message_part *part)
{
	enum dsn_part_kind kind = dsn_part_kind(part);

	if (kind == DSN_PART_REPORT && ctx->report_part == NULL) {
		/* The top of the message, or of a message/rfc822 part in
		   it (a forwarded report). The returned original inside a
		   report is never searched. */
		if (part->parent == NULL ||
		    ((part->parent->flags &
		      MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0 &&
		     dsn_message_depth(part) == 1))
			ctx->report_part = part;
	} else if (kind == DSN_PART_STATUS && ctx->status_part == NULL &&
		   ctx->report_part != NULL &&
		   part->parent == ctx->report_part) {
		ctx->status_part = part;
		ctx->dsn->is_report = TRUE;
		ctx->dsn->forwarded = ctx->report_part->parent != NULL;
	}
}

static void dsn_header_line(struct dsn_parse_context *ctx,
			    struct message_block *block)
{
	struct message_header_line *hdr = block->hdr;
	struct message_part *part = block->part;

	if (hdr->continues) {
		hdr->use_full_value = TRUE;
		return;
	}
	if (part->parent == NULL)
		vsmlist_dsn_signs_add(ctx->pool, ctx->dsn, hdr);
	if (part->context == NULL &&
	    strcasecmp(hdr->name, "Content-Type") == 0) T_BEGIN {
		part->context = (void *)
			&dsn_part_kinds[dsn_content_type_kind(hdr)];
	} T_END;
}

static void dsn_decode(struct dsn_parse_context *ctx,
		       struct message_block *block)
{
	struct message_block decoded;

	if (message_decoder_decode_next_block(ctx->decoder, block, &decoded) &&
	    decoded.hdr == NULL && decoded.size > 0)
		dsn_status_data(ctx, decoded.data, decoded.size);
}

/* Returns 1 to go on, 0 when the delivery-status part is done */
static int dsn_parse_block(struct dsn_parse_context *ctx,
			   struct message_block *block)
{
	struct message_part *part = block->part;
	bool report_child = ctx->report_part != NULL &&
		part->parent == ctx->report_part && ctx->status_part == NULL;

	if (ctx->status_part != NULL && part != ctx->status_part) {
		/* A boundary line ends it: the rest is not needed */
		dsn_status_finish(ctx, TRUE);
		return 0;
	}
	if (block->hdr != NULL) {
		dsn_header_line(ctx, block);
		/* The decoder learns the part's transfer encoding */
		if (report_child)
			dsn_decode(ctx, block);
	} else if (block->size == 0) {
		dsn_part_header_end(ctx, part);
		if (part == ctx->status_part)
			dsn_decode(ctx, block);
	} else if (part == ctx->status_part) {
		dsn_decode(ctx, block);
	}
	return 1;
}

static void dsn_parse_init(struct dsn_parse_context *ctx, pool_t pool,
			   struct vsmlist_dsn *dsn_r)
{
	i_zero(dsn_r);
	p_array_init(&dsn_r->recipients, pool, 4);
	i_zero(ctx);
	ctx->pool = pool;
	ctx->dsn = dsn_r;
	ctx->pending = buffer_create_dynamic(default_pool, 4096);
	ctx->scratch = pool_alloconly_create("vsmlist dsn block", 4096);
	/* The delivery-status part is taken as it is (no charset
	   conversion); only its transfer encoding is undone */
	ctx->decoder = message_decoder_init(NULL,
					    MESSAGE_DECODER_FLAG_RETURN_BINARY);
}

int vsmlist_dsn_parse(pool_t pool, struct istream *input,
		      struct vsmlist_dsn *dsn_r, const char **error_r)
{
	const struct message_parser_settings set = {
		.hdr_flags = MESSAGE_HEADER_PARSER_FLAG_SKIP_INITIAL_LWSP |
			MESSAGE_HEADER_PARSER_FLAG_DROP_CR |
			MESSAGE_HEADER_PARSER_FLAG_CLEAN_ONELINE,
		.flags = MESSAGE_PARSER_FLAG_INCLUDE_BOUNDARIES,
		.max_nested_mime_parts = VSMLIST_DSN_MAX_NESTED_PARTS,
		.max_total_mime_parts = VSMLIST_DSN_MAX_MIME_PARTS,
		.all_headers_max_size = VSMLIST_DSN_MAX_ALL_HEADERS_SIZE,
	};
	struct dsn_parse_context ctx;
	struct message_parser_ctx *parser;
	struct message_part *parts;
	struct message_block block;
	pool_t part_pool;
	int ret;

	dsn_parse_init(&ctx, pool, dsn_r);
	part_pool = pool_alloconly_create("vsmlist dsn parts", 4096);
	parser = message_parser_init(part_pool, input, &set);
	while ((ret = message_parser_parse_next_block(parser, &block)) > 0) {
		if (dsn_parse_block(&ctx, &block) == 0)
			break;
	}
	if (ret < 0 && input->stream_errno == 0 && ctx.status_part != NULL) {
		/* The input ended inside the delivery-status part */
		dsn_status_finish(&ctx, FALSE);
	}
	if (ctx.report_part != NULL && ctx.status_part == NULL)
		dsn_problem(&ctx, "multipart/report without a "
			    "delivery-status part");
	message_parser_deinit(&parser, &parts);
	message_decoder_deinit(&ctx.decoder);
	buffer_free(&ctx.pending);
	pool_unref(&ctx.scratch);
	pool_unref(&part_pool);

	if (ret == 0) {
		*error_r = "non-blocking input stream";
		return -1;
	}
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(input),
					   i_stream_get_error(input));
		return -1;
	}
	return 0;
}
