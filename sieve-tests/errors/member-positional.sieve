require "vnd.vsmlist";
if member "a@example.org" { keep; }
