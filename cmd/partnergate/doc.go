// Command partnergate is Caddy with the partnergate modules compiled in,
// the same binary `xcaddy build --with github.com/partnergate/partnergate`
// produces. Every Caddy subcommand works: run, adapt, validate,
// list-modules.
package main
