require "vnd.vsmlist";
require "fileinto";

if header :contains "subject" "[friends]" {
	fileinto "Archive";
	distribute;
	stop;
}
keep;
