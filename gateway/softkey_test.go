package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"

	"github.com/partnergate/partnergate/internal/clocktest"
)

// softKey is a security key in software: it answers the gateway's
// WebAuthn options as a browser with a discoverable, user-verifying
// authenticator would (attestation "none"), so a test can register and
// use a key over plain HTTP. What it sends is checked by go-webauthn as
// a real key's answer is.
type softKey struct {
	origin, rpID string
	key          *ecdsa.PrivateKey
	id           []byte
	userHandle   []byte
	count        uint32
	clock        *clocktest.Clock
}

func newSoftKey(t *testing.T, e *ssoEnv, partner string) *softKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	host := e.host(partner)
	return &softKey{origin: e.cfg.Scheme + "://" + host, rpID: host[:strings.LastIndexByte(host, ':')], key: key, id: id, clock: e.clock}
}

var b64 = base64.RawURLEncoding

// catchUp brings the gateway's clock, which tests hold still, up to the
// wall clock that dated the ceremony at begin: else its expiry would seem
// further off than a ceremony may last.
func (k *softKey) catchUp() {
	if now := time.Now(); now.After(k.clock.Now()) {
		k.clock.Set(now)
	}
}

// keyOptions reads what a ceremony's options ask of the key.
func keyOptions(t *testing.T, options string) (challenge string, userID []byte) {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			User      struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(options), &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("ceremony options %s: %v", options, err)
	}
	userID, _ = b64.DecodeString(o.PublicKey.User.ID)
	return o.PublicKey.Challenge, userID
}

func (k *softKey) clientData(kind, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": kind, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

// authData is the authenticator data of one use of the key: user present
// and verified, the counter moved on.
func (k *softKey) authData(flags byte, attested []byte) []byte {
	rp := sha256.Sum256([]byte(k.rpID))
	k.count++
	out := append(rp[:], flags|0x01|0x04)
	out = binary.BigEndian.AppendUint32(out, k.count)
	return append(out, attested...)
}

// create answers register/begin's options with a new credential.
func (k *softKey) create(t *testing.T, options string) string {
	t.Helper()
	k.catchUp()
	challenge, userID := keyOptions(t, options)
	k.userHandle = userID
	pub, err := k.key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pub[1:33], -3: pub[33:65]})
	if err != nil {
		t.Fatal(err)
	}
	attested := make([]byte, 16) // AAGUID: none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.id)))
	attested = append(append(attested, k.id...), cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(0x40, attested)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]string{
			"clientDataJSON":    b64.EncodeToString(k.clientData("webauthn.create", challenge)),
			"attestationObject": b64.EncodeToString(att),
		},
		"clientExtensionResults": map[string]any{"credProps": map[string]bool{"rk": true}},
	})
	return string(b)
}

// get answers a login's options with an assertion of the key.
func (k *softKey) get(t *testing.T, options string) string {
	t.Helper()
	k.catchUp()
	challenge, _ := keyOptions(t, options)
	data := k.clientData("webauthn.get", challenge)
	ad := k.authData(0, nil)
	dataHash := sha256.Sum256(data)
	signed := sha256.Sum256(append(append([]byte(nil), ad...), dataHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, signed[:])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]string{
			"clientDataJSON": b64.EncodeToString(data), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(k.userHandle),
		},
	})
	return string(b)
}

// postJSON posts body as the WebAuthn script does, with the page's CSRF
// token in its header.
func (b *browser) postJSON(t *testing.T, u, token, body string) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-CSRF-Token", token)
	req.Header.Set("Content-Type", "application/json")
	return b.do(t, req)
}
