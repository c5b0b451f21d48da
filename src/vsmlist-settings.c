/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "net.h"
#include "array.h"
#include "smtp-address.h"
#include "settings-parser.h"
#include "home-expand.h"
#include "var-expand.h"
#include "istream.h"

#include "vsmlist-author.h"
#include "vsmlist-store.h"
#include "vsmlist-settings.h"
#include "vsmlist-settings-file.h"

#include <ctype.h>
#include <fcntl.h>
#include <stddef.h>

/* A notice is a few lines; a larger file is a mistake */
#define VSMLIST_NOTICE_MAX_SIZE (64 * 1024)

static int
vsmlist_read_small_file(const char *path, string_t *dest,
			const char **error_r)
{
	struct istream *input;
	const unsigned char *data;
	size_t size;
	int fd, ret;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		*error_r = t_strdup_printf("open(%s) failed: %m", path);
		return -1;
	}
	input = i_stream_create_fd_autoclose(&fd, VSMLIST_NOTICE_MAX_SIZE);
	while ((ret = i_stream_read_more(input, &data, &size)) > 0) {
		if (str_len(dest) + size > VSMLIST_NOTICE_MAX_SIZE) {
			*error_r = t_strdup_printf("%s: larger than %u bytes",
				path, VSMLIST_NOTICE_MAX_SIZE);
			i_stream_unref(&input);
			return -1;
		}
		str_append_data(dest, data, size);
		i_stream_skip(input, size);
	}
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s", path,
					   i_stream_get_error(input));
		i_stream_unref(&input);
		return -1;
	}
	i_stream_unref(&input);
	return 0;
}

static const char *
vsmlist_setting(const struct vsmlist_settings_env *env, const char *name)
{
	const char *value = env->lookup(env->context, name);

	if (value == NULL)
		return NULL;
	value = t_str_trim(value, " \t");
	return (*value == '\0' ? NULL : value);
}

/* A time setting in milliseconds, longer than 0; *msecs keeps its default
   when the setting is not set. Returns 0, or -1 with error_r. */
static int
vsmlist_settings_timeout(const struct vsmlist_settings_env *env,
			 const char *setting, unsigned int *msecs,
			 const char **error_r)
{
	const char *value = vsmlist_setting(env, setting), *error;

	if (value == NULL)
		return 0;
	if (settings_get_time_msecs(value, msecs, &error) < 0) {
		*error_r = t_strdup_printf("%s: %s", setting, error);
		return -1;
	}
	if (*msecs == 0) {
		*error_r = t_strdup_printf("%s: must be longer than 0",
					   setting);
		return -1;
	}
	return 0;
}

/* A path setting: "~/..." in the user's home, or absolute. A relative
   path would land in the delivering process's working directory. */
static int
vsmlist_settings_path(pool_t pool, const struct vsmlist_settings_env *env,
		      const char *setting, const char *value,
		      const char **path_r, const char **error_r)
{
	if (value[0] == '~' && (value[1] == '/' || value[1] == '\0')) {
		if (env->home == NULL) {
			*error_r = t_strdup_printf(
				"%s: '%s' needs a home directory, and the "
				"user has none", setting, value);
			return -1;
		}
		*path_r = p_strdup(pool, home_expand_tilde(value, env->home));
		return 0;
	}
	if (value[0] != '/') {
		*error_r = t_strdup_printf(
			"%s: '%s' is a relative path (use an absolute one "
			"or ~/)", setting, value);
		return -1;
	}
	*path_r = p_strdup(pool, value);
	return 0;
}

static int
vsmlist_parse_address(pool_t pool, const char *setting, const char *value,
		      const struct smtp_address **addr_r, const char **error_r)
{
	struct smtp_address *addr;
	const char *error;

	if (smtp_address_parse_path(pool, value,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				    &addr, &error) < 0) {
		*error_r = t_strdup_printf("%s: invalid address '%s': %s",
					   setting, value, error);
		return -1;
	}
	if (addr->localpart == NULL || addr->domain == NULL) {
		*error_r = t_strdup_printf("%s: address '%s' needs a "
					   "local part and a domain",
					   setting, value);
		return -1;
	}
	*addr_r = addr;
	return 0;
}

/* The RFC 2919 list-label is a dot-atom: keep what is allowed there so a
   quoted local part still yields a usable identifier. */
