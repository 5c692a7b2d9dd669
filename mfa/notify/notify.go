package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// SMS sends a text message to a phone number in E.164 form
// (+14155550123). Implementations are safe for concurrent use.
type SMS interface {
	SendSMS(ctx context.Context, to, text string) error
}

// Push asks a user's device to approve a sign-in. Implementations are safe
// for concurrent use.
type Push interface {
	SendPush(ctx context.Context, p PushRequest) error
}

// PushRequest is one approval prompt.
type PushRequest struct {
	// Target is the user's enrolled push target, opaque to us: a device or
	// topic id understood by whatever delivers the push.
	Target string
	// ID is the challenge id, echoed back in the approval.
	ID string
	// Partner is the partner's display name, shown on the device.
	Partner string
	Email   string
	// Number is the number the sign-in page shows. It is never sent to the
	// device: number matching only stops push-fatigue approvals if the
	// device cannot know the answer, so the user has to read it off the
	// page they started the sign-in from.
	Number int
	// Choices are the three numbers the device offers, Number among them,
	// in random order. NumberChoices makes a suitable set.
	Choices   []int
	ExpiresAt time.Time
	// CallbackURL is where the device posts the answer.
	CallbackURL string
}

// ErrInvalidConfig marks a constructor refusing its configuration.
var ErrInvalidConfig = errors.New("invalid notify configuration")

// ErrInvalidNumber marks a destination that is not an E.164 number. It is
// returned before anything is sent; retrying cannot help.
var ErrInvalidNumber = errors.New("invalid phone number")

// ErrInvalidMessage marks an SMS text or push request refused before
// anything was sent.
var ErrInvalidMessage = errors.New("invalid message")

// maxSMSLen is Twilio's limit on Body, in characters; longer texts are
// refused rather than truncated, since truncation could cut off the code.
const maxSMSLen = 1600

// defaultTimeout bounds a send when the caller passes no http.Client. An
// SMS or push that takes longer has lost the user anyway, and a hung
// provider must not hold a sign-in request open.
const defaultTimeout = 10 * time.Second

// maxResponseBody bounds how much of an answer is read: we only need a
// small JSON error document, and a misbehaving server must not make us
// buffer without limit.
const maxResponseBody = 64 << 10

// ValidE164 reports whether s is an E.164 number: a plus sign followed by
// 8 to 15 digits, the first not zero (no country code starts with 0).
func ValidE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkSMS validates an SMS before any request is made. Errors never
// include text, which carries the code, nor the number, which is personal
// data that has no business in logs.
func checkSMS(to, text string) error {
	if !ValidE164(to) {
		return fmt.Errorf("notify: %w: want + and 8-15 digits", ErrInvalidNumber)
	}
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("notify: %w: empty text", ErrInvalidMessage)
	}
	if n := len([]rune(text)); n > maxSMSLen {
		return fmt.Errorf("notify: %w: text is %d characters, limit %d", ErrInvalidMessage, n, maxSMSLen)
	}
	return nil
}

// checkEndpoint parses an endpoint URL. HTTPS is required because the
// requests carry codes and credentials; plain HTTP is allowed only to a
// loopback address, which never leaves the host and is what tests use.
// Userinfo is refused so that no credential sits in a URL, where it would
// end up in error messages and logs.
func checkEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("unparseable URL")
	}
	if u.Host == "" || u.Opaque != "" {
		return nil, errors.New("URL must be absolute")
	}
	if u.User != nil {
		return nil, errors.New("URL must not carry credentials")
	}
	if u.Fragment != "" {
		return nil, errors.New("URL must not have a fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, errors.New("http is allowed only for loopback hosts; use https")
		}
	default:
		return nil, fmt.Errorf("scheme %q not allowed; use https", u.Scheme)
	}
	return u, nil
}

// isLoopback reports whether host is a loopback IP literal or "localhost".
// Other names are not resolved: a name that resolves to loopback today may
// not tomorrow, and the check is meant to hold for the life of the value.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpClient returns a copy of c (or a default client) that does not
// follow redirects. A provider that redirects a POST is misconfigured, and
// following it would resend the message, and possibly credentials, to a
// place nobody configured.
func httpClient(c *http.Client) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	} else {
		cc.Timeout = defaultTimeout
	}
	cc.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	return &cc
}

// transportError strips the URL from an http.Client error: a webhook URL
// may carry a token in its query, and the URL adds nothing the caller does
// not already know. The cause, including context.DeadlineExceeded and
// timeouts, stays reachable through errors.Is and errors.As.
func transportError(who string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("notify: %s: request failed: %w", who, err)
}

// randomID returns a random identifier with the given prefix, 128 bits of
// entropy so that receivers can use it to deduplicate.
func randomID(prefix string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return prefix + hex.EncodeToString(b[:]), nil
}

// NumberChoices picks a number-matching challenge: three distinct
// two-digit numbers in random order, and which of them the sign-in page
// shows. Two digits keep the choices easy to compare at a glance while
// leaving a guesser one chance in three, the same odds as the device
// offers.
func NumberChoices() (number int, choices []int, err error) {
	pick := func(n int64) (int, error) {
		v, err := rand.Int(rand.Reader, big.NewInt(n))
		if err != nil {
			return 0, err
		}
		return int(v.Int64()), nil
	}
	choices = make([]int, 0, 3)
	for len(choices) < 3 {
		v, err := pick(90)
		if err != nil {
			return 0, nil, err
		}
		v += 10
		dup := false
		for _, c := range choices {
			dup = dup || c == v
		}
		if !dup {
			choices = append(choices, v)
		}
	}
	// The choices were drawn independently, so their order is already
	// random; the answer is drawn separately so its position is too.
	i, err := pick(3)
	if err != nil {
		return 0, nil, err
	}
	return choices[i], choices, nil
}

// checkPush validates a push request before anything is sent.
func checkPush(p PushRequest, now time.Time) error {
	bad := func(why string) error {
		return fmt.Errorf("notify: %w: push: %s", ErrInvalidMessage, why)
	}
	switch {
	case p.Target == "":
		return bad("no target")
	case p.ID == "":
		return bad("no challenge id")
	case len(p.Choices) != 3:
		return bad("want exactly 3 choices")
	case p.ExpiresAt.IsZero() || !p.ExpiresAt.After(now):
		return bad("already expired")
	}
	found := false
	for i, c := range p.Choices {
		if c < 0 {
			return bad("negative choice")
		}
		for _, d := range p.Choices[:i] {
			if c == d {
				return bad("choices not distinct")
			}
		}
		found = found || c == p.Number
	}
	if !found {
		return bad("number is not among the choices")
	}
	if _, err := checkEndpoint(p.CallbackURL); err != nil {
		return bad("callback URL: " + err.Error())
	}
	return nil
}
