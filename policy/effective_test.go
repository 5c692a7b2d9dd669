package policy

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

func dur(d time.Duration) *Duration { return ptr(Duration(d)) }

func prefixes(s ...string) []netip.Prefix {
	out := []netip.Prefix{}
	for _, v := range s {
		out = append(out, netip.MustParsePrefix(v))
	}
	return out
}

// base is Default with changes applied to a copy.
func base(change func(p *Policy)) Policy {
	p := Fill(Default(), Policy{})
	change(&p)
	return p
}

// TestEffectiveAndLoosensPerField pins each field's strictness rule: the
// effective value and whether the partner's value loosens the baseline.
func TestEffectiveAndLoosensPerField(t *testing.T) {
	tests := []struct {
		name     string
		baseline Policy
		partner  Policy
		field    string
		want     string // the effective value as JSON
		loosens  bool
	}{
		{"mfa required tightens", base(func(p *Policy) { p.MFA.Required = ptr(false) }), Policy{MFA: &MFA{Required: ptr(true)}}, "mfa.required", `true`, false},
		{"mfa optional loosens", base(func(p *Policy) { p.MFA.Required = ptr(true) }), Policy{MFA: &MFA{Required: ptr(false)}}, "mfa.required", `true`, true},
		{"idp mfa refused tightens", base(func(*Policy) {}), Policy{MFA: &MFA{AcceptIdPMFA: ptr(false)}}, "mfa.accept_idp_mfa", `false`, false},
		{"idp mfa accepted loosens", base(func(p *Policy) { p.MFA.AcceptIdPMFA = ptr(false) }), Policy{MFA: &MFA{AcceptIdPMFA: ptr(true)}}, "mfa.accept_idp_mfa", `false`, true},
		{"methods subset in canonical order", base(func(*Policy) {}), Policy{MFA: &MFA{Methods: []Method{SMS, TOTP}}}, "mfa.methods", `["totp","sms"]`, false},
		{"methods none", base(func(*Policy) {}), Policy{MFA: &MFA{Methods: []Method{}}}, "mfa.methods", `[]`, false},
		{"methods beyond baseline", base(func(p *Policy) { p.MFA.Methods = []Method{TOTP} }), Policy{MFA: &MFA{Methods: []Method{TOTP, SMS}}}, "mfa.methods", `["totp"]`, true},
		{"methods disjoint", base(func(p *Policy) { p.MFA.Methods = []Method{TOTP} }), Policy{MFA: &MFA{Methods: []Method{SMS}}}, "mfa.methods", `[]`, true},
		{"lifetime shorter", base(func(p *Policy) { p.Session.MaxLifetime = dur(8 * time.Hour) }), Policy{Session: &Session{MaxLifetime: dur(4 * time.Hour)}}, "session.max_lifetime", `"4h0m0s"`, false},
		{"lifetime longer", base(func(p *Policy) { p.Session.MaxLifetime = dur(8 * time.Hour) }), Policy{Session: &Session{MaxLifetime: dur(24 * time.Hour)}}, "session.max_lifetime", `"8h0m0s"`, true},
		{"idle longer", base(func(p *Policy) { p.Session.IdleTimeout = dur(30 * time.Minute) }), Policy{Session: &Session{IdleTimeout: dur(time.Hour)}}, "session.idle_timeout", `"30m0s"`, true},
		{"idle shorter", base(func(*Policy) {}), Policy{Session: &Session{IdleTimeout: dur(10 * time.Minute)}}, "session.idle_timeout", `"10m0s"`, false},
		{"remember device when baseline off", base(func(*Policy) {}), Policy{Session: &Session{RememberDevice: dur(30 * day)}}, "session.remember_device", `"0s"`, true},
		{"remember device off", base(func(p *Policy) { p.Session.RememberDevice = dur(30 * day) }), Policy{Session: &Session{RememberDevice: dur(0)}}, "session.remember_device", `"0s"`, false},
		{"remember device shorter", base(func(p *Policy) { p.Session.RememberDevice = dur(30 * day) }), Policy{Session: &Session{RememberDevice: dur(day)}}, "session.remember_device", `"24h0m0s"`, false},
		{"min length up", base(func(*Policy) {}), Policy{Password: &Password{MinLength: ptr(16)}}, "password.min_length", `16`, false},
		{"min length down", base(func(*Policy) {}), Policy{Password: &Password{MinLength: ptr(8)}}, "password.min_length", `12`, true},
		{"require more", base(func(p *Policy) { p.Password.Require = []CharClass{Upper} }), Policy{Password: &Password{Require: []CharClass{Digit, Upper, Lower}}}, "password.require", `["upper","lower","digit"]`, false},
		{"require others is a union but drops upper", base(func(p *Policy) { p.Password.Require = []CharClass{Upper} }), Policy{Password: &Password{Require: []CharClass{Digit, Lower}}}, "password.require", `["upper","lower","digit"]`, true},
		{"require drops a class", base(func(p *Policy) { p.Password.Require = []CharClass{Upper, Digit} }), Policy{Password: &Password{Require: []CharClass{Digit}}}, "password.require", `["upper","digit"]`, true},
		{"history up", base(func(p *Policy) { p.Password.History = ptr(5) }), Policy{Password: &Password{History: ptr(10)}}, "password.history", `10`, false},
		{"history down", base(func(p *Policy) { p.Password.History = ptr(5) }), Policy{Password: &Password{History: ptr(3)}}, "password.history", `5`, true},
		{"max age set where none", base(func(*Policy) {}), Policy{Password: &Password{MaxAge: dur(90 * day)}}, "password.max_age", `"2160h0m0s"`, false},
		{"max age never loosens", base(func(p *Policy) { p.Password.MaxAge = dur(90 * day) }), Policy{Password: &Password{MaxAge: dur(0)}}, "password.max_age", `"2160h0m0s"`, true},
		{"max age shorter", base(func(p *Policy) { p.Password.MaxAge = dur(90 * day) }), Policy{Password: &Password{MaxAge: dur(30 * day)}}, "password.max_age", `"720h0m0s"`, false},
		{"max age longer", base(func(p *Policy) { p.Password.MaxAge = dur(30 * day) }), Policy{Password: &Password{MaxAge: dur(90 * day)}}, "password.max_age", `"720h0m0s"`, true},
		{"max age both never", base(func(*Policy) {}), Policy{Password: &Password{MaxAge: dur(0)}}, "password.max_age", `"0s"`, false},
		{"passwordless allowed to off", base(func(*Policy) {}), Policy{Password: &Password{Passwordless: ptr(PasswordlessOff)}}, "password.passwordless", `"off"`, false},
		{"passwordless off to allowed", base(func(p *Policy) { p.Password.Passwordless = ptr(PasswordlessOff) }), Policy{Password: &Password{Passwordless: ptr(PasswordlessAllowed)}}, "password.passwordless", `"off"`, true},
		{"passwordless off to required", base(func(p *Policy) { p.Password.Passwordless = ptr(PasswordlessOff) }), Policy{Password: &Password{Passwordless: ptr(PasswordlessRequired)}}, "password.passwordless", `"required"`, false},
		{"passwordless required to off", base(func(p *Policy) { p.Password.Passwordless = ptr(PasswordlessRequired) }), Policy{Password: &Password{Passwordless: ptr(PasswordlessOff)}}, "password.passwordless", `"required"`, true},
		{"passwordless allowed to required", base(func(*Policy) {}), Policy{Password: &Password{Passwordless: ptr(PasswordlessRequired)}}, "password.passwordless", `"required"`, false},
		{"common passwords allowed", base(func(*Policy) {}), Policy{Password: &Password{BlockCommon: ptr(false)}}, "password.block_common", `true`, true},
		{"threshold lower", base(func(*Policy) {}), Policy{Lockout: &Lockout{Threshold: ptr(3)}}, "lockout.threshold", `3`, false},
		{"threshold higher", base(func(*Policy) {}), Policy{Lockout: &Lockout{Threshold: ptr(10)}}, "lockout.threshold", `5`, true},
		{"threshold off", base(func(*Policy) {}), Policy{Lockout: &Lockout{Threshold: ptr(0)}}, "lockout.threshold", `5`, true},
		{"threshold set where none", base(func(p *Policy) { p.Lockout.Threshold = ptr(0) }), Policy{Lockout: &Lockout{Threshold: ptr(10)}}, "lockout.threshold", `10`, false},
		{"threshold both off", base(func(p *Policy) { p.Lockout.Threshold = ptr(0) }), Policy{Lockout: &Lockout{Threshold: ptr(0)}}, "lockout.threshold", `0`, false},
		{"lockout longer", base(func(*Policy) {}), Policy{Lockout: &Lockout{Duration: dur(time.Hour)}}, "lockout.duration", `"1h0m0s"`, false},
		{"lockout shorter", base(func(*Policy) {}), Policy{Lockout: &Lockout{Duration: dur(5 * time.Minute)}}, "lockout.duration", `"15m0s"`, true},
		{"sso required", base(func(*Policy) {}), Policy{SSORequired: ptr(true)}, "sso_required", `true`, false},
		{"sso optional", base(func(p *Policy) { p.SSORequired = ptr(true) }), Policy{SSORequired: ptr(false)}, "sso_required", `true`, true},
		{"ranges where every address", base(func(*Policy) {}), Policy{AllowedIPRanges: prefixes("10.0.0.0/8")}, "allowed_ip_ranges", `["10.0.0.0/8"]`, false},
		{"ranges every address", base(func(p *Policy) { p.AllowedIPRanges = prefixes("10.0.0.0/8") }), Policy{AllowedIPRanges: []netip.Prefix{}}, "allowed_ip_ranges", `["10.0.0.0/8"]`, true},
		{"ranges narrower", base(func(p *Policy) { p.AllowedIPRanges = prefixes("10.0.0.0/8", "192.168.1.0/24") }), Policy{AllowedIPRanges: prefixes("10.1.0.0/16")}, "allowed_ip_ranges", `["10.1.0.0/16"]`, false},
		{"ranges partly outside", base(func(p *Policy) { p.AllowedIPRanges = prefixes("10.0.0.0/8") }), Policy{AllowedIPRanges: prefixes("10.1.0.0/16", "192.168.0.0/16")}, "allowed_ip_ranges", `["10.1.0.0/16"]`, true},
		{"ranges wider than one baseline prefix", base(func(p *Policy) { p.AllowedIPRanges = prefixes("10.0.0.0/16") }), Policy{AllowedIPRanges: prefixes("10.0.0.0/8")}, "allowed_ip_ranges", `["10.0.0.0/16"]`, true},
		{"ranges covered by two baseline prefixes", base(func(p *Policy) { p.AllowedIPRanges = prefixes("10.0.0.0/9", "10.128.0.0/9") }), Policy{AllowedIPRanges: prefixes("10.0.0.0/8")}, "allowed_ip_ranges", `["10.0.0.0/9","10.128.0.0/9"]`, false},
		{"ranges normalized", base(func(p *Policy) { p.AllowedIPRanges = prefixes("10.0.0.0/8") }), Policy{AllowedIPRanges: prefixes("10.1.2.0/24", "10.1.0.0/16", "10.1.0.0/16")}, "allowed_ip_ranges", `["10.1.0.0/16"]`, false},
		{"ranges disjoint keep the baseline's", base(func(p *Policy) { p.AllowedIPRanges = prefixes("10.0.0.0/8") }), Policy{AllowedIPRanges: prefixes("192.168.0.0/16")}, "allowed_ip_ranges", `["10.0.0.0/8"]`, true},
		{"ranges ipv6", base(func(p *Policy) { p.AllowedIPRanges = prefixes("2001:db8::/32") }), Policy{AllowedIPRanges: prefixes("2001:db8:1::/48", "10.0.0.0/8")}, "allowed_ip_ranges", `["2001:db8:1::/48"]`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eff := Effective(tt.baseline, tt.partner)
			if got := fieldAt(tt.field).value(eff); got != tt.want {
				t.Errorf("Effective %s = %s, want %s", tt.field, got, tt.want)
			}
			v := Loosens(tt.baseline, tt.partner)
			if tt.loosens != (len(v) > 0) {
				t.Fatalf("Loosens = %+v, want loosening %v", v, tt.loosens)
			}
			if tt.loosens && (len(v) != 1 || v[0].Field != tt.field) {
				t.Errorf("Loosens = %+v, want only %s", v, tt.field)
			}
		})
	}
}

