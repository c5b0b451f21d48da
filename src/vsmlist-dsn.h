#ifndef VSMLIST_DSN_H
#define VSMLIST_DSN_H

#include "array-decl.h"

struct istream;
struct smtp_address;

/* Delivery status notifications (RFC 3464, RFC 6533) reaching the bounce
   address: is the message a report, and for whom. No Sieve dependency.
   Every byte of the message is the sender's, so everything is bounded:
   doc/vsmlist.md "Bounce reports (parsing)" gives the rules. */

/* Recipient blocks parsed; the others are only counted */
#define VSMLIST_DSN_MAX_RECIPIENTS 1000
/* A per-message or per-recipient block larger than this is skipped */
#define VSMLIST_DSN_MAX_BLOCK_SIZE (16 * 1024)
/* Text kept of one field (longer values are cut at a UTF-8 boundary) */
#define VSMLIST_DSN_MAX_VALUE_SIZE 1000
/* MIME structure */
#define VSMLIST_DSN_MAX_MIME_PARTS 100
#define VSMLIST_DSN_MAX_NESTED_PARTS 10
#define VSMLIST_DSN_MAX_ALL_HEADERS_SIZE (1024 * 1024)

enum vsmlist_dsn_action {
	/* Missing or not one of the five RFC 3464 values */
	VSMLIST_DSN_ACTION_UNKNOWN = 0,
	VSMLIST_DSN_ACTION_FAILED,
	VSMLIST_DSN_ACTION_DELAYED,
	VSMLIST_DSN_ACTION_DELIVERED,
	VSMLIST_DSN_ACTION_RELAYED,
	VSMLIST_DSN_ACTION_EXPANDED,
};

struct vsmlist_dsn_status {
	/* class.subject.detail: class 2, 4 or 5, the others 1-3 digits */
	unsigned int class, subject, detail;
	/* A well-formed Status: field was present */
	bool valid;
	/* A Status: field was present but not well-formed */
	bool malformed;
};

struct vsmlist_dsn_recipient {
	/* The fields as written (unfolded, valid UTF-8, at most
	   VSMLIST_DSN_MAX_VALUE_SIZE octets), NULL when absent */
	const char *original_recipient_raw, *final_recipient_raw;
	const char *status_raw, *diagnostic, *remote_mta;
	/* The address of an "rfc822;" or "utf-8;" typed field (a missing
	   type counts as rfc822), or NULL (absent, another type such as
	   x400, not a valid mailbox, or longer than
	   VSMLIST_DSN_MAX_VALUE_SIZE) */
	const struct smtp_address *original_recipient, *final_recipient;
	enum vsmlist_dsn_action action;
	struct vsmlist_dsn_status status;
};
ARRAY_DEFINE_TYPE(vsmlist_dsn_recipient, struct vsmlist_dsn_recipient);

struct vsmlist_dsn {
	/* A multipart/report with report-type delivery-status (or
	   global-delivery-status) holding a message/delivery-status (or
	   message/global-delivery-status) part was found, at the top or as
	   the top of one message/rfc822 part (forwarded = TRUE) */
	bool is_report;
	bool forwarded;
	/* The delivery-status part was not closed by a MIME boundary: the
	   blocks before the cut are given, the cut one is not */
	bool truncated;

	/* Per-message fields as written, NULL when absent */
	const char *envid, *reporting_mta, *arrival_date;
	ARRAY_TYPE(vsmlist_dsn_recipient) recipients;
	/* Recipient blocks not in recipients: beyond
	   VSMLIST_DSN_MAX_RECIPIENTS, oversized, or cut by the truncation */
	unsigned int recipients_skipped;
	/* The first thing wrong with the report, for the log, or NULL */
	const char *problem;

	/* From the message's own header (the outer one when forwarded):
	   the first auto-reply sign ("Auto-Submitted: auto-replied",
	   "Subject: out of office", ...) and the first sign of a
	   non-report bounce ("From: MAILER-DAEMON or postmaster",
	   "X-Failed-Recipients"),
	   NULL when none. See vsmlist_dsn_is_auto_reply(). */
	const char *auto_reply_sign, *bounce_sign;
};

/* Parse the whole message from input (blocking; read once, from its
   current offset, and only as far as the end of the delivery-status
   part). dsn_r is allocated from pool. Returns 0 (whether or not the
   message is a report), or -1 on a read error. */
int vsmlist_dsn_parse(pool_t pool, struct istream *input,
		      struct vsmlist_dsn *dsn_r, const char **error_r);

/* Action failed and a valid 5.x.x status. Delayed, delivered, relayed,
   expanded, 4.x.x and a missing or malformed status are not. */
bool vsmlist_dsn_recipient_is_hard_failure(
	const struct vsmlist_dsn_recipient *rcpt);
/* The address the list sent to: Original-Recipient (what a relay asked
   for ORCPT reports) when it is an address, else Final-Recipient, else
   NULL. */
const struct smtp_address *
vsmlist_dsn_recipient_address(const struct vsmlist_dsn_recipient *rcpt);

/* An automatic reply (vacation, out of office) rather than a bounce:
   no report, no bounce sign, and an auto-reply sign (returned in
   reason_r). */
bool vsmlist_dsn_is_auto_reply(const struct vsmlist_dsn *dsn,
			       const char **reason_r);

const char *vsmlist_dsn_action_name(enum vsmlist_dsn_action action);

#endif
