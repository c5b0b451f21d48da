/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"

#include "vsmlist-transport.h"

#include <ctype.h>

/* A queue id is what the relay logs the message under: a short token of
   letters, digits and a few separators */
#define QUEUE_ID_MAX_LEN 64

static const char *queue_id_token(const char *p)
{
	const char *start = p;

	while (*p != '\0' && (i_isalnum(*p) || strchr("-_.:", *p) != NULL))
		p++;
	if (p == start || p - start > QUEUE_ID_MAX_LEN)
		return NULL;
	return t_strdup_until(start, p);
}

const char *vsmlist_transport_queue_id(const char *data_reply)
{
	const char *p;

	if (data_reply == NULL)
		return NULL;
	/* Postfix: "250 2.0.0 Ok: queued as 4Qx1yZ2bcd" */
	if ((p = strstr(data_reply, "queued as ")) != NULL)
		return queue_id_token(p + 10);
	/* Exim: "250 OK id=1rAbCd-0001Ef-Gh" */
	if ((p = strstr(data_reply, "id=")) != NULL)
		return queue_id_token(p + 3);
	return NULL;
}
