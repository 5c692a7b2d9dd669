package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNormalizeHostname(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"portal.acme.com", "portal.acme.com", true},
		{"Portal.ACME.com.", "portal.acme.com", true},
		{"xn--bcher-kva.de", "xn--bcher-kva.de", true},
		{"a-b.c-d.example", "a-b.c-d.example", true},
		{"1password.com", "1password.com", true},
		{"portal.acme.com..", "", false},
		{".acme.com", "", false},
		{"acme.com:80", "", false},
		{"::ffff:1.2.3.4", "", false},
		{"1.2.3.4.", "", false},
		{"a.-b.com", "", false},
		{"a b.com", "", false},
		{"a.com/x", "", false},
		{"user@a.com", "", false},
		{"a.com\x00", "", false},
		{strings.Repeat("a", 64) + ".com", "", false},
	}
	for _, tt := range tests {
		got, msg := normalizeHostname(tt.in)
		if got != tt.want || (msg == "") != tt.ok {
			t.Errorf("normalizeHostname(%q) = %q, %q; want %q, ok %v", tt.in, got, msg, tt.want, tt.ok)
		}
	}
}

func TestEmailRule(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a@example.com", "First.Last+tag@sub.example.co.uk", "ü@example.de"} {
		if msg := checkEmail(ok); msg != "" {
			t.Errorf("checkEmail(%q) = %q, want valid", ok, msg)
		}
	}
	for _, bad := range []string{"", "a", "a@", "@b.com", "a@@b.com", "a@b.com.", `"a b"@c.com`, "a@b.com (comment)", "a@b.com\n"} {
		if msg := checkEmail(bad); msg == "" {
			t.Errorf("checkEmail(%q) accepted", bad)
		}
	}
}

// FuzzNormalizeHostname: whatever is accepted is already canonical and
// is never an address or wildcard.
func FuzzNormalizeHostname(f *testing.F) {
	for _, s := range []string{"portal.acme.com", "A.B.", "1.2.3.4", "[::1]", "*.a.com", "a..b", "xn--x.y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, msg := normalizeHostname(in)
		if msg != "" {
			return
		}
		if again, msg := normalizeHostname(h); again != h || msg != "" {
			t.Errorf("normalizeHostname(%q) = %q, not a fixed point (%q, %q)", in, h, again, msg)
		}
		if strings.ContainsAny(h, ":*[] /@") || h != strings.ToLower(h) || len(h) > maxHostnameLen {
			t.Errorf("normalizeHostname(%q) accepted %q", in, h)
		}
	})
}

// FuzzCreatePartner: no body makes the handler fail with a 5xx, and a
// refused body stores nothing.
func FuzzCreatePartner(f *testing.F) {
	for _, s := range []string{
		`{"id": "acme", "name": "Acme", "hostnames": ["a.com"]}`,
		`{"id": "acme", "id": "beta"}`,
		`{"id": 1}`, `[]`, `{`, `{"name": null, "hostnames": [null, 1]}`, `{} {}`, `{"a":{"b":[{"c":{}}]}}`,
	} {
		f.Add(s)
	}
	e := newEnv(f)
	count := func(t *testing.T) int {
		ps, err := e.store.ListPartners(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	f.Fuzz(func(t *testing.T, body string) {
		before := count(t)
		req := httptest.NewRequest("POST", "/api/v1/partners", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		after := count(t)
		switch {
		case rec.Code >= 500:
			t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body)
		case rec.Code == http.StatusCreated && after != before+1,
			rec.Code != http.StatusCreated && after != before:
			t.Fatalf("body %q: status %d but partners %d -> %d", body, rec.Code, before, after)
		}
	})
}
