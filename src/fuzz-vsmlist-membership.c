/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* libFuzzer target: a membership request from arbitrary input (built by
   scripts/build-fuzz.sh with clang). Input: the envelope recipient's local
   part, the Subject and the From fields, separated by NUL (missing parts
   are absent). */

#include "lib.h"
#include "array.h"
#include "smtp-address.h"
#include "vsmlist-settings.h"
#include "vsmlist-store.h"
#include "vsmlist-membership.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pool_t fuzz_pool;
static const struct vsmlist_settings *fuzz_set;

static const char *fuzz_lookup(void *context ATTR_UNUSED, const char *name)
{
	if (strcmp(name, "sieve_vsmlist_address") == 0)
		return "friends@lists.example";
	return NULL;
}

int LLVMFuzzerInitialize(int *argc ATTR_UNUSED, char ***argv ATTR_UNUSED)
{
	struct vsmlist_settings_env env;
	const char *error;

	lib_init();
	i_zero(&env);
	env.home = "/nonexistent";
	env.recipient_delimiter = "+-";
	env.lookup = fuzz_lookup;
	/* Settings allocate as the plugin's do: from a pool kept for the
	   life of the process */
	fuzz_pool = pool_alloconly_create("fuzz membership settings", 1024);
	if (vsmlist_settings_load(fuzz_pool, &env, &fuzz_set, &error) < 0)
		i_fatal("%s", error);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	T_BEGIN {
		ARRAY_TYPE(const_string) parts;
		struct vsmlist_membership_request request;
		const struct smtp_address *rcpt_to = NULL, *requester;
		const char *part, *subject = NULL, *reason;
		size_t start = 0, i;

		t_array_init(&parts, 4);
		for (i = 0; i <= size; i++) {
			if (i == size || data[i] == '\0') {
				part = t_strndup(data + start, i - start);
				array_push_back(&parts, &part);
				start = i + 1;
			}
		}
		/* An SMTP recipient's local part may hold any octet a
		   quoted string can */
		part = array_idx_elem(&parts, 0);
		if (*part != '\0') {
			rcpt_to = smtp_address_create_temp(part,
							   "lists.example");
		}
		if (array_count(&parts) > 1)
			subject = array_idx_elem(&parts, 1);
		array_delete(&parts, 0, I_MIN(array_count(&parts), 2U));
		array_append_zero(&parts);

		vsmlist_membership_request_parse(fuzz_set, rcpt_to, subject,
						 &request);
		i_assert(request.type <= VSMLIST_MEMBERSHIP_REQUEST_CONFIRM);
		i_assert((request.token != NULL) ==
			 (request.type == VSMLIST_MEMBERSHIP_REQUEST_CONFIRM));
		i_assert(request.token == NULL ||
			 strlen(request.token) <=
			 VSMLIST_MEMBERSHIP_MAX_TOKEN_LEN);

		requester = vsmlist_membership_requester(
			fuzz_set, array_front(&parts), &reason);
		/* What the list writes to is an address SMTP can carry,
		   never its own */
		if (requester != NULL) {
			i_assert(vsmlist_store_address_key(requester) != NULL);
			i_assert(strlen(requester->localpart) <= 64);
			/* strchr() finds the NUL too: "friends" itself */
			i_assert(strcasecmp(requester->domain,
					    "lists.example") != 0 ||
				 strncasecmp(requester->localpart,
					     "friends", 7) != 0 ||
				 strchr("+-", requester->localpart[7]) ==
				 NULL);
		} else {
			i_assert(reason != NULL);
		}
	} T_END;
	return 0;
}
