/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "istream.h"
#include "smtp-address.h"
#include "sha2.h"
#include "hex-binary.h"

#include "vsmlist-message.h"
#include "vsmlist-guard.h"
#include "vsmlist-members.h"
#include "vsmlist-store.h"
#include "vsmlist-verp.h"
#include "vsmlist-post.h"
#include "vsmlist-progress.h"
#include "vsmlist-distribute.h"

/* RFC 3461 4.4: ENVID is at most 100 characters */
#define VSMLIST_DISTRIBUTE_MAX_ENVID 100

struct distribute {
	pool_t pool;
	const struct vsmlist_distribute_params *params;
	const struct vsmlist_settings *set;
	struct vsmlist_distribute_outcome *outcome;

	/* The post's header, read once for guard, progress and copy */
	ARRAY_TYPE(vsmlist_header_field) fields;
	/* Where its body starts */
	uoff_t body_offset;

	/* Inline members (:members), deduplicated */
	struct vsmlist_members *members;
	/* Who gets the post: the enabled members */
	ARRAY(const struct smtp_address *) rcpts;
	struct vsmlist_post *post;
	struct vsmlist_progress *progress;
	/* The post has no Message-ID: its progress record is found by a
	   digest of its content, which another post may share */
	bool digest_key;
};

static void
distribute_end(struct distribute *dist, enum vsmlist_distribute_status status,
	       const char *reason)
{
	dist->outcome->status = status;
	dist->outcome->reason = (reason == NULL ? NULL :
				 p_strdup(dist->pool, reason));
}

static void distribute_note(struct distribute *dist, const char *note)
{
	struct vsmlist_distribute_outcome *outcome = dist->outcome;

	outcome->note = (outcome->note == NULL ?
			 p_strdup(dist->pool, note) :
			 p_strdup_printf(dist->pool, "%s; %s", outcome->note,
					 note));
}

/* Returns 0, or -1 when the outcome is decided (the post could not be
   read, or its header is malformed) */
static int distribute_read_header(struct distribute *dist)
{
	struct istream *input = dist->params->delivery.input;
	const char *malformed, *error;

	p_array_init(&dist->fields, dist->pool, 32);
	i_stream_seek(input, 0);
	if (vsmlist_message_read_header(input, dist->pool, &dist->fields,
					&malformed, &error) < 0) {
		distribute_end(dist, VSMLIST_DISTRIBUTE_DEFERRED,
			t_strdup_printf("failed to read the post: %s", error));
		return -1;
	}
	dist->body_offset = input->v_offset;
	if (malformed != NULL) {
		distribute_end(dist, VSMLIST_DISTRIBUTE_MALFORMED, malformed);
		return -1;
	}
	return 0;
}

static const char *distribute_guard(struct distribute *dist)
{
	const struct vsmlist_distribute_params *params = dist->params;
	struct vsmlist_guard_input input;

	i_zero(&input);
	input.have_envelope = params->delivery.have_envelope;
	input.null_sender = (params->delivery.mail_from == NULL);
	input.rcpt_to = params->delivery.rcpt_to;
	input.auto_submitted = vsmlist_message_header_values(
		&dist->fields, "Auto-Submitted");
	input.x_loop = vsmlist_message_header_values(
		&dist->fields, VSMLIST_LOOP_HEADER);
	input.list_id = vsmlist_message_header_values(
		&dist->fields, "List-Id");
	return vsmlist_guard_check(dist->set, &input);
}

static void distribute_add_rcpt(struct distribute *dist,
				const struct smtp_address *address)
{
	if (smtp_address_equals_icase(address, dist->set->address)) {
		e_warning(dist->params->delivery.event, "the list address %s is listed "
			  "as its own member (skipped)", dist->outcome->list);
		return;
	}
	array_push_back(&dist->rcpts, &address);
}

