require "vnd.vsmlist";
if member :envelope :from { keep; }
