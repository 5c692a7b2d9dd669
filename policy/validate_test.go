package policy

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestValidate: each bad value is reported once, on its field, and a
// valid policy, full or sparse, has no problem.
func TestValidate(t *testing.T) {
	if p := Default().Validate(); p != nil {
		t.Fatalf("Default().Validate() = %+v", p)
	}
	if p := (Policy{MFA: &MFA{Required: ptr(true)}}).Validate(); p != nil {
		t.Fatalf("a sparse partner policy: %+v", p)
	}
	tests := []struct {
		name   string
		change func(p *Policy)
		field  string
		says   string
	}{
		{"unknown method", func(p *Policy) { p.MFA.Methods = []Method{TOTP, "email"} }, "mfa.methods", `"email" is not a known method`},
		{"duplicate method", func(p *Policy) { p.MFA.Methods = []Method{TOTP, TOTP} }, "mfa.methods", "twice"},
		{"mfa required without methods", func(p *Policy) { p.MFA.Required = ptr(true); p.MFA.Methods = []Method{} }, "mfa.methods", "no method"},
		{"zero lifetime", func(p *Policy) { p.Session.MaxLifetime = dur(0) }, "session.max_lifetime", "longer than 0"},
		{"negative lifetime", func(p *Policy) { p.Session.MaxLifetime = dur(-time.Hour) }, "session.max_lifetime", "longer than 0"},
		{"zero idle", func(p *Policy) { p.Session.IdleTimeout = dur(0) }, "session.idle_timeout", "longer than 0"},
		{"idle past lifetime", func(p *Policy) { p.Session.IdleTimeout = dur(13 * time.Hour) }, "session.idle_timeout", "longer than session.max_lifetime 12h0m0s"},
		{"negative remember", func(p *Policy) { p.Session.RememberDevice = dur(-time.Hour) }, "session.remember_device", "negative"},
		{"negative min length", func(p *Policy) { p.Password.MinLength = ptr(-1) }, "password.min_length", "negative"},
		{"huge min length", func(p *Policy) { p.Password.MinLength = ptr(1025) }, "password.min_length", "at most 1024"},
		{"unknown class", func(p *Policy) { p.Password.Require = []CharClass{"emoji"} }, "password.require", `"emoji" is not a known character class`},
		{"duplicate class", func(p *Policy) { p.Password.Require = []CharClass{Digit, Digit} }, "password.require", "twice"},
		{"negative history", func(p *Policy) { p.Password.History = ptr(-2) }, "password.history", "negative"},
		{"negative max age", func(p *Policy) { p.Password.MaxAge = dur(-day) }, "password.max_age", "negative"},
		{"unknown passwordless", func(p *Policy) { p.Password.Passwordless = ptr(Passwordless("sometimes")) }, "password.passwordless", `"sometimes"`},
		{"negative threshold", func(p *Policy) { p.Lockout.Threshold = ptr(-1) }, "lockout.threshold", "negative"},
		{"huge threshold", func(p *Policy) { p.Lockout.Threshold = ptr(1001) }, "lockout.threshold", "at most 1000"},
		{"negative lockout", func(p *Policy) { p.Lockout.Duration = dur(-time.Minute) }, "lockout.duration", "negative"},
		{"invalid range", func(p *Policy) { p.AllowedIPRanges = []netip.Prefix{{}} }, "allowed_ip_ranges", "entry 0"},
		{"non-canonical range", func(p *Policy) { p.AllowedIPRanges = prefixes("10.0.0.1/8") }, "allowed_ip_ranges", "use 10.0.0.0/8"},
		{"mapped range", func(p *Policy) { p.AllowedIPRanges = prefixes("::ffff:10.0.0.0/104") }, "allowed_ip_ranges", "as IPv4"},
		{"duplicate range", func(p *Policy) { p.AllowedIPRanges = prefixes("10.0.0.0/8", "10.0.0.0/8") }, "allowed_ip_ranges", "twice"},
		{"too many ranges", func(p *Policy) {
			for i := range 101 {
				p.AllowedIPRanges = append(p.AllowedIPRanges, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
			}
		}, "allowed_ip_ranges", "at most 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := base(tt.change).Validate()
			if len(got) != 1 || got[0].Field != tt.field || !strings.Contains(got[0].Message, tt.says) {
				t.Errorf("Validate = %+v, want one problem on %s saying %q", got, tt.field, tt.says)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	full := base(func(p *Policy) {
		p.MFA.Required = ptr(true)
		p.Password.Require = []CharClass{Upper, Digit}
		p.Password.MaxAge = dur(90 * day)
		p.AllowedIPRanges = prefixes("10.0.0.0/8", "2001:db8::/32")
	})
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var back Policy
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, full) {
		t.Errorf("round trip of %s = %+v, want %+v", b, back, full)
	}
	if !strings.Contains(string(b), `"max_lifetime":"12h0m0s"`) || !strings.Contains(string(b), `"allowed_ip_ranges":["10.0.0.0/8","2001:db8::/32"]`) {
		t.Errorf("JSON = %s", b)
	}

	// A sparse partner policy keeps its unset fields unset, and a set empty
	// list set, so it inherits exactly what it left out.
	for text, want := range map[string]Policy{
		`{"mfa":{"required":true}}`: {MFA: &MFA{Required: ptr(true)}},
		`{"mfa":{"methods":[]},"session":{"max_lifetime":"8h"}}`: {
			MFA: &MFA{Methods: []Method{}}, Session: &Session{MaxLifetime: dur(8 * time.Hour)},
		},
	} {
		var p Policy
		if err := json.Unmarshal([]byte(text), &p); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("%s decodes to %+v, want %+v", text, p, want)
		}
	}
	var p Policy
	if err := json.Unmarshal([]byte(`{"mfa":{"required":true}}`), &p); err != nil {
		t.Fatal(err)
	}
	if u := p.Unset(); len(u) != len(fields)-1 {
		t.Errorf("sparse policy Unset = %v, want all but mfa.required", u)
	}
	if b, _ := json.Marshal(p); string(b) != `{"mfa":{"required":true}}` {
		t.Errorf("re-encoded as %s", b)
	}
	if err := json.Unmarshal([]byte(`{"session":{"max_lifetime":8}}`), &p); err == nil {
		t.Error("a number decoded as a duration")
	}
}
