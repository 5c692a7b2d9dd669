package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/policy"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	base := Rule{MinLength: 12}
	classes := func(cs ...policy.CharClass) Rule { return Rule{MinLength: 4, Require: cs} }
	tests := []struct {
		name  string
		rule  Rule
		plain string
		want  error
		msg   string
	}{
		{"twelve ascii", base, "abcdefghijkl", nil, ""},
		{"eleven ascii", base, "abcdefghijk", ErrTooShort, "password must be at least 12 characters"},
		{"empty", base, "", ErrTooShort, ""},
		{"empty, no minimum", Rule{}, "", ErrTooShort, "password must be at least 1 characters"},
		{"twelve runes, more bytes", base, "密码密码密码密码密码密码", nil, ""},
		{"eleven runes, 33 bytes", base, "密码密码密码密码密码密", ErrTooShort, ""},
		{"fourteen minimum", Rule{MinLength: 14}, "abcdefghijklm", ErrTooShort, "password must be at least 14 characters"},
		{"max bytes", base, strings.Repeat("a", 1024), nil, ""},
		{"over max bytes", base, strings.Repeat("a", 1025), ErrTooLong, ""},
		{"over max bytes, any minimum", Rule{MinLength: 2000}, strings.Repeat("a", 1025), ErrTooLong, ""},
		{"all spaces", base, strings.Repeat(" ", 12), ErrBlank, ""},
		{"all mixed whitespace", base, strings.Repeat(" \t\n\u00a0", 4), ErrBlank, ""},
		{"spaces inside", base, "correct horse battery staple", nil, ""},
		{"invalid utf-8", base, strings.Repeat("\xff", 12), ErrInvalidUTF8, ""},

		{"upper present", classes(policy.Upper), "abcD", nil, ""},
		{"upper absent", classes(policy.Upper), "abcd", ErrMissingClass, "password must include an upper-case letter"},
		{"non-latin upper", classes(policy.Upper), "abcÄ", nil, ""},
		{"lower absent", classes(policy.Lower), "ABCD", ErrMissingClass, "password must include a lower-case letter"},
		{"digit present", classes(policy.Digit), "abc7", nil, ""},
		{"non-ascii digit", classes(policy.Digit), "abc٣", nil, ""},
		{"digit absent", classes(policy.Digit), "abcd", ErrMissingClass, "password must include a digit"},
		{"symbol present", classes(policy.Symbol), "abc!", nil, ""},
		{"symbol as currency", classes(policy.Symbol), "abc€", nil, ""},
		{"space is no symbol", classes(policy.Symbol), "ab cd", ErrMissingClass, "password must include a symbol"},
		{"upper and digit absent", classes(policy.Digit, policy.Upper), "abcd", ErrMissingClass, "password must include an upper-case letter and a digit"},
		{"three absent", classes(policy.Symbol, policy.Digit, policy.Upper, policy.Lower), "abcd", ErrMissingClass, "password must include an upper-case letter, a digit and a symbol"},
		{"all four present", classes(policy.CharClasses...), "aB3$", nil, ""},
		{"one of two present", classes(policy.Upper, policy.Digit), "abcD", ErrMissingClass, "password must include a digit"},
		{"caseless script has no case", classes(policy.Lower), "密码密码", ErrMissingClass, ""},

		{"common", Rule{MinLength: 6, BlockCommon: true}, "password", ErrCommon, "this password is too common; choose another"},
		{"common, other case", Rule{MinLength: 6, BlockCommon: true}, "PassWord", ErrCommon, ""},
		{"common, long", Rule{MinLength: 12, BlockCommon: true}, "Qwerty123456", ErrCommon, ""},
		{"common, not blocked", Rule{MinLength: 6}, "password", nil, ""},
		{"uncommon", Rule{MinLength: 12, BlockCommon: true}, "correct horse battery staple", nil, ""},
		{"too short before common", Rule{MinLength: 12, BlockCommon: true}, "password", ErrTooShort, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.rule.Check(tt.plain, nil)
			if !errors.Is(got, tt.want) {
				t.Fatalf("Check(%q) = %v, want %v", tt.plain, got, tt.want)
			}
			if tt.msg != "" && got.Error() != tt.msg {
				t.Errorf("Check(%q) says %q, want %q", tt.plain, got, tt.msg)
			}
		})
	}
}

func TestCommonList(t *testing.T) {
	t.Parallel()
	if n := len(common()); n < 10_000 {
		t.Fatalf("the common list holds %d passwords, want at least 10000", n)
	}
	for _, p := range []string{"123456", "password", "qwerty", "letmein", "iloveyou", "QWERTY", "Dragon"} {
		if !IsCommon(p) {
			t.Errorf("IsCommon(%q) = false", p)
		}
	}
	for _, p := range []string{"", "correct horse battery staple", "vq7#Lm2!pZ"} {
		if IsCommon(p) {
			t.Errorf("IsCommon(%q) = true", p)
		}
	}
}

