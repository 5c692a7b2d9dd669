package connection_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/secretbox"
	"github.com/partnergate/partnergate/sso/connection"
	"github.com/partnergate/partnergate/sso/saml"
	"github.com/partnergate/partnergate/store"
)

func box(t *testing.T, fill byte) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func stored(t *testing.T, partnerID, id string, cfg connection.Config) store.SSOConnection {
	t.Helper()
	raw, err := connection.Encode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return store.SSOConnection{ID: id, PartnerID: partnerID, Config: raw}
}

// TestSecretsOpenOnlyWhereSealed: a sealed secret copied to another
// partner's or connection's record, or opened with another key, stays
// shut, and the stored JSON never holds the plain secret or key.
func TestSecretsOpenOnlyWhereSealed(t *testing.T) {
	t.Parallel()
	k := box(t, 1)
	key, cert, err := saml.NewKeyPair("acme.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sealedKey, err := connection.SealSPKey(k, "acme", "sso_1", key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := connection.Config{
		OIDC: &connection.OIDC{Issuer: "https://idp.example", ClientID: "c", SealedSecret: connection.SealSecret(k, "acme", "sso_1", "s3cret-value"), Scopes: []string{"openid"}},
	}
	c := stored(t, "acme", "sso_1", cfg)
	if strings.Contains(string(c.Config), "s3cret-value") {
		t.Fatalf("stored config holds the plain secret: %s", c.Config)
	}
	dec, err := connection.Decode(c)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := connection.ClientSecret(k, c, dec.OIDC); err != nil || got != "s3cret-value" {
		t.Fatalf("ClientSecret = %q, %v", got, err)
	}
	for name, try := range map[string]struct {
		b *secretbox.Box
		c store.SSOConnection
	}{
		"other key":        {box(t, 2), c},
		"other partner":    {k, store.SSOConnection{ID: "sso_1", PartnerID: "globex", Config: c.Config}},
		"other connection": {k, store.SSOConnection{ID: "sso_2", PartnerID: "acme", Config: c.Config}},
	} {
		if _, err := connection.ClientSecret(try.b, try.c, dec.OIDC); err == nil {
			t.Errorf("%s: the client secret opened", name)
		}
	}

	samlCfg := connection.Config{SAML: &connection.SAML{MetadataXML: "<x/>", SPCertificate: cert.Raw, SealedSPKey: sealedKey}}
	sc := stored(t, "acme", "sso_1", samlCfg)
	sdec, err := connection.Decode(sc)
	if err != nil {
		t.Fatal(err)
	}
	gotKey, gotCert, err := connection.SPKeyPair(k, sc, sdec.SAML)
	if err != nil || !gotKey.Equal(key) || !gotCert.Equal(cert) {
		t.Fatalf("SPKeyPair = %v, %v, %v", gotKey != nil, gotCert != nil, err)
	}
	// The client secret's sealing does not open as an SP key, nor the
	// reverse: each purpose is bound apart.
	if _, _, err := connection.SPKeyPair(k, sc, &connection.SAML{SPCertificate: cert.Raw, SealedSPKey: dec.OIDC.SealedSecret}); err == nil {
		t.Error("a client secret opened as an SP key")
	}
	if _, _, err := connection.SPKeyPair(k, store.SSOConnection{ID: "sso_9", PartnerID: "acme", Config: sc.Config}, sdec.SAML); err == nil {
		t.Error("an SP key opened for another connection")
	}
}

func TestDecodeRefusesWhatCannotSignIn(t *testing.T) {
	t.Parallel()
	for name, raw := range map[string]string{
		"neither": `{"attribute_mapping": {}}`,
		"both":    `{"oidc": {"issuer": "x"}, "saml": {"metadata_url": "y"}}`,
		"garbage": `{"oidc": 5}`,
	} {
		if _, err := connection.Decode(store.SSOConnection{ID: "sso_1", PartnerID: "acme", Config: json.RawMessage(raw)}); err == nil {
			t.Errorf("%s: decoded %s", name, raw)
		}
	}
	dec, err := connection.Decode(store.SSOConnection{ID: "sso_1", PartnerID: "acme", Config: json.RawMessage(`{"oidc": {"issuer": "x"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(dec.Mapping); !strings.Contains(string(b), `"email":[]`) {
		t.Errorf("a missing mapping must decode to empty lists, got %s", b)
	}
	if _, err := connection.ClientSecret(box(t, 1), store.SSOConnection{ID: "sso_1", PartnerID: "acme"}, dec.OIDC); err == nil {
		t.Error("a connection without a secret gave one")
	}
}
