package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries the webhook signature:
//
//	X-Partnergate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// The MAC covers "<unix seconds>.<body>", so the timestamp cannot be
// changed without breaking it and a receiver that checks the age refuses
// replays. The layout is Stripe's, which many receivers already parse.
const SignatureHeader = "X-Partnergate-Signature"

// DeliveryHeader carries a random id per request, for receivers' logs and
// for deduplication.
const DeliveryHeader = "X-Partnergate-Delivery"

// DefaultTolerance is how old (or how far in the future, for clock skew)
// a signature timestamp may be: long enough for a slow network and
// moderate clock drift, short enough that a captured request soon stops
// working.
const DefaultTolerance = 5 * time.Minute

// ErrSignature marks a request whose signature header is missing,
// malformed, stale or wrong.
var ErrSignature = errors.New("invalid webhook signature")

// maxSignatureHeader bounds the header parsed; ours is under 100 bytes,
// and a receiver should not do work proportional to an attacker's header.
const maxSignatureHeader = 1024

// sign computes the v1 MAC of body at unix time ts.
func sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// signatureHeader is the header value for body signed at ts.
func signatureHeader(secret []byte, ts int64, body []byte) string {
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + sign(secret, ts, body)
}

// VerifySignature checks a signature header against the raw request body
// as received (before any JSON decoding, which would not round-trip byte
// for byte). It refuses a header whose timestamp is more than tolerance
// away from now in either direction; a tolerance of zero or less means
// DefaultTolerance, because a receiver that skips the age check accepts
// replays forever. Several v1 entries are allowed, and any one matching
// suffices, so a sender can sign with an old and a new secret while a
// rotation is under way. Every failure wraps ErrSignature.
func VerifySignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	fail := func(why string) error {
		return fmt.Errorf("notify: %w: %s", ErrSignature, why)
	}
	if len(secret) == 0 {
		return fail("no secret configured")
	}
	if header == "" {
		return fail("missing header")
	}
	if len(header) > maxSignatureHeader {
		return fail("header too long")
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var (
		ts     int64
		haveTS bool
		macs   [][]byte
	)
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fail("malformed header")
		}
		switch k {
		case "t":
			if haveTS {
				return fail("more than one timestamp")
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return fail("malformed timestamp")
			}
			ts, haveTS = n, true
		case "v1":
			mac, err := hex.DecodeString(v)
			if err != nil || len(mac) != sha256.Size {
				return fail("malformed v1 signature")
			}
			macs = append(macs, mac)
		default:
			// Unknown schemes are skipped, as Stripe's are, so that a
			// future v2 can be sent alongside v1 without breaking
			// receivers that only know v1.
		}
	}
	if !haveTS {
		return fail("no timestamp")
	}
	if len(macs) == 0 {
		return fail("no v1 signature")
	}
	// Compare in seconds: the header has second precision, and converting
	// an attacker's timestamp to a time.Duration could overflow.
	age := now.Unix() - ts
	limit := int64(tolerance / time.Second)
	if age > limit {
		return fail("timestamp too old")
	}
	if -age > limit {
		return fail("timestamp in the future")
	}
	want, _ := hex.DecodeString(sign(secret, ts, body))
	for _, mac := range macs {
		if hmac.Equal(mac, want) {
			return nil
		}
	}
	return fail("signature mismatch")
}
