#ifndef VSMLIST_MEMBERS_H
#define VSMLIST_MEMBERS_H

struct smtp_address;

/* The members a script gives (distribute :members): each address once,
   however its case is written, in the order first seen. A list's store is
   vsmlist-store.h. */
struct vsmlist_members;

struct vsmlist_members *vsmlist_members_init(pool_t pool);
/* Must be called before the pool is released: the index holds a
   reference to it */
void vsmlist_members_deinit(struct vsmlist_members **members);

/* Add one address ("user@domain" or "<user@domain>"). Returns 1 when added,
   0 when it is a duplicate, -1 (with error_r) when it is not a valid
   mailbox. */
int vsmlist_members_add(struct vsmlist_members *members, const char *address,
			const char **error_r);
/* Drop an address (the list's own, so a member entry cannot loop). Returns
   TRUE when it was present. */
bool vsmlist_members_remove(struct vsmlist_members *members,
			    const struct smtp_address *address);

const struct smtp_address *const *
vsmlist_members_get(const struct vsmlist_members *members,
		    unsigned int *count_r);

#endif
