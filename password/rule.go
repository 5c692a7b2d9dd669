package password

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/partnergate/partnergate/policy"
)

// maxBytes bounds the hashing work per request, whatever the policy.
const maxBytes = 1024

// MaxHistory is the most old password hashes a user keeps, whatever the
// policy's history asks for: each is one argon2 verification per change.
const MaxHistory = 24

// Errors a Rule's Check returns, or wraps. Every message Check gives is
// safe to show to the person who chose the password; it names the rule,
// never the password.
var (
	ErrTooShort     = errors.New("password is too short")
	ErrTooLong      = errors.New("password must be at most 1024 bytes")
	ErrBlank        = errors.New("password must not be only whitespace")
	ErrInvalidUTF8  = errors.New("password must be valid UTF-8 text")
	ErrMissingClass = errors.New("password lacks a required kind of character")
	ErrCommon       = errors.New("this password is too common; choose another")
	ErrReused       = errors.New("password was used before")
)

// ruleError is a refusal with a message naming the policy's numbers; it
// matches its kind with errors.Is.
type ruleError struct {
	kind error
	msg  string
}

func (e *ruleError) Error() string { return e.msg }
func (e *ruleError) Unwrap() error { return e.kind }

// Rule is what a new password must meet: a partner's effective policy's
// password rules (RuleOf).
type Rule struct {
	// MinLength is the fewest characters (runes); forms use it for their
	// minlength hint.
	MinLength int
	// Require are the classes of character the password must each hold.
	Require []policy.CharClass
	// History is how many of the user's passwords, the current one
	// first, the new one must differ from.
	History int
	// BlockCommon refuses the passwords of the common list.
	BlockCommon bool
}

// RuleOf is the password rule of an effective policy.
func RuleOf(p policy.Policy) Rule {
	return Rule{MinLength: p.MinLength(), Require: p.Requires(), History: p.History(), BlockCommon: p.BlockCommon()}
}

// Check reports whether plain meets the rule. Length is counted in
// characters (runes), so a password in any script is judged alike.
// previous are the encoded hashes of the user's current and past
// passwords, newest first (Previous gives them); only the first History
// are compared, each at the cost of an argon2 hash, so callers check in
// one of their bounded hashing slots. The checks run cheapest first.
func (r Rule) Check(plain string, previous []string) error {
	switch {
	case len(plain) > maxBytes:
		return ErrTooLong
	case !utf8.ValidString(plain):
		return ErrInvalidUTF8
	case utf8.RuneCountInString(plain) < max(r.MinLength, 1):
		return &ruleError{ErrTooShort, fmt.Sprintf("password must be at least %d characters", max(r.MinLength, 1))}
	case strings.TrimSpace(plain) == "":
		return ErrBlank
	}
	if missing := missingClasses(plain, r.Require); len(missing) > 0 {
		return &ruleError{ErrMissingClass, "password must include " + joinAnd(missing)}
	}
	if r.BlockCommon && IsCommon(plain) {
		return ErrCommon
	}
	if r.History > 0 {
		n := 0
		for _, h := range previous {
			if n == r.History {
				break
			}
			if h == "" {
				continue
			}
			n++
			// A malformed hash matches nothing.
			if ok, _ := Verify(h, plain); ok {
				return r.reused()
			}
		}
	}
	return nil
}

func (r Rule) reused() error {
	if r.History == 1 {
		return &ruleError{ErrReused, "password must differ from your current password"}
	}
	return &ruleError{ErrReused, fmt.Sprintf("password must differ from your last %d passwords", r.History)}
}

var classNames = map[policy.CharClass]string{
	policy.Upper:  "an upper-case letter",
	policy.Lower:  "a lower-case letter",
	policy.Digit:  "a digit",
	policy.Symbol: "a symbol",
}

// missingClasses names the required classes plain lacks, in the order
// policy.CharClasses shows them. A symbol is any punctuation or symbol
// character; letters of scripts without case count as neither upper nor
// lower case.
func missingClasses(plain string, require []policy.CharClass) []string {
	if len(require) == 0 {
		return nil
	}
	has := map[policy.CharClass]bool{}
	for _, c := range plain {
		switch {
		case unicode.IsUpper(c) || unicode.IsTitle(c):
			has[policy.Upper] = true
		case unicode.IsLower(c):
			has[policy.Lower] = true
		case unicode.IsDigit(c):
			has[policy.Digit] = true
		case unicode.IsPunct(c) || unicode.IsSymbol(c):
			has[policy.Symbol] = true
		}
	}
	var missing []string
	for _, c := range policy.CharClasses {
		if !has[c] && containsClass(require, c) {
			missing = append(missing, classNames[c])
		}
	}
	return missing
}

func containsClass(list []policy.CharClass, c policy.CharClass) bool {
	for _, v := range list {
		if v == c {
			return true
		}
	}
	return false
}

func joinAnd(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// Previous are the encoded hashes a new password is compared with: the
// user's current one, then its history, newest first.
func Previous(current string, history []string) []string {
	out := make([]string, 0, 1+len(history))
	if current != "" {
		out = append(out, current)
	}
	return append(out, history...)
}

// Remember is the history after a password change: the replaced hash
// first, then the old history, keeping at most keep entries (and never
// more than MaxHistory). A replaced hash of "" (no password) adds
// nothing; keep 0 keeps none.
func Remember(history []string, replaced string, keep int) []string {
	keep = min(max(keep, 0), MaxHistory)
	var out []string
	if replaced != "" {
		out = append(out, replaced)
	}
	for _, h := range history {
		if h != "" {
			out = append(out, h)
		}
	}
	if len(out) > keep {
		out = out[:keep]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Expired reports whether a password set at changedAt is past maxAge at
// now and so no longer signs in. A maxAge of 0 (or less) never expires a
// password; neither does a zero changedAt, which a password set before
// its time was recorded has — such a password is judged from its next
// change on.
func Expired(changedAt time.Time, maxAge time.Duration, now time.Time) bool {
	if maxAge <= 0 || changedAt.IsZero() {
		return false
	}
	return !now.Before(changedAt.Add(maxAge))
}
