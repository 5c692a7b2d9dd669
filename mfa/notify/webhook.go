package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// MinWebhookSecret is the shortest shared secret accepted, in bytes: the
// HMAC is only as strong as its key, and 32 bytes matches SHA-256.
const MinWebhookSecret = 32

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	// URL receives the POSTs. It must be https; http is allowed only to
	// loopback addresses, for tests and same-host relays.
	URL string
	// Secret is the HMAC key shared with the receiver, at least
	// MinWebhookSecret bytes. It is copied.
	Secret []byte
	// Client sends the requests; its Timeout bounds each send. Nil means
	// a client with a 10 second timeout. Redirects are never followed.
	Client *http.Client
}

// Webhook delivers SMS and push requests as signed JSON POSTs to one URL,
// for partners or operators who run their own SMS gateway or push
// service. It is safe for concurrent use.
//
// Every body has "type" ("sms" or "push"), a random "id" and "created_at"
// (RFC 3339, UTC), then the payload:
//
//	sms:  "to", "text"
//	push: "target", "challenge_id", "partner", "email", "choices",
//	      "expires_at", "callback_url"
//
// The push payload deliberately omits PushRequest.Number; see there.
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

var (
	_ SMS  = (*Webhook)(nil)
	_ Push = (*Webhook)(nil)
)

// NewWebhook checks cfg and returns a sender.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	u, err := checkEndpoint(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("notify: webhook: %w: URL: %v", ErrInvalidConfig, err)
	}
	if len(cfg.Secret) < MinWebhookSecret {
		return nil, fmt.Errorf("notify: webhook: %w: Secret must be at least %d bytes", ErrInvalidConfig, MinWebhookSecret)
	}
	return &Webhook{
		url:    u.String(),
		secret: bytes.Clone(cfg.Secret),
		client: httpClient(cfg.Client),
		now:    time.Now,
	}, nil
}

type envelope struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	CreatedAt string `json:"created_at"`
}

type smsBody struct {
	envelope
	To   string `json:"to"`
	Text string `json:"text"`
}

type pushBody struct {
	envelope
	Target      string `json:"target"`
	ChallengeID string `json:"challenge_id"`
	Partner     string `json:"partner"`
	Email       string `json:"email"`
	Choices     []int  `json:"choices"`
	ExpiresAt   string `json:"expires_at"`
	CallbackURL string `json:"callback_url"`
}

// SendSMS posts an "sms" event asking the receiver to text to.
func (w *Webhook) SendSMS(ctx context.Context, to, text string) error {
	if err := checkSMS(to, text); err != nil {
		return err
	}
	now := w.now()
	env, err := w.envelope("sms", now)
	if err != nil {
		return err
	}
	return w.post(ctx, now, smsBody{envelope: env, To: to, Text: text})
}

// SendPush posts a "push" event asking the receiver to prompt p.Target.
func (w *Webhook) SendPush(ctx context.Context, p PushRequest) error {
	now := w.now()
	if err := checkPush(p, now); err != nil {
		return err
	}
	env, err := w.envelope("push", now)
	if err != nil {
		return err
	}
	return w.post(ctx, now, pushBody{
		envelope:    env,
		Target:      p.Target,
		ChallengeID: p.ID,
		Partner:     p.Partner,
		Email:       p.Email,
		Choices:     append([]int(nil), p.Choices...),
		ExpiresAt:   p.ExpiresAt.UTC().Format(time.RFC3339),
		CallbackURL: p.CallbackURL,
	})
}

func (w *Webhook) envelope(typ string, now time.Time) (envelope, error) {
	id, err := randomID(typ + "_")
	if err != nil {
		return envelope{}, fmt.Errorf("notify: webhook: %w", err)
	}
	return envelope{Type: typ, ID: id, CreatedAt: now.UTC().Format(time.RFC3339)}, nil
}

// post signs and sends v. The body is marshalled once and those exact
// bytes are both signed and sent, since receivers verify the raw body.
func (w *Webhook) post(ctx context.Context, now time.Time, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("notify: webhook: %w", err)
	}
	delivery, err := randomID("dlv_")
	if err != nil {
		return fmt.Errorf("notify: webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, signatureHeader(w.secret, now.Unix(), body))
	req.Header.Set(DeliveryHeader, delivery)
	resp, err := w.client.Do(req)
	if err != nil {
		return transportError("webhook", err)
	}
	defer resp.Body.Close()
	// Drain a bounded amount so the connection can be reused. The answer
	// is never quoted in errors: a receiver might echo the request, and
	// the request holds the code.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Status: resp.StatusCode}
	}
	return nil
}

// StatusError is a non-2xx answer from a webhook receiver. Redirects count:
// they are not followed.
type StatusError struct {
	Status int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("notify: webhook: HTTP %d %s", e.Status, http.StatusText(e.Status))
}
