#ifndef VSMLIST_DMARC_RECORD_H
#define VSMLIST_DMARC_RECORD_H

/* DMARC policy record parsing (RFC 9989 and RFC 7489). No DNS, no Sieve. */

enum vsmlist_dmarc_policy {
	/* Order matters: stricter is larger */
	VSMLIST_DMARC_POLICY_UNSET = 0,
	VSMLIST_DMARC_POLICY_NONE,
	VSMLIST_DMARC_POLICY_QUARANTINE,
	VSMLIST_DMARC_POLICY_REJECT,
};

enum vsmlist_dmarc_psd {
	VSMLIST_DMARC_PSD_U = 0,
	VSMLIST_DMARC_PSD_Y,
	VSMLIST_DMARC_PSD_N,
};

struct vsmlist_dmarc_record {
	/* p; never UNSET in a usable record (a missing p is none) */
	enum vsmlist_dmarc_policy p;
	/* sp and np; UNSET when absent or invalid (they fall back) */
	enum vsmlist_dmarc_policy sp, np;
	enum vsmlist_dmarc_psd psd;
	/* t=y: testing; recorded, never lowers a list's decision */
	bool testing;
	/* A tag occurred twice: RFC 6376 makes the list invalid, receivers
	   differ; the stricter of the values was kept */
	bool duplicate_tags;
	/* p was missing (RFC 9989: none) or invalid but rua valid */
	bool p_defaulted;
	/* p was absent altogether: RFC 7489 then wants a valid rua too */
	bool p_missing;
	/* rua holds at least one syntactically valid URI */
	bool rua_valid;
};

/* TRUE when the TXT string starts like a DMARC record: "v" first, optional
   white space around "=", then "DMARC1" ending the tag. */
bool vsmlist_dmarc_record_is_dmarc(const char *txt);

/* Parse one record that vsmlist_dmarc_record_is_dmarc() accepted.
   Returns 1 when it yields a policy, 0 when it does not (invalid p
   without a valid rua, broken tag-list), error_r saying why. */
int vsmlist_dmarc_record_parse(const char *txt,
			       struct vsmlist_dmarc_record *record_r,
			       const char **error_r);

const char *vsmlist_dmarc_policy_name(enum vsmlist_dmarc_policy policy);

#endif
