require "vnd.vsmlist";

# :members needs a string list, not a number (1 error)
distribute :members 1;
