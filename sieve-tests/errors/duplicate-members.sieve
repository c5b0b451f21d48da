require "vnd.vsmlist";

# :members given twice (1 error)
distribute :members "a@example.net" :members "b@example.org";