static const char *
vsmlist_list_id(const struct smtp_address *address)
{
	string_t *id = t_str_new(64);
	const char *p;

	for (p = address->localpart; *p != '\0'; p++) {
		if (i_isalnum(*p) || strchr("!#$%&'*+-/=?^_`{|}~", *p) != NULL)
			str_append_c(id, *p);
		else if (str_len(id) > 0 &&
			 str_data(id)[str_len(id) - 1] != '.')
			str_append_c(id, '.');
	}
	if (str_len(id) == 0)
		str_append(id, "list");
	str_printfa(id, ".%s", t_str_lcase(address->domain));
	return str_c(id);
}

static int
vsmlist_settings_load_batch_size(const struct vsmlist_settings_env *env,
				 unsigned int *batch_size_r,
				 const char **error_r)
{
	const char *value = vsmlist_setting(env, "sieve_vsmlist_batch_size");

	*batch_size_r = VSMLIST_DEFAULT_BATCH_SIZE;
	if (value == NULL)
		return 0;
	if (str_to_uint(value, batch_size_r) < 0 || *batch_size_r == 0 ||
	    *batch_size_r > VSMLIST_MAX_BATCH_SIZE) {
		*error_r = t_strdup_printf(
			"sieve_vsmlist_batch_size: '%s' is not a number "
			"from 1 to %u", value, VSMLIST_MAX_BATCH_SIZE);
		return -1;
	}
	return 0;
}

static const char *const vsmlist_dmarc_mode_names[] = {
	[VSMLIST_DMARC_MODE_AUTO] = "auto",
	[VSMLIST_DMARC_MODE_WRAP] = "wrap",
	[VSMLIST_DMARC_MODE_MUNGE] = "munge",
	[VSMLIST_DMARC_MODE_NONE] = "none",
	NULL
};

static const char *const vsmlist_dns_failure_names[] = {
	[VSMLIST_DNS_FAILURE_WRAP] = "wrap",
	[VSMLIST_DNS_FAILURE_TEMPFAIL] = "tempfail",
	[VSMLIST_DNS_FAILURE_NONE] = "none",
	NULL
};

const char *vsmlist_dmarc_mode_name(enum vsmlist_dmarc_mode mode)
{
	i_assert(mode < N_ELEMENTS(vsmlist_dmarc_mode_names) - 1);
	return vsmlist_dmarc_mode_names[mode];
}

bool vsmlist_dmarc_mode_parse(const char *name,
			      enum vsmlist_dmarc_mode *mode_r)
{
	unsigned int i;

	for (i = 0; vsmlist_dmarc_mode_names[i] != NULL; i++) {
		if (strcasecmp(vsmlist_dmarc_mode_names[i], name) == 0) {
			*mode_r = i;
			return TRUE;
		}
	}
	return FALSE;
}

const char *vsmlist_domain_list_match(const char *const *list,
				      const char *domain)
{
	const char *best = NULL;
	size_t len, domain_len = strlen(domain);

	for (; list != NULL && *list != NULL; list++) {
		len = strlen(*list);
		if (len > domain_len)
			continue;
		if (strcmp(domain + domain_len - len, *list) != 0)
			continue;
		if (len < domain_len && domain[domain_len - len - 1] != '.')
			continue;
		if (best == NULL || len > strlen(best))
			best = *list;
	}
	return best;
}

/* A keyword setting: index of the value in the NULL-terminated names[],
   case-insensitive; absent: the first */
static int
vsmlist_setting_keyword(const struct vsmlist_settings_env *env,
			const char *setting, const char *const *names,
			unsigned int *value_r, const char **error_r)
{
	const char *value = vsmlist_setting(env, setting);
	unsigned int i;

	*value_r = 0;
	if (value == NULL)
		return 0;
	for (i = 0; names[i] != NULL; i++) {
		if (strcasecmp(value, names[i]) == 0) {
			*value_r = i;
			return 0;
		}
	}
	*error_r = t_strdup_printf("%s: unknown value '%s' (use %s)", setting,
				   value, t_strarray_join(names, ", "));
	return -1;
}

static int
vsmlist_settings_load_dmarc(pool_t pool,
			    const struct vsmlist_settings_env *env,
			    struct vsmlist_settings *set, const char **error_r)
{
	unsigned int value;
	const char *str;

