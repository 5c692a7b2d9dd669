#!/usr/bin/env bash
# Proves the modules build into a stock Caddy with xcaddy, as xcaddy.md
# describes, and that the binary lists our module IDs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go run github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5 build \
	--with github.com/partnergate/partnergate@v0.0.0=. --output "$out/caddy" >"$out/build.log" 2>&1 ||
	{ cat "$out/build.log"; exit 1; }
modules=$("$out/caddy" list-modules)
for id in partnergate http.handlers.partner_auth http.handlers.partner_admin http.handlers.partner_scim; do
	if ! grep -qx "$id" <<<"$modules"; then
		echo "xcaddy build lacks module $id"
		exit 1
	fi
done
echo "xcaddy build lists partnergate, http.handlers.partner_auth, http.handlers.partner_admin, http.handlers.partner_scim"