// TestLoosensNamesAskedAndLimit pins the 422's content: every loosened
// field, in field order, with the asked and limit values as JSON text.
func TestLoosensNamesAskedAndLimit(t *testing.T) {
	b := base(func(p *Policy) {
		p.MFA.Required = ptr(true)
		p.Session.MaxLifetime = dur(4 * time.Hour)
		p.AllowedIPRanges = prefixes("10.0.0.0/8")
	})
	partner := Policy{
		AllowedIPRanges: prefixes("192.168.0.0/16"),
		Session:         &Session{MaxLifetime: dur(8 * time.Hour)},
		MFA:             &MFA{Required: ptr(false), Methods: []Method{TOTP}},
	}
	v := Loosens(b, partner)
	want := []struct{ field, asked, limit string }{
		{"mfa.required", `false`, `true`},
		{"session.max_lifetime", `"8h0m0s"`, `"4h0m0s"`},
		{"allowed_ip_ranges", `["192.168.0.0/16"]`, `["10.0.0.0/8"]`},
	}
	if len(v) != len(want) {
		t.Fatalf("Loosens = %+v, want %d violations", v, len(want))
	}
	for i, w := range want {
		if v[i].Field != w.field || v[i].Asked != w.asked || v[i].Limit != w.limit {
			t.Errorf("violation %d = %+v, want %+v", i, v[i], w)
		}
		if !strings.HasPrefix(v[i].Message, w.field+" ") {
			t.Errorf("message %q does not name %s", v[i].Message, w.field)
		}
	}
	if !strings.Contains(v[2].Message, "share no address") {
		t.Errorf("disjoint ranges message = %q", v[2].Message)
	}
	if got, _ := json.Marshal(v[1]); string(got) != `{"field":"session.max_lifetime","asked":"\"8h0m0s\"","limit":"\"4h0m0s\"","message":"session.max_lifetime \"8h0m0s\" is looser than the platform's \"4h0m0s\": a partner may only shorten the session lifetime"}` {
		t.Errorf("violation JSON = %s", got)
	}
	if v := Loosens(b, Policy{}); v != nil {
		t.Errorf("an empty partner policy loosens: %+v", v)
	}
}