	if (vsmlist_setting_keyword(env, "sieve_vsmlist_dmarc",
				    vsmlist_dmarc_mode_names, &value,
				    error_r) < 0)
		return -1;
	set->dmarc_mode = value;
	if (vsmlist_setting_keyword(env, "sieve_vsmlist_dns_failure",
				    vsmlist_dns_failure_names, &value,
				    error_r) < 0)
		return -1;
	set->dns_failure = value;

	set->dns_servers = p_strdup(pool, vsmlist_setting(
		env, "sieve_vsmlist_dns_servers"));
	set->dns_timeout_msecs = VSMLIST_DEFAULT_DNS_TIMEOUT_MSECS;
	if (vsmlist_settings_timeout(env, "sieve_vsmlist_dns_timeout",
				     &set->dns_timeout_msecs, error_r) < 0)
		return -1;
	str = vsmlist_setting(env, "sieve_vsmlist_dns_cache");
	if (str == NULL)
		str = VSMLIST_DEFAULT_DNS_CACHE;
	if (strcasecmp(str, "no") != 0 &&
	    vsmlist_settings_path(pool, env, "sieve_vsmlist_dns_cache", str,
				  &set->dns_cache, error_r) < 0)
		return -1;
	set->psl_file = p_strdup(pool, vsmlist_setting(
		env, "sieve_vsmlist_psl_file"));
	return 0;
}

/* A list of domains: separated by spaces or commas, a leading "*." or "."
   ignored, normalised like author domains */
static int
vsmlist_settings_load_domains(pool_t pool,
			      const struct vsmlist_settings_env *env,
			      const char *setting, const char *const **list_r,
			      const char **error_r)
{
	const char *value = vsmlist_setting(env, setting);
	const char *const *names, *name, *error;
	ARRAY_TYPE(const_string) list;

	*list_r = NULL;
	if (value == NULL)
		return 0;
	p_array_init(&list, pool, 8);
	for (names = t_strsplit_spaces(value, " \t,"); *names != NULL;
	     names++) {
		name = *names;
		if (str_begins(name, "*."))
			name += 2;
		else if (*name == '.')
			name++;
		if (vsmlist_author_domain_normalize(name, &name, &error) < 0) {
			*error_r = t_strdup_printf("%s: invalid domain '%s': %s",
						   setting, *names, error);
			return -1;
		}
		name = p_strdup(pool, name);
		array_push_back(&list, &name);
	}
	array_append_zero(&list);
	*list_r = array_front(&list);
	return 0;
}

const char *const vsmlist_notice_variables[] = {
	"list", "list_name", "author", "reason", NULL
};

/* A text with %{variables}: only the known ones may appear */
static int
vsmlist_settings_check_text(const char *setting, const char *text,
			    const char *const *variables, const char **error_r)
{
	ARRAY(struct var_expand_table) table;
	struct var_expand_table *entry;
	string_t *dest = t_str_new(256), *known = t_str_new(64);
	const char *error;

	t_array_init(&table, 8);
	for (; *variables != NULL; variables++) {
		entry = array_append_space(&table);
		entry->value = "";
		entry->long_key = *variables;
		str_printfa(known, "%s%%{%s}", str_len(known) > 0 ? ", " : "",
			    *variables);
	}
	array_append_zero(&table);
	if (var_expand(dest, text, array_front(&table), &error) <= 0) {
		*error_r = t_strdup_printf("%s: %s (known: %s)", setting,
					   error, str_c(known));
		return -1;
	}
	return 0;
}

/* A text setting: the text itself, or "file:<path>" read now; NULL when
   not set */
static int
vsmlist_settings_load_text(pool_t pool, const struct vsmlist_settings_env *env,
			   const char *setting, const char *const *variables,
			   const char **text_r, const char **error_r)
{
	const char *value = vsmlist_setting(env, setting);
	const char *path, *error;
	string_t *text;

	*text_r = NULL;
	if (value == NULL)
		return 0;
	if (!str_begins(value, "file:")) {
		*text_r = p_strdup(pool, value);
		return vsmlist_settings_check_text(setting, *text_r,
						   variables, error_r);
	}
	if (vsmlist_settings_path(pool_datastack_create(), env, setting,
				  value + 5, &path, error_r) < 0)
		return -1;
	text = t_str_new(512);
	if (vsmlist_read_small_file(path, text, &error) < 0) {
		*error_r = t_strdup_printf("%s: %s", setting, error);
		return -1;
	}
	*text_r = p_strdup(pool, str_c(text));
	return vsmlist_settings_check_text(setting, *text_r, variables,
					   error_r);
}

