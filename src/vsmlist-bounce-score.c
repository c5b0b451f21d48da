/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"

#include "vsmlist-store.h"
#include "vsmlist-bounce-score.h"

struct bounce_score_context {
	const struct vsmlist_bounce_rules *rules;
	time_t now;
	struct vsmlist_bounce_score *score;
	bool member;
};

static bool
bounce_score_update(struct vsmlist_member *member, time_t store_now ATTR_UNUSED,
		    struct bounce_score_context *ctx)
{
	struct vsmlist_bounce_score *score = ctx->score;
	time_t now = ctx->now;

	ctx->member = TRUE;
	score->points_before = score->points = member->bounce_points;
	if (member->state == VSMLIST_MEMBER_DISABLED) {
		score->result = VSMLIST_BOUNCE_SCORE_ALREADY_DISABLED;
		return FALSE;
	}
	/* A clock that went backwards (or a state file from the future)
	   counts as a bounce just now */
	if (member->last_bounce > now)
		member->last_bounce = now;
	if (member->bounce_points > 0 && member->last_bounce > 0 &&
	    now - member->last_bounce < VSMLIST_BOUNCE_POINT_INTERVAL_SECS) {
		score->result = VSMLIST_BOUNCE_SCORE_TODAY_ALREADY;
		return FALSE;
	}
	if (member->bounce_points > 0 &&
	    now - member->last_bounce >= (time_t)ctx->rules->reset_secs) {
		member->bounce_points = 0;
		score->lapsed = TRUE;
	}
	member->bounce_points++;
	member->last_bounce = now;
	score->points = member->bounce_points;
	score->result = VSMLIST_BOUNCE_SCORE_COUNTED;
	if (member->bounce_points >= ctx->rules->threshold) {
		member->state = VSMLIST_MEMBER_DISABLED;
		member->disabled_at = now;
		score->result = VSMLIST_BOUNCE_SCORE_DISABLED;
	}
	return TRUE;
}

int vsmlist_bounce_score(struct vsmlist_store *store,
			 const struct smtp_address *member, time_t now,
			 const struct vsmlist_bounce_rules *rules,
			 struct vsmlist_bounce_score *result_r,
			 const char **error_r)
{
	struct bounce_score_context ctx;

	i_assert(rules->threshold > 0);
	i_zero(result_r);
	i_zero(&ctx);
	ctx.rules = rules;
	ctx.now = now;
	ctx.score = result_r;
	if (vsmlist_store_update(store, member, bounce_score_update, &ctx,
				 error_r) < 0)
		return -1;
	if (!ctx.member)
		result_r->result = VSMLIST_BOUNCE_SCORE_NOT_MEMBER;
	return 0;
}

const char *
vsmlist_bounce_score_result_name(enum vsmlist_bounce_score_result result)
{
	switch (result) {
	case VSMLIST_BOUNCE_SCORE_NOT_MEMBER:
		return "not_member";
	case VSMLIST_BOUNCE_SCORE_TODAY_ALREADY:
		return "today_already";
	case VSMLIST_BOUNCE_SCORE_ALREADY_DISABLED:
		return "already_disabled";
	case VSMLIST_BOUNCE_SCORE_COUNTED:
		return "counted";
	case VSMLIST_BOUNCE_SCORE_DISABLED:
		return "disabled";
	}
	i_unreached();
}
