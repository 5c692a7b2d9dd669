package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testSID     = "AC0123456789abcdef0123456789abcdef"
	testToken   = "s3cr3t-auth-token-do-not-leak"
	testService = "MG0123456789abcdef0123456789abcdef"
	testText    = "Your partnergate code is 482913"
)

// fakeTwilio checks each request against the shape Twilio documents for
// creating a Message and answers as Twilio does. wantFields is the exact
// set of form fields expected.
type fakeTwilio struct {
	t          *testing.T
	wantFields map[string]string
	requests   atomic.Int32
	// answer, when set, replaces the 201 answer.
	answer func(w http.ResponseWriter)
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	t := f.t
	fail := func(format string, a ...any) {
		t.Errorf("fake twilio: "+format, a...)
		http.Error(w, "bad request shape", http.StatusTeapot)
	}
	if r.Method != http.MethodPost {
		fail("method %s, want POST", r.Method)
		return
	}
	if want := "/2010-04-01/Accounts/" + testSID + "/Messages.json"; r.URL.Path != want {
		fail("path %q, want %q", r.URL.Path, want)
		return
	}
	if r.URL.RawQuery != "" {
		fail("unexpected query %q", r.URL.RawQuery)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != testSID || pass != testToken {
		fail("basic auth %q/%q (ok=%v)", user, pass, ok)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		fail("Content-Type %q", ct)
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		fail("read body: %v", err)
		return
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		fail("parse form: %v", err)
		return
	}
	if len(form) != len(f.wantFields) {
		fail("fields %v, want exactly %v", form, f.wantFields)
		return
	}
	for k, want := range f.wantFields {
		if got := form[k]; len(got) != 1 || got[0] != want {
			fail("field %s = %q, want [%q]", k, got, want)
			return
		}
	}
	if f.answer != nil {
		f.answer(w)
		return
	}
	// Abridged from Twilio's documented Message resource.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"account_sid":  testSID,
		"api_version":  "2010-04-01",
		"body":         form.Get("Body"),
		"date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
		"direction":    "outbound-api",
		"from":         form.Get("From"),
		"num_segments": "1",
		"sid":          "SM0123456789abcdef0123456789abcdef",
		"status":       "queued",
		"to":           form.Get("To"),
		"uri":          "/2010-04-01/Accounts/" + testSID + "/Messages/SM0123456789abcdef0123456789abcdef.json",
	})
}