static int
vsmlist_settings_load_list_headers(pool_t pool,
				   const struct vsmlist_settings_env *env,
				   struct vsmlist_settings *set,
				   const char **error_r)
{
	static const char *const default_headers[] = {
		"List-Id", "List-Post", "List-Subscribe", "List-Unsubscribe",
		NULL
	};
	static const struct {
		const char *setting;
		size_t offset;
	} uris[] = {
		{ "sieve_vsmlist_list_help",
		  offsetof(struct vsmlist_settings, list_help) },
		{ "sieve_vsmlist_list_owner",
		  offsetof(struct vsmlist_settings, list_owner) },
		{ "sieve_vsmlist_list_subscribe",
		  offsetof(struct vsmlist_settings, list_subscribe) },
		{ "sieve_vsmlist_list_unsubscribe",
		  offsetof(struct vsmlist_settings, list_unsubscribe) },
		{ "sieve_vsmlist_list_archive",
		  offsetof(struct vsmlist_settings, list_archive) },
	};
	const char *value, *const *names;
	unsigned int i;

	value = vsmlist_setting(env, "sieve_vsmlist_list_headers");
	if (value == NULL)
		set->list_headers = default_headers;
	else {
		names = t_strsplit_spaces(value, " \t,");
		for (i = 0; names[i] != NULL; i++) {
			/* Sender: is not one of them: it is added to
			   every untouched copy, whatever this says */
			if (strncasecmp(names[i], "List-", 5) != 0) {
				*error_r = t_strdup_printf(
					"sieve_vsmlist_list_headers: '%s' is "
					"not a List-* header", names[i]);
				return -1;
			}
		}
		set->list_headers = (const char *const *)
			p_strarray_dup(pool, names);
	}

	for (i = 0; i < N_ELEMENTS(uris); i++) {
		const char **slot = PTR_OFFSET(set, uris[i].offset);

		value = vsmlist_setting(env, uris[i].setting);
		if (value == NULL)
			continue;
		/* RFC 2369 wants each URI in angle brackets; a bare
		   address is taken as mailto: */
		if (strchr(value, '<') != NULL)
			*slot = p_strdup(pool, value);
		else if (strchr(value, ':') == NULL && strchr(value, '@') != NULL)
			*slot = p_strdup_printf(pool, "<mailto:%s>", value);
		else
			*slot = p_strdup_printf(pool, "<%s>", value);
		if (strpbrk(*slot, "\r\n") != NULL) {
			*error_r = t_strdup_printf("%s: line breaks not allowed",
						   uris[i].setting);
			return -1;
		}
	}
	/* Joining and leaving by mail: the membership action's addresses */
	if (set->list_subscribe == NULL) {
		set->list_subscribe = p_strdup(pool, vsmlist_mailto_uri(
			vsmlist_settings_detail_address(
				pool_datastack_create(), set, "subscribe")));
	}
	if (set->list_unsubscribe == NULL) {
		set->list_unsubscribe = p_strdup(pool, vsmlist_mailto_uri(
			vsmlist_settings_detail_address(
				pool_datastack_create(), set, "unsubscribe")));
	}
	return 0;
}

static int
vsmlist_settings_load_mitigation(pool_t pool,
				 const struct vsmlist_settings_env *env,
				 struct vsmlist_settings *set,
				 const char **error_r)
{
	if (vsmlist_settings_load_domains(pool, env,
					  "sieve_vsmlist_dmarc_force",
					  &set->dmarc_force, error_r) < 0 ||
	    vsmlist_settings_load_domains(pool, env,
					  "sieve_vsmlist_dmarc_exempt",
					  &set->dmarc_exempt, error_r) < 0 ||
	    vsmlist_settings_load_text(pool, env, "sieve_vsmlist_notice",
				       vsmlist_notice_variables, &set->notice,
				       error_r) < 0 ||
	    vsmlist_settings_load_list_headers(pool, env, set, error_r) < 0)
		return -1;
	return 0;
}

/* The fan-out: relay and per-post progress (doc/fanout.md) */
static const struct {
	const char *name;
	enum vsmlist_relay_ssl ssl;
} vsmlist_relay_ssl_names[] = {
	{ "no", VSMLIST_RELAY_SSL_NO },
	{ "smtps", VSMLIST_RELAY_SSL_IMMEDIATE },
	{ "submissions", VSMLIST_RELAY_SSL_IMMEDIATE },
	{ "starttls", VSMLIST_RELAY_SSL_STARTTLS },
};

