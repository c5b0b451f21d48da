require "vnd.vsmlist";

# A literal member address that is not a valid address (1 error)
distribute :members ["a@example.net", "x"];