// TestOverridden covers the operator tightening the baseline after the
// partner wrote its policy.
func TestOverridden(t *testing.T) {
	partner := Policy{
		Session:  &Session{MaxLifetime: dur(8 * time.Hour)},
		MFA:      &MFA{Methods: []Method{TOTP, WebAuthn}},
		Password: &Password{MinLength: ptr(16)},
	}
	before := base(func(p *Policy) { p.Session.MaxLifetime = dur(12 * time.Hour) })
	if got := Overridden(before, partner); got != nil {
		t.Errorf("before tightening Overridden = %v, want none", got)
	}
	after := base(func(p *Policy) {
		p.Session.MaxLifetime = dur(4 * time.Hour)   // tighter than the partner's 8h
		p.Session.IdleTimeout = dur(5 * time.Minute) // the partner left it unset
		p.Password.MinLength = ptr(14)               // the partner's 16 is still stricter
	})
	if got := Overridden(after, partner); !slices.Equal(got, []string{"session.max_lifetime"}) {
		t.Errorf("after tightening Overridden = %v, want [session.max_lifetime]", got)
	}
	if got := Effective(after, partner).MaxLifetime(); got != 4*time.Hour {
		t.Errorf("effective max lifetime = %v, want the tightened baseline's 4h", got)
	}
}

