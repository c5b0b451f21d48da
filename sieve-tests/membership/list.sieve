require ["vnd.vsmlist", "envelope", "subaddress", "fileinto", "mailbox"];

# The list script of the README without the bounce address's rule:
# requests on the detail addresses, members' posts distributed and
# archived, the rest moderated
if envelope :detail :matches "to" ["subscribe", "unsubscribe", "confirm-*"] {
	membership;
} elsif member {
	distribute;
	fileinto :create "Archive";
} else {
	fileinto :create "Moderation";
}
