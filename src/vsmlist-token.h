#ifndef VSMLIST_TOKEN_H
#define VSMLIST_TOKEN_H

struct smtp_address;

/* Stateless confirmation tokens for double opt-in. A token travels in an
   address local part, <list local><delimiter>confirm-<token>@<domain>,
   which MTAs may lower-case and which holds at most 64 octets: it is
   lower-case base32 without padding (either case is accepted) of

     1 octet   version (high 4 bits) and action (low 4 bits)
     4 octets  expiry, Unix time, big-endian
     10 octets HMAC-SHA256, truncated to 80 bits, with the list's secret
               over the 5 octets above, the list's key, a NUL and the
               member's key (vsmlist_store_address_key())

   15 octets, 24 characters. The member's address is not in the token: a
   verifier tries the candidate addresses (From:, the envelope sender).
   With "+confirm-" a list local part of up to 31 octets fits in 64. */

#define VSMLIST_TOKEN_LEN 24
/* The secret file: 32 random octets when created; 32 to 256 accepted */
#define VSMLIST_TOKEN_SECRET_MIN_SIZE 32
#define VSMLIST_TOKEN_SECRET_MAX_SIZE 256

enum vsmlist_token_action {
	VSMLIST_TOKEN_ACTION_SUBSCRIBE = 1,
	VSMLIST_TOKEN_ACTION_UNSUBSCRIBE = 2,
};

enum vsmlist_token_result {
	VSMLIST_TOKEN_OK = 0,
	/* Not a token: wrong length, not base32, unknown version/action */
	VSMLIST_TOKEN_MALFORMED,
	/* The MAC does not match: another list, address, action, expiry or
	   secret, or a changed character */
	VSMLIST_TOKEN_FORGED,
	/* Genuine, but past its expiry */
	VSMLIST_TOKEN_EXPIRED,
};

struct vsmlist_token_secret {
	size_t size;
	unsigned char data[VSMLIST_TOKEN_SECRET_MAX_SIZE];
};

/* A token for action on address at list, valid until expires (inclusive).
   Allocated from the data stack. NULL when an address has no key
   (vsmlist_store_address_key()). */
const char *
vsmlist_token_create(const struct vsmlist_token_secret *secret,
		     enum vsmlist_token_action action,
		     const struct smtp_address *list,
		     const struct smtp_address *address, time_t expires);
/* Verify token (in either case) for address at list at time now. OK and
   EXPIRED set action_r; an address without a key gives FORGED. The MAC is
   compared in constant time, and checked before the expiry, so EXPIRED is
   only said of a genuine token. */
enum vsmlist_token_result
vsmlist_token_verify(const struct vsmlist_token_secret *secret,
		     const char *token, const struct smtp_address *list,
		     const struct smtp_address *address, time_t now,
		     enum vsmlist_token_action *action_r);
/* "ok", "malformed", "forged", "expired" (for log lines and events) */
const char *vsmlist_token_result_str(enum vsmlist_token_result result);

/* Read the list's secret from path (~/vsmlist/secret), creating it with
   32 random octets (mode 0600, and the directory) when it does not exist.
   Two processes creating it at once agree on one secret (O_EXCL on a
   temporary name, then link()). A file that is not a regular file, is
   shorter than 32 or longer than 256 octets, or gives group or others any
   permission is refused. Returns 0, or -1 with error_r. */
int vsmlist_token_secret_get(const char *path,
			     struct vsmlist_token_secret *secret_r,
			     const char **error_r);

#endif
