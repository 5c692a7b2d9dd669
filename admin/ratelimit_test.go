package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestFailedAuthLimitPerAddress checks an address that failed to
// authenticate authFailuresPerIP times is refused with 429 and
// Retry-After, even with a valid key, while other addresses are not.
func TestFailedAuthLimitPerAddress(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		_, token := e.newToken("acme", `{"name": "automation"}`)
		const attacker, bystander = "203.0.113.66:40000", "198.51.100.20:40000"
		// Every kind of failure counts: a wrong key, no credential, a
		// malformed or unknown admin token.
		failures := [][]string{
			bearer("wrong-operator-key-0000000"),
			{},
			bearer("pgat.acme.nonsense"),
			bearer("pgat.acme.t_aaaaaaaaaaaaaaaaaaaa." + strings.Repeat("A", 43)),
		}
		for i := range authFailuresPerIP {
			rec := e.do(request{method: "GET", path: "/api/v1/partners", auth: failures[i%len(failures)], remoteAddr: attacker})
			assertError(t, rec, http.StatusUnauthorized, "unauthorized", "")
		}
		e.unchanged(func() {
			for _, auth := range [][]string{bearer(testKey), bearer(token), bearer("wrong-operator-key-0000000")} {
				rec := e.do(request{method: "POST", path: "/api/v1/partners/acme/users", body: `{"email": "x@acme.example"}`, auth: auth, remoteAddr: attacker})
				assertError(t, rec, http.StatusTooManyRequests, "rate_limited", "")
				if got, _ := strconv.Atoi(rec.Header().Get("Retry-After")); got <= 0 {
					t.Errorf("429 with Retry-After %q, want a number of seconds", rec.Header().Get("Retry-After"))
				}
			}
		})
		// Another address, and the same credentials, are unaffected.
		for _, auth := range [][]string{bearer(testKey), bearer(token)} {
			if rec := e.do(request{method: "GET", path: "/api/v1/partners/acme/users", auth: auth, remoteAddr: bystander}); rec.Code != http.StatusOK {
				t.Errorf("from another address: %d %s", rec.Code, rec.Body)
			}
		}
	})
}

// TestFailedAuthLimitPerToken checks authFailuresPerToken wrong secrets
// for one admin token, even from as many addresses, get every further
// guess at that token refused with 429, while the holder of the right
// secret and every other token carry on. (A token's id is no secret, so
// a lockout by id alone would let anyone shut its holder out.)
func TestFailedAuthLimitPerToken(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		targetID, target := e.newToken("acme", `{"name": "target"}`)
		otherID, other := e.newToken("acme", `{"name": "other"}`)
		read := func(token, addr string) *httptest.ResponseRecorder {
			return e.do(request{method: "GET", path: "/api/v1/partners/acme/users", auth: bearer(token), remoteAddr: addr})
		}
		// A guess has the token's shape, so it is counted against it.
		guess := func(id string) string { return "pgat.acme." + id + "." + strings.Repeat("G", 43) }
		for i := range authFailuresPerToken {
			if rec := read(guess(targetID), fmt.Sprintf("198.51.100.%d:5000", i+1)); rec.Code != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d %s, want 401", i+1, rec.Code, rec.Body)
			}
		}
		// Further guesses are refused before any comparison, from an
		// address that never failed before.
		rec := read(guess(targetID), "192.0.2.78:5000")
		assertError(t, rec, http.StatusTooManyRequests, "rate_limited", "")
		if got, _ := strconv.Atoi(rec.Header().Get("Retry-After")); got <= 0 {
			t.Errorf("429 with Retry-After %q, want a number of seconds", rec.Header().Get("Retry-After"))
		}
		// The token's holder, the other token (right or wrong) and the
		// operator are unaffected.
		for name, token := range map[string]string{"the locked token's right secret": target, "the other token": other, "the operator": testKey} {
			if rec := read(token, "192.0.2.77:5000"); rec.Code != http.StatusOK {
				t.Errorf("%s: %d %s, want 200", name, rec.Code, rec.Body)
			}
		}
		assertError(t, read(guess(otherID), "192.0.2.79:5000"), http.StatusUnauthorized, "unauthorized", "")
	})
}
