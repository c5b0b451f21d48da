#ifndef VSMLIST_RATELIMIT_H
#define VSMLIST_RATELIMIT_H

/* A per-address limit on the mails a list sends on its own (confirmation
   requests), so that nobody can make the list mail an address again and
   again. The count lives in a small file (~/vsmlist/confirm-limit),
   changed under its dotlock:

     vsmlist-confirm-limit 1
     <Unix time> <hex of the first 16 octets of SHA-256 of the address key>

   one line per mail sent. Each change drops the entries older than the
   window. The file holds at most VSMLIST_RATELIMIT_MAX_ENTRIES entries:
   when it is full, every address is refused until entries age out (fail
   closed: the list never turns into a mail bomb). */

#define VSMLIST_RATELIMIT_MAX_ENTRIES 10000
#define VSMLIST_RATELIMIT_HEADER "vsmlist-confirm-limit 1"

enum vsmlist_ratelimit_result {
	/* Below the limit: the mail was counted, send it */
	VSMLIST_RATELIMIT_ALLOWED = 0,
	/* The address had limit mails in the window: do not send */
	VSMLIST_RATELIMIT_LIMITED,
	/* The file holds the most entries it may: do not send */
	VSMLIST_RATELIMIT_FULL,
};

/* Check whether one more mail to the address with this key
   (vsmlist_store_address_key()) is allowed, at most limit in window_secs,
   and count it if so. Returns 0 with result_r, or -1 with error_r (lock
   timeout, I/O error, a file that is not a confirm-limit file or is too
   large): send nothing then either. Dropped invalid lines are logged on
   event (not NULL). */
int vsmlist_ratelimit_check_and_count(const char *path, const char *key,
				      unsigned int limit,
				      unsigned int window_secs, time_t now,
				      struct event *event,
				      enum vsmlist_ratelimit_result *result_r,
				      const char **error_r);
/* "allowed", "limited", "full" */
const char *
vsmlist_ratelimit_result_str(enum vsmlist_ratelimit_result result);

#endif
