require "vnd.vsmlist";
require "variables";
set "who" "alice@example.com";
if member :addresses ["${who}", "x@example.org"] { keep; }
if member :envelope { keep; } elsif member :from { discard; } elsif member { stop; }
