require "vnd.vsmlist";

# membership is a command, not a test (1 error)
if membership {
	keep;
}
