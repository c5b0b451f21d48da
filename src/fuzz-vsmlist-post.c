/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* libFuzzer target: the whole post path. A post of arbitrary bytes goes
   through vsmlist_distribute() (header, guard, policy with a fake DNS
   zone, decision, the copy) in the mode its first byte picks, to a fake
   transport that reads each copy and checks its header: our X-Loop comes
   before any line that is neither a field nor a continuation, a wrapped
   copy's header (which the list writes whole) is well formed throughout,
   and a post whose own header is well formed gets a well-formed copy. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "smtp-address.h"
#include "test-vsmlist.h"
#include "test-vsmlist-fake-dns.h"
#include "test-vsmlist-header-check.h"
#include "vsmlist-compose.h"
#include "vsmlist-distribute.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct fake_rr fuzz_zone[] = {
	{ "_dmarc.reject.example", "v=DMARC1; p=reject" },
	{ "_dmarc.none.example", "v=DMARC1; p=none" },
	{ "_dmarc.broken.example", "SERVFAIL" },
	{ NULL, NULL }
};

struct fuzz_post {
	const unsigned char *post;
	size_t size;
	/* Mode wrap: every copy is wrapped */
	bool wrapped;
};

/* Is the original's header (up to its empty line) well formed itself? */
static bool fuzz_original_sound(const struct fuzz_post *fp)
{
	return test_vsmlist_header_problem(fp->post, fp->size) == NULL;
}

/* A header line (without its CRLF) that is a field or a continuation */
static bool fuzz_line_sound(const unsigned char *line, size_t len)
{
	size_t i;

	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) != NULL)
		return FALSE;
	if (len > 0 && (line[0] == ' ' || line[0] == '\t'))
		return TRUE;
	for (i = 0; i < len && line[i] != ':'; i++) {
		if (line[i] <= ' ' || line[i] >= 0x7f)
			return FALSE;
	}
	return i > 0 && i < len;
}

static void
fuzz_check_copy(const struct fuzz_post *fp, const unsigned char *copy,
		size_t size)
{
	static const char x_loop[] = "X-Loop: friends@lists.example";
	const char *problem = test_vsmlist_header_problem(copy, size);
	size_t pos, end, len;
	bool found = FALSE;

	/* Our X-Loop among the header lines before the first unsound one */
	for (pos = 0; pos < size && !found; pos = end + 1) {
		for (end = pos; end < size && copy[end] != '\n'; end++) ;
		if (end == size || end == pos || copy[end - 1] != '\r')
			break;
		len = end - 1 - pos;
		if (len == 0 || !fuzz_line_sound(copy + pos, len))
			break;
		found = (len == sizeof(x_loop) - 1 &&
			 memcmp(copy + pos, x_loop, len) == 0);
	}
	i_assert(found);
	if (fp->wrapped)
		i_assert(problem == NULL);
	if (fuzz_original_sound(fp))
		i_assert(problem == NULL);
}

static int
fuzz_send(void *context, const struct vsmlist_transaction *trans,
	  struct vsmlist_rcpt_result *results,
	  struct vsmlist_transaction_result *result_r ATTR_UNUSED)
{
	const struct fuzz_post *fp = context;
	buffer_t *copy = t_buffer_create(fp->size + 4096);
	const unsigned char *data;
	size_t size;
	unsigned int i;

	while (i_stream_read_more(trans->input, &data, &size) > 0) {
		buffer_append(copy, data, size);
		i_stream_skip(trans->input, size);
	}
	i_assert(trans->input->stream_errno == 0);
	fuzz_check_copy(fp, copy->data, copy->used);
	for (i = 0; i < trans->rcpt_count; i++)
		results[i].status = VSMLIST_RCPT_SENT;
	return 1;
}

int LLVMFuzzerInitialize(int *argc ATTR_UNUSED, char ***argv ATTR_UNUSED)
{
	lib_init();
	vsmlist_compose_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const members[] = {
		"a@example.net", "b@example.org", NULL
	};
	static const char *const pairs[] = {
		"sieve_vsmlist_address", "friends@lists.example",
		"sieve_vsmlist_name", "Friends",
		"sieve_vsmlist_dns_cache", "no",
		"sieve_vsmlist_list_headers",
		"List-Id List-Post List-Help List-Unsubscribe",
		"sieve_vsmlist_list_help", "<mailto:friends+help@lists.example>",
		NULL
	};

	if (size < 1)
		return 0;
	T_BEGIN {
		pool_t pool = pool_alloconly_create("fuzz post", 8192);
		struct fuzz_post fp = {
			.post = data + 1, .size = size - 1,
			.wrapped = (data[0] % 4 == VSMLIST_DMARC_MODE_WRAP),
		};
		struct vsmlist_transport transport = {
			.send = fuzz_send, .context = &fp,
		};
		struct fake_resolver fake = {
			.zone = fuzz_zone,
		};
		struct vsmlist_dns_resolver resolver = {
			.lookup_txt = fake_lookup_txt, .context = &fake,
		};
		struct vsmlist_distribute_params params;
		struct vsmlist_distribute_outcome outcome;
		struct event *event = event_create(NULL);
		bool error;

		/* Not the data stack: the pipeline runs in frames of its own */
		fake.queries = str_new(pool, 64);
		i_zero(&params);
		params.delivery.set = test_vsmlist_settings(pairs);
		params.delivery.input =
			i_stream_create_from_data(fp.post, fp.size);
		params.delivery.have_envelope = TRUE;
		params.delivery.mail_from =
			smtp_address_create(pool, "x", "y.example");
		params.dmarc_mode = data[0] % 4;
		params.inline_members = members;
		params.delivery.transport = &transport;
		params.delivery.relay = "fuzz";
		params.resolver = &resolver;
		params.delivery.event = event;
		vsmlist_distribute(pool, &params, &outcome);
		(void)vsmlist_distribute_outcome_log(&outcome, &error);
		vsmlist_distribute_outcome_event(&outcome, event);
		i_stream_unref(&params.delivery.input);
		event_unref(&event);
		pool_unref(&pool);
	} T_END;
	return 0;
}
