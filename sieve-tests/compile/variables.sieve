require "vnd.vsmlist";
require "variables";

set "member" "a@example.net";
distribute :members ["${member}", "b@example.org"];
