#ifndef TEST_VSMLIST_HEADER_CHECK_H
#define TEST_VSMLIST_HEADER_CHECK_H

/* For unit tests and fuzz targets: is the header of what a member receives
   well formed, as a receiver's parser reads it? Every line up to the first
   empty one is a field ("Name:" with a name of printable US-ASCII other
   than ':') or a continuation (starting with white space, never the first
   line); lines end in CRLF; no NUL; the empty line ends the header. Returns
   NULL, or what is wrong. */
static inline const char *
test_vsmlist_header_problem(const unsigned char *msg, size_t size)
{
	size_t pos = 0, end, i;
	bool first = TRUE;

	while (pos < size) {
		for (end = pos; end < size && msg[end] != '\n'; end++) {
			if (msg[end] == '\0')
				return "NUL in the header";
		}
		if (end == size)
			return "header without an empty line after it";
		if (end == pos || msg[end - 1] != '\r')
			return "a header line not ending in CRLF";
		if (end - 1 == pos)
			return NULL;	/* the empty line */
		if (msg[pos] == ' ' || msg[pos] == '\t') {
			if (first)
				return "a continuation as the first line";
		} else {
			for (i = pos; i < end - 1 && msg[i] != ':'; i++) {
				if (msg[i] <= ' ' || msg[i] >= 0x7f)
					return "a field name with a control, "
						"space or 8-bit character";
			}
			if (i == pos || i == end - 1)
				return "a line that is neither a field nor a "
					"continuation";
		}
		for (i = pos; i < end - 1; i++) {
			if (msg[i] == '\r')
				return "a bare CR in the header";
		}
		first = FALSE;
		pos = end + 1;
	}
	return "header without an empty line after it";
}

/* The first field named name (case-insensitive) in the header, or NULL */
static inline bool
test_vsmlist_header_has(const unsigned char *msg, size_t size,
			const char *name)
{
	size_t len = strlen(name), pos = 0;

	while (pos + len < size) {
		if (msg[pos] == '\r' && pos + 1 < size && msg[pos + 1] == '\n')
			return FALSE;	/* the empty line */
		if (strncasecmp((const char *)msg + pos, name, len) == 0 &&
		    msg[pos + len] == ':')
			return TRUE;
		while (pos < size && msg[pos] != '\n')
			pos++;
		pos++;
	}
	return FALSE;
}

#endif
