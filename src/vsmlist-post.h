#ifndef VSMLIST_POST_H
#define VSMLIST_POST_H

#include "vsmlist-message.h"
#include "vsmlist-policy.h"
#include "vsmlist-decision.h"

struct istream;
struct vsmlist_dns_resolver;

/* One post on its way through the list (steps 2 to 5 of "What a post goes through" in doc/vsmlist.md): the
   author's policy, the decision, and what the members get. No Sieve
   dependency. */
struct vsmlist_post {
	pool_t pool;
	const struct vsmlist_settings *set;
	struct istream *input;
	/* The post's header, as vsmlist_message_read_header() read it */
	const ARRAY_TYPE(vsmlist_header_field) *fields;

	struct vsmlist_policy policy;
	/* DNS was asked (mode auto) */
	bool looked_up;
	struct vsmlist_decision decision;

	/* Header fields an untouched copy does not get because a DKIM
	   signature names them ("List-Id (signed by d=...)"), or "" */
	const char *left_out;
	/* What the members receive has 8-bit octets */
	bool has_8bit;
	/* The Message-ID the members see: a wrapped post's own, else the
	   original's (NULL when it has none) */
	const char *message_id;

	/* Built once, streamed for every transaction */
	const char *prepend, *wrap_head, *boundary;
	struct vsmlist_message_filter filter;
};

/* Discover the policy (mode auto; resolver NULL for the settings' DNS,
   a fake in tests), decide, and prepare the members' copy of the post
   whose header is fields. mode: the per-call :dmarc, else the setting.
   Returns 0, or -1 when the post cannot be read. */
int vsmlist_post_prepare(pool_t pool, const struct vsmlist_settings *set,
			 enum vsmlist_dmarc_mode mode, struct istream *input,
			 const ARRAY_TYPE(vsmlist_header_field) *fields,
			 const struct vsmlist_dns_resolver *resolver,
			 struct event *event, struct vsmlist_post **post_r,
			 const char **error_r);

/* A fresh stream of what a member receives (a vsmlist_fanout
   message function) */
struct istream *vsmlist_post_create_stream(void *post);

void vsmlist_post_free(struct vsmlist_post **post);

#endif
