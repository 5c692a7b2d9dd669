#!/usr/bin/env bash
# Runs the gateway on the embedded store with two demo partners, acme and
# globex, each with a demo user, in front of a small app that shows the
# identity headers it receives. Open http://acme.apps.localhost:8080.
set -euo pipefail
cd "$(dirname "$0")/.."

export PARTNERGATE_OPERATOR_KEY=${PARTNERGATE_OPERATOR_KEY:-demo-operator-key-change-me}
export PARTNERGATE_SECRET_KEY=${PARTNERGATE_SECRET_KEY:-demo-secret-key-change-me-0123456789abcdef}
export PARTNERGATE_DATA=${PARTNERGATE_DATA:-./demo-data}
bin=$(mktemp -d)/partnergate
go build -o "$bin" ./cmd/partnergate

"$bin" run --config demo/Caddyfile &
gateway=$!
trap 'kill $gateway 2>/dev/null' EXIT INT TERM

admin() { # method path [json]
	curl -sS -o /dev/null -w '%{http_code}' -X "$1" "http://127.0.0.1:8080$2" \
		-H 'Host: admin.localhost:8080' -H "Authorization: Bearer $PARTNERGATE_OPERATOR_KEY" \
		-H 'Content-Type: application/json' ${3:+--data "$3"}
}
for _ in $(seq 100); do
	if ! kill -0 "$gateway" 2>/dev/null; then
		echo "partnergate did not start (is port 8080 in use?)" >&2
		exit 1
	fi
	[ "$(admin GET /api/v1/partners 2>/dev/null)" = 200 ] && break
	sleep 0.2
done

# Seed once; a second run finds them (409) and keeps what is there.
seed() { # partner name email user-name password
	admin POST /api/v1/partners "{\"id\":\"$1\",\"name\":\"$2\",\"hostnames\":[]}" >/dev/null
	admin POST "/api/v1/partners/$1/users" \
		"{\"email\":\"$3\",\"name\":\"$4\",\"password\":\"$5\"}" >/dev/null
}
seed acme "Acme Corp" alice@acme.example "Alice Anders" "acme-demo-password"
seed globex "Globex Corporation" hank@globex.example "Hank Scorpio" "globex-demo-password"

# Alice administers Acme in the portal: a group mapped to partner_admin.
body() { # method path [json]: the answer's body
	curl -sS -X "$1" "http://127.0.0.1:8080$2" \
		-H 'Host: admin.localhost:8080' -H "Authorization: Bearer $PARTNERGATE_OPERATOR_KEY" \
		-H 'Content-Type: application/json' ${3:+--data "$3"}
}
first_id() { sed -n 's/^[^[]*\[{"id":"\([^"]*\)".*/\1/p'; }
alice=$(body GET '/api/v1/partners/acme/users?email=alice@acme.example' | first_id)
if [ -n "$alice" ] && [ -z "$(body GET /api/v1/partners/acme/role-mappings | first_id)" ]; then
	group=$(body POST /api/v1/partners/acme/groups "{\"name\":\"Acme admins\",\"members\":[\"$alice\"]}" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
	admin POST /api/v1/partners/acme/role-mappings "{\"group\":\"$group\",\"role\":\"partner_admin\"}" >/dev/null
fi

cat <<MSG

partnergate demo is running.
  Acme:    http://acme.apps.localhost:8080    alice@acme.example / acme-demo-password
  Globex:  http://globex.apps.localhost:8080  hank@globex.example / globex-demo-password
  Acme's admin portal:  http://acme.apps.localhost:8080/.partnergate/admin/  (as alice)
  Operator portal:      http://admin.localhost:8080/  (operator key $PARTNERGATE_OPERATOR_KEY)
  Admin API: http://admin.localhost:8080/api/v1/partners  (Bearer $PARTNERGATE_OPERATOR_KEY)
Press Ctrl-C to stop.
MSG
wait $gateway
