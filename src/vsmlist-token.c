/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "buffer.h"
#include "str.h"
#include "base32.h"
#include "hmac.h"
#include "hex-binary.h"
#include "safe-memset.h"
#include "hostpid.h"
#include "randgen.h"
#include "mkdir-parents.h"
#include "write-full.h"
#include "smtp-address.h"

#include "vsmlist-store.h"
#include "vsmlist-token.h"

#include <ctype.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#define VSMLIST_TOKEN_VERSION 1
#define VSMLIST_TOKEN_MAC_SIZE 10
/* 15 octets: a multiple of 5, so that base32 needs no padding */
#define VSMLIST_TOKEN_RAW_SIZE (1 + 4 + VSMLIST_TOKEN_MAC_SIZE)
#define VSMLIST_TOKEN_CREATED_SECRET_SIZE 32

/* Returns FALSE when an address has no key */
static bool
vsmlist_token_mac(const struct vsmlist_token_secret *secret,
		  const unsigned char header[5],
		  const struct smtp_address *list,
		  const struct smtp_address *address,
		  unsigned char mac_r[VSMLIST_TOKEN_MAC_SIZE])
{
	unsigned char digest[SHA256_RESULTLEN];
	struct hmac_context ctx;
	const char *list_key = vsmlist_store_address_key(list);
	const char *member_key = vsmlist_store_address_key(address);

	if (list_key == NULL || member_key == NULL)
		return FALSE;
	hmac_init(&ctx, secret->data, secret->size, &hash_method_sha256);
	hmac_update(&ctx, header, 5);
	/* Keys hold no NUL: the separator keeps the two apart */
	hmac_update(&ctx, list_key, strlen(list_key) + 1);
	hmac_update(&ctx, member_key, strlen(member_key));
	hmac_final(&ctx, digest);
	memcpy(mac_r, digest, VSMLIST_TOKEN_MAC_SIZE);
	safe_memset(digest, 0, sizeof(digest));
	return TRUE;
}

const char *
vsmlist_token_create(const struct vsmlist_token_secret *secret,
		     enum vsmlist_token_action action,
		     const struct smtp_address *list,
		     const struct smtp_address *address, time_t expires)
{
	unsigned char raw[VSMLIST_TOKEN_RAW_SIZE];
	string_t *token = t_str_new(VSMLIST_TOKEN_LEN + 1);

	i_assert(action == VSMLIST_TOKEN_ACTION_SUBSCRIBE ||
		 action == VSMLIST_TOKEN_ACTION_UNSUBSCRIBE);
	i_assert(expires >= 0 && (uintmax_t)expires <= (uint32_t)-1);

	raw[0] = (VSMLIST_TOKEN_VERSION << 4) | action;
	cpu32_to_be_unaligned((uint32_t)expires, raw + 1);
	if (!vsmlist_token_mac(secret, raw, list, address, raw + 5))
		return NULL;
	base32_encode(FALSE, raw, sizeof(raw), token);
	i_assert(str_len(token) == VSMLIST_TOKEN_LEN);
	return str_lcase(str_c_modifiable(token));
}

/* Decode a token of either case. Returns FALSE if it is not base32 of the
   right length. */
static bool
vsmlist_token_decode(const char *token,
		     unsigned char raw_r[VSMLIST_TOKEN_RAW_SIZE])
{
	char upper[VSMLIST_TOKEN_LEN];
	buffer_t *raw;
	size_t i, pos;

	if (strlen(token) != VSMLIST_TOKEN_LEN)
		return FALSE;
	/* Dovecot's base32 decoder knows the upper-case alphabet only */
	for (i = 0; i < VSMLIST_TOKEN_LEN; i++) {
		upper[i] = i_toupper(token[i]);
		if (!base32_is_valid_char(upper[i]))
			return FALSE;
	}
	raw = t_buffer_create(VSMLIST_TOKEN_RAW_SIZE + 5);
	if (base32_decode(upper, sizeof(upper), &pos, raw) < 0 ||
	    pos != sizeof(upper) || raw->used != VSMLIST_TOKEN_RAW_SIZE)
		return FALSE;
	memcpy(raw_r, raw->data, VSMLIST_TOKEN_RAW_SIZE);
	return TRUE;
}

enum vsmlist_token_result
vsmlist_token_verify(const struct vsmlist_token_secret *secret,
		     const char *token, const struct smtp_address *list,
		     const struct smtp_address *address, time_t now,
		     enum vsmlist_token_action *action_r)
{
	unsigned char raw[VSMLIST_TOKEN_RAW_SIZE];
	unsigned char mac[VSMLIST_TOKEN_MAC_SIZE];
	unsigned int version, action;
	time_t expires;
	bool keyed;

	if (!vsmlist_token_decode(token, raw))
		return VSMLIST_TOKEN_MALFORMED;
	version = raw[0] >> 4;
	action = raw[0] & 0x0f;
	if (version != VSMLIST_TOKEN_VERSION ||
	    (action != VSMLIST_TOKEN_ACTION_SUBSCRIBE &&
	     action != VSMLIST_TOKEN_ACTION_UNSUBSCRIBE))
		return VSMLIST_TOKEN_MALFORMED;

