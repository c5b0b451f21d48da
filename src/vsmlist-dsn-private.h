#ifndef VSMLIST_DSN_PRIVATE_H
#define VSMLIST_DSN_PRIVATE_H

#include "vsmlist-dsn.h"

struct message_header_line;

/* The fields of one block of a delivery-status part that this parser
   uses, unfolded, NULs and invalid UTF-8 replaced by U+FFFD, not yet
   shortened (data stack). The first occurrence of a field counts. */
struct vsmlist_dsn_block {
	/* per-message */
	const char *reporting_mta, *envid, *arrival_date;
	/* per-recipient */
	const char *original_recipient, *final_recipient;
	const char *action, *status, *diagnostic, *remote_mta;
};

/* Read one block (header fields up to a blank line or the end of data)
   with Dovecot's header parser. */
void vsmlist_dsn_block_read(const unsigned char *data, size_t size,
			    struct vsmlist_dsn_block *block_r);
/* The recipient described by a block */
void vsmlist_dsn_recipient_init(pool_t pool,
				const struct vsmlist_dsn_block *block,
				struct vsmlist_dsn_recipient *rcpt_r);
/* A value as kept in struct vsmlist_dsn: at most
   VSMLIST_DSN_MAX_VALUE_SIZE octets, cut at a character boundary.
   NULL stays NULL. */
const char *vsmlist_dsn_value_keep(pool_t pool, const char *value);

/* Note the auto-reply and bounce signs of one complete header field of
   the message's own header. */
void vsmlist_dsn_signs_add(pool_t pool, struct vsmlist_dsn *dsn,
			   const struct message_header_line *hdr);

#endif
