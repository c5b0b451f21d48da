/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "smtp-address.h"

#include "vsmlist-author.h"
#include "vsmlist-store.h"
#include "vsmlist-posting.h"

static bool
vsmlist_posting_store_has(struct vsmlist_posting_members *members,
			  const struct smtp_address *address)
{
	struct vsmlist_member member;
	const char *error;
	int ret;

	if (members->error != NULL)
		return FALSE;
	ret = vsmlist_store_lookup(members->store, address, members->pool,
				   &member, &error);
	if (ret < 0)
		members->error = p_strdup(members->pool, error);
	return ret > 0;
}

bool vsmlist_posting_is_member(struct vsmlist_posting_members *members,
			       const struct smtp_address *address)
{
	const char *key;

	if (address == NULL || address->localpart == NULL ||
	    address->domain == NULL)
		return FALSE;
	if (members->set == NULL)
		return vsmlist_posting_store_has(members, address);
	key = vsmlist_store_address_key(address);
	return key != NULL &&
		vsmlist_member_set_lookup_key(members->set, key) != NULL;
}

bool vsmlist_posting_from_is_member(struct vsmlist_posting_members *members,
				    const char *const *from_fields)
{
	const struct vsmlist_author_mailbox *mbox;
	struct vsmlist_author author;
	bool found = FALSE;

	T_BEGIN {
		/* The author parser's bounds apply: at most
		   VSMLIST_AUTHOR_MAX_MAILBOXES looked at */
		vsmlist_author_parse(pool_datastack_create(), from_fields,
				     &author);
		array_foreach(&author.mailboxes, mbox) {
			if (vsmlist_posting_is_member(members,
				smtp_address_create_temp(mbox->localpart,
							 mbox->domain))) {
				found = TRUE;
				break;
			}
		}
	} T_END;
	return found;
}

bool vsmlist_posting_string_is_member(struct vsmlist_posting_members *members,
				      const char *address)
{
	struct smtp_address *addr;
	const char *error;
	bool found = FALSE;

	T_BEGIN {
		if (smtp_address_parse_path(pool_datastack_create(), address,
					    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
					    &addr, &error) == 0)
			found = vsmlist_posting_is_member(members, addr);
	} T_END;
	return found;
}
