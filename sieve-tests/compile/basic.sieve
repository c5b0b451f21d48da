require "vnd.vsmlist";

distribute;
