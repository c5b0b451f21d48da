require "vnd.vsmlist";

# :members takes one string list; a second string is a positional
# argument, which distribute does not accept (1 error)
distribute :members "a@example.net" "b@example.org";
