# distribute without require "vnd.vsmlist" (1 error)
distribute :members "a@example.net";
