/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"

#include "sieve-common.h"
#include "sieve-extensions.h"

#include "vsmlist-config.h"
#include "vsmlist-compose.h"
#include "ext-vsmlist-common.h"
#include "sieve-vsmlist-plugin.h"

const char *sieve_vsmlist_plugin_version = PIGEONHOLE_ABI_VERSION;

void sieve_vsmlist_plugin_load(struct sieve_instance *svinst, void **context)
{
	const struct sieve_extension *ext;

	/* Registered disabled: a list is enabled explicitly through
	   sieve_global_extensions (admin scripts) or a per-user
	   sieve_extensions, so no ordinary user can fan mail out. */
	vsmlist_compose_init();
	ext = sieve_extension_register(svinst, &vsmlist_extension, FALSE);
	e_debug(svinst->event, "Sieve vsmlist plugin %s loaded",
		VSMLIST_VERSION);
	*context = (void *)ext;
}

void sieve_vsmlist_plugin_unload(struct sieve_instance *svinst ATTR_UNUSED,
				 void *context)
{
	const struct sieve_extension *ext = context;

	if (ext != NULL)
		sieve_extension_unregister(ext);
}

void sieve_vsmlist_plugin_init(void)
{
}

void sieve_vsmlist_plugin_deinit(void)
{
}
