require "vnd.vsmlist";

# distribute's tags are not membership's (1 error)
membership :members ["a@example.net"];
