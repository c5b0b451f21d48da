require "vnd.vsmlist";
if member :sender { keep; }
