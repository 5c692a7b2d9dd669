package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-webhook")

// received is one request as the receiver saw it.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint that records requests and answers with
// status.
type receiver struct {
	mu     sync.Mutex
	got    []received
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
	status := rc.status
	rc.mu.Unlock()
	if r.Method != http.MethodPost {
		status = http.StatusMethodNotAllowed
	}
	if status == 0 {
		status = http.StatusNoContent
	}
	w.WriteHeader(status)
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func newReceiver(t *testing.T, status int) (*receiver, *Webhook) {
	t.Helper()
	rc := &receiver{status: status}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	wh, err := NewWebhook(WebhookConfig{URL: srv.URL + "/hooks/mfa", Secret: testSecret})
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	return rc, wh
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return m
}

func TestWebhookSMS(t *testing.T) {
	rc, wh := newReceiver(t, http.StatusOK)
	for range 2 {
		if err := wh.SendSMS(context.Background(), "+14155550123", testText); err != nil {
			t.Fatalf("SendSMS: %v", err)
		}
	}
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("receiver saw %d requests, want 2", len(got))
	}
	r := got[0]
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if err := VerifySignature(testSecret, r.header.Get(SignatureHeader), r.body, time.Now(), 5*time.Minute); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	d0, d1 := got[0].header.Get(DeliveryHeader), got[1].header.Get(DeliveryHeader)
	if d0 == "" || d0 == d1 {
		t.Errorf("delivery ids %q, %q: want distinct, non-empty", d0, d1)
	}
	m := decode(t, r.body)
	if len(m) != 5 {
		t.Errorf("payload has fields %v, want type, id, created_at, to, text", m)
	}
	if m["type"] != "sms" || m["to"] != "+14155550123" || m["text"] != testText {
		t.Errorf("payload %v", m)
	}
	id, _ := m["id"].(string)
	if id == "" || id == decode(t, got[1].body)["id"] {
		t.Errorf("ids %q, %v: want distinct, non-empty", id, decode(t, got[1].body)["id"])
	}
	created, err := time.Parse(time.RFC3339, m["created_at"].(string))
	if err != nil || time.Since(created) > time.Minute {
		t.Errorf("created_at %v (%v)", m["created_at"], err)
	}
	// The signature timestamp and created_at are the same instant.
	if !strings.HasPrefix(r.header.Get(SignatureHeader), "t="+strconv.FormatInt(created.Unix(), 10)+",v1=") {
		t.Errorf("signature header %q does not match created_at %v", r.header.Get(SignatureHeader), created)
	}
}

func TestWebhookPush(t *testing.T) {
	rc, wh := newReceiver(t, http.StatusAccepted)
	number, choices, err := NumberChoices()
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(2 * time.Minute).Truncate(time.Second)
	p := PushRequest{
		Target:      "device-7f3a",
		ID:          "chl_123",
		Partner:     "Acme Logistics",
		Email:       "ann@acme.example",
		Number:      number,
		Choices:     choices,
		ExpiresAt:   expires,
		CallbackURL: "https://gate.example.com/mfa/push/chl_123",
	}
	if err := wh.SendPush(context.Background(), p); err != nil {
		t.Fatalf("SendPush: %v", err)
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("receiver saw %d requests, want 1", len(got))
	}
	r := got[0]
	if err := VerifySignature(testSecret, r.header.Get(SignatureHeader), r.body, time.Now(), 5*time.Minute); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	m := decode(t, r.body)
	for k, want := range map[string]string{
		"type": "push", "target": p.Target, "challenge_id": p.ID, "partner": p.Partner,
		"email": p.Email, "callback_url": p.CallbackURL, "expires_at": expires.UTC().Format(time.RFC3339),
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %q", k, m[k], want)
		}
	}
	if id, _ := m["id"].(string); id == "" {
		t.Error("no id")
	}
	if _, err := time.Parse(time.RFC3339, m["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}
	// Number matching: the device gets three distinct choices, the right
	// one among them, but not which one is right.
	if _, ok := m["number"]; ok {
		t.Error("payload reveals the number the user must match")
	}
	raw, _ := m["choices"].([]any)
	if len(raw) != 3 {
		t.Fatalf("choices %v, want 3", m["choices"])
	}
	seen := map[int]bool{}
	for _, c := range raw {
		n, err := c.(json.Number).Int64()
		if err != nil {
			t.Fatalf("choice %v: %v", c, err)
		}
		seen[int(n)] = true
	}
	if len(seen) != 3 {
		t.Errorf("choices %v not distinct", raw)
	}
	if !seen[number] {
		t.Errorf("number %d not among choices %v", number, raw)
	}
}

func TestWebhookPushRefusesBadRequests(t *testing.T) {
	rc, wh := newReceiver(t, http.StatusOK)
	good := PushRequest{
		Target: "device-7f3a", ID: "chl_123", Number: 42, Choices: []int{17, 42, 88},
		ExpiresAt: time.Now().Add(time.Minute), CallbackURL: "https://gate.example.com/cb",
	}
	if err := wh.SendPush(context.Background(), good); err != nil {
		t.Fatalf("good request: %v", err)
	}
	for name, mod := range map[string]func(*PushRequest){
		"no target":         func(p *PushRequest) { p.Target = "" },
		"no id":             func(p *PushRequest) { p.ID = "" },
		"number not chosen": func(p *PushRequest) { p.Number = 43 },
		"two choices":       func(p *PushRequest) { p.Choices = []int{42, 88} },
		"four choices":      func(p *PushRequest) { p.Choices = []int{42, 88, 17, 3} },
		"duplicate choices": func(p *PushRequest) { p.Choices = []int{42, 42, 88} },
		"expired":           func(p *PushRequest) { p.ExpiresAt = time.Now().Add(-time.Second) },
		"no expiry":         func(p *PushRequest) { p.ExpiresAt = time.Time{} },
		"http callback":     func(p *PushRequest) { p.CallbackURL = "http://gate.example.com/cb" },
		"no callback":       func(p *PushRequest) { p.CallbackURL = "" },
	} {
		p := good
		p.Choices = append([]int(nil), good.Choices...)
		mod(&p)
		if err := wh.SendPush(context.Background(), p); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: SendPush = %v, want ErrInvalidMessage", name, err)
		}
	}
	if err := wh.SendSMS(context.Background(), "+1415", testText); !errors.Is(err, ErrInvalidNumber) {
		t.Errorf("SendSMS(bad number) = %v, want ErrInvalidNumber", err)
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("receiver saw %d requests, want only the good one", n)
	}
}

