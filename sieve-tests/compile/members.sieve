require "vnd.vsmlist";

distribute :members ["a@example.net", "b@example.org", "Some.One+tag@Example.COM"];