/* A yes/no setting, Dovecot's way */
static int
vsmlist_setting_bool(const struct vsmlist_settings_env *env,
		     const char *setting, bool *value_r, const char **error_r)
{
	const char *value = vsmlist_setting(env, setting);

	if (value == NULL)
		return 0;
	if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "y") == 0 ||
	    strcmp(value, "1") == 0)
		*value_r = TRUE;
	else if (strcasecmp(value, "no") == 0 ||
		 strcasecmp(value, "n") == 0 || strcmp(value, "0") == 0)
		*value_r = FALSE;
	else {
		*error_r = t_strdup_printf("%s: '%s' is not yes or no",
					   setting, value);
		return -1;
	}
	return 0;
}

/* Bounce handling (doc/vsmlist.md, "Bounces") */
static int
vsmlist_settings_load_bounces(const struct vsmlist_settings_env *env,
			      struct vsmlist_settings *set,
			      const char **error_r)
{
	const char *value, *error;
	unsigned int secs;

	if (vsmlist_setting_bool(env, "sieve_vsmlist_verp", &set->verp,
				 error_r) < 0)
		return -1;
	set->bounce_reset_secs = VSMLIST_DEFAULT_BOUNCE_RESET_SECS;
	value = vsmlist_setting(env, "sieve_vsmlist_bounce_reset");
	if (value != NULL) {
		if (settings_get_time(value, &secs, &error) < 0) {
			*error_r = t_strdup_printf(
				"sieve_vsmlist_bounce_reset: %s", error);
			return -1;
		}
		if (secs == 0) {
			*error_r = "sieve_vsmlist_bounce_reset: must be "
				"longer than 0";
			return -1;
		}
		set->bounce_reset_secs = secs;
	}
	set->bounce_threshold = VSMLIST_DEFAULT_BOUNCE_THRESHOLD;
	value = vsmlist_setting(env, "sieve_vsmlist_bounce_threshold");
	if (value != NULL &&
	    (str_to_uint(value, &set->bounce_threshold) < 0 ||
	     set->bounce_threshold == 0 ||
	     set->bounce_threshold > VSMLIST_MAX_BOUNCE_THRESHOLD)) {
		*error_r = t_strdup_printf(
			"sieve_vsmlist_bounce_threshold: '%s' is not a number "
			"from 1 to %u", value, VSMLIST_MAX_BOUNCE_THRESHOLD);
		return -1;
	}
	return 0;
}

int vsmlist_relay_ssl_parse(const char *value, enum vsmlist_relay_ssl *ssl_r)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(vsmlist_relay_ssl_names); i++) {
		if (strcasecmp(value, vsmlist_relay_ssl_names[i].name) == 0) {
			*ssl_r = vsmlist_relay_ssl_names[i].ssl;
			return 0;
		}
	}
	return -1;
}

int vsmlist_relay_host_parse(const char *value, const char **host_r,
			     in_port_t *port_r)
{
	if (net_str2hostport(value, VSMLIST_DEFAULT_RELAY_PORT, host_r,
			     port_r) < 0 || **host_r == '\0')
		return -1;
	return 0;
}