func TestWebhookNon2xxIsError(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusBadRequest, http.StatusUnauthorized, http.StatusInternalServerError} {
		rc := &receiver{status: status}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if status == http.StatusFound {
				// A redirect is not followed, so its target never matters.
				w.Header().Set("Location", "https://elsewhere.example/")
			}
			// Echo the request, as a careless receiver might.
			rc.ServeHTTP(&echoWriter{ResponseWriter: w}, r)
		}))
		wh, err := NewWebhook(WebhookConfig{URL: srv.URL, Secret: testSecret})
		if err != nil {
			t.Fatal(err)
		}
		err = wh.SendSMS(context.Background(), "+14155550123", testText)
		srv.Close()
		var se *StatusError
		if !errors.As(err, &se) || se.Status != status {
			t.Errorf("status %d: SendSMS = %v, want *StatusError", status, err)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Itoa(status)) {
			t.Errorf("error %q lacks the status", err)
		}
		if strings.Contains(err.Error(), "482913") {
			t.Errorf("error %q leaks the code", err)
		}
	}
}

type echoWriter struct{ http.ResponseWriter }

func (e *echoWriter) WriteHeader(status int) {
	e.ResponseWriter.WriteHeader(status)
	io.WriteString(e.ResponseWriter, testText)
}

func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	wh, err := NewWebhook(WebhookConfig{
		URL: srv.URL + "/?token=in-query", Secret: testSecret, Client: &http.Client{Timeout: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = wh.SendSMS(context.Background(), "+14155550123", testText)
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("SendSMS = %v, want a timeout", err)
	}
	// The URL, which may hold a credential in its query, stays out.
	if strings.Contains(err.Error(), "in-query") || strings.Contains(err.Error(), "482913") {
		t.Errorf("error %q leaks", err)
	}
}

func TestNewWebhookValidates(t *testing.T) {
	for _, u := range []string{
		"https://hooks.example.com/mfa", "http://127.0.0.1:8080/x", "http://[::1]:9/x",
		"http://localhost/x", "http://127.8.9.10/",
	} {
		if _, err := NewWebhook(WebhookConfig{URL: u, Secret: testSecret}); err != nil {
			t.Errorf("NewWebhook(%q) = %v", u, err)
		}
	}
	for _, u := range []string{
		"http://hooks.example.com/mfa", "http://10.0.0.1/", "http://192.168.1.1/",
		"http://[::ffff:10.0.0.1]/", "http://localhost.evil.example/", "http://127.0.0.1.nip.io/",
		"ftp://hooks.example.com/", "hooks.example.com/mfa", "/mfa", "",
		"https://user:pass@hooks.example.com/", "https://hooks.example.com/#frag", "javascript:alert(1)",
	} {
		if _, err := NewWebhook(WebhookConfig{URL: u, Secret: testSecret}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewWebhook(%q) = %v, want ErrInvalidConfig", u, err)
		}
	}
	for _, s := range [][]byte{nil, []byte("short"), testSecret[:MinWebhookSecret-1]} {
		if _, err := NewWebhook(WebhookConfig{URL: "https://hooks.example.com/", Secret: s}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("secret of %d bytes: err = %v, want ErrInvalidConfig", len(s), err)
		}
	}
	// The secret is copied: changing the caller's slice later must not
	// change what is signed with.
	secret := bytes.Clone(testSecret)
	wh, err := NewWebhook(WebhookConfig{URL: "https://hooks.example.com/", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	secret[0] ^= 0xff
	if !bytes.Equal(wh.secret, testSecret) {
		t.Error("webhook shares the caller's secret slice")
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"type":"sms","id":"sms_1","created_at":"2026-01-02T03:04:05Z","to":"+14155550123","text":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	ts := now.Unix()
	hdr := signatureHeader(testSecret, ts, body)
	tol := 5 * time.Minute

	if err := VerifySignature(testSecret, hdr, body, now, tol); err != nil {
		t.Fatalf("valid: %v", err)
	}
	if err := VerifySignature(testSecret, hdr, body, now.Add(4*time.Minute), tol); err != nil {
		t.Errorf("4 minutes old: %v", err)
	}
	// Rotation: an extra v1 for another secret, and an unknown scheme,
	// do not get in the way.
	rot := "t=" + strconv.FormatInt(ts, 10) + ",v1=" + sign([]byte("old-secret-old-secret-old-secret"), ts, body) +
		",v1=" + sign(testSecret, ts, body) + ",v0=ignored"
	if err := VerifySignature(testSecret, rot, body, now, tol); err != nil {
		t.Errorf("rotation header: %v", err)
	}

	tampered := bytes.Replace(body, []byte(`"text":"x"`), []byte(`"text":"y"`), 1)
	otherTS := "t=" + strconv.FormatInt(ts+1, 10) + ",v1=" + sign(testSecret, ts, body)
	for name, c := range map[string]struct {
		secret []byte
		header string
		body   []byte
		now    time.Time
	}{
		"tampered body":     {testSecret, hdr, tampered, now},
		"wrong secret":      {[]byte("another-secret-another-secret-xx"), hdr, body, now},
		"no secret":         {nil, hdr, body, now},
		"too old":           {testSecret, hdr, body, now.Add(tol + time.Second)},
		"from the future":   {testSecret, hdr, body, now.Add(-tol - time.Second)},
		"timestamp changed": {testSecret, otherTS, body, now},
		"empty":             {testSecret, "", body, now},
		"garbage":           {testSecret, "garbage", body, now},
		"no timestamp":      {testSecret, "v1=" + sign(testSecret, ts, body), body, now},
		"no v1":             {testSecret, "t=" + strconv.FormatInt(ts, 10), body, now},
		"two timestamps":    {testSecret, "t=1," + hdr, body, now},
		"bad timestamp":     {testSecret, "t=abc,v1=" + sign(testSecret, ts, body), body, now},
		"negative ts":       {testSecret, "t=-5,v1=" + sign(testSecret, -5, body), body, now},
		"short mac":         {testSecret, "t=" + strconv.FormatInt(ts, 10) + ",v1=abcd", body, now},
		"non-hex mac":       {testSecret, "t=" + strconv.FormatInt(ts, 10) + ",v1=" + strings.Repeat("zz", 32), body, now},
		"huge header":       {testSecret, hdr + strings.Repeat(",x=y", 500), body, now},
		"semicolons":        {testSecret, strings.ReplaceAll(hdr, ",", ";"), body, now},
	} {
		err := VerifySignature(c.secret, c.header, c.body, c.now, tol)
		if !errors.Is(err, ErrSignature) {
			t.Errorf("%s: VerifySignature = %v, want ErrSignature", name, err)
		}
	}

	// Zero tolerance means the default, not "no age check".
	if err := VerifySignature(testSecret, hdr, body, now.Add(DefaultTolerance+time.Second), 0); !errors.Is(err, ErrSignature) {
		t.Errorf("zero tolerance accepted a stale signature: %v", err)
	}
	// An absurd timestamp must not overflow into acceptance.
	huge := "t=9223372036854775807,v1=" + sign(testSecret, 9223372036854775807, body)
	if err := VerifySignature(testSecret, huge, body, now, tol); !errors.Is(err, ErrSignature) {
		t.Errorf("max int64 timestamp: %v", err)
	}
}

func TestNumberChoices(t *testing.T) {
	positions := [3]int{}
	for range 300 {
		n, cs, err := NumberChoices()
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 3 || cs[0] == cs[1] || cs[1] == cs[2] || cs[0] == cs[2] {
			t.Fatalf("choices %v not 3 distinct", cs)
		}
		found := false
		for i, c := range cs {
			if c < 10 || c > 99 {
				t.Fatalf("choice %d not two digits", c)
			}
			if c == n {
				found = true
				positions[i]++
			}
		}
		if !found {
			t.Fatalf("number %d not among %v", n, cs)
		}
		p := PushRequest{Target: "d", ID: "c", Number: n, Choices: cs,
			ExpiresAt: time.Now().Add(time.Minute), CallbackURL: "https://gate.example.com/cb"}
		if err := checkPush(p, time.Now()); err != nil {
			t.Fatalf("checkPush refuses NumberChoices output: %v", err)
		}
	}
	// The answer must not sit in a fixed position; 300 draws put each
	// position near 100, and 30 is far outside chance.
	for i, c := range positions {
		if c < 30 {
			t.Errorf("answer at position %d only %d/300 times", i, c)
		}
	}
}
