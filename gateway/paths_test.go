package gateway

import "testing"

func TestSafeReturnPath(t *testing.T) {
	t.Parallel()
	const p = DefaultPrefix
	kept := []string{"/", "/dashboard", "/a/b?x=1&y=%2F", "/reports#q", "/caf%C3%A9"}
	for _, in := range kept {
		if got := safeReturnPath(in, p); got != in {
			t.Errorf("safeReturnPath(%q) = %q, want it kept", in, got)
		}
	}
	refused := []string{
		"", "dashboard", "//evil.example", "/\\evil.example", "\\\\evil.example",
		"/%2Fevil.example", "/%2fevil.example", "/%5Cevil.example", "/%252F%252Fevil.example",
		"https://evil.example/", "javascript:alert(1)", "/ /evil.example", "/\t/evil.example",
		"/%09/evil.example", "//user@evil.example", "/a@b@evil.example\\x", "http:/evil.example",
		"/.partnergate/logout", "/.PartnerGate/login", "/%2Epartnergate/logout",
		"\x00/x", "/x\r\nSet-Cookie: a=b",
	}
	for _, in := range refused {
		if got := safeReturnPath(in, p); got != "/" {
			t.Errorf("safeReturnPath(%q) = %q, want /", in, got)
		}
	}
}

func TestReachesPrefix(t *testing.T) {
	t.Parallel()
	const p = DefaultPrefix
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/app", false},
		{"/.well-known/x", false},
		{"/a/b.css", false},
		{"/app/../.partnergate/login", true},
		{"/app/..;/.partnergate/login", true},
		{"/%2epartnergate/login", true},
		{"/.PARTNERGATE/login", true},
		{"//.partnergate/login", true},
		{"/app%2f..%2f.partnergate/x", true},
		{"/app\\..\\.partnergate\\x", true},
		{"/.partnergate", true},
		{"/.partnergatex", false},
		{"/.partnergate./login", true},
		{"/.partnergate%20/login", true},
		{"/.partnergate::$DATA/login", true},
		{"/.partnergate%00/login", true},
		{"/app%0a", true},
		{"/%c0%aepartnergate/login", true},
		{"/%zz", true},
		{"/app/.hidden", false},
		{"/café/menu", false},
	} {
		if got := reachesPrefix(tc.path, p); got != tc.want {
			t.Errorf("reachesPrefix(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestAmbiguous(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/.partnergate/login", false},
		{"/.partnergate/assets/style.css", false},
		{"/.partnergate/assets/../login", true},
		{"/.partnergate/./login", true},
		{"/.partnergate//login", true},
		{"/.partnergate/assets/%2e%2e/x", true},
		{"/.partnergate/assets%2Fstyle.css", true},
		{"/.partnergate/assets\\style.css", true},
		{"/.partnergate/assets/%5Cx", true},
	} {
		if got := ambiguous(tc.path); got != tc.want {
			t.Errorf("ambiguous(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestReachesCustomPrefix(t *testing.T) {
	t.Parallel()
	const p = "/auth/"
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/AUTH/login", true},
		{"/Auth/logout", true},
		{"/auth./login", true},
		{"/Auth", true},
		{"/authors/list", false},
		{"/app/auth/x", false},
		{"/", false},
	} {
		if got := reachesPrefix(tc.path, p); got != tc.want {
			t.Errorf("reachesPrefix(%q, %q) = %v, want %v", tc.path, p, got, tc.want)
		}
	}
}
