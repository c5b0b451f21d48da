#ifndef VSMLIST_COMPOSE_H
#define VSMLIST_COMPOSE_H

#include "array-decl.h"

#include "vsmlist-message.h"

struct vsmlist_settings;
struct vsmlist_author;
struct vsmlist_author_mailbox;
struct vsmlist_dkim_coverage;
struct smtp_address;

/* The header fields and texts the list writes itself: the rewritten From,
   the RFC 2369/2919 list headers, the wrapped post's notice. Phrases are
   encoded by GMime (RFC 2047, quoting, folding), never pasted raw, so no
   display name can inject a header. Every line ends in CRLF. No Sieve
   dependency. */

/* GMime once per process (the plugin stays loaded: -z nodelete) */
void vsmlist_compose_init(void);

/* The author as a reader knows them: the decoded display name, else the
   address (also when the name still looks like an encoded word); control
   characters dropped, white space collapsed, at most
   VSMLIST_COMPOSE_NAME_MAX characters. */
#define VSMLIST_COMPOSE_NAME_MAX 100
const char *
vsmlist_compose_author_name(const struct vsmlist_author_mailbox *mbox);

/* "<field>: <phrase> <address>\r\n" (phrase NULL: none), encoded and
   folded by GMime */
const char *
vsmlist_compose_address_field(const char *field, const char *phrase,
			      const struct smtp_address *address);
/* "<field>: <text>\r\n" for UTF-8 text (Subject): control characters
   dropped, white space collapsed, at most VSMLIST_COMPOSE_TEXT_MAX
   characters, RFC 2047-encoded where needed and folded by GMime */
#define VSMLIST_COMPOSE_TEXT_MAX 200
const char *
vsmlist_compose_unstructured_field(const char *field, const char *text);

/* "From: \"<author> via <list name>\" <list address>\r\n", folded;
   author NULL (unusable author): the list's own name. */
const char *vsmlist_compose_from(const struct vsmlist_settings *set,
				 const struct vsmlist_author_mailbox *author);

struct vsmlist_list_header {
	const char *name;
	/* "Name: value\r\n" */
	const char *line;
};
ARRAY_DEFINE_TYPE(vsmlist_list_header, struct vsmlist_list_header);

/* Sender when with_sender, the list headers the settings ask for and can
   fill (List-Id, List-Post, List-Help, ...), and Precedence: list. */
void vsmlist_compose_list_headers(const struct vsmlist_settings *set,
				  bool with_sender,
				  ARRAY_TYPE(vsmlist_list_header) *headers);

/* "List-Id: <list name> <list-id>\r\n" and "X-Loop: <list>\r\n": what
   marks a mail as the list's own (the guard's anchors) */
const char *vsmlist_compose_list_id_field(const struct vsmlist_settings *set);
const char *vsmlist_compose_trace_field(const struct vsmlist_settings *set);

/* "<random.time@list-domain>" */
const char *vsmlist_compose_message_id(const struct vsmlist_settings *set);

/* A MIME boundary; the caller makes sure the post does not contain it */
const char *vsmlist_compose_boundary(void);

/* template with the %{variables} (NULL-terminated; values in the same
   order) expanded, lines broken at a space past 72 columns, each ending
   in CRLF. */
const char *vsmlist_compose_text(const char *template,
				 const char *const *variables,
				 const char *const *values);

/* The notice's text (sieve_vsmlist_notice or the default) with %{list},
   %{list_name}, %{author} and %{reason} expanded, lines ending CRLF. */
const char *vsmlist_compose_notice(const struct vsmlist_settings *set,
				   const char *author, const char *reason);

/* Quoted-printable body of UTF-8 text (7-bit clean, lines <= 76) */
const char *vsmlist_compose_qp(const char *text);

/* What an untouched copy gets on top: the trace header X-Loop (always),
   Sender and the list headers, each only where no DKIM signature of the
   post names it. replace_r gets the names of those added that replace the post's own
   (an upstream list's List-Id, a Sender: only one may exist). left_out
   (if not NULL) gets "Name (d=domain)" for each one left out,
   comma-separated. */
const char *
vsmlist_compose_untouched_head(const struct vsmlist_settings *set,
			       const struct vsmlist_dkim_coverage *coverage,
			       const char *const **replace_r,
			       string_t *left_out);

/* A munged copy: the From rewritten, the author into Reply-To (or, when
   the post has one, added to Cc), the trace and list headers. remove_r
   gets the names of the original fields this replaces. */
const char *
vsmlist_compose_munge_head(const struct vsmlist_settings *set,
			   const struct vsmlist_author_mailbox *author,
			   const ARRAY_TYPE(vsmlist_header_field) *fields,
			   const char *const **remove_r);

struct vsmlist_wrap_params {
	/* The author, NULL when unusable */
	const struct vsmlist_author_mailbox *author;
	/* The post's header */
	const ARRAY_TYPE(vsmlist_header_field) *fields;
	/* Why it is wrapped, for the notice */
	const char *reason;
	const char *boundary;
	/* "7bit", "8bit" or "binary" for the message/rfc822 part */
	const char *inner_cte;
	/* The new message's Message-ID (vsmlist_compose_message_id()) */
	const char *message_id;
};

/* The wrapped message up to the original: its header, the notice part and
   the header of the message/rfc822 part. */
const char *vsmlist_compose_wrap_head(const struct vsmlist_settings *set,
				      const struct vsmlist_wrap_params *params);

#endif
