package gateway_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/internal/teststore"
)

// TestMFASecretsSealedAtRest: after a user sets up an authenticator app
// and gets recovery codes, a dump of the store, as its backend holds it,
// shows neither the app's key nor any recovery code, in any spelling.
func TestMFASecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true}}`)
		b := e.browser(t)
		p := b.passwordStep(t, e, ann.Email, mfaPassword)
		secret := strings.ReplaceAll(secretPattern.FindStringSubmatch(p.body)[1], " ", "")
		codes := b.submitCode(t, p, "/mfa/enroll", code(t, secret, e.clock.Now()), false)
		recoveryCodes := regexp.MustCompile(`[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}`).FindAllString(codes.body, -1)
		if len(recoveryCodes) != 10 {
			t.Fatalf("%d recovery codes shown", len(recoveryCodes))
		}
		f, _ := findForm(codes.body, "csrf_token")
		b.submitForm(t, codes, f)

		dump := bytes.ToLower(teststore.Dump(t, e.st))
		if len(dump) < 1000 {
			t.Fatalf("the dump holds %d bytes: not the store", len(dump))
		}
		if bytes.Contains(dump, []byte(strings.ToLower(secret))) {
			t.Error("the store holds the authenticator app's key in the clear")
		}
		for _, c := range recoveryCodes {
			if bytes.Contains(dump, []byte(c)) || bytes.Contains(dump, []byte(strings.ReplaceAll(c, "-", ""))) {
				t.Errorf("the store holds recovery code %s in the clear", c)
			}
		}
		// The check can fail: what the store does hold in the clear shows.
		if !bytes.Contains(dump, []byte(ann.Email)) {
			t.Error("the dump does not even hold the user's email: it is not the store's content")
		}
	})
}
