#ifndef VSMLIST_SETTINGS_H
#define VSMLIST_SETTINGS_H

#include "net.h"

struct smtp_address;
struct vsmlist_store;
struct vsmlist_store_settings;

/* The sieve_vsmlist_* settings of one list, typed and with their defaults
   applied. No Sieve dependency: the caller supplies a lookup function (the
   Sieve glue passes sieve_setting_get). */

#define VSMLIST_DEFAULT_MEMBERS "file:~/vsmlist/members"
/* A dict store's read or lookup; Dovecot's dict client waits as long for
   one reply */
#define VSMLIST_DEFAULT_MEMBERS_TIMEOUT_MSECS (30*1000)
/* Postfix's smtpd_recipient_limit default; far above the 100 of RFC 5321's
   minimum that every MTA accepts, and each batch costs one transaction. */
#define VSMLIST_DEFAULT_BATCH_SIZE 1000
#define VSMLIST_MAX_BATCH_SIZE 100000
#define VSMLIST_DEFAULT_DNS_TIMEOUT_MSECS 2000
#define VSMLIST_DEFAULT_DNS_CACHE "~/vsmlist/dns-cache"
#define VSMLIST_DEFAULT_PROGRESS "~/vsmlist/progress"
#define VSMLIST_DEFAULT_BOUNCE_RESET_SECS (7*24*3600)
#define VSMLIST_DEFAULT_BOUNCE_THRESHOLD 5
#define VSMLIST_MAX_BOUNCE_THRESHOLD 1000
/* Longer than any MTA keeps retrying (Postfix: 5 days) */
#define VSMLIST_DEFAULT_PROGRESS_EXPIRE_SECS (7*24*3600)
/* Membership: how long a confirmation is valid, how many mails one
   address gets about membership in 24 hours */
#define VSMLIST_DEFAULT_CONFIRM_EXPIRE_SECS (3*24*3600)
#define VSMLIST_MAX_CONFIRM_EXPIRE_SECS (365*24*3600)
#define VSMLIST_DEFAULT_CONFIRM_LIMIT 3
#define VSMLIST_MAX_CONFIRM_LIMIT 1000
#define VSMLIST_TOKEN_SECRET_FILE "~/vsmlist/secret"
#define VSMLIST_CONFIRM_LIMIT_FILE "~/vsmlist/confirm-limit"

enum vsmlist_dmarc_mode {
	/* Mitigate when the effective policy is quarantine or reject */
	VSMLIST_DMARC_MODE_AUTO = 0,
	VSMLIST_DMARC_MODE_WRAP,
	VSMLIST_DMARC_MODE_MUNGE,
	/* Never mitigate, and look nothing up */
	VSMLIST_DMARC_MODE_NONE,
};

/* TLS to the relay */
enum vsmlist_relay_ssl {
	/* Not set: Dovecot's submission_ssl applies */
	VSMLIST_RELAY_SSL_UNSET = 0,
	VSMLIST_RELAY_SSL_NO,
	/* smtps, submissions: TLS from the first byte */
	VSMLIST_RELAY_SSL_IMMEDIATE,
	VSMLIST_RELAY_SSL_STARTTLS,
};

#define VSMLIST_DEFAULT_RELAY_PORT 25

enum vsmlist_dns_failure {
	VSMLIST_DNS_FAILURE_WRAP = 0,
	VSMLIST_DNS_FAILURE_TEMPFAIL,
	VSMLIST_DNS_FAILURE_NONE,
};

enum vsmlist_subscription {
	/* Anyone may join, after confirming by mail */
	VSMLIST_SUBSCRIPTION_CONFIRM = 0,
	/* Nobody joins by mail (leaving still works) */
	VSMLIST_SUBSCRIPTION_CLOSED,
};

typedef const char *
vsmlist_setting_lookup_func_t(void *context, const char *name);

struct vsmlist_settings_env {
	/* The user's own address (sieve_user_email or the username), or NULL */
	const struct smtp_address *user_email;
	/* Dovecot's recipient_delimiter, or NULL for "+" */
	const char *recipient_delimiter;
	/* The user's home, for "~/..." paths, or NULL */
	const char *home;
	/* Dovecot's base_dir (the dict server's socket is there), or NULL */
	const char *base_dir;

	vsmlist_setting_lookup_func_t *lookup;
	void *context;
};

struct vsmlist_settings {
	/* Posting address of the list */
	const struct smtp_address *address;
	/* Display name */
	const char *name;
	/* Envelope sender of distributed mail */
	const struct smtp_address *bounce_address;
	/* Dovecot's recipient_delimiter ("+" when unset): each character
	   separates an address's detail; the first composes ours */
	const char *recipient_delimiter;
	/* Member store URI; a file: path is absolute */
	const char *members;
	/* Bound of a dict store's read or lookup */
	unsigned int members_timeout_msecs;
	/* The user's home and Dovecot's base_dir, or NULL, for the store */
	const char *home, *base_dir;
	/* RFC 2919 list identifier without the angle brackets */
	const char *list_id;
	/* Recipients per SMTP transaction */
	unsigned int batch_size;

