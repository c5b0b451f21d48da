require "vnd.vsmlist";

# membership takes no arguments (1 error)
membership "x";
