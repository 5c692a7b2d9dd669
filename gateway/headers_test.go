package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestStripRemovesEverySpelling(t *testing.T) {
	t.Parallel()
	s := newHeaderSet(DefaultHeaderNames)
	h := http.Header{}
	spoofs := []string{
		"X-Auth-User", "x-auth-user", "X_AUTH_USER", "x_auth_user", "X-Auth_User",
		"X-Partner-Id", "x_partner_id", "X-AUTH-EMAIL", "X-Auth-Name",
		"X-Auth-Groups", "x_auth_roles", "X-Auth-Jwt",
	}
	for _, k := range spoofs {
		h[k] = []string{"admin", "second copy"}
	}
	h["X-Auth-Userx"] = []string{"kept"}
	h["Accept"] = []string{"text/html"}
	s.strip(h)
	for _, k := range spoofs {
		if _, ok := h[k]; ok {
			t.Errorf("client header %q survived", k)
		}
	}
	if got := h.Get("X-Auth-Userx"); got != "kept" {
		t.Errorf("unrelated header X-Auth-Userx = %q, want kept", got)
	}
	if got := h.Get("Accept"); got != "text/html" {
		t.Errorf("Accept = %q, want text/html", got)
	}
}

func TestStripCleansConnection(t *testing.T) {
	t.Parallel()
	s := newHeaderSet(DefaultHeaderNames)
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{in: []string{"X-Auth-User"}, want: nil},
		{in: []string{"keep-alive, x_auth_user", "X-Auth-Roles,Upgrade"}, want: []string{"keep-alive, Upgrade"}},
		{in: []string{"close"}, want: []string{"close"}},
		{in: []string{" , X-PARTNER-ID , "}, want: nil},
	} {
		h := http.Header{"Connection": tc.in}
		s.strip(h)
		if got := h["Connection"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Connection %q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEncodeValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"alice@acme.com", "alice@acme.com"},
		{"Doe, Jane", "Doe%2C Jane"},
		{"100%", "100%25"},
		{"line\r\nX-Auth-User: root", "line%0D%0AX-Auth-User: root"},
		{"tab\there\x7f", "tab%09here%7F"},
		{"José", "José"},
	} {
		if got := encodeValue(tc.in); got != tc.want {
			t.Errorf("encodeValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, want := encodeList([]string{"eng,admin", "ops"}), "eng%2Cadmin,ops"; got != want {
		t.Errorf("encodeList = %q, want %q: a comma inside a group must not split it", got, want)
	}
}

func TestNormalizeHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"acme.apps.localhost", "acme.apps.localhost"},
		{"ACME.Apps.Localhost:8080", "acme.apps.localhost"},
		{"acme.apps.localhost.", "acme.apps.localhost"},
		{"acme.apps.localhost.:443", "acme.apps.localhost"},
		{"[::1]:80", "::1"},
	} {
		if got := normalizeHost(tc.in); got != tc.want {
			t.Errorf("normalizeHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHideOwnCookies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{in: []string{"theme=dark; pg_session=abc; lang=en"}, want: []string{"theme=dark; lang=en"}},
		{in: []string{"__Host-pg_session=abc", "__Host-pg_csrf=x; app_pg_session=keep"}, want: []string{"app_pg_session=keep"}},
		{in: []string{"pg_session=a; pg_csrf=b"}, want: nil},
		{in: []string{"__Host-pg_sso=binding; theme=dark", "pg_sso=x"}, want: []string{"theme=dark"}},
		{in: []string{"theme=dark"}, want: []string{"theme=dark"}},
	} {
		h := http.Header{"Cookie": tc.in}
		hideOwnCookies(h)
		if got := h["Cookie"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Cookie %q: app gets %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestGuardTrailers(t *testing.T) {
	t.Parallel()
	g := &Gateway{headers: newHeaderSet(DefaultHeaderNames)}
	declared := httptest.NewRequest("POST", "/", strings.NewReader("x"))
	declared.Trailer = http.Header{"X_auth_user": nil}
	if g.guardTrailers(declared) {
		t.Error("a reserved header declared as a trailer was accepted")
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader("body"))
	r.ContentLength = -1
	if !g.guardTrailers(r) {
		t.Fatal("a request without trailers was refused")
	}
	// Trailers land in r.Trailer as the body ends, as net/http does it.
	r.Trailer = http.Header{"X-Auth-Roles": {"admin"}, "X-Checksum": {"abc"}}
	if _, err := io.ReadAll(r.Body); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Trailer["X-Auth-Roles"]; ok {
		t.Error("a reserved trailer survived the end of the body")
	}
	if r.Trailer.Get("X-Checksum") != "abc" {
		t.Error("an ordinary trailer was dropped")
	}
}

func TestFindCookie(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cookies []string
		value   string
		n       int
	}{
		{[]string{"a=1; pg_session=tok; b=2"}, "tok", 1},
		{[]string{"pg_session=one", "x=y; pg_session=two"}, "two", 2},
		{[]string{"pg_session_x=no; xpg_session=no"}, "", 0},
		{[]string{"  pg_session=tok  "}, "tok", 1},
		{nil, "", 0},
	} {
		value, n := findCookie(http.Header{"Cookie": tc.cookies}, "pg_session")
		if value != tc.value || n != tc.n {
			t.Errorf("findCookie(%q) = %q, %d; want %q, %d", tc.cookies, value, n, tc.value, tc.n)
		}
	}
}
