require "vnd.vsmlist";

distribute :members "a@example.net";