// TestEffectiveIsCompleteAndUnaliased: an incomplete baseline is completed
// from Default, and changing the result cannot change either input.
func TestEffectiveIsCompleteAndUnaliased(t *testing.T) {
	b := Policy{SSORequired: ptr(true), MFA: &MFA{Methods: []Method{TOTP}}}
	p := Policy{MFA: &MFA{Methods: []Method{TOTP}}, AllowedIPRanges: prefixes("10.0.0.0/8")}
	eff := Effective(b, p)
	if u := eff.Unset(); u != nil {
		t.Fatalf("Effective leaves %v unset", u)
	}
	if !eff.SSOIsRequired() || eff.MinLength() != 12 {
		t.Errorf("Effective = %+v, want the baseline's sso and Default's min length", eff)
	}
	eff.MFA.Methods[0] = SMS
	eff.AllowedIPRanges[0] = netip.MustParsePrefix("0.0.0.0/0")
	if b.MFA.Methods[0] != TOTP || p.MFA.Methods[0] != TOTP || p.AllowedIPRanges[0].String() != "10.0.0.0/8" {
		t.Error("changing Effective's result changed an input")
	}
}

func TestUnsetAndFill(t *testing.T) {
	if u := Default().Unset(); u != nil {
		t.Errorf("Default leaves %v unset", u)
	}
	all := Policy{}.Unset()
	if len(all) != len(fields) || all[0] != "mfa.required" || all[len(all)-1] != "allowed_ip_ranges" {
		t.Errorf("Policy{}.Unset() = %v", all)
	}
	p := Policy{Lockout: &Lockout{Threshold: ptr(3)}, Password: &Password{Require: []CharClass{}}}
	if got := p.Unset(); slices.Contains(got, "lockout.threshold") || slices.Contains(got, "password.require") || !slices.Contains(got, "lockout.duration") {
		t.Errorf("Unset = %v", got)
	}
	f := Fill(p, Default())
	if f.Unset() != nil || f.LockoutThreshold() != 3 || f.LockoutDuration() != 15*time.Minute {
		t.Errorf("Fill = %+v", f)
	}
	if f.Password.Require == nil || len(f.Password.Require) != 0 {
		t.Errorf("Fill lost the set empty require list: %#v", f.Password.Require)
	}
}

