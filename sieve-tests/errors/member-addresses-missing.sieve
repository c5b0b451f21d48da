require "vnd.vsmlist";
if member :addresses { keep; }