func TestCheckHistory(t *testing.T) {
	t.Parallel()
	hashes := make([]string, 3)
	for i, p := range []string{"newest passphrase", "middle passphrase", "oldest passphrase"} {
		h, err := Hash(p)
		if err != nil {
			t.Fatal(err)
		}
		hashes[i] = h
	}
	tests := []struct {
		name    string
		history int
		plain   string
		want    error
		msg     string
	}{
		{"current, history 1", 1, "newest passphrase", ErrReused, "password must differ from your current password"},
		{"second, history 1", 1, "middle passphrase", nil, ""},
		{"second, history 2", 2, "middle passphrase", ErrReused, "password must differ from your last 2 passwords"},
		{"third, history 2", 2, "oldest passphrase", nil, ""},
		{"third, history 5", 5, "oldest passphrase", ErrReused, "password must differ from your last 5 passwords"},
		{"current, history 0", 0, "newest passphrase", nil, ""},
		{"new one", 5, "a different passphrase", nil, ""},
		{"other case", 5, "Newest passphrase", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Rule{MinLength: 12, History: tt.history}
			got := r.Check(tt.plain, hashes)
			if !errors.Is(got, tt.want) {
				t.Fatalf("Check(%q) = %v, want %v", tt.plain, got, tt.want)
			}
			if tt.msg != "" && got.Error() != tt.msg {
				t.Errorf("Check(%q) says %q, want %q", tt.plain, got, tt.msg)
			}
		})
	}
	t.Run("malformed and empty hashes match nothing", func(t *testing.T) {
		t.Parallel()
		r := Rule{MinLength: 12, History: 3}
		if err := r.Check("newest passphrase", []string{"", "not a hash", hashes[1]}); err != nil {
			t.Errorf("Check = %v", err)
		}
	})
}

func TestCheckMessagesDoNotEcho(t *testing.T) {
	t.Parallel()
	r := Rule{MinLength: 12, Require: policy.CharClasses, BlockCommon: true}
	for _, plain := range []string{"short-secret", "tiny", "longenoughbutplain", strings.Repeat("z", 2000)} {
		if err := r.Check(plain, nil); err != nil && strings.Contains(err.Error(), plain) {
			t.Errorf("message %q repeats the password", err)
		}
	}
}

func TestRuleOf(t *testing.T) {
	t.Parallel()
	d := RuleOf(policy.Default())
	if d.MinLength != 12 || !d.BlockCommon || d.History != 0 || len(d.Require) != 0 {
		t.Errorf("RuleOf(Default()) = %+v", d)
	}
	p := policy.Default()
	n, h := 16, 5
	p.Password.MinLength, p.Password.History = &n, &h
	p.Password.Require = []policy.CharClass{policy.Digit}
	if got := RuleOf(p); got.MinLength != 16 || got.History != 5 || !slices.Equal(got.Require, []policy.CharClass{policy.Digit}) {
		t.Errorf("RuleOf = %+v", got)
	}
}

func TestRemember(t *testing.T) {
	t.Parallel()
	many := make([]string, 30)
	for i := range many {
		many[i] = string(rune('a' + i%26))
	}
	tests := []struct {
		name     string
		history  []string
		replaced string
		keep     int
		want     []string
	}{
		{"first change", nil, "h1", 5, []string{"h1"}},
		{"newest first", []string{"h1"}, "h2", 5, []string{"h2", "h1"}},
		{"trimmed to keep", []string{"h2", "h1"}, "h3", 2, []string{"h3", "h2"}},
		{"keep 0 clears", []string{"h1"}, "h2", 0, nil},
		{"no old password", []string{"h1"}, "", 5, []string{"h1"}},
		{"capped", many, "new", 100, append([]string{"new"}, many[:MaxHistory-1]...)},
	}
	for _, tt := range tests {
		if got := Remember(tt.history, tt.replaced, tt.keep); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Remember = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := Previous("cur", []string{"h1"}); !slices.Equal(got, []string{"cur", "h1"}) {
		t.Errorf("Previous = %v", got)
	}
	if got := Previous("", []string{"h1"}); !slices.Equal(got, []string{"h1"}) {
		t.Errorf("Previous without a password = %v", got)
	}
}

func TestExpired(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name    string
		changed time.Time
		maxAge  time.Duration
		want    bool
	}{
		{"no max age", now.Add(-1000 * day), 0, false},
		{"fresh", now.Add(-day), 90 * day, false},
		{"just under", now.Add(-90*day + time.Second), 90 * day, false},
		{"exactly max age", now.Add(-90 * day), 90 * day, true},
		{"old", now.Add(-100 * day), 90 * day, true},
		{"never recorded", time.Time{}, 90 * day, false},
	}
	for _, tt := range tests {
		if got := Expired(tt.changed, tt.maxAge, now); got != tt.want {
			t.Errorf("%s: Expired = %v, want %v", tt.name, got, tt.want)
		}
	}
}
