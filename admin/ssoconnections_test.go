package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/secretbox"
	"github.com/partnergate/partnergate/sso/connection"
)

// TestSSOConnectionSecretAtRest checks the client secret is stored only
// sealed, never answered, kept by a PATCH without it, and opens only with
// the right key.
func TestSSOConnectionSecretAtRest(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		sso := "/api/v1/partners/acme/sso-connections"
		var c struct{ ID string }
		e.mustJSON("POST", sso, validSSOConnection, http.StatusCreated, &c)
		const secret = "okta-client-secret-value"
		for _, body := range [][]byte{
			e.mustCall("GET", sso, "", http.StatusOK),
			e.mustCall("PATCH", sso+"/"+c.ID, `{"name": "Okta prod"}`, http.StatusOK),
			e.mustCall("GET", sso+"/"+c.ID, "", http.StatusOK),
		} {
			if bytes.Contains(body, []byte(secret)) || !bytes.Contains(body, []byte(`"client_secret_set":true`)) {
				t.Errorf("response shows the secret or not that it is set: %s", body)
			}
		}
		stored, err := e.store.GetSSOConnection(t.Context(), "acme", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if raw, _ := json.Marshal(stored); strings.Contains(string(raw), secret) {
			t.Fatalf("the store holds the plaintext secret: %s", raw)
		}
		cfg, err := connection.Decode(stored)
		if err != nil || cfg.OIDC == nil {
			t.Fatalf("stored config %s: %v", stored.Config, err)
		}
		right, _ := secretbox.New(testSecretsKey)
		if got, err := connection.ClientSecret(right, stored, cfg.OIDC); err != nil || got != secret {
			t.Errorf("open with the right key = %q, %v", got, err)
		}
		wrong, _ := secretbox.New(bytes.Repeat([]byte("w"), 32))
		if _, err := connection.ClientSecret(wrong, stored, cfg.OIDC); err == nil {
			t.Error("a wrong key opened the secret")
		}
		moved := stored
		moved.ID = "sso_other"
		if _, err := connection.ClientSecret(right, moved, cfg.OIDC); err == nil {
			t.Error("a secret sealed for one connection opened for another")
		}
	})
}

// TestSSOConnectionValidation checks one answer lists every bad field.
func TestSSOConnectionValidation(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		rec := e.call("POST", "/api/v1/partners/acme/sso-connections", `{"name": "", "preset": "okta",
			"domains": ["bad domain", "10.0.0.1"], "oidc": {"issuer": "http://idp.example.com", "scopes": ["email"]},
			"attribute_mapping": {"email": [""], "nickname": ["x"]}}`)
		if rec.Code != http.StatusUnprocessableEntity {
			t.Fatalf("create = %d %s", rec.Code, rec.Body)
		}
		for _, f := range []string{"name", "domains[0]", "domains[1]", "oidc.issuer", "oidc.client_id", "oidc.client_secret",
			"oidc.scopes", "attribute_mapping.email[0]", "attribute_mapping.nickname"} {
			if !strings.Contains(rec.Body.String(), `"field":"`+f+`"`) {
				t.Errorf("no problem for %s: %s", f, rec.Body)
			}
		}
		if !strings.Contains(rec.Body.String(), "localhost") {
			t.Errorf("the issuer problem does not say http is allowed for localhost: %s", rec.Body)
		}
	})
}

// An email domain routes to one connection only: neither a create nor a
// PATCH may take a domain another connection of the partner holds, and a
// refused write names the domain and changes nothing.
func TestSSOConnectionDomainsAreExclusive(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		sso := "/api/v1/partners/acme/sso-connections"
		e.mustCall("POST", sso, validSSOConnection, http.StatusCreated)
		second := strings.NewReplacer(`"Okta"`, `"Okta EU"`, `"acme.com"`, `"acme.eu"`).Replace(validSSOConnection)
		var c struct{ ID string }
		e.mustJSON("POST", sso, second, http.StatusCreated, &c)
		taking := strings.Replace(second, `"acme.eu"`, `"ACME.com"`, 1)
		e.unchanged(func() {
			rec := e.call("POST", sso, strings.Replace(taking, `"Okta EU"`, `"Okta 3"`, 1))
			assertError(t, rec, http.StatusConflict, "conflict", "domains")
			if !strings.Contains(rec.Body.String(), "acme.com") {
				t.Errorf("create conflict does not name the domain: %s", rec.Body)
			}
		})
		before, err := e.store.GetSSOConnection(t.Context(), "acme", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		rec := e.call("PATCH", sso+"/"+c.ID, `{"domains": ["acme.eu", "acme.com"]}`)
		assertError(t, rec, http.StatusConflict, "conflict", "domains")
		after, err := e.store.GetSSOConnection(t.Context(), "acme", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(after.Domains, before.Domains) || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("a refused PATCH changed the connection: %v → %v", before.Domains, after.Domains)
		}
	})
}
