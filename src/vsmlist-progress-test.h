#ifndef VSMLIST_PROGRESS_TEST_H
#define VSMLIST_PROGRESS_TEST_H

#include "vsmlist-progress.h"

/* For unit tests and fuzz targets only */

/* The record says every member was dealt with (sent or rejected) */
bool vsmlist_progress_is_complete(struct vsmlist_progress *progress);
/* Members sent to / rejected in earlier attempts */
unsigned int vsmlist_progress_get_sent(struct vsmlist_progress *progress);
unsigned int vsmlist_progress_get_rejected(struct vsmlist_progress *progress);
const char *vsmlist_progress_get_path(struct vsmlist_progress *progress);

/* For unit tests only: called by pruning with the path of each record
   it is about to remove, after its scan and before it takes the lock, so
   a test can make a delivery replace the record at that moment */
extern void (*vsmlist_progress_test_before_remove)(const char *path);

#endif
