#ifndef VSMLIST_AUTHOR_H
#define VSMLIST_AUTHOR_H

#include "array-decl.h"

/* The author of a post, from its From: field(s), as DMARC sees it
   (RFC 9989 5.3.1, RFC 7489 6.6.1). No Sieve dependency. */

enum vsmlist_author_status {
	/* Exactly one From field holding exactly one usable mailbox */
	VSMLIST_AUTHOR_OK = 0,
	/* No From field, or one without a mailbox */
	VSMLIST_AUTHOR_NONE,
	/* Several From fields or several mailboxes (the usable ones, up to
	   VSMLIST_AUTHOR_MAX_MAILBOXES, are in mailboxes[]): no single
	   author's policy applies, so such a post is wrapped */
	VSMLIST_AUTHOR_SEVERAL,
	/* Unparseable: a@b@c, group syntax, empty domain, domain literal,
	   invalid IDN or labels */
	VSMLIST_AUTHOR_MALFORMED,
};

struct vsmlist_author_mailbox {
	/* Display name as written (without quotes), or NULL */
	const char *name;
	const char *localpart;
	/* As written in the header */
	const char *domain_raw;
	/* Lower-case A-labels without a trailing dot */
	const char *domain;
};

struct vsmlist_author {
	enum vsmlist_author_status status;
	/* Why the author is not OK, for the log */
	const char *reason;
	/* The usable mailboxes (one when OK) */
	ARRAY(struct vsmlist_author_mailbox) mailboxes;
};

/* Mailboxes (and From fields) looked at: a post with more has several
   authors whatever the rest says */
#define VSMLIST_AUTHOR_MAX_MAILBOXES 16

/* Parse the From fields (NULL-terminated, raw header values as
   mail_get_headers() gives them; NULL for none). */
void vsmlist_author_parse(pool_t pool, const char *const *from_fields,
			  struct vsmlist_author *author_r);

/* Normalise one domain: strip one trailing dot, U-labels to A-labels
   (IDNA2008 non-transitional, NFC), lower-case, then check the labels
   (1-63 octets, letters/digits/hyphen/underscore) and the length (at most
   246 octets so "_dmarc." still fits). Returns 0, or -1 with error_r. */
int vsmlist_author_domain_normalize(const char *domain, const char **domain_r,
				    const char **error_r);

const char *vsmlist_author_status_name(enum vsmlist_author_status status);

#endif
