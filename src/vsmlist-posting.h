#ifndef VSMLIST_POSTING_H
#define VSMLIST_POSTING_H

struct smtp_address;
struct vsmlist_member_set;
struct vsmlist_store;

/* Who is a member, as the Sieve test `member` asks it: an address (the
   envelope sender, one given) or the mailboxes of the post's From fields.
   Addresses compare by the store's key (domain and local part
   case-insensitive); a domain in U-labels matches its A-label form.
   Disabled members are still members: they may post, they only receive
   nothing. No Sieve dependency. */

/* Whom to ask */
struct vsmlist_posting_members {
	/* The members, read once per delivery; or NULL: then each address
	   is looked up in store (a dict store looks a member up alone) */
	const struct vsmlist_member_set *set;
	struct vsmlist_store *store;
	/* Lookups and the error are allocated from it (not a data stack
	   pool: the From fields are parsed in frames of their own) */
	pool_t pool;
	/* The store's first failure: no further lookups, every answer
	   FALSE, and the caller must not take it for one */
	const char *error;
};

/* Whether address is a member (NULL, or an address no store can hold:
   FALSE) */
bool vsmlist_posting_is_member(struct vsmlist_posting_members *members,
			       const struct smtp_address *address);
/* Whether one of the mailboxes of the From fields (raw values,
   NULL-terminated, or NULL) is a member */
bool vsmlist_posting_from_is_member(struct vsmlist_posting_members *members,
				    const char *const *from_fields);
/* Whether address (as a string: "a@b", "<a@b>") is a member; an invalid
   address is none */
bool vsmlist_posting_string_is_member(struct vsmlist_posting_members *members,
				      const char *address);

#endif
