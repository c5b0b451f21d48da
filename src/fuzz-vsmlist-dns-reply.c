/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* libFuzzer target: the DNS reply parser on arbitrary bytes (built by
   scripts/build-fuzz.sh with clang). The query it is parsed against is
   the one the bytes claim to answer (their ID and question name), so
   that the fuzzer gets past the matching to the answer's substance. */

#include "lib.h"
#include "array.h"
#include "vsmlist-dns-reply.h"

#include <ldns/ldns.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ldns.h redefines ATTR_UNUSED as a macro with an argument */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	lib_init();
	return 0;
}

/* The name of the question the bytes hold; another one when they hold
   none */
static const char *fuzz_question_name(const uint8_t *data, size_t size)
{
	const char *name = "_dmarc.example.com.";
	ldns_pkt *pkt;
	char *str;

	if (ldns_wire2pkt(&pkt, data, size) != LDNS_STATUS_OK)
		return name;
	if (ldns_rr_list_rr_count(ldns_pkt_question(pkt)) > 0) {
		str = ldns_rdf2str(ldns_rr_owner(
			ldns_rr_list_rr(ldns_pkt_question(pkt), 0)));
		if (str != NULL) {
			name = t_strdup(str);
			free(str);
		}
	}
	ldns_pkt_free(pkt);
	return name;
}

static void
fuzz_check_answer(const struct vsmlist_dns_answer *answer)
{
	const char *txt;
	size_t total = 0;

	i_assert(answer->from_server);
	i_assert(array_count(&answer->txts) <= VSMLIST_DNS_REPLY_MAX_RRS);
	array_foreach_elem(&answer->txts, txt)
		total += strlen(txt);
	i_assert(total <= VSMLIST_DNS_REPLY_MAX_TXT_BYTES);
	i_assert(answer->ttl_secs <= 0x7fffffffU);
	switch (answer->status) {
	case VSMLIST_DNS_OK:
		i_assert(answer->error == NULL);
		break;
	case VSMLIST_DNS_NXDOMAIN:
		i_assert(answer->error == NULL);
		i_assert(array_count(&answer->txts) == 0);
		break;
	case VSMLIST_DNS_TEMPERROR:
		i_assert(answer->error != NULL);
		i_assert(array_count(&answer->txts) == 0);
		i_assert(answer->ttl_secs == 0);
		break;
	default:
		i_unreached();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	T_BEGIN {
		struct vsmlist_dns_answer answer;
		const char *error = NULL;
		uint16_t id = size >= 2 ? ((uint16_t)data[0] << 8) | data[1] : 0;

		switch (vsmlist_dns_reply_parse(data, size, id,
				fuzz_question_name(data, size),
				pool_datastack_create(), &answer, &error)) {
		case VSMLIST_DNS_REPLY_FOREIGN:
		case VSMLIST_DNS_REPLY_TRUNCATED:
			i_assert(error != NULL);
			break;
		case VSMLIST_DNS_REPLY_ANSWER:
			fuzz_check_answer(&answer);
			break;
		default:
			i_unreached();
		}
	} T_END;
	return 0;
}
