require "vnd.vsmlist";

# A number as positional argument (1 error)
distribute 1;
