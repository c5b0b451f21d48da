# membership without require "vnd.vsmlist" (1 error)
membership;
