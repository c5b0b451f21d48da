#ifndef VSMLIST_POSTING_H
#define VSMLIST_POSTING_H

struct smtp_address;
struct vsmlist_member_set;

/* Who is a member, as the Sieve test `member` asks it: an address (the
   envelope sender, one given) or the mailboxes of the post's From fields,
   looked up in a member set read once per delivery. Addresses compare by
   the store's key (domain and local part case-insensitive); a domain in
   U-labels matches its A-label form. Disabled members are still members:
   they may post, they only receive nothing. No Sieve dependency. */

/* Whether address is a member (NULL, or an address no store can hold:
   FALSE) */
bool vsmlist_posting_is_member(const struct vsmlist_member_set *set,
			       const struct smtp_address *address);
/* Whether one of the mailboxes of the From fields (raw values,
   NULL-terminated, or NULL) is a member */
bool vsmlist_posting_from_is_member(const struct vsmlist_member_set *set,
				    const char *const *from_fields);
/* Whether address (as a string: "a@b", "<a@b>") is a member; an invalid
   address is none */
bool vsmlist_posting_string_is_member(const struct vsmlist_member_set *set,
				      const char *address);

#endif