static int
vsmlist_settings_load_fanout(pool_t pool,
			     const struct vsmlist_settings_env *env,
			     struct vsmlist_settings *set,
			     const char **error_r)
{
	const char *value, *host, *error;
	unsigned int secs;
	in_port_t port;

	value = vsmlist_setting(env, "sieve_vsmlist_submission_host");
	if (value != NULL) {
		if (vsmlist_relay_host_parse(value, &host, &port) < 0) {
			*error_r = t_strdup_printf(
				"sieve_vsmlist_submission_host: invalid "
				"host[:port] '%s'", value);
			return -1;
		}
		set->submission_host = p_strdup(pool, host);
		set->submission_port = port;
	}
	set->submission_user = p_strdup(pool, vsmlist_setting(
		env, "sieve_vsmlist_submission_user"));
	set->submission_password = p_strdup(pool, vsmlist_setting(
		env, "sieve_vsmlist_submission_password"));
	set->submission_master_user = p_strdup(pool, vsmlist_setting(
		env, "sieve_vsmlist_submission_master_user"));
	if (set->submission_user != NULL &&
	    set->submission_password == NULL) {
		*error_r = "sieve_vsmlist_submission_user: needs "
			"sieve_vsmlist_submission_password";
		return -1;
	}
	if (set->submission_user == NULL &&
	    (set->submission_password != NULL ||
	     set->submission_master_user != NULL)) {
		*error_r = "sieve_vsmlist_submission_password: needs "
			"sieve_vsmlist_submission_user";
		return -1;
	}
	value = vsmlist_setting(env, "sieve_vsmlist_submission_ssl");
	if (value != NULL &&
	    vsmlist_relay_ssl_parse(value, &set->submission_ssl) < 0) {
		*error_r = t_strdup_printf(
			"sieve_vsmlist_submission_ssl: unknown value '%s' "
			"(use no, smtps, submissions, starttls)", value);
		return -1;
	}
	if (vsmlist_settings_timeout(env, "sieve_vsmlist_submission_timeout",
				     &set->submission_timeout_msecs,
				     error_r) < 0)
		return -1;

	value = vsmlist_setting(env, "sieve_vsmlist_progress");
	if (value == NULL)
		value = VSMLIST_DEFAULT_PROGRESS;
	if (strcasecmp(value, "no") != 0 &&
	    vsmlist_settings_path(pool, env, "sieve_vsmlist_progress", value,
				  &set->progress, error_r) < 0)
		return -1;
	set->progress_expire_secs = VSMLIST_DEFAULT_PROGRESS_EXPIRE_SECS;
	value = vsmlist_setting(env, "sieve_vsmlist_progress_expire");
	if (value != NULL) {
		if (settings_get_time(value, &secs, &error) < 0) {
			*error_r = t_strdup_printf(
				"sieve_vsmlist_progress_expire: %s", error);
			return -1;
		}
		if (secs == 0) {
			*error_r = "sieve_vsmlist_progress_expire: must be "
				"longer than 0";
			return -1;
		}
		set->progress_expire_secs = secs;
	}
	return 0;
}

const char *const vsmlist_membership_text_variables[] = {
	"list", "list_name", "address", "unsubscribe", NULL
};

static const char *const vsmlist_subscription_names[] = {
	[VSMLIST_SUBSCRIPTION_CONFIRM] = "confirm",
	[VSMLIST_SUBSCRIPTION_CLOSED] = "closed",
	NULL
};

struct smtp_address *
vsmlist_settings_detail_address(pool_t pool,
				const struct vsmlist_settings *set,
				const char *detail)
{
	return smtp_address_create(pool, t_strdup_printf("%s%c%s",
		set->address->localpart, set->recipient_delimiter[0], detail),
		set->address->domain);
}

const char *vsmlist_mailto_uri(const struct smtp_address *address)
{
	const char *encoded = smtp_address_encode(address);
	string_t *uri = t_str_new(strlen(encoded) + 16);
	const unsigned char *p;

	str_append(uri, "<mailto:");
	for (p = (const unsigned char *)encoded; *p != '\0'; p++) {
		/* RFC 3986 unreserved and the sub-delims RFC 6068 leaves
		   as they are; '%', '"', '<', '>', space and the rest are
		   encoded */
		if (i_isalnum(*p) || strchr("-._~!$'()*+,;=@", *p) != NULL)
			str_append_c(uri, *p);
		else
			str_printfa(uri, "%%%02X", *p);
	}
	str_append_c(uri, '>');
	return str_c(uri);
}

/* A duration setting from 1 second to max_secs */
static int
vsmlist_setting_duration(const struct vsmlist_settings_env *env,
			 const char *setting, unsigned int max_secs,
			 unsigned int *secs_r, const char **error_r)
{
	const char *value = vsmlist_setting(env, setting), *error;

	if (value == NULL)
		return 0;
	if (settings_get_time(value, secs_r, &error) < 0) {
		*error_r = t_strdup_printf("%s: %s", setting, error);
		return -1;
	}
	if (*secs_r == 0 || *secs_r > max_secs) {
		*error_r = t_strdup_printf("%s: '%s' is not from 1s to %ud",
					   setting, value,
					   max_secs / (24*3600));
		return -1;
	}
	return 0;
}

