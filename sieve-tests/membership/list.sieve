require ["vnd.vsmlist", "envelope", "subaddress", "fileinto", "mailbox"];

# The list script of doc/vsmlist.md without the bounce and member parts:
# requests on the detail addresses, posts distributed and archived
if envelope :detail :matches "to" ["subscribe", "unsubscribe", "confirm-*"] {
	membership;
} else {
	distribute;
	fileinto :create "Archive";
}
