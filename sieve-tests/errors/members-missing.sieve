require "vnd.vsmlist";

# :members without its string list (1 error)
distribute :members;
