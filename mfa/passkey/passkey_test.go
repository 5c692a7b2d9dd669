package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// Checks that need no browser: configuration is refused before any ceremony
// starts, and Finish* refuse malformed input without parsing it further.

var acme = RP{ID: "acme.apps.example", Name: "Acme", Origins: []string{"https://acme.apps.example"}}

func TestRPValidation(t *testing.T) {
	bad := []RP{
		{ID: "acme.apps.example:443", Name: "Acme", Origins: []string{"https://acme.apps.example"}},
		{ID: "Acme.apps.example", Name: "Acme", Origins: []string{"https://acme.apps.example"}},
		{ID: "acme.apps.example", Name: "", Origins: []string{"https://acme.apps.example"}},
		{ID: "acme.apps.example", Name: "Acme"},
		{ID: "acme.apps.example", Name: "Acme", Origins: []string{"https://globex.apps.example"}},
		{ID: "acme.apps.example", Name: "Acme", Origins: []string{"https://evilacme.apps.example"}},
		{ID: "acme.apps.example", Name: "Acme", Origins: []string{"http://acme.apps.example"}},
		{ID: "acme.apps.example", Name: "Acme", Origins: []string{"https://acme.apps.example/login"}},
	}
	for _, rp := range bad {
		if _, _, err := BeginPasskeyLogin(rp, VerificationRequired); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: want ErrConfig, got %v", rp, err)
		}
	}
	good := []RP{
		acme,
		{ID: "acme.localhost", Name: "Acme dev", Origins: []string{"http://acme.localhost:8443", "https://sso.acme.localhost"}},
	}
	for _, rp := range good {
		if _, _, err := BeginPasskeyLogin(rp, VerificationRequired); err != nil {
			t.Errorf("%+v: %v", rp, err)
		}
	}
}

func TestPolicyAndUserValidation(t *testing.T) {
	if _, _, err := BeginPasskeyLogin(acme, "sometimes"); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown verification: %v", err)
	}
	// An empty policy means required: never weaker by omission.
	opts, c, err := BeginPasskeyLogin(acme, "")
	if err != nil || !bytes.Contains(opts, []byte(`"userVerification":"required"`)) || c.Session.UserVerification != "required" {
		t.Errorf("empty verification not required: %s %v", opts, err)
	}
	if _, _, err := BeginRegistration(acme, User{Name: "x"}, VerificationRequired, true); !errors.Is(err, ErrConfig) {
		t.Errorf("empty user handle: %v", err)
	}
	// A second factor with nothing to offer would become "any passkey".
	other := Credential{RPID: "globex.apps.example"}
	other.WebAuthn.ID = []byte("0123456789abcdef")
	u := User{ID: []byte("u1"), Name: "a", DisplayName: "A", Credentials: []Credential{other}}
	if _, _, err := BeginLogin(acme, u, VerificationRequired); !errors.Is(err, ErrConfig) {
		t.Errorf("login without a credential on this RP: %v", err)
	}
}

func TestCeremonyShape(t *testing.T) {
	u := User{ID: []byte("u1"), Name: "a@acme.example", DisplayName: "A"}
	before := time.Now()
	opts, c, err := BeginRegistration(acme, u, VerificationRequired, true)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		PublicKey struct {
			RP   struct{ ID string }
			User struct {
				ID string
			}
			Challenge              string
			Timeout                int
			AuthenticatorSelection struct{ ResidentKey, UserVerification string }
			Extensions             map[string]any
		}
	}
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	pk := o.PublicKey
	if pk.RP.ID != acme.ID || pk.User.ID != "dTE" || pk.Challenge != c.Key() || len(c.Key()) < 43 ||
		pk.AuthenticatorSelection.ResidentKey != "required" || pk.AuthenticatorSelection.UserVerification != "required" ||
		pk.Extensions["credProps"] != true || pk.Timeout != int(CeremonyTTL.Milliseconds()) {
		t.Errorf("unexpected options: %s", opts)
	}
	if c.RPID != acme.ID || c.Expires.Before(before.Add(CeremonyTTL)) || c.Expires.After(time.Now().Add(CeremonyTTL)) {
		t.Errorf("ceremony not bound/expiring: %+v", c)
	}
	// Another user cannot finish it, with or without a response.
	_, err = FinishRegistration(acme, User{ID: []byte("u2")}, c, []byte(`{}`), time.Now())
	if !errors.Is(err, ErrVerification) {
		t.Errorf("other user: %v", err)
	}
}

func TestMalformedResponses(t *testing.T) {
	u := User{ID: []byte("u1"), Name: "a", DisplayName: "A"}
	_, c, err := BeginPasskeyLogin(acme, VerificationRequired)
	if err != nil {
		t.Fatal(err)
	}
	secret := "c2VjcmV0LXNpZ25hdHVyZS12YWx1ZS10aGF0LW11c3Qtbm90LWxlYWs"
	for name, resp := range map[string][]byte{
		"empty":    nil,
		"garbage":  []byte("not json " + secret),
		"no parts": []byte(`{"id":"` + secret + `","type":"public-key"}`),
		"huge":     bytes.Repeat([]byte("a"), maxResponseSize+1),
	} {
		_, err := FinishLogin(acme, u, c, resp, time.Now())
		if !errors.Is(err, ErrVerification) {
			t.Errorf("%s: want ErrVerification, got %v", name, err)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error echoes the response: %v", name, err)
		}
		if _, err := UserHandleOf(resp); !errors.Is(err, ErrVerification) {
			t.Errorf("UserHandleOf %s: %v", name, err)
		}
	}
	h, err := UserHandleOf([]byte(`{"response":{"userHandle":"dTE"}}`))
	if err != nil || string(h) != "u1" {
		t.Errorf("UserHandleOf: %q %v", h, err)
	}
}
