// Package e2e holds end-to-end tests: they build the partnergate binary,
// run it as real processes with the acceptance Caddyfile on both store
// backends, and drive it over HTTP like a browser, an API client, an
// operator and the protected app would. It has no non-test code.
package e2e
