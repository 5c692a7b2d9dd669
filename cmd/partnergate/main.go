// Command partnergate is Caddy with the partnergate modules compiled in;
// every Caddy subcommand works (run, adapt, validate, list-modules).
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/partnergate/partnergate/caddymodule"
)

func main() {
	caddycmd.Main()
}
