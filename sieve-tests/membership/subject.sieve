require ["vnd.vsmlist", "fileinto"];

# A request address without a detail: the Subject says what is asked
if header :matches "subject" ["*subscribe*", "*confirm *"] {
	membership;
	stop;
}
fileinto "Moderation";
