#ifndef VSMLIST_GUARD_H
#define VSMLIST_GUARD_H

struct smtp_address;
struct vsmlist_settings;

/* What the loop and junk guard looks at in a post. Header arrays are
   NULL-terminated (as mail_get_headers() returns them) or NULL when the
   header is absent. */
struct vsmlist_guard_input {
	/* FALSE under imapsieve: then there is no envelope sender to check */
	bool have_envelope;
	/* The envelope sender is <> */
	bool null_sender;
	/* The envelope recipient, or NULL */
	const struct smtp_address *rcpt_to;

	const char *const *auto_submitted;
	const char *const *list_id;
	const char *const *x_loop;
};

/* The trace header that marks our own output */
#define VSMLIST_LOOP_HEADER "X-Loop"

/* Whether address is the list's bounce address, or a detail form of it
   (<local><delimiter>bounces..., VERP included) */
bool vsmlist_guard_is_bounce_address(const struct vsmlist_settings *set,
				     const struct smtp_address *address);

/* Returns NULL when the post may be distributed, else the reason it must
   not be (for the log line). */
const char *vsmlist_guard_check(const struct vsmlist_settings *set,
				const struct vsmlist_guard_input *input);

#endif
