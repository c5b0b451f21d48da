#ifndef VSMLIST_SETTINGS_FILE_H
#define VSMLIST_SETTINGS_FILE_H

/* A list's own settings file: "sieve_vsmlist_<name> = <value>" lines,
   '#' comments and blank lines, for values a passwd-file userdb field
   cannot carry (they may not contain white space: a list name "Friends
   of X", a notice). Named by the setting sieve_vsmlist_settings_file
   (default ~/vsmlist/settings; a missing file is no error). Its values
   come before those of userdb fields and plugin { }. No Sieve
   dependency. */

#define VSMLIST_DEFAULT_SETTINGS_FILE "~/vsmlist/settings"
/* A settings file is a few lines; a larger one is a mistake */
#define VSMLIST_SETTINGS_FILE_MAX_SIZE (64 * 1024)

struct vsmlist_settings_file;

/* Read path ("~/" is taken from home). Returns 1 when read, 0 when there
   is no such file, -1 with error_r (unreadable, too large, a line that is
   no "sieve_vsmlist_<name> = <value>"). */
int vsmlist_settings_file_read(pool_t pool, const char *path,
			       const char *home,
			       struct vsmlist_settings_file **file_r,
			       const char **error_r);
/* The value of name in the file, or NULL */
const char *
vsmlist_settings_file_get(const struct vsmlist_settings_file *file,
			  const char *name);

#endif
