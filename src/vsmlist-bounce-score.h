#ifndef VSMLIST_BOUNCE_SCORE_H
#define VSMLIST_BOUNCE_SCORE_H

struct smtp_address;
struct vsmlist_store;

/* Bounce points of one member (doc/vsmlist.md, "Bounces": a failed
   delivery scores one point, at most one a day; points lapse after
   reset_secs without a counted bounce; at threshold points the member
   is disabled). Applied under the store's lock (vsmlist_store_update),
   so two deliveries scoring the same member at once never lose a point,
   and no number of reports can disable a member faster than one point
   a day allows. No Sieve dependency. */

#define VSMLIST_BOUNCE_POINT_INTERVAL_SECS (24*3600)

struct vsmlist_bounce_rules {
	/* Points lapse after this long without a counted bounce */
	unsigned int reset_secs;
	/* Points at which the member is disabled */
	unsigned int threshold;
};

enum vsmlist_bounce_score_result {
	/* Not a member of the list: nothing counted */
	VSMLIST_BOUNCE_SCORE_NOT_MEMBER = 0,
	/* A point was counted today already */
	VSMLIST_BOUNCE_SCORE_TODAY_ALREADY,
	/* Already disabled: nothing more counted */
	VSMLIST_BOUNCE_SCORE_ALREADY_DISABLED,
	/* One point more */
	VSMLIST_BOUNCE_SCORE_COUNTED,
	/* One point more, and the member reached the threshold: disabled
	   now (tell the member and the owner) */
	VSMLIST_BOUNCE_SCORE_DISABLED,
};

struct vsmlist_bounce_score {
	enum vsmlist_bounce_score_result result;
	/* Points before and after */
	unsigned int points_before, points;
	/* The points before had lapsed (reset to 0 first) */
	bool lapsed;
};

/* Count one failed delivery to member at now. Returns 0 (result_r says
   what happened), or -1 on a store error (error_r). */
int vsmlist_bounce_score(struct vsmlist_store *store,
			 const struct smtp_address *member, time_t now,
			 const struct vsmlist_bounce_rules *rules,
			 struct vsmlist_bounce_score *result_r,
			 const char **error_r);

const char *
vsmlist_bounce_score_result_name(enum vsmlist_bounce_score_result result);

#endif
