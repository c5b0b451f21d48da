require "vnd.vsmlist";

# membership takes no block (1 error)
membership {
	keep;
}
