require "vnd.vsmlist";

# distribute takes no block (1 error)
distribute :members "a@example.net" {
	keep;
}
