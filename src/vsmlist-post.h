#ifndef VSMLIST_POST_H
#define VSMLIST_POST_H

#include "vsmlist-message.h"
#include "vsmlist-policy.h"
#include "vsmlist-decision.h"

struct istream;

/* One post on its way through the list (PRODUCT.md steps 2 to 5): its
   header, the author's policy, the decision, and what the members get.
   No Sieve dependency. */
struct vsmlist_post {
	pool_t pool;
	const struct vsmlist_settings *set;
	struct istream *input;

	ARRAY_TYPE(vsmlist_header_field) fields;
	/* Why the post cannot be distributed as it is (a NUL in its header,
	   a header too large), or NULL */
	const char *malformed;
	struct vsmlist_policy policy;
	/* DNS was asked (mode auto) */
	bool looked_up;
	struct vsmlist_decision decision;

	/* Header fields an untouched copy does not get because a DKIM
	   signature names them ("List-Id (signed by d=...)"), or "" */
	const char *left_out;
	/* What the members receive has 8-bit octets */
	bool has_8bit;

	/* Built once, streamed for every transaction */
	const char *prepend, *wrap_head, *boundary;
	const char *const *remove;
};

/* Read the post's header, discover the policy (mode auto), decide, and
   prepare the members' copy. mode: the per-call :dmarc, else the
   setting. Returns 0 (with post->malformed set and nothing else prepared
   when the header cannot be used), or -1 when the post cannot be read. */
int vsmlist_post_prepare(pool_t pool, const struct vsmlist_settings *set,
			 enum vsmlist_dmarc_mode mode, struct istream *input,
			 const char *home, struct event *event,
			 struct vsmlist_post **post_r, const char **error_r);

/* A fresh stream of what a member receives (a vsmlist_fanout
   message function) */
struct istream *vsmlist_post_create_stream(void *post);

void vsmlist_post_free(struct vsmlist_post **post);

#endif