static int
vsmlist_settings_load_membership(pool_t pool,
				 const struct vsmlist_settings_env *env,
				 struct vsmlist_settings *set,
				 const char **error_r)
{
	unsigned int value;
	const char *str;

	str = vsmlist_setting(env, "sieve_vsmlist_owner");
	if (str != NULL &&
	    vsmlist_parse_address(pool, "sieve_vsmlist_owner", str,
				  &set->owner, error_r) < 0)
		return -1;
	if (vsmlist_setting_keyword(env, "sieve_vsmlist_subscription",
				    vsmlist_subscription_names, &value,
				    error_r) < 0)
		return -1;
	set->subscription = value;

	set->confirm_expire_secs = VSMLIST_DEFAULT_CONFIRM_EXPIRE_SECS;
	if (vsmlist_setting_duration(env, "sieve_vsmlist_confirm_expire",
				     VSMLIST_MAX_CONFIRM_EXPIRE_SECS,
				     &set->confirm_expire_secs, error_r) < 0)
		return -1;
	set->confirm_limit = VSMLIST_DEFAULT_CONFIRM_LIMIT;
	str = vsmlist_setting(env, "sieve_vsmlist_confirm_limit");
	if (str != NULL &&
	    (str_to_uint(str, &set->confirm_limit) < 0 ||
	     set->confirm_limit == 0 ||
	     set->confirm_limit > VSMLIST_MAX_CONFIRM_LIMIT)) {
		*error_r = t_strdup_printf(
			"sieve_vsmlist_confirm_limit: '%s' is not a number "
			"from 1 to %u", str, VSMLIST_MAX_CONFIRM_LIMIT);
		return -1;
	}
	if (vsmlist_settings_load_text(pool, env, "sieve_vsmlist_welcome",
				       vsmlist_membership_text_variables,
				       &set->welcome, error_r) < 0 ||
	    vsmlist_settings_load_text(pool, env, "sieve_vsmlist_goodbye",
				       vsmlist_membership_text_variables,
				       &set->goodbye, error_r) < 0)
		return -1;

	/* Not settings: without a home, membership fails with an error
	   that says so, and distribute does not need them */
	if (env->home != NULL) {
		set->token_secret = p_strdup(pool, home_expand_tilde(
			VSMLIST_TOKEN_SECRET_FILE, env->home));
		set->confirm_limit_file = p_strdup(pool, home_expand_tilde(
			VSMLIST_CONFIRM_LIMIT_FILE, env->home));
	}
	return 0;
}

void vsmlist_settings_store(const struct vsmlist_settings *set,
			    struct event *event_parent,
			    struct vsmlist_store_settings *store_set_r)
{
	i_zero(store_set_r);
	store_set_r->home = set->home;
	store_set_r->list_address = set->address;
	store_set_r->event_parent = event_parent;
	store_set_r->base_dir = set->base_dir;
	store_set_r->timeout_msecs = set->members_timeout_msecs;
}

int vsmlist_settings_open_store(const struct vsmlist_settings *set,
				struct event *event_parent,
				struct vsmlist_store **store_r,
				const char **error_r)
{
	struct vsmlist_store_settings store_set;
	const char *error;

	vsmlist_settings_store(set, event_parent, &store_set);
	if (vsmlist_store_open(set->members, &store_set, store_r,
			       &error) < 0) {
		*error_r = t_strdup_printf("sieve_vsmlist_members: %s", error);
		return -1;
	}
	return 0;
}

/* The list's settings file first, then userdb fields and plugin { } */
struct vsmlist_settings_file_env {
	const struct vsmlist_settings_env *env;
	const struct vsmlist_settings_file *file;
};

static const char *vsmlist_settings_file_lookup(void *context,
						const char *name)
{
	struct vsmlist_settings_file_env *fenv = context;
	const char *value = vsmlist_settings_file_get(fenv->file, name);

	return value != NULL ? value :
		fenv->env->lookup(fenv->env->context, name);
}

static int
vsmlist_settings_load_env(pool_t pool, const struct vsmlist_settings_env *env,
			  const struct vsmlist_settings **set_r,
			  const char **error_r);

