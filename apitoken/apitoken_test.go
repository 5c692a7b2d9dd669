package apitoken

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
)

var shape = regexp.MustCompile(`^pgsc\.acme\.t_abc\.([A-Za-z0-9_-]{43})$`)

// A new token parses back to its parts, its secret verifies against the
// hash, and the hash is the secret's SHA-256 in hex.
func TestNewParseVerify(t *testing.T) {
	t.Parallel()
	token, hash := New(SCIMPrefix, "acme", "t_abc")
	m := shape.FindStringSubmatch(token)
	if m == nil {
		t.Fatalf("token %q does not read pgsc.acme.t_abc.<secret>", token)
	}
	sum := sha256.Sum256([]byte(m[1]))
	if hash != hex.EncodeToString(sum[:]) {
		t.Errorf("hash %q is not the secret's SHA-256", hash)
	}
	partnerID, tokenID, secret, ok := Parse(SCIMPrefix, token)
	if !ok || partnerID != "acme" || tokenID != "t_abc" || secret != m[1] {
		t.Fatalf("Parse = %q, %q, %q, %v", partnerID, tokenID, secret, ok)
	}
	if !Verify(secret, hash) {
		t.Error("the token's own secret does not verify")
	}
	if other, _ := New(SCIMPrefix, "acme", "t_abc"); other == token {
		t.Error("two tokens share a secret")
	}
}

// One kind's token never parses as another's.
func TestKindsDoNotMix(t *testing.T) {
	t.Parallel()
	admin, _ := New(AdminPrefix, "acme", "t_abc")
	scim, _ := New(SCIMPrefix, "acme", "t_abc")
	if _, _, _, ok := Parse(SCIMPrefix, admin); ok {
		t.Error("an admin token parses as a SCIM token")
	}
	if _, _, _, ok := Parse(AdminPrefix, scim); ok {
		t.Error("a SCIM token parses as an admin token")
	}
}

func TestParseRefusesMalformed(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("A", 43)
	for _, raw := range []string{
		"",
		"pgsc.",
		"PGSC.acme.t_abc." + secret,
		"pgsc.ACME.t_abc." + secret,
		"pgsc.-acme.t_abc." + secret,
		"pgsc._admin.t_abc." + secret,
		"pgsc." + strings.Repeat("a", 64) + ".t_abc." + secret,
		"pgsc..t_abc." + secret,
		"pgsc.acme.abc." + secret,
		"pgsc.acme.t_abc." + secret[1:],
		"pgsc.acme.t_abc." + secret + "A",
		"pgsc.acme.t_abc." + secret + ".x",
		"pgsc.acme." + secret,
	} {
		if p, id, s, ok := Parse(SCIMPrefix, raw); ok {
			t.Errorf("Parse(%q) = %q, %q, %q, true", raw, p, id, s)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	token, hash := New(AdminPrefix, "acme", "t_abc")
	_, _, secret, _ := Parse(AdminPrefix, token)
	for name, tt := range map[string]struct{ secret, hash string }{
		"wrong secret":   {strings.Repeat("A", 43), hash},
		"empty secret":   {"", hash},
		"not hex":        {secret, "zz" + hash[2:]},
		"truncated hash": {secret, hash[:62]},
		"empty hash":     {secret, ""},
	} {
		if Verify(tt.secret, tt.hash) {
			t.Errorf("%s: verifies", name)
		}
	}
}