func newFakeTwilio(t *testing.T, fields map[string]string) (*fakeTwilio, *httptest.Server) {
	f := &fakeTwilio{t: t, wantFields: fields}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func mustTwilio(t *testing.T, cfg TwilioConfig) *Twilio {
	t.Helper()
	tw, err := NewTwilio(cfg)
	if err != nil {
		t.Fatalf("NewTwilio: %v", err)
	}
	return tw
}

func TestTwilioSendFrom(t *testing.T) {
	f, srv := newFakeTwilio(t, map[string]string{
		"To": "+14155550123", "From": "+14155550100", "Body": testText,
	})
	tw := mustTwilio(t, TwilioConfig{
		BaseURL: srv.URL, AccountSID: testSID, AuthToken: testToken, From: "+14155550100",
	})
	if err := tw.SendSMS(context.Background(), "+14155550123", testText); err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	if n := f.requests.Load(); n != 1 {
		t.Fatalf("server saw %d requests, want 1", n)
	}
}

func TestTwilioSendMessagingService(t *testing.T) {
	f, srv := newFakeTwilio(t, map[string]string{
		"To": "+447700900123", "MessagingServiceSid": testService, "Body": testText,
	})
	// A trailing slash on BaseURL must not produce "//" in the path.
	tw := mustTwilio(t, TwilioConfig{
		BaseURL: srv.URL + "/", AccountSID: testSID, AuthToken: testToken, MessagingServiceSID: testService,
	})
	if err := tw.SendSMS(context.Background(), "+447700900123", testText); err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	if n := f.requests.Load(); n != 1 {
		t.Fatalf("server saw %d requests, want 1", n)
	}
}

func TestTwilioErrorAnswer(t *testing.T) {
	const msg = "The 'To' number +14155550199 is not a valid phone number."
	f, srv := newFakeTwilio(t, map[string]string{
		"To": "+14155550199", "From": "+14155550100", "Body": testText,
	})
	f.answer = func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"code": 21211, "message": "`+msg+`", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`)
	}
	tw := mustTwilio(t, TwilioConfig{
		BaseURL: srv.URL, AccountSID: testSID, AuthToken: testToken, From: "+14155550100",
	})
	err := tw.SendSMS(context.Background(), "+14155550199", testText)
	if err == nil {
		t.Fatal("SendSMS succeeded on a 400 answer")
	}
	s := err.Error()
	for _, want := range []string{"21211", msg, "400"} {
		if !strings.Contains(s, want) {
			t.Errorf("error %q lacks %q", s, want)
		}
	}
	for _, leak := range []string{testToken, testText, "482913"} {
		if strings.Contains(s, leak) {
			t.Errorf("error %q leaks %q", s, leak)
		}
	}
	var te *TwilioError
	if !errors.As(err, &te) || te.Code != 21211 || te.Status != 400 || te.MoreInfo == "" {
		t.Errorf("error %#v, want *TwilioError with code 21211, status 400, more_info", err)
	}
}

// A provider (or proxy) that echoes the request must not get the code or
// the token into our error.
func TestTwilioErrorScrubsEcho(t *testing.T) {
	f, srv := newFakeTwilio(t, map[string]string{
		"To": "+14155550123", "From": "+14155550100", "Body": testText,
	})
	f.answer = func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{
			"code": 30007, "message": "filtered: " + testText + " auth " + testToken + "\nforged log line",
		})
	}
	tw := mustTwilio(t, TwilioConfig{
		BaseURL: srv.URL, AccountSID: testSID, AuthToken: testToken, From: "+14155550100",
	})
	err := tw.SendSMS(context.Background(), "+14155550123", testText)
	if err == nil {
		t.Fatal("SendSMS succeeded on a 400 answer")
	}
	s := err.Error()
	if strings.Contains(s, testToken) || strings.Contains(s, "482913") || strings.Contains(s, "\n") {
		t.Errorf("error %q leaks the token, the code or a newline", s)
	}
	if !strings.Contains(s, "30007") {
		t.Errorf("error %q lacks the code", s)
	}
}

func TestTwilioNonJSONError(t *testing.T) {
	f, srv := newFakeTwilio(t, map[string]string{
		"To": "+14155550123", "From": "+14155550100", "Body": testText,
	})
	f.answer = func(w http.ResponseWriter) {
		http.Error(w, "<html>bad gateway "+testText+"</html>", http.StatusBadGateway)
	}
	tw := mustTwilio(t, TwilioConfig{
		BaseURL: srv.URL, AccountSID: testSID, AuthToken: testToken, From: "+14155550100",
	})
	err := tw.SendSMS(context.Background(), "+14155550123", testText)
	var te *TwilioError
	if !errors.As(err, &te) || te.Status != http.StatusBadGateway {
		t.Fatalf("error %v, want *TwilioError with status 502", err)
	}
	if strings.Contains(err.Error(), "482913") {
		t.Errorf("error %q leaks the code", err)
	}
}

// Only 201 is success: a 200 from something that is not the Messages
// resource (a captive proxy, a wrong BaseURL) must not pass for a sent
// message.
func TestTwilioOnly201IsSuccess(t *testing.T) {
	f, srv := newFakeTwilio(t, map[string]string{
		"To": "+14155550123", "From": "+14155550100", "Body": testText,
	})
	f.answer = func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }
	tw := mustTwilio(t, TwilioConfig{
		BaseURL: srv.URL, AccountSID: testSID, AuthToken: testToken, From: "+14155550100",
	})
	if err := tw.SendSMS(context.Background(), "+14155550123", testText); err == nil {
		t.Fatal("SendSMS succeeded on a 200 answer")
	}
}

func TestTwilioRefusesBadInputBeforeSending(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	tw := mustTwilio(t, TwilioConfig{
		BaseURL: srv.URL, AccountSID: testSID, AuthToken: testToken, From: "+14155550100",
	})
	for _, to := range []string{
		"", "14155550123", "+", "+1415555", "+1234567890123456", "+04155550123",
		"+1 415 555 0123", "+1-415-555-0123", "+1415555012a", "+14155550123\n",
		"+１４１５５５５０１２３", "tel:+14155550123",
	} {
		err := tw.SendSMS(context.Background(), to, testText)
		if !errors.Is(err, ErrInvalidNumber) {
			t.Errorf("SendSMS(%q) = %v, want ErrInvalidNumber", to, err)
		}
		if err != nil && strings.Contains(err.Error(), "482913") {
			t.Errorf("error %q leaks the code", err)
		}
	}
	for _, text := range []string{"", "  \n", strings.Repeat("x", maxSMSLen+1)} {
		if err := tw.SendSMS(context.Background(), "+14155550123", text); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("SendSMS(text of %d bytes) = %v, want ErrInvalidMessage", len(text), err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("server saw %d requests, want 0", n)
	}
}

func TestTwilioTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	// Unblock the handler before Close waits for it.
	defer srv.Close()
	defer close(release)
	tw := mustTwilio(t, TwilioConfig{
		BaseURL: srv.URL, AccountSID: testSID, AuthToken: testToken, From: "+14155550100",
		Client: &http.Client{Timeout: 100 * time.Millisecond},
	})
	start := time.Now()
	err := tw.SendSMS(context.Background(), "+14155550123", testText)
	if err == nil {
		t.Fatal("SendSMS succeeded against a server that never answers")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Errorf("error %v does not report a timeout", err)
	}
	if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "482913") {
		t.Errorf("error %q leaks", err)
	}

	// The caller's context bounds the send too.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tw2 := mustTwilio(t, TwilioConfig{
		BaseURL: srv.URL, AccountSID: testSID, AuthToken: testToken, From: "+14155550100",
	})
	if err := tw2.SendSMS(ctx, "+14155550123", testText); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SendSMS with expired context = %v, want context.DeadlineExceeded", err)
	}
}

func TestTwilioDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	tw := mustTwilio(t, TwilioConfig{
		BaseURL: srv.URL, AccountSID: testSID, AuthToken: testToken, From: "+14155550100",
	})
	if err := tw.SendSMS(context.Background(), "+14155550123", testText); err == nil {
		t.Error("SendSMS succeeded on a redirect")
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("redirect target saw %d requests", n)
	}
}

func TestNewTwilioValidates(t *testing.T) {
	good := TwilioConfig{AccountSID: testSID, AuthToken: testToken, From: "+14155550100"}
	if tw, err := NewTwilio(good); err != nil {
		t.Fatalf("NewTwilio(good) = %v", err)
	} else if !strings.HasPrefix(tw.endpoint, DefaultTwilioBaseURL+"/2010-04-01/Accounts/") {
		t.Errorf("default endpoint %q", tw.endpoint)
	}
	if _, err := NewTwilio(TwilioConfig{AccountSID: testSID, AuthToken: testToken, From: "Partnergt"}); err != nil {
		t.Errorf("alphanumeric sender refused: %v", err)
	}
	for name, mod := range map[string]func(*TwilioConfig){
		"no sid":          func(c *TwilioConfig) { c.AccountSID = "" },
		"sid with slash":  func(c *TwilioConfig) { c.AccountSID = "AC../../x" },
		"no token":        func(c *TwilioConfig) { c.AuthToken = "" },
		"no sender":       func(c *TwilioConfig) { c.From = "" },
		"both senders":    func(c *TwilioConfig) { c.MessagingServiceSID = testService },
		"bad from":        func(c *TwilioConfig) { c.From = "4155550100" },
		"long alpha from": func(c *TwilioConfig) { c.From = "PartnergateInc" },
		"bad service":     func(c *TwilioConfig) { c.From, c.MessagingServiceSID = "", "MG&To=+1" },
		"http remote":     func(c *TwilioConfig) { c.BaseURL = "http://api.twilio.com" },
		"ftp":             func(c *TwilioConfig) { c.BaseURL = "ftp://api.twilio.com" },
		"relative":        func(c *TwilioConfig) { c.BaseURL = "/api" },
		"userinfo":        func(c *TwilioConfig) { c.BaseURL = "https://u:p@api.twilio.com" },
		"query":           func(c *TwilioConfig) { c.BaseURL = "https://api.twilio.com/?x=1" },
	} {
		cfg := good
		mod(&cfg)
		_, err := NewTwilio(cfg)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: NewTwilio = %v, want ErrInvalidConfig", name, err)
		}
		if err != nil && strings.Contains(err.Error(), testToken) {
			t.Errorf("%s: error %q leaks the token", name, err)
		}
	}
}

func TestValidE164(t *testing.T) {
	for s, want := range map[string]bool{
		"+14155550123":      true,
		"+12345678":         true, // 8 digits
		"+123456789012345":  true, // 15 digits
		"+1234567":          false,
		"+1234567890123456": false,
		"+0123456789":       false,
		"14155550123":       false,
		"":                  false,
	} {
		if got := ValidE164(s); got != want {
			t.Errorf("ValidE164(%q) = %v, want %v", s, got, want)
		}
	}
}
