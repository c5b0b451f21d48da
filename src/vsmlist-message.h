#ifndef VSMLIST_MESSAGE_H
#define VSMLIST_MESSAGE_H

struct istream;
struct vsmlist_settings;

/* The copy a member receives when the post is not mitigated: the original
   bytes with Return-Path removed (it belongs to the final delivery) and the
   list's trace header prepended, lines ending in CRLF. Prepending leaves
   every DKIM signature intact: a signer cannot have signed a header that
   did not yet exist above the others, and verifiers pick header instances
   from the bottom. The returned stream holds its own reference to input. */
struct istream *
vsmlist_message_untouched(struct istream *input,
			  const struct vsmlist_settings *set);

#endif
