#ifndef VSMLIST_STORE_PARSE_H
#define VSMLIST_STORE_PARSE_H

#include "vsmlist-store.h"

/* The file backend's formats, parsed from memory (no I/O; fuzzed by
   fuzz-vsmlist-store-file.c). The files are anyone's with access to the
   list's home: every outcome for any content is defined and bounded.

   Member file: one address a line ("a@b" or "<a@b>"); '#' at the start of
   a line or after white space starts a comment; blank lines and white
   space around the address are ignored. A line that holds no valid
   address (or NUL octets) is invalid, one longer than
   VSMLIST_STORE_MAX_LINE octets too long: both are logged and skipped,
   and kept as they are when the file is rewritten.

   State file (<member file>.state): a version line, then one line per
   member whose state is not the default:

     vsmlist-state 1
     <enabled|disabled> <bounce points> <last bounce> <disabled at> <key>

   with times in Unix seconds (0 = never) and the member's key (the rest
   of the line, as vsmlist_store_address_key() gives it). */

#define VSMLIST_STORE_MAX_LINE 4096
#define VSMLIST_STORE_STATE_HEADER "vsmlist-state 1"
/* Log at most this many skipped lines per file read, then a count */
#define VSMLIST_STORE_MAX_LOGGED_LINES 10

enum vsmlist_store_line_type {
	/* Blank or only a comment */
	VSMLIST_STORE_LINE_EMPTY = 0,
	VSMLIST_STORE_LINE_MEMBER,
	VSMLIST_STORE_LINE_INVALID,
	VSMLIST_STORE_LINE_TOO_LONG,
};

struct vsmlist_store_line {
	unsigned int line_num;
	/* The line's octets in the buffer: [start, start + size), and the
	   offset after its LF (or the buffer's end) */
	size_t start, size, next;
	enum vsmlist_store_line_type type;
	/* MEMBER: the address and its key */
	struct smtp_address *address;
	const char *key;
	/* INVALID: why */
	const char *error;
};

struct vsmlist_store_line_iter {
	const unsigned char *data;
	size_t size, pos;
	unsigned int line_num;
};

/* Split data into lines (line_r's numbers and offsets only) */
void vsmlist_store_line_iter_init(struct vsmlist_store_line_iter *iter,
				  const unsigned char *data, size_t size);
bool vsmlist_store_line_iter_next(struct vsmlist_store_line_iter *iter,
				  struct vsmlist_store_line *line_r);

/* Parse one member's address ("a@b" or "<a@b>", nothing else around it)
   into address_r and its key (vsmlist_store_address_key()), both from
   pool. Returns 0, or -1 with error_r (data stack). */
int vsmlist_store_address_parse(pool_t pool, const char *text,
				struct smtp_address **address_r,
				const char **key_r, const char **error_r);

/* Classify one member line (data and size without its LF): sets type,
   address and key (from pool), error (data stack). */
void vsmlist_store_line_parse(pool_t pool, const unsigned char *data,
			      size_t size, struct vsmlist_store_line *line);

/* Parse a member file and, where state_data is not NULL, its state file
   into a member set from pool (not a data stack pool). path names the
   file in log lines (on event; NULL: nothing is logged). Returns 0, or -1
   with error_r: more than max_members members, or a state file of
   another version. */
int vsmlist_store_parse(pool_t pool, struct event *event, const char *path,
			unsigned int max_members,
			const unsigned char *data, size_t size,
			const unsigned char *state_data, size_t state_size,
			struct vsmlist_member_set **set_r,
			const char **error_r);

/* Apply a state file (path names it in log lines) to the members of set.
   Returns 0, or -1 with error_r when it is not a version 1 state file. */
int vsmlist_store_parse_state(struct vsmlist_member_set *set,
			      struct event *event, const char *path,
			      const unsigned char *data, size_t size,
			      const char **error_r);
/* Parse one state line into member's state fields and its key. Returns 0,
   or -1 with error_r. */
int vsmlist_store_state_line_parse(const char *line,
				   struct vsmlist_member *member,
				   const char **error_r);
/* The state file for the set: its members with state, in set order */
void vsmlist_store_state_write(string_t *dest,
			       const struct vsmlist_member_set *set);

#endif
