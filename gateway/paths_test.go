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

// TestSafeReturnPathReservedDestinations: of the reserved paths, a
// sign-in returns only to the account page, spelt exactly, and to the
// admin portal under admin/; no spelling bends either into another.
func TestSafeReturnPathReservedDestinations(t *testing.T) {
	t.Parallel()
	for prefix, kept := range map[string][]string{
		DefaultPrefix: {
			"/.partnergate/account/security", "/.partnergate/admin/", "/.partnergate/admin/partners/acme",
			"/.partnergate/admin/partners?page=2", "/.partnergate/admin/users/", "/.partnergate/admin/#top",
		},
		"/auth/": {"/auth/account/security", "/auth/admin/", "/.partnergate/logout"},
	} {
		for _, in := range kept {
			if got := safeReturnPath(in, prefix); got != in {
				t.Errorf("safeReturnPath(%q, %q) = %q, want it kept", in, prefix, got)
			}
		}
	}
	refused := []string{
		"/.partnergate/admin", "/.partnergate/adminx/", "/.partnergate/Admin/", "/.PARTNERGATE/admin/",
		"/.partnergate/admin/../logout", "/.partnergate/admin/x/../../logout", "/.partnergate/admin/./x",
		"/.partnergate/admin/%2e%2e/logout", "/.partnergate/admin/%2E%2E/logout", "/.partnergate/admin/..%2flogout",
		"/.partnergate/admin/%252e%252e/logout", "/.partnergate/admin//evil.example", "/.partnergate/admin/%2f%2fevil.example",
		"/.partnergate/admin/x/..", "/.partnergate/%61dmin/", "/.partnergate/admin\\..\\logout",
		"/.partnergate/account/security/", "/.partnergate/account/security/remove", "/.partnergate/account/security?removed=1",
		"/.partnergate/account/security#x", "/.partnergate/Account/Security", "/.partnergate/account/%73ecurity",
		"/.partnergate/account/security/../../logout", "/.partnergate/logout?next=/.partnergate/admin/",
	}
	for _, in := range refused {
		if got := safeReturnPath(in, DefaultPrefix); got != "/" {
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
