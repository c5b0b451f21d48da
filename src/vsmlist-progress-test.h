#ifndef VSMLIST_PROGRESS_TEST_H
#define VSMLIST_PROGRESS_TEST_H

/* For unit tests only: called by pruning with the path of each record
   it is about to remove, after its scan and before it takes the lock, so
   a test can make a delivery replace the record at that moment */
extern void (*vsmlist_progress_test_before_remove)(const char *path);

#endif