	T_BEGIN {
		keyed = vsmlist_token_mac(secret, raw, list, address, mac);
	} T_END;
	/* No token is genuine for an address without a key */
	if (!keyed || !mem_equals_timing_safe(mac, raw + 5, sizeof(mac)))
		return VSMLIST_TOKEN_FORGED;
	*action_r = action;
	expires = (time_t)be32_to_cpu_unaligned(raw + 1);
	if (now > expires)
		return VSMLIST_TOKEN_EXPIRED;
	return VSMLIST_TOKEN_OK;
}

const char *vsmlist_token_result_str(enum vsmlist_token_result result)
{
	switch (result) {
	case VSMLIST_TOKEN_OK:
		return "ok";
	case VSMLIST_TOKEN_MALFORMED:
		return "malformed";
	case VSMLIST_TOKEN_FORGED:
		return "forged";
	case VSMLIST_TOKEN_EXPIRED:
		return "expired";
	}
	i_unreached();
}

/* Returns 1 with the secret, 0 when the file does not exist, -1 */
static int
vsmlist_token_secret_read(const char *path,
			  struct vsmlist_token_secret *secret_r,
			  const char **error_r)
{
	struct stat st;
	ssize_t ret;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_strdup_printf("open(%s) failed: %m", path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*error_r = t_strdup_printf("fstat(%s) failed: %m", path);
		i_close_fd(&fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0077) != 0) {
		*error_r = t_strdup_printf(
			"%s: refused: not a regular file of mode 0600 or "
			"stricter (mode %04o)", path,
			(unsigned int)(st.st_mode & 07777));
		i_close_fd(&fd);
		return -1;
	}
	/* One octet more than allowed tells a file that is too long */
	ret = read(fd, secret_r->data, sizeof(secret_r->data));
	if (ret > 0 && (size_t)ret == sizeof(secret_r->data)) {
		unsigned char extra;

		if (read(fd, &extra, 1) != 0)
			ret = -2;
	}
	i_close_fd(&fd);
	if (ret == -1) {
		*error_r = t_strdup_printf("read(%s) failed: %m", path);
		return -1;
	}
	if (ret < VSMLIST_TOKEN_SECRET_MIN_SIZE) {
		*error_r = t_strdup_printf(
			"%s: refused: %s than %u octets", path,
			ret == -2 ? "longer" : "shorter",
			ret == -2 ? VSMLIST_TOKEN_SECRET_MAX_SIZE :
			VSMLIST_TOKEN_SECRET_MIN_SIZE);
		safe_memset(secret_r->data, 0, sizeof(secret_r->data));
		return -1;
	}
	secret_r->size = ret;
	return 1;
}

/* Create the secret under a unique temporary name and link it into place:
   if another process was first, its secret stays and ours goes. */
static int vsmlist_token_secret_create(const char *path, const char **error_r)
{
	unsigned char secret[VSMLIST_TOKEN_CREATED_SECRET_SIZE];
	unsigned char nonce[8];
	const char *temp_path, *p;
	int fd, ret = 0;

	p = strrchr(path, '/');
	if (p != NULL && p != path &&
	    mkdir_parents(t_strdup_until(path, p), 0700) < 0 &&
	    errno != EEXIST) {
		*error_r = t_strdup_printf("mkdir_parents(%s) failed: %m",
					   t_strdup_until(path, p));
		return -1;
	}
	/* getpid(), not my_pid: a forked child without exec has its
	   parent's my_pid, and its parent's buffered randomness */
	random_fill(nonce, sizeof(nonce));
	temp_path = t_strdup_printf("%s.tmp.%s.%ld.%s", path, my_hostname,
				    (long)getpid(),
				    binary_to_hex(nonce, sizeof(nonce)));
	fd = open(temp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", temp_path);
		return -1;
	}
	random_fill(secret, sizeof(secret));
	if (write_full(fd, secret, sizeof(secret)) < 0 || fsync(fd) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m", temp_path);
		ret = -1;
	}
	safe_memset(secret, 0, sizeof(secret));
	if (close(fd) < 0 && ret == 0) {
		*error_r = t_strdup_printf("close(%s) failed: %m", temp_path);
		ret = -1;
	}
	/* link() never replaces: the first one to get there wins */
	if (ret == 0 && link(temp_path, path) < 0 && errno != EEXIST) {
		*error_r = t_strdup_printf("link(%s, %s) failed: %m",
					   temp_path, path);
		ret = -1;
	}
	i_unlink(temp_path);
	return ret;
}

int vsmlist_token_secret_get(const char *path,
			     struct vsmlist_token_secret *secret_r,
			     const char **error_r)
{
	int ret;

	i_zero(secret_r);
	ret = vsmlist_token_secret_read(path, secret_r, error_r);
	if (ret != 0)
		return ret < 0 ? -1 : 0;
	if (vsmlist_token_secret_create(path, error_r) < 0)
		return -1;
	ret = vsmlist_token_secret_read(path, secret_r, error_r);
	if (ret == 0) {
		*error_r = t_strdup_printf("%s: removed right after it was "
					   "created", path);
		return -1;
	}
	return ret < 0 ? -1 : 0;
}
