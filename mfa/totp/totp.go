// Package totp enrolls and verifies RFC 6238 authenticator-app codes
// (SHA-1, 6 digits, 30 s steps — the parameters every common app
// supports). It refuses a code whose time step is not newer than the last
// accepted one, so an observed code cannot be replayed within its window.
// It does not rate-limit: with 3 acceptable codes per attempt out of 10^6,
// callers must cap failed attempts.
package totp

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

const (
	// Digits, Period and SecretSize are fixed rather than configurable:
	// authenticator apps silently ignore other values in the otpauth URL
	// (Google Authenticator long did), which would enroll a token that
	// never verifies.
	Digits     = 6
	Period     = 30 * time.Second
	SecretSize = 20 // bytes; RFC 4226 recommends 160 bits for HMAC-SHA1
	// QRSize is the QR PNG's width and height in pixels: large enough to
	// scan from a laptop screen, small enough to inline as a data: URL.
	QRSize = 256
	// skew is how many steps either side of now are accepted, to absorb
	// phone clock drift and the time it takes to type the code.
	skew = 1
)

// Enrollment is what the user is shown once to set up an authenticator.
type Enrollment struct {
	Secret string // base32, unpadded, for manual entry
	URL    string // otpauth://totp/... URL
	QRPNG  []byte // QR code of URL, QRSize × QRSize PNG
}

// Enroll makes a fresh random secret for account (the user's email) under
// issuer (the partner's display name, which the app shows as the label).
// Store State{Secret: e.Secret} only after the user has proven the app
// works with a first Verify, so a mis-scanned QR does not lock them out.
func Enroll(issuer, account string) (Enrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      uint(Period / time.Second),
		SecretSize:  SecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("totp: generate key for %q: %w", account, err)
	}
	qr, err := qrPNG(key)
	if err != nil {
		return Enrollment{}, err
	}
	return Enrollment{Secret: key.Secret(), URL: key.URL(), QRPNG: qr}, nil
}

// QRCode renders an enrolment's otpauth:// URL as a PNG again, for a page
// that shows it after the enrolment was made.
func QRCode(url string) ([]byte, error) {
	key, err := otp.NewKeyFromURL(url)
	if err != nil {
		return nil, fmt.Errorf("totp: read setup link: %w", err)
	}
	if key.Type() != "totp" || !validSecret(key.Secret()) {
		return nil, fmt.Errorf("totp: %q is not a TOTP setup link", key.Type())
	}
	return qrPNG(key)
}

func qrPNG(key *otp.Key) ([]byte, error) {
	img, err := key.Image(QRSize, QRSize)
	if err != nil {
		return nil, fmt.Errorf("totp: render QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp: encode QR code as PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// State is what the caller stores (sealed) for an enrolled authenticator.
// LastStep is the time step of the last accepted code; it only grows.
type State struct {
	Secret   string `json:"secret"`
	LastStep int64  `json:"last_step"`
}

// Verify checks code at now, accepting the current step ±1, and refuses a
// code of a step at or before st.LastStep (no code accepted twice, nor an
// older one after a newer). It returns the state to store (LastStep moved)
// when ok; when not ok it returns st unchanged. The caller must persist
// next before acting on ok, or a replay could race the write.
func Verify(st State, code string, now time.Time) (next State, ok bool) {
	code, valid := normalize(code)
	if !valid || !validSecret(st.Secret) {
		return st, false
	}
	current := now.Unix() / int64(Period/time.Second)
	matched := int64(-1)
	// Every candidate step is computed and compared even after a match,
	// so timing does not reveal which step (if any) the code was for.
	for step := current - skew; step <= current+skew; step++ {
		if step < 0 || step <= st.LastStep {
			continue
		}
		want, err := hotp.GenerateCodeCustom(st.Secret, uint64(step), hotp.ValidateOpts{
			Digits:    otp.DigitsSix,
			Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return st, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			// Keep the latest matching step: if two steps' codes collide,
			// moving LastStep further is the safe side for replay.
			matched = step
		}
	}
	if matched < 0 {
		return st, false
	}
	st.LastStep = matched
	return st, true
}

// normalize trims surrounding whitespace and the single inner space some
// apps display ("123 456"), then requires exactly Digits ASCII digits.
// ASCII only: strconv-style Unicode digit handling would let "١٢٣٤٥٦"
// through as a second spelling of a code.
func normalize(code string) (string, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != Digits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// validSecret rejects an empty or undecodable secret up front: hotp would
// otherwise HMAC with an empty key, giving codes anyone can compute.
func validSecret(secret string) bool {
	s := strings.ToUpper(strings.TrimSpace(secret))
	if s == "" {
		return false
	}
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(s, "="))
	return err == nil && len(b) > 0
}
