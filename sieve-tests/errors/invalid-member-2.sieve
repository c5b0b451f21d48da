require "vnd.vsmlist";

# Two invalid literal member addresses (2 errors)
distribute :members ["broken@", "b@example.org", "@example.org"];
