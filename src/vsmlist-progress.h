#ifndef VSMLIST_PROGRESS_H
#define VSMLIST_PROGRESS_H

#include "vsmlist-transport.h"

/* Per-post delivery progress, so that the MTA's retry of a post that
   failed half-way sends it only to the members who have not got it.

   A post is identified by the list address and its Message-ID, or, where
   it has none, by a digest of the post (its body and From/Date/Subject).
   Each post has one small text file in the progress directory (the list
   user's ~/vsmlist/progress by default), named by a hash of that key:

     vsmlist-progress 1
     list friends@example.org
     message-id <id@example.com>
     digest <hex SHA-256 of the body>
     S alice@example.net          sent (the relay accepted it)
     R bob@example.org            rejected permanently

   Lines are appended as transactions finish. A post that reached every
   member is rewritten as a short "complete" record, kept so that another
   delivery of the same post (an MTA retry after a lost LMTP reply) sends
   nothing again. A record whose digest differs is another post that
   reuses a Message-ID: it starts afresh. Records expire, and at most
   VSMLIST_PROGRESS_MAX_POSTS are kept. While a delivery works on a post,
   its record is locked (flock); a second delivery of the same post at the
   same time is told to retry later. */

#define VSMLIST_PROGRESS_MAX_POSTS 1000

struct vsmlist_progress;

struct vsmlist_progress_key {
	/* The list's address (compared case-insensitively) */
	const char *list;
	/* The post's Message-ID as in its header, or NULL */
	const char *message_id;
	/* Hex digest of the post's content (vsmlist_progress_digest()) */
	const char *digest;
};

enum vsmlist_progress_state {
	VSMLIST_PROGRESS_NONE = 0,
	VSMLIST_PROGRESS_SENT,
	VSMLIST_PROGRESS_REJECTED,
};

/* The hex digest that identifies a post without a usable Message-ID and
   tells posts apart that share one: SHA-256 over the given header values
   (From, Date, Subject) and the body. Returns 0, or -1 on a read error. */
int vsmlist_progress_digest(struct istream *body,
			    const char *const *header_values,
			    const char **digest_r, const char **error_r);

/* Open the progress record of a post in dir (created if needed), locked
   for this delivery; expired records are removed and the number of
   records kept bounded. Returns 1 on success, 0 when another delivery of
   the same post holds the lock (retry later), -1 on error. */
int vsmlist_progress_open(const char *dir,
			  const struct vsmlist_progress_key *key,
			  unsigned int expire_secs, struct event *event,
			  struct vsmlist_progress **progress_r,
			  const char **error_r);

/* What an earlier attempt did for this member */
enum vsmlist_progress_state
vsmlist_progress_lookup(struct vsmlist_progress *progress,
			const struct smtp_address *rcpt);

/* Append the sent and rejected recipients of one transaction. Returns 0,
   or -1 on a write error. */
int vsmlist_progress_record(struct vsmlist_progress *progress,
			    const struct smtp_address *const *rcpts,
			    const struct vsmlist_rcpt_result *results,
			    unsigned int count, const char **error_r);

/* Finish with the record and unlock it:
     complete: every member was dealt with; the record is rewritten as a
               complete one (or removed when nobody ever got the post, so
               that a later delivery of it starts afresh);
     otherwise the record is flushed to disk for the retry.
   Returns 0, or -1 on error (the record is closed either way). */
int vsmlist_progress_close(struct vsmlist_progress **progress,
			   bool complete, const char **error_r);

/* Remove records older than expire_secs, then the oldest beyond
   max_posts (the locked ones are never touched). Returns the number of
   records removed, or -1 if dir could not be read. */
int vsmlist_progress_prune(const char *dir, unsigned int expire_secs,
			   unsigned int max_posts, struct event *event);

#endif
