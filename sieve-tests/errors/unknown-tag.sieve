require "vnd.vsmlist";

# Unknown tagged argument (1 error)
distribute :frop;
