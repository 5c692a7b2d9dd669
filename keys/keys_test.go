package keys

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDeriveSeparatesPurposes(t *testing.T) {
	secret := strings.Repeat("s", MinSecretLen)
	a, err := Derive(secret, SessionCookie)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Derive(secret, CSRF)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two purposes derived the same key")
	}
	again, _ := Derive(secret, SessionCookie)
	if !bytes.Equal(a, again) {
		t.Fatal("derivation is not deterministic: cookies would not survive a restart")
	}
	other, _ := Derive(strings.Repeat("t", MinSecretLen), SessionCookie)
	if bytes.Equal(a, other) {
		t.Fatal("different secrets derived the same key")
	}
}

func TestDeriveRefusesWeakSecret(t *testing.T) {
	_, err := Derive(strings.Repeat("s", MinSecretLen-1), SessionCookie)
	if !errors.Is(err, ErrWeakSecret) {
		t.Fatalf("got %v, want ErrWeakSecret", err)
	}
	if _, err := Derive(strings.Repeat("s", MinSecretLen), ""); err == nil {
		t.Fatal("empty purpose accepted")
	}
}
