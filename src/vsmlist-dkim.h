#ifndef VSMLIST_DKIM_H
#define VSMLIST_DKIM_H

/* Which header fields the DKIM signatures of a post cover. A header the
   list adds breaks a signature whose h= names it (a verifier then hashes
   the added instance, or for an oversigned absent header, finds one more
   instance than was signed), so the untouched copy adds only headers no
   signature names. No Sieve dependency. */

struct vsmlist_dkim_coverage;

/* signatures: the unfolded values of the post's DKIM-Signature fields
   (NULL-terminated, or NULL) */
struct vsmlist_dkim_coverage *
vsmlist_dkim_coverage_init(pool_t pool, const char *const *signatures);

/* The signing domain (d=) of a signature whose h= names the header
   (case-insensitively), or NULL when none does. Signatures a verifier
   rejects on sight (a malformed tag-list, a required tag missing, v not 1,
   h= without From, a d= that is no domain name) are ignored: they protect
   nothing, and a forged one must not keep the list's headers out. */
const char *vsmlist_dkim_covers(const struct vsmlist_dkim_coverage *coverage,
				const char *header_name);

#endif
