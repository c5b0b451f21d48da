/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* libFuzzer target: delivery reports and VERP addresses (built by
   scripts/build-fuzz.sh with clang). Input: a whole message; its first
   line is also decoded as the local part of a VERP recipient. The
   invariants the bounce action relies on are asserted. */

#include "lib.h"
#include "array.h"
#include "unichar.h"
#include "istream.h"
#include "smtp-address.h"
#include "vsmlist-store.h"
#include "vsmlist-dsn.h"
#include "vsmlist-verp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc ATTR_UNUSED, char ***argv ATTR_UNUSED)
{
	lib_init();
	return 0;
}

static void check_text(const char *text)
{
	if (text == NULL)
		return;
	i_assert(strlen(text) <= VSMLIST_DSN_MAX_VALUE_SIZE);
	i_assert(uni_utf8_str_is_valid(text));
}

static void check_address(const struct smtp_address *address)
{
	if (address == NULL)
		return;
	i_assert(address->localpart != NULL && address->domain != NULL);
	/* The store's key can always be made */
	(void)vsmlist_store_address_key(address);
}

static void check_recipient(const struct vsmlist_dsn_recipient *rcpt)
{
	const struct vsmlist_dsn_status *status = &rcpt->status;

	check_text(rcpt->original_recipient_raw);
	check_text(rcpt->final_recipient_raw);
	check_text(rcpt->status_raw);
	check_text(rcpt->diagnostic);
	check_text(rcpt->remote_mta);
	check_address(rcpt->original_recipient);
	check_address(rcpt->final_recipient);
	i_assert(rcpt->original_recipient == NULL ||
		 rcpt->original_recipient_raw != NULL);
	i_assert(rcpt->final_recipient == NULL ||
		 rcpt->final_recipient_raw != NULL);
	i_assert(!(status->valid && status->malformed));
	i_assert((status->valid || status->malformed) ==
		 (rcpt->status_raw != NULL));
	if (status->valid) {
		i_assert(status->class == 2 || status->class == 4 ||
			 status->class == 5);
		i_assert(status->subject <= 999 && status->detail <= 999);
	}
	if (vsmlist_dsn_recipient_is_hard_failure(rcpt)) {
		i_assert(rcpt->action == VSMLIST_DSN_ACTION_FAILED);
		i_assert(status->valid && status->class == 5);
	}
}

static void check_dsn(const uint8_t *data, size_t size)
{
	struct istream *input = i_stream_create_from_data(data, size);
	const struct vsmlist_dsn_recipient *rcpt;
	struct vsmlist_dsn dsn;
	const char *error, *reason;

	i_assert(vsmlist_dsn_parse(pool_datastack_create(), input, &dsn,
				   &error) == 0);
	i_stream_unref(&input);

	i_assert(array_count(&dsn.recipients) <= VSMLIST_DSN_MAX_RECIPIENTS);
	i_assert(dsn.is_report || (array_count(&dsn.recipients) == 0 &&
				   dsn.recipients_skipped == 0 &&
				   !dsn.truncated && !dsn.forwarded));
	check_text(dsn.envid);
	check_text(dsn.reporting_mta);
	check_text(dsn.arrival_date);
	array_foreach(&dsn.recipients, rcpt)
		check_recipient(rcpt);
	if (vsmlist_dsn_is_auto_reply(&dsn, &reason))
		i_assert(!dsn.is_report && reason != NULL);
}

/* What decodes encodes back to the same recipient */
static void check_verp(const uint8_t *data, size_t size)
{
	const uint8_t *eol = memchr(data, '\n', size);
	const char *local = t_strndup(data, eol == NULL ? size : eol - data);
	struct smtp_address *member, *member2, *verp;
	const char *error;

	if (vsmlist_verp_decode(pool_datastack_create(),
				smtp_address_create_temp(local, "example.org"),
				"list", "+-", &member, &error) <= 0)
		return;
	i_assert(member->localpart[0] != '\0' && member->domain[0] != '\0');
	verp = vsmlist_verp_encode(pool_datastack_create(), "list", '+',
				   member, "example.org");
	i_assert(verp != NULL);
	i_assert(vsmlist_verp_decode(pool_datastack_create(), verp, "list",
				     "+", &member2, &error) == 1);
	i_assert(smtp_address_equals(member, member2));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	T_BEGIN {
		check_dsn(data, size);
		check_verp(data, size);
	} T_END;
	return 0;
}
