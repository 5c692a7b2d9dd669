// Package secretbox encrypts small secrets kept at rest, such as the client
// secrets of SSO connections, with AES-256-GCM.
//
// A sealed value is the random nonce followed by the ciphertext and tag.
// The additional data binds a value to where it belongs (a partner and a
// connection): a sealed secret copied into another record does not open.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

// ErrOpen means a sealed value did not open: a wrong key, other
// additional data, or bytes that were changed.
var ErrOpen = errors.New("secretbox: cannot open sealed value")

// Box seals and opens values with one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a KeySize-byte key, typically one derived with
// keys.Derive for keys.ConnectionSecrets.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to additionalData. A random nonce makes
// every sealing of the same value different, so equal secrets cannot be
// spotted in the store; at 96 bits it stays safe far beyond the number of
// secrets one key will ever seal.
func (b *Box) Seal(plaintext, additionalData []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	rand.Read(nonce) // crypto/rand.Read never fails: it crashes the program instead
	return b.aead.Seal(nonce, nonce, plaintext, additionalData)
}

// Open decrypts what Seal returned for the same additionalData, failing
// with ErrOpen otherwise.
func (b *Box) Open(sealed, additionalData []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return nil, ErrOpen
	}
	plaintext, err := b.aead.Open(nil, sealed[:n], sealed[n:], additionalData)
	if err != nil {
		return nil, ErrOpen
	}
	return plaintext, nil
}