static void distribute_inline_members(struct distribute *dist)
{
	const struct smtp_address *const *addrs;
	const char *const *member, *error;
	unsigned int i, count;

	dist->members = vsmlist_members_init(dist->pool);
	for (member = dist->params->inline_members; *member != NULL; member++)
		(void)vsmlist_members_add(dist->members, *member, &error);
	addrs = vsmlist_members_get(dist->members, &count);
	for (i = 0; i < count; i++)
		distribute_add_rcpt(dist, addrs[i]);
}

/* The store's enabled members; the disabled ones are counted */
static int distribute_store_members(struct distribute *dist,
				    const char **error_r)
{
	struct vsmlist_store *store;
	struct vsmlist_member_set *set;
	const struct vsmlist_member *members;
	unsigned int i, count;
	int ret;

	if (vsmlist_settings_open_store(dist->set,
					dist->params->delivery.event, &store,
					error_r) < 0)
		return -1;
	ret = vsmlist_store_read(store, dist->pool, &set, error_r);
	vsmlist_store_close(&store);
	if (ret < 0)
		return -1;
	members = vsmlist_member_set_get(set, &count);
	for (i = 0; i < count; i++) {
		if (members[i].state == VSMLIST_MEMBER_DISABLED)
			dist->outcome->disabled++;
		else
			distribute_add_rcpt(dist, members[i].address);
	}
	return 0;
}

/* Returns 0, or -1 when the outcome is decided */
static int distribute_get_members(struct distribute *dist)
{
	struct vsmlist_distribute_outcome *outcome = dist->outcome;
	const char *error;

	p_array_init(&dist->rcpts, dist->pool, 64);
	if (dist->params->inline_members != NULL)
		distribute_inline_members(dist);
	else if (distribute_store_members(dist, &error) < 0) {
		/* Retry later rather than drop or half-send the post: the
		   store may be back by then */
		distribute_end(dist, VSMLIST_DISTRIBUTE_DEFERRED,
			t_strdup_printf("failed to read the members of %s: %s",
					outcome->list, error));
		return -1;
	}
	outcome->members = array_count(&dist->rcpts);
	if (outcome->members == 0) {
		distribute_end(dist, VSMLIST_DISTRIBUTE_NO_MEMBERS, NULL);
		return -1;
	}
	return 0;
}

/* Returns 0, or -1 when the outcome is decided */
static int distribute_prepare_post(struct distribute *dist)
{
	const struct vsmlist_distribute_params *params = dist->params;
	struct vsmlist_distribute_outcome *outcome = dist->outcome;
	struct vsmlist_post *post;
	const char *error;

	if (vsmlist_post_prepare(dist->pool, dist->set, params->dmarc_mode,
				 params->delivery.input, &dist->fields,
				 params->resolver, params->delivery.event,
				 &dist->post, &error) < 0) {
		distribute_end(dist, VSMLIST_DISTRIBUTE_DEFERRED,
			t_strdup_printf("failed to read the post: %s", error));
		return -1;
	}
	post = dist->post;
	outcome->have_policy = TRUE;
	outcome->looked_up = post->looked_up;
	outcome->policy = post->policy;
	outcome->decision = post->decision;
	outcome->message_id = post->message_id;
	outcome->left_out = (post->left_out == NULL ||
			     *post->left_out == '\0' ? NULL : post->left_out);
	if (post->decision.mitigation == VSMLIST_MITIGATION_TEMPFAIL) {
		/* sieve_vsmlist_dns_failure=tempfail: the MTA retries */
		distribute_end(dist, VSMLIST_DISTRIBUTE_DEFERRED,
			       post->decision.reason);
		return -1;
	}
	return 0;
}

/* What identifies the post across the MTA's retries: the list and its
   Message-ID, and a digest of the content that tells apart posts reusing
   one (and identifies posts that have none) */
