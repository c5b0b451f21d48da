#ifndef SIEVE_VSMLIST_PLUGIN_H
#define SIEVE_VSMLIST_PLUGIN_H

struct sieve_instance;

extern const char *sieve_vsmlist_plugin_version;

/* Sieve plugin interface: called for every Sieve instance */
void sieve_vsmlist_plugin_load(struct sieve_instance *svinst, void **context);
void sieve_vsmlist_plugin_unload(struct sieve_instance *svinst,
				 void *context);

/* Module interface: the loader requires them; Pigeonhole never calls them */
void sieve_vsmlist_plugin_init(void);
void sieve_vsmlist_plugin_deinit(void);

#endif
