package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// DefaultTwilioBaseURL is Twilio's REST API.
const DefaultTwilioBaseURL = "https://api.twilio.com"

// TwilioConfig configures a Twilio sender.
type TwilioConfig struct {
	// BaseURL defaults to DefaultTwilioBaseURL. Set it to reach a
	// Twilio-compatible provider or a test server.
	BaseURL string
	// AccountSID and AuthToken are the HTTP Basic credentials; the SID is
	// also part of the request path.
	AccountSID string
	AuthToken  string
	// Exactly one of From and MessagingServiceSID is set. From is an
	// E.164 number or an alphanumeric sender id; a messaging service lets
	// Twilio pick the sender from a pool.
	From                string
	MessagingServiceSID string
	// Client sends the requests; its Timeout bounds each send. Nil means
	// a client with a 10 second timeout. Redirects are never followed.
	Client *http.Client
}

// Twilio sends SMS through Twilio's Messages resource. It is safe for
// concurrent use.
type Twilio struct {
	endpoint string
	sid      string
	token    string
	from     string
	service  string
	client   *http.Client
}

var _ SMS = (*Twilio)(nil)

// NewTwilio checks cfg and returns a sender. Nothing is sent, so bad
// credentials only show on the first SendSMS.
func NewTwilio(cfg TwilioConfig) (*Twilio, error) {
	bad := func(format string, a ...any) (*Twilio, error) {
		return nil, fmt.Errorf("notify: twilio: %w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultTwilioBaseURL
	}
	u, err := checkEndpoint(base)
	if err != nil {
		return bad("BaseURL: %v", err)
	}
	if u.RawQuery != "" {
		return bad("BaseURL must not have a query")
	}
	// The SIDs go into the path and the form; restricting them to letters
	// and digits rules out path traversal and form smuggling outright.
	if !alnum(cfg.AccountSID) {
		return bad("AccountSID must be non-empty letters and digits")
	}
	if cfg.AuthToken == "" {
		return bad("AuthToken is required")
	}
	switch {
	case cfg.From == "" && cfg.MessagingServiceSID == "":
		return bad("one of From and MessagingServiceSID is required")
	case cfg.From != "" && cfg.MessagingServiceSID != "":
		// Twilio would accept both and prefer the service, silently
		// ignoring From; refusing makes the configuration say what happens.
		return bad("set From or MessagingServiceSID, not both")
	case cfg.MessagingServiceSID != "" && !alnum(cfg.MessagingServiceSID):
		return bad("MessagingServiceSID must be letters and digits")
	case cfg.From != "" && !ValidE164(cfg.From) && !alphaSender(cfg.From):
		return bad("From must be an E.164 number or an alphanumeric sender id")
	}
	return &Twilio{
		endpoint: strings.TrimSuffix(u.String(), "/") + "/2010-04-01/Accounts/" + cfg.AccountSID + "/Messages.json",
		sid:      cfg.AccountSID,
		token:    cfg.AuthToken,
		from:     cfg.From,
		service:  cfg.MessagingServiceSID,
		client:   httpClient(cfg.Client),
	}, nil
}

func alnum(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// alphaSender reports whether s is an alphanumeric sender id as carriers
// accept them: up to 11 ASCII letters, digits and spaces, with at least
// one letter (all digits would be read as a number).
func alphaSender(s string) bool {
	if s == "" || len(s) > 11 || strings.TrimSpace(s) != s {
		return false
	}
	letter := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9' || r == ' ':
		default:
			return false
		}
	}
	return letter
}

// TwilioError is an error answer from the API. Code is Twilio's error code
// (21211 is an invalid To number), documented at MoreInfo.
type TwilioError struct {
	Status   int // HTTP status
	Code     int
	Message  string
	MoreInfo string
}

func (e *TwilioError) Error() string {
	if e.Code == 0 && e.Message == "" {
		return fmt.Sprintf("notify: twilio: HTTP %d", e.Status)
	}
	return fmt.Sprintf("notify: twilio: HTTP %d: error %d: %s", e.Status, e.Code, e.Message)
}

// SendSMS sends text to the E.164 number to. It succeeds when Twilio
// answers 201 Created, which means the message was accepted and queued,
// not that it was delivered.
func (t *Twilio) SendSMS(ctx context.Context, to, text string) error {
	if err := checkSMS(to, text); err != nil {
		return err
	}
	form := url.Values{"To": {to}, "Body": {text}}
	if t.service != "" {
		form.Set("MessagingServiceSid", t.service)
	} else {
		form.Set("From", t.from)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("notify: twilio: %w", err)
	}
	req.SetBasicAuth(t.sid, t.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return transportError("twilio", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if resp.StatusCode == http.StatusCreated {
		return nil
	}
	te := &TwilioError{Status: resp.StatusCode}
	var doc struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
	}
	if json.Unmarshal(body, &doc) == nil {
		te.Code = doc.Code
		te.Message = t.scrub(doc.Message, text)
		te.MoreInfo = t.scrub(doc.MoreInfo, text)
	}
	return te
}

// scrub makes a provider's message safe to put in an error. Twilio does
// not echo bodies or tokens, but a compatible provider or proxy might, and
// the text carries a one-time code; so both are cut out, control
// characters that could forge log lines are dropped, and the length is
// bounded.
func (t *Twilio) scrub(s, text string) string {
	for _, secret := range []string{t.token, text} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}
