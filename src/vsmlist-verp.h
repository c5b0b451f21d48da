#ifndef VSMLIST_VERP_H
#define VSMLIST_VERP_H

struct smtp_address;

/* VERP: each member's copy leaves with its own envelope sender
     <list local><delimiter>bounces-<member local>=<member domain>@<domain>
   so that a bounce names its member even without a report. The member's
   domain never contains '=' (the encoder refuses one that does), so the
   LAST '=' of the local part separates the member's local part, which may
   contain anything, '=' and the delimiter included. No Sieve
   dependency. */

#define VSMLIST_VERP_DETAIL "bounces"

/* The envelope sender for member's copy, or NULL when the member's
   domain contains '=' (only a general address literal can) or the result
   would not decode back to exactly member. */
struct smtp_address *
vsmlist_verp_encode(pool_t pool, const char *list_localpart, char delimiter,
		    const struct smtp_address *member, const char *domain);

/* The member named by a recipient of the list's mailbox. The local part
   must be list_localpart, one of the delimiters (Dovecot's
   recipient_delimiter, which may list several), "bounces-" (both
   compared case-insensitively) and then <member local>=<member domain>;
   the recipient's domain is not looked at (delivery put the message into
   the list's mailbox). Returns 1 with member_r; 0 when the recipient is
   no VERP address of the list (the plain bounce address
   <list local><delimiter>bounces is not); -1 with error_r when it has the
   form but does not decode to a valid mailbox. */
int vsmlist_verp_decode(pool_t pool, const struct smtp_address *recipient,
			const char *list_localpart, const char *delimiters,
			struct smtp_address **member_r, const char **error_r);

#endif
