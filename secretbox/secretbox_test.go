package secretbox

import (
	"bytes"
	"errors"
	"testing"
)

func newBox(t *testing.T, fill byte) *Box {
	t.Helper()
	b, err := New(bytes.Repeat([]byte{fill}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	b := newBox(t, 1)
	secret, ad := []byte("client-secret-value"), []byte("acme/c_1")
	sealed := b.Seal(secret, ad)
	if bytes.Contains(sealed, secret) {
		t.Fatal("the sealed value holds the plaintext")
	}
	got, err := b.Open(sealed, ad)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := b.Seal(secret, ad); bytes.Equal(again, sealed) {
		t.Error("sealing twice gave the same bytes: the nonce is not random")
	}
}

func TestOpenRefuses(t *testing.T) {
	b := newBox(t, 1)
	ad := []byte("acme/c_1")
	sealed := b.Seal([]byte("s3cret"), ad)
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	tests := map[string]struct {
		box    *Box
		sealed []byte
		ad     []byte
	}{
		"wrong key":          {newBox(t, 2), sealed, ad},
		"other binding":      {b, sealed, []byte("globex/c_1")},
		"tampered":           {b, tampered, ad},
		"truncated":          {b, sealed[:10], ad},
		"empty":              {b, nil, ad},
		"nonce and tag only": {b, sealed[:12+16-1], ad},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got, err := tt.box.Open(tt.sealed, tt.ad); !errors.Is(err, ErrOpen) {
				t.Errorf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a %d-byte key", n)
		}
	}
}
