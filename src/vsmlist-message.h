#ifndef VSMLIST_MESSAGE_H
#define VSMLIST_MESSAGE_H

#include "array-decl.h"

struct istream;

/* The streams a member receives, built without holding the post in
   memory: untouched (the original bytes), munged (From rewritten) and
   wrapped (a new message holding the original as message/rfc822). All
   output lines end in CRLF. No Sieve dependency. */

struct vsmlist_header_field {
	const char *name;
	/* As in the post: "Name: value" with its folding, CRLF between the
	   lines, no final CRLF */
	const char *raw;
	/* The value unfolded */
	const char *value;
};
ARRAY_DEFINE_TYPE(vsmlist_header_field, struct vsmlist_header_field);

/* What of a post's header is kept in memory: beyond either bound the post
   is malformed (the list keeps it rather than distribute it) */
#define VSMLIST_MESSAGE_MAX_HEADER_SIZE (1024 * 1024)
#define VSMLIST_MESSAGE_MAX_HEADER_FIELDS 10000

/* Read the header of the post (from the stream's current offset; the
   stream is left after the header). Lines without a field name (no colon)
   are not stored. malformed_r is set (and the fields are incomplete) when
   the header holds a NUL byte or is beyond the bounds above. Returns 0,
   or -1 on read error. */
int vsmlist_message_read_header(struct istream *input, pool_t pool,
				ARRAY_TYPE(vsmlist_header_field) *fields,
				const char **malformed_r, const char **error_r);
/* The unfolded values of a header, NULL-terminated, or NULL if absent */
const char *const *
vsmlist_message_header_values(const ARRAY_TYPE(vsmlist_header_field) *fields,
			      const char *name);
const struct vsmlist_header_field *
vsmlist_message_header_first(const ARRAY_TYPE(vsmlist_header_field) *fields,
			     const char *name);
/* The field's value as written, after the colon, folding kept */
const char *vsmlist_header_field_raw_value(const struct vsmlist_header_field *field);
/* The same from its first non-blank character: its line breaks are all
   followed by white space, so it can follow any "Name: " or ", " */
const char *
vsmlist_header_field_value_lines(const struct vsmlist_header_field *field);

/* What a member's copy leaves out of the original's header, besides
   Return-Path (it belongs to the final delivery). The strings must live
   as long as the streams made with it. */
struct vsmlist_message_filter {
	/* Header names dropped: the fields the list replaces */
	const char *const *remove;
	/* Delivered-To fields naming the list (localpart@domain, or
	   localpart<delimiter>detail@domain) are the list's own LMTP hop:
	   dropped. NULL list_localpart: none dropped. */
	const char *list_localpart, *list_domain, *delimiters;
};

/* The original, filtered, with prepend (complete CRLF lines) on top: the
   untouched copy (which replaces only unsigned fields, so every DKIM
   signature stays intact; vsmlist-dkim tells which) and the munged one
   (which replaces From). */
struct istream *
vsmlist_message_prepend(struct istream *input, const char *prepend,
			const struct vsmlist_message_filter *filter);

/* head (the new message's header, its notice part and the header of the
   message/rfc822 part), the original, filtered, then the closing
   boundary. */
struct istream *
vsmlist_message_wrap(struct istream *input, const char *head,
		     const char *boundary,
		     const struct vsmlist_message_filter *filter);

struct vsmlist_message_scan {
	/* The boundary string occurs somewhere in the post */
	bool contains_boundary;
	/* Octets >= 0x80, NUL, or lines over 998 octets */
	bool has_8bit, has_nul, has_long_lines;
	uoff_t size;
};

/* Read the whole post once (from offset 0; the stream is left at its end)
   and report what the wrapped message must know about it. boundary may be
   NULL when only the octets matter. */
int vsmlist_message_scan(struct istream *input, const char *boundary,
			 struct vsmlist_message_scan *scan_r,
			 const char **error_r);

#endif