	enum vsmlist_dmarc_mode dmarc_mode;
	enum vsmlist_dns_failure dns_failure;
	/* "host[:port]" list, or NULL for /etc/resolv.conf */
	const char *dns_servers;
	/* Bound for the whole DMARC discovery of one post */
	unsigned int dns_timeout_msecs;
	/* Answer cache file (absolute), or NULL for none */
	const char *dns_cache;
	/* Public suffix list file, or NULL for libpsl's choice */
	const char *psl_file;

	/* Author domains (lower-case A-labels) always / never mitigated; a
	   domain matches itself and its subdomains */
	const char *const *dmarc_force;
	const char *const *dmarc_exempt;
	/* Text of the wrapped post's notice, or NULL for the default;
	   "file:<path>" was read at load */
	const char *notice;
	/* Header names added to untouched posts where DKIM allows */
	const char *const *list_headers;
	/* RFC 2369 URIs (already in <>), NULL where not configured */
	const char *list_help, *list_owner, *list_subscribe;
	const char *list_unsubscribe, *list_archive;

	/* Fan-out (doc/fanout.md) */
	/* The relay, overriding Dovecot's submission_host; NULL for
	   Dovecot's */
	const char *submission_host;
	in_port_t submission_port;
	/* UNSET for Dovecot's submission_ssl */
	enum vsmlist_relay_ssl submission_ssl;
	/* SMTP AUTH to the relay, NULL for none */
	const char *submission_user, *submission_password;
	const char *submission_master_user;
	/* Bound for connecting and each wait on the relay; 0 for Dovecot's
	   submission_timeout */
	unsigned int submission_timeout_msecs;
	/* Directory of per-post progress records (absolute), NULL for
	   none */
	const char *progress;
	/* How long a post's progress record is kept */
	unsigned int progress_expire_secs;

	/* Bounces (doc/vsmlist.md) */
	/* Each member's copy with its own envelope sender */
	bool verp;
	/* Bounce points lapse after this long without a counted bounce */
	unsigned int bounce_reset_secs;
	/* Points at which a member is disabled */
	unsigned int bounce_threshold;

	/* Membership by mail (doc/vsmlist.md, "Joining and leaving") */
	/* Told of every confirmed change; NULL for nobody */
	const struct smtp_address *owner;
	enum vsmlist_subscription subscription;
	/* How long a confirmation token is valid */
	unsigned int confirm_expire_secs;
	/* Mails about membership to one address in 24 hours */
	unsigned int confirm_limit;
	/* Welcome and goodbye texts, NULL for the defaults; "file:<path>"
	   was read at load */
	const char *welcome, *goodbye;
	/* The token secret and the rate limit file (absolute), NULL when
	   the user has no home */
	const char *token_secret, *confirm_limit_file;
};

/* The %{variables} of sieve_vsmlist_notice, NULL-terminated; the values
   come in this order from vsmlist_compose_notice() */
extern const char *const vsmlist_notice_variables[];
/* The %{variables} of sieve_vsmlist_welcome and _goodbye: list, list_name,
   address, unsubscribe (in this order) */
extern const char *const vsmlist_membership_text_variables[];

/* "no", "smtps", "submissions", "starttls" (case-insensitive), the way
   Dovecot's submission_ssl has them. Returns 0, or -1 if unknown. */
int vsmlist_relay_ssl_parse(const char *value, enum vsmlist_relay_ssl *ssl_r);
/* "host[:port]" ("[::1]:25" for IPv6), port 25 by default, as Dovecot's
   submission_host has it. Returns 0, or -1 if invalid. */
int vsmlist_relay_host_parse(const char *value, const char **host_r,
			     in_port_t *port_r);

const char *vsmlist_dmarc_mode_name(enum vsmlist_dmarc_mode mode);
/* Parse a mode keyword ("auto", "wrap", "munge", "none") */
bool vsmlist_dmarc_mode_parse(const char *name,
			      enum vsmlist_dmarc_mode *mode_r);
/* The entry of a domain list that matches domain (itself or a parent),
   the longest one, or NULL */
const char *vsmlist_domain_list_match(const char *const *list,
				      const char *domain);

/* <list local><first delimiter><detail>@<list domain>: the bounce,
   subscribe, unsubscribe and confirm addresses */
struct smtp_address *
vsmlist_settings_detail_address(pool_t pool,
				const struct vsmlist_settings *set,
				const char *detail);
/* "<mailto:...>" of an address, with what a URI cannot hold
   percent-encoded (RFC 6068) */
const char *vsmlist_mailto_uri(const struct smtp_address *address);

/* The member store's settings for this list (its URI is set->members) */
void vsmlist_settings_store(const struct vsmlist_settings *set,
			    struct event *event_parent,
			    struct vsmlist_store_settings *store_set_r);
/* Open the list's member store. A store that cannot be opened is a
   wrong sieve_vsmlist_members: error_r names the setting. */
int vsmlist_settings_open_store(const struct vsmlist_settings *set,
				struct event *event_parent,
				struct vsmlist_store **store_r,
				const char **error_r);

/* Read and validate the settings. Returns 0 on success, -1 with an error
   naming the offending setting. */
int vsmlist_settings_load(pool_t pool, const struct vsmlist_settings_env *env,
			  const struct vsmlist_settings **set_r,
			  const char **error_r);

#endif
