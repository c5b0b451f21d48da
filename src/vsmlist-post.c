/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "smtp-address.h"

#include "vsmlist-settings.h"
#include "vsmlist-dkim.h"
#include "vsmlist-compose.h"
#include "vsmlist-post.h"

/* A boundary that happens to be in the post is drawn again; with 128
   random bits the second draw is already beyond belief */
#define POST_BOUNDARY_TRIES 4

static const struct vsmlist_author_mailbox *
post_author(const struct vsmlist_post *post)
{
	if (post->policy.author.status != VSMLIST_AUTHOR_OK)
		return NULL;
	return array_front(&post->policy.author.mailboxes);
}

static int post_prepare_wrap(struct vsmlist_post *post, const char **error_r)
{
	struct vsmlist_message_scan scan;
	struct vsmlist_wrap_params params;
	const char *boundary;
	unsigned int i;

	for (i = 0;; i++) {
		boundary = vsmlist_compose_boundary();
		if (vsmlist_message_scan(post->input, boundary, &scan,
					 error_r) < 0)
			return -1;
		if (!scan.contains_boundary)
			break;
		if (i == POST_BOUNDARY_TRIES) {
			*error_r = "no MIME boundary found that the post "
				"does not contain";
			return -1;
		}
	}
	post->message_id = p_strdup(post->pool,
				    vsmlist_compose_message_id(post->set));
	i_zero(&params);
	params.author = post_author(post);
	params.fields = post->fields;
	params.message_id = post->message_id;
	params.reason = post->decision.reason;
	params.boundary = boundary;
	/* RFC 2046 5.2.1: message/rfc822 is 7bit, 8bit or binary, never
	   encoded, so the original stays byte for byte */
	params.inner_cte = (scan.has_nul || scan.has_long_lines ? "binary" :
			    (scan.has_8bit ? "8bit" : "7bit"));
	post->has_8bit = scan.has_8bit;
	post->boundary = p_strdup(post->pool, boundary);
	post->wrap_head = p_strdup(post->pool,
				   vsmlist_compose_wrap_head(post->set,
							     &params));
	return 0;
}

static int
post_prepare_untouched(struct vsmlist_post *post, const char **error_r)
{
	struct vsmlist_dkim_coverage *coverage;
	struct vsmlist_message_scan scan;
	string_t *left_out = t_str_new(128);
	const char *const *replace;

	coverage = vsmlist_dkim_coverage_init(post->pool,
		vsmlist_message_header_values(post->fields,
					      "DKIM-Signature"));
	post->prepend = p_strdup(post->pool,
		vsmlist_compose_untouched_head(post->set, coverage,
					       &replace, left_out));
	post->filter.remove = (const char *const *)
		p_strarray_dup(post->pool, replace);
	post->left_out = p_strdup(post->pool, str_c(left_out));

	/* Only to know whether the relay must be told BODY=8BITMIME */
	if (vsmlist_message_scan(post->input, NULL, &scan, error_r) < 0)
		return -1;
	post->has_8bit = scan.has_8bit;
	return 0;
}

static int post_prepare_munge(struct vsmlist_post *post, const char **error_r)
{
	struct vsmlist_message_scan scan;

	const char *const *remove;

	post->prepend = p_strdup(post->pool, vsmlist_compose_munge_head(
		post->set, post_author(post), post->fields, &remove));
	post->filter.remove = remove;
	if (vsmlist_message_scan(post->input, NULL, &scan, error_r) < 0)
		return -1;
	post->has_8bit = scan.has_8bit;
	return 0;
}

/* The Message-ID of the original, trimmed, or NULL */
static const char *post_original_message_id(struct vsmlist_post *post)
{
	const char *const *values =
		vsmlist_message_header_values(post->fields, "Message-ID");

	if (values == NULL)
		return NULL;
	return p_strdup(post->pool, t_str_trim(values[0], " \t"));
}

int vsmlist_post_prepare(pool_t pool, const struct vsmlist_settings *set,
			 enum vsmlist_dmarc_mode mode, struct istream *input,
			 const ARRAY_TYPE(vsmlist_header_field) *fields,
			 const struct vsmlist_dns_resolver *resolver,
			 struct event *event, struct vsmlist_post **post_r,
			 const char **error_r)
{
	struct vsmlist_post *post;
	int ret = 0;

	post = p_new(pool, struct vsmlist_post, 1);
	post->pool = pool;
	post->set = set;
	post->input = input;
	i_stream_ref(input);
	post->fields = fields;
	post->message_id = post_original_message_id(post);
	post->filter.list_localpart = set->address->localpart;
	post->filter.list_domain = set->address->domain;
	post->filter.delimiters = set->recipient_delimiter;

	post->looked_up = (mode == VSMLIST_DMARC_MODE_AUTO);
	vsmlist_policy_discover(pool, set,
		vsmlist_message_header_values(fields, "From"),
		post->looked_up, resolver, event, &post->policy);
	vsmlist_decide(set, mode, mode == VSMLIST_DMARC_MODE_NONE ? NULL :
		       &post->policy, &post->decision);
	post->decision.reason = p_strdup(pool, post->decision.reason);

	T_BEGIN {
		switch (post->decision.mitigation) {
		case VSMLIST_MITIGATION_WRAP:
			ret = post_prepare_wrap(post, error_r);
			break;
		case VSMLIST_MITIGATION_MUNGE:
			ret = post_prepare_munge(post, error_r);
			break;
		case VSMLIST_MITIGATION_NONE:
			ret = post_prepare_untouched(post, error_r);
			break;
		case VSMLIST_MITIGATION_TEMPFAIL:
			break;
		}
		if (ret < 0)
			*error_r = p_strdup(pool, *error_r);
	} T_END;
	if (ret < 0) {
		vsmlist_post_free(&post);
		return -1;
	}
	*post_r = post;
	return 0;
}

struct istream *vsmlist_post_create_stream(void *context)
{
	struct vsmlist_post *post = context;

	/* Every transaction re-reads the post from its start */
	i_stream_seek(post->input, 0);
	switch (post->decision.mitigation) {
	case VSMLIST_MITIGATION_WRAP:
		return vsmlist_message_wrap(post->input, post->wrap_head,
					    post->boundary, &post->filter);
	case VSMLIST_MITIGATION_MUNGE:
	case VSMLIST_MITIGATION_NONE:
		return vsmlist_message_prepend(post->input, post->prepend,
					       &post->filter);
	case VSMLIST_MITIGATION_TEMPFAIL:
		break;
	}
	i_unreached();
}

void vsmlist_post_free(struct vsmlist_post **_post)
{
	struct vsmlist_post *post = *_post;

	if (post == NULL)
		return;
	*_post = NULL;
	i_stream_unref(&post->input);
}
