#ifndef VSMLIST_DKIM_TEST_H
#define VSMLIST_DKIM_TEST_H

#include "vsmlist-dkim.h"

/* For unit tests and fuzz targets only: the signatures kept (the ones a
   verifier would not reject outright) */
unsigned int
vsmlist_dkim_signature_count(const struct vsmlist_dkim_coverage *coverage);

#endif