func TestAllowsIPAndAccessors(t *testing.T) {
	p := Policy{AllowedIPRanges: prefixes("10.0.0.0/8", "2001:db8::/32")}
	for ip, want := range map[string]bool{
		"10.1.2.3": true, "::ffff:10.1.2.3": true, "11.0.0.1": false, "2001:db8::1": true, "2001:db9::1": false,
	} {
		if got := p.AllowsIP(netip.MustParseAddr(ip)); got != want {
			t.Errorf("AllowsIP(%s) = %v, want %v", ip, got, want)
		}
	}
	if !(Policy{}).AllowsIP(netip.MustParseAddr("192.0.2.1")) {
		t.Error("an empty list refuses an address")
	}

	d := Default()
	got := []any{d.MFARequired(), d.MFAMethods(), d.AcceptIdPMFA(), d.MaxLifetime(), d.IdleTimeout(), d.RememberDevice(),
		d.MinLength(), d.Requires(), d.History(), d.MaxAge(), d.PasswordlessMode(), d.BlockCommon(),
		d.LockoutThreshold(), d.LockoutDuration(), d.SSOIsRequired()}
	want := []any{false, Methods, true, 12 * time.Hour, time.Hour, time.Duration(0),
		12, []CharClass{}, 0, time.Duration(0), PasswordlessAllowed, true,
		5, 15 * time.Minute, false}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("accessors = %v, want %v", got, want)
	}
	var empty Policy
	if empty.MFARequired() || empty.MFAMethods() != nil || empty.MaxLifetime() != 0 || empty.PasswordlessMode() != "" {
		t.Error("accessors on unset fields are not zero")
	}
}
