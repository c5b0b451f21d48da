#ifndef VSMLIST_SETTINGS_H
#define VSMLIST_SETTINGS_H

struct smtp_address;

/* The sieve_vsmlist_* settings of one list, typed and with their defaults
   applied. No Sieve dependency: the caller supplies a lookup function (the
   Sieve glue passes sieve_setting_get). */

#define VSMLIST_DEFAULT_MEMBERS "file:~/vsmlist/members"
/* Postfix's smtpd_recipient_limit default; far above the 100 of RFC 5321's
   minimum that every MTA accepts, and each batch costs one transaction. */
#define VSMLIST_DEFAULT_BATCH_SIZE 1000
#define VSMLIST_MAX_BATCH_SIZE 100000

typedef const char *
vsmlist_setting_lookup_func_t(void *context, const char *name);

struct vsmlist_settings_env {
	/* The user's own address (sieve_user_email or the username), or NULL */
	const struct smtp_address *user_email;
	/* Dovecot's recipient_delimiter, or NULL for "+" */
	const char *recipient_delimiter;

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
	/* Member store URI, '~' not yet expanded */
	const char *members;
	/* RFC 2919 list identifier without the angle brackets */
	const char *list_id;
	/* Recipients per SMTP transaction */
	unsigned int batch_size;
};

/* Read and validate the settings. Returns 0 on success, -1 with an error
   naming the offending setting. */
int vsmlist_settings_load(pool_t pool, const struct vsmlist_settings_env *env,
			  const struct vsmlist_settings **set_r,
			  const char **error_r);

#endif