static int
distribute_progress_key(struct distribute *dist,
			struct vsmlist_progress_key *key_r,
			const char **error_r)
{
	static const char *const digest_fields[] = {
		"From", "Date", "Subject", NULL
	};
	struct istream *input = dist->params->delivery.input;
	const char *const *values, *digest_values[N_ELEMENTS(digest_fields)];
	unsigned int i;
	int ret;

	i_zero(key_r);
	key_r->list = dist->outcome->list;
	values = vsmlist_message_header_values(&dist->fields, "Message-ID");
	key_r->message_id = (values == NULL ? NULL : values[0]);
	for (i = 0; digest_fields[i] != NULL; i++) {
		values = vsmlist_message_header_values(&dist->fields,
						       digest_fields[i]);
		digest_values[i] = (values == NULL ? "" : values[0]);
	}
	digest_values[i] = NULL;
	/* The body: trace fields added on the way (Received by LMTP)
	   differ between attempts */
	i_stream_seek(input, dist->body_offset);
	ret = vsmlist_progress_digest(input, digest_values, &key_r->digest,
				      error_r);
	i_stream_seek(input, 0);
	return ret;
}

/* Returns 0, or -1 when the outcome is decided */
static int distribute_progress_open(struct distribute *dist)
{
	const struct vsmlist_settings *set = dist->set;
	struct vsmlist_progress_key key;
	const char *error;
	int ret;

	if (!dist->params->keep_progress || set->progress == NULL)
		return 0;
	if (distribute_progress_key(dist, &key, &error) < 0) {
		distribute_end(dist, VSMLIST_DISTRIBUTE_DEFERRED,
			t_strdup_printf("failed to read the post: %s", error));
		return -1;
	}
	dist->digest_key = (key.message_id == NULL);
	ret = vsmlist_progress_open(set->progress, &key,
				    set->progress_expire_secs,
				    dist->params->delivery.event, &dist->progress,
				    &error);
	if (ret == 0) {
		distribute_end(dist, VSMLIST_DISTRIBUTE_CONCURRENT, NULL);
		return -1;
	}
	if (ret < 0) {
		/* Sending without it risks duplicates on a retry only; not
		   sending risks losing the post */
		distribute_note(dist, t_strdup_printf(
			"post progress not recorded: %s", error));
	}
	return 0;
}

/* The post's id in delivery reports (DSN's ENVID): its Message-ID when
   that is short plain ASCII, else a digest of it; NULL without one */
static const char *distribute_envid(struct distribute *dist)
{
	unsigned char digest[SHA256_RESULTLEN];
	const char *const *values, *id, *p;

	values = vsmlist_message_header_values(&dist->fields, "Message-ID");
	if (values == NULL)
		return NULL;
	id = t_str_trim(values[0], " \t<>");
	if (*id == '\0')
		return NULL;
	for (p = id; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '+' || *p == '=')
			break;
	}
	if (*p == '\0' && p - id <= VSMLIST_DISTRIBUTE_MAX_ENVID)
		return p_strdup(dist->pool, id);
	sha256_get_digest(id, strlen(id), digest);
	return p_strdup_printf(dist->pool, "vsmlist-%s",
			       binary_to_hex(digest, 16));
}

/* VERP: the envelope sender that names the member, or NULL (the list's
   bounce address) where a member has no VERP form */
static const struct smtp_address *
distribute_verp_mail_from(void *context, const struct smtp_address *rcpt)
{
	struct distribute *dist = context;
	const struct vsmlist_settings *set = dist->set;

	return vsmlist_verp_encode(pool_datastack_create(),
				   set->address->localpart,
				   set->recipient_delimiter[0], rcpt,
				   set->address->domain);
}

