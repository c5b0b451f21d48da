require "vnd.vsmlist";
if member :addresses 5 { keep; }
