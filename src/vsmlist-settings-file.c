/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "home-expand.h"
#include "istream.h"

#include "vsmlist-settings-file.h"

#include <fcntl.h>
#include <unistd.h>

struct vsmlist_settings_pair {
	const char *name, *value;
};

struct vsmlist_settings_file {
	ARRAY(struct vsmlist_settings_pair) pairs;
};

static int
settings_file_parse_line(pool_t pool, struct vsmlist_settings_file *file,
			 const char *line, const char **error_r)
{
	struct vsmlist_settings_pair *pair;
	const char *eq, *name, *value;
	size_t len;

	line = t_str_trim(line, " \t\r");
	if (*line == '\0' || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (eq == NULL) {
		*error_r = "not a 'name = value' line";
		return -1;
	}
	name = t_str_trim(t_strdup_until(line, eq), " \t");
	value = t_str_trim(eq + 1, " \t");
	if (!str_begins(name, "sieve_vsmlist_") ||
	    strcmp(name, "sieve_vsmlist_settings_file") == 0 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
	    strlen(name)) {
		*error_r = t_strdup_printf("'%s' is no list setting",
					   str_sanitize(name, 64));
		return -1;
	}
	/* A value may be quoted, as people write them */
	len = strlen(value);
	if (len >= 2 && value[0] == '"' && value[len - 1] == '"')
		value = t_strndup(value + 1, len - 2);
	pair = array_append_space(&file->pairs);
	pair->name = p_strdup(pool, name);
	pair->value = p_strdup(pool, value);
	return 0;
}

int vsmlist_settings_file_read(pool_t pool, const char *path,
			       const char *home,
			       struct vsmlist_settings_file **file_r,
			       const char **error_r)
{
	struct vsmlist_settings_file *file;
	struct istream *input;
	const char *line, *error;
	unsigned int line_num = 0;
	int fd, ret = 1;

	*file_r = NULL;
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
		if (home == NULL) {
			*error_r = t_strdup_printf(
				"%s: no home directory to find it in", path);
			return -1;
		}
		path = home_expand_tilde(path, home);
	} else if (path[0] != '/') {
		*error_r = t_strdup_printf("%s: a relative path (use an "
					   "absolute one or ~/)", path);
		return -1;
	}
	fd = open(path, O_RDONLY);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_strdup_printf("open(%s) failed: %m", path);
		return -1;
	}

	file = p_new(pool, struct vsmlist_settings_file, 1);
	p_array_init(&file->pairs, pool, 8);
	input = i_stream_create_fd_autoclose(&fd,
					     VSMLIST_SETTINGS_FILE_MAX_SIZE);
	i_stream_set_name(input, path);
	i_stream_set_return_partial_line(input, TRUE);
	while ((line = i_stream_read_next_line(input)) != NULL) {
		line_num++;
		if (input->v_offset > VSMLIST_SETTINGS_FILE_MAX_SIZE) {
			*error_r = t_strdup_printf("%s: larger than %u bytes",
				path, VSMLIST_SETTINGS_FILE_MAX_SIZE);
			ret = -1;
			break;
		}
		if (settings_file_parse_line(pool, file, line, &error) < 0) {
			*error_r = t_strdup_printf("%s:%u: %s", path,
						   line_num, error);
			ret = -1;
			break;
		}
	}
	if (ret > 0 && input->stream_errno != 0) {
		*error_r = t_strdup_printf("%s: %s", path,
			input->stream_errno == ENOBUFS ?
			"a line too long" : i_stream_get_error(input));
		ret = -1;
	}
	i_stream_unref(&input);
	if (ret > 0)
		*file_r = file;
	return ret;
}

const char *
vsmlist_settings_file_get(const struct vsmlist_settings_file *file,
			  const char *name)
{
	const struct vsmlist_settings_pair *pair;

	if (file == NULL)
		return NULL;
	/* The last one wins, as in Dovecot's own configuration */
	for (unsigned int i = array_count(&file->pairs); i > 0; i--) {
		pair = array_idx(&file->pairs, i - 1);
		if (strcmp(pair->name, name) == 0)
			return pair->value;
	}
	return NULL;
}
