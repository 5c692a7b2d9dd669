package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

const (
	nonceLen = 32
	macLen   = 16
	// tokenLen is the length of an encoded cookie value.
	tokenLen = (nonceLen + macLen) * 4 / 3
)

var b64 = base64.RawURLEncoding

// newToken returns a cookie value and the session id it maps to. The cookie
// carries a random nonce and a MAC binding it to the partner, so a forged or
// foreign cookie is refused without a store lookup; the store only ever sees
// the nonce's hash, so a dump of it cannot be replayed.
func newToken(macKey []byte, partnerID string) (cookie, id string) {
	var buf [nonceLen + macLen]byte
	// crypto/rand.Read never fails: it crashes the program instead.
	rand.Read(buf[:nonceLen])
	mac := tokenMAC(macKey, partnerID, buf[:nonceLen])
	copy(buf[nonceLen:], mac[:macLen])
	return b64.EncodeToString(buf[:]), sessionID(buf[:nonceLen])
}

// parseToken checks a cookie value for partnerID and returns its session id.
func parseToken(macKey []byte, partnerID, cookie string) (id string, ok bool) {
	if len(cookie) != tokenLen {
		return "", false
	}
	var buf [nonceLen + macLen]byte
	n, err := b64.Decode(buf[:], []byte(cookie))
	if err != nil || n != len(buf) {
		return "", false
	}
	mac := tokenMAC(macKey, partnerID, buf[:nonceLen])
	if !hmac.Equal(mac[:macLen], buf[nonceLen:]) {
		return "", false
	}
	return sessionID(buf[:nonceLen]), true
}

func tokenMAC(key []byte, partnerID string, nonce []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(partnerID))
	m.Write([]byte{0})
	m.Write(nonce)
	return m.Sum(nil)
}

func sessionID(nonce []byte) string {
	sum := sha256.Sum256(nonce)
	return b64.EncodeToString(sum[:])
}
