#!/usr/bin/env bash
# The whole test suite. It installs what the tests talk to (a real
# redis-server and Chromium) when missing, then vets and runs every test
# with the race detector. Tests start their own servers on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
command -v chromium >/dev/null || missing+=(chromium)
command -v wrk >/dev/null || missing+=(wrk)
command -v oathtool >/dev/null || missing+=(oathtool)
# SimpleSAMLphp, a SAML IdP for internal/idptest; php-xml (dom) and
# php-mbstring are not pulled in by the simplesamlphp package itself.
if ! command -v php >/dev/null || ! test -d /usr/share/simplesamlphp ||
	! php -r 'exit(extension_loaded("dom") && extension_loaded("mbstring") ? 0 : 1);'; then
	missing+=(simplesamlphp php-cli php-xml php-mbstring)
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# axe-core, the accessibility engine e2e/a11y_test.go runs in Chromium,
# into a cache the tests find relative to the repo root (gitignored).
axe_version=4.10.2
if ! test -f .cache/axe/node_modules/axe-core/axe.min.js ||
	! grep -q "\"version\": \"$axe_version\"" .cache/axe/node_modules/axe-core/package.json; then
	command -v npm >/dev/null || {
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq npm >/dev/null
	}
	echo "installing: axe-core@$axe_version"
	npm install --prefix .cache/axe "axe-core@$axe_version" --no-audit --no-fund --silent
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt'd: $unformatted"
	exit 1
fi
echo "== go vet"
go vet ./...
echo "== xcaddy build"
scripts/xcaddy-check.sh
echo "== go test -race"
go test -race -count=1 -timeout 15m ./...