static void distribute_send(struct distribute *dist)
{
	const struct vsmlist_distribute_params *params = dist->params;
	struct vsmlist_distribute_outcome *outcome = dist->outcome;
	struct vsmlist_fanout_result *result = &outcome->result;
	struct vsmlist_fanout_params fparams;
	const char *error;
	int ret;

	i_zero(&fparams);
	fparams.transport = params->delivery.transport;
	fparams.mail_from = dist->set->bounce_address;
	fparams.rcpts = array_get(&dist->rcpts, &fparams.rcpt_count);
	fparams.batch_size = dist->set->batch_size;
	fparams.message_func = vsmlist_post_create_stream;
	fparams.message_context = dist->post;
	fparams.body_8bit = dist->post->has_8bit;
	fparams.envid = distribute_envid(dist);
	if (dist->set->verp) {
		fparams.verp_mail_from = distribute_verp_mail_from;
		fparams.verp_context = dist;
		dist->outcome->verp = TRUE;
	}
	fparams.progress = dist->progress;
	fparams.event = params->delivery.event;
	ret = vsmlist_fanout_send(&fparams, result);
	if (result->error != NULL)
		result->error = p_strdup(dist->pool, result->error);
	if (result->queue_ids != NULL)
		result->queue_ids = p_strdup(dist->pool, result->queue_ids);

	if (vsmlist_progress_close(&dist->progress, ret >= 0, &error) < 0) {
		distribute_note(dist, t_strdup_printf(
			"post progress not recorded: %s", error));
	}

	if (ret < 0) {
		distribute_end(dist, VSMLIST_DISTRIBUTE_DEFERRED,
			       result->error != NULL ? result->error :
			       "member(s) deferred");
	} else if (ret == 0) {
		distribute_end(dist, VSMLIST_DISTRIBUTE_FAILED,
			       result->error);
	} else if (result->sent > 0) {
		distribute_end(dist, VSMLIST_DISTRIBUTE_DISTRIBUTED, NULL);
	} else if (dist->digest_key) {
		/* Only a digest told it apart from an earlier post: better
		   a copy in the list's mailbox than a post dropped */
		distribute_end(dist, VSMLIST_DISTRIBUTE_SAME_CONTENT, NULL);
	} else {
		distribute_end(dist, VSMLIST_DISTRIBUTE_ALREADY_DISTRIBUTED,
			       NULL);
	}
}

static void distribute_run(struct distribute *dist)
{
	const struct vsmlist_distribute_params *params = dist->params;
	const char *reason;

	if (distribute_read_header(dist) < 0)
		return;
	reason = distribute_guard(dist);
	if (reason != NULL) {
		distribute_end(dist, VSMLIST_DISTRIBUTE_SKIPPED, reason);
		return;
	}
	if (distribute_get_members(dist) < 0 ||
	    distribute_prepare_post(dist) < 0)
		return;
	if (params->delivery.transport == NULL) {
		distribute_end(dist, VSMLIST_DISTRIBUTE_FAILED,
			       params->delivery.transport_error);
		return;
	}
	if (distribute_progress_open(dist) < 0)
		return;
	distribute_send(dist);
}

void vsmlist_distribute(pool_t pool,
			const struct vsmlist_distribute_params *params,
			struct vsmlist_distribute_outcome *outcome_r)
{
	struct distribute dist;
	const char *error;

	i_zero(outcome_r);
	i_zero(&dist);
	dist.pool = pool;
	dist.params = params;
	dist.set = params->delivery.set;
	dist.outcome = outcome_r;
	if (dist.set == NULL) {
		distribute_end(&dist, VSMLIST_DISTRIBUTE_INVALID_SETTINGS,
			       params->delivery.settings_error);
		return;
	}
	outcome_r->list = p_strdup(pool, smtp_address_encode(dist.set->address));
	outcome_r->envelope_sender =
		p_strdup(pool, smtp_address_encode(dist.set->bounce_address));
	outcome_r->relay = p_strdup(pool, params->delivery.relay);

	T_BEGIN {
		distribute_run(&dist);
	} T_END;

	/* Open only when the run ended between opening and sending */
	if (vsmlist_progress_close(&dist.progress, FALSE, &error) < 0)
		e_error(params->delivery.event, "post progress: %s", error);
	vsmlist_post_free(&dist.post);
	vsmlist_members_deinit(&dist.members);
}
