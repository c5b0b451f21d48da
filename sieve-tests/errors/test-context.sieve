require "vnd.vsmlist";

# distribute is a command, not a test (1 error)
if distribute {
	keep;
}