int vsmlist_settings_load(pool_t pool, const struct vsmlist_settings_env *env,
			  const struct vsmlist_settings **set_r,
			  const char **error_r)
{
	struct vsmlist_settings_file_env fenv;
	struct vsmlist_settings_env file_env;
	struct vsmlist_settings_file *file;
	const char *path, *error;
	int ret;

	*set_r = NULL;
	path = vsmlist_setting(env, "sieve_vsmlist_settings_file");
	if (path == NULL) {
		/* The default needs a home; without one there is none */
		if (env->home == NULL)
			return vsmlist_settings_load_env(pool, env, set_r,
							 error_r);
		path = VSMLIST_DEFAULT_SETTINGS_FILE;
	}
	if (strcasecmp(path, "no") == 0)
		return vsmlist_settings_load_env(pool, env, set_r, error_r);
	ret = vsmlist_settings_file_read(pool, path, env->home, &file, &error);
	if (ret < 0) {
		*error_r = t_strdup_printf("sieve_vsmlist_settings_file: %s",
					   error);
		return -1;
	}
	if (ret == 0)
		return vsmlist_settings_load_env(pool, env, set_r, error_r);
	fenv.env = env;
	fenv.file = file;
	file_env = *env;
	file_env.lookup = vsmlist_settings_file_lookup;
	file_env.context = &fenv;
	return vsmlist_settings_load_env(pool, &file_env, set_r, error_r);
}

static int
vsmlist_settings_load_env(pool_t pool, const struct vsmlist_settings_env *env,
			  const struct vsmlist_settings **set_r,
			  const char **error_r)
{
	struct vsmlist_settings *set;
	const char *value, *delim;

	*set_r = NULL;
	set = p_new(pool, struct vsmlist_settings, 1);

	value = vsmlist_setting(env, "sieve_vsmlist_address");
	if (value != NULL) {
		if (vsmlist_parse_address(pool, "sieve_vsmlist_address", value,
					  &set->address, error_r) < 0)
			return -1;
	} else if (env->user_email != NULL &&
		   env->user_email->domain != NULL) {
		set->address = smtp_address_clone(pool, env->user_email);
	} else {
		*error_r = "sieve_vsmlist_address: not set, and the user has "
			"no e-mail address to default to "
			"(set sieve_vsmlist_address or sieve_user_email)";
		return -1;
	}

	value = vsmlist_setting(env, "sieve_vsmlist_name");
	set->name = p_strdup(pool, value != NULL ?
			     value : set->address->localpart);

	/* recipient_delimiter may list several characters: each one
	   separates a detail, the first is the one to compose with */
	delim = env->recipient_delimiter;
	if (delim == NULL || *delim == '\0')
		delim = "+";
	set->recipient_delimiter = p_strdup(pool, delim);

	value = vsmlist_setting(env, "sieve_vsmlist_bounce_address");
	if (value != NULL) {
		if (vsmlist_parse_address(pool, "sieve_vsmlist_bounce_address",
					  value, &set->bounce_address,
					  error_r) < 0)
			return -1;
	} else {
		set->bounce_address =
			vsmlist_settings_detail_address(pool, set, "bounces");
	}

	value = vsmlist_setting(env, "sieve_vsmlist_members");
	if (value == NULL)
		value = VSMLIST_DEFAULT_MEMBERS;
	if (str_begins(value, "file:")) {
		if (vsmlist_settings_path(pool, env, "sieve_vsmlist_members",
					  value + 5, &value, error_r) < 0)
			return -1;
		set->members = p_strconcat(pool, "file:", value, NULL);
	} else {
		set->members = p_strdup(pool, value);
	}

	set->members_timeout_msecs = VSMLIST_DEFAULT_MEMBERS_TIMEOUT_MSECS;
	if (vsmlist_settings_timeout(env, "sieve_vsmlist_members_timeout",
				     &set->members_timeout_msecs,
				     error_r) < 0)
		return -1;
	set->home = p_strdup(pool, env->home);
	set->base_dir = p_strdup(pool, env->base_dir);

	if (vsmlist_settings_load_batch_size(env, &set->batch_size,
					     error_r) < 0)
		return -1;

	if (vsmlist_settings_load_dmarc(pool, env, set, error_r) < 0 ||
	    vsmlist_settings_load_mitigation(pool, env, set, error_r) < 0)
		return -1;
	if (vsmlist_settings_load_fanout(pool, env, set, error_r) < 0 ||
	    vsmlist_settings_load_bounces(env, set, error_r) < 0 ||
	    vsmlist_settings_load_membership(pool, env, set, error_r) < 0)
		return -1;

	set->list_id = p_strdup(pool, vsmlist_list_id(set->address));
	*set_r = set;
	return 0;
}
