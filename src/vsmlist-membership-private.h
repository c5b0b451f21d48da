#ifndef VSMLIST_MEMBERSHIP_PRIVATE_H
#define VSMLIST_MEMBERSHIP_PRIVATE_H

#include "vsmlist-membership.h"

/* What the parts of the membership module share: the request's texts
   (vsmlist-membership-text.c) and its description for the log
   (vsmlist-membership-request.c). */

/* RFC 5321 4.5.3.1.1 */
#define VSMLIST_LOCAL_PART_MAX_LEN 64

/* What a mail to the requester says */
struct vsmlist_membership_text {
	enum vsmlist_membership_reply kind;
	/* What was (or is to be) confirmed */
	enum vsmlist_token_action action;
	const struct smtp_address *address;
	/* A confirmation request: its token, confirm address and expiry */
	const char *token;
	const struct smtp_address *confirm_address;
	time_t expires;
};

/* The Subject and the text (UTF-8) of a mail to the requester: the
   welcome and goodbye from the settings where given, the rest built in.
   Allocated from the data stack. */
void vsmlist_membership_text(const struct vsmlist_settings *set,
			     const struct vsmlist_membership_text *text,
			     const char **subject_r, const char **body_r);
/* The same for the owner's notice of a confirmed change */
void vsmlist_membership_owner_text(const struct vsmlist_settings *set,
				   const struct vsmlist_membership_outcome *outcome,
				   const char **subject_r,
				   const char **body_r);

/* Why a mail holds no request, for the log: what its detail and the
   first word of its Subject were */
const char *
vsmlist_membership_describe_none(const struct vsmlist_settings *set,
				 const struct smtp_address *rcpt_to,
				 const char *subject);

#endif
