package password

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// The default password rule, in force until partners set their own policy.
// The length floor follows NIST SP 800-63B's advice to prefer length over
// composition rules; the byte ceiling bounds hashing work per request.
const (
	// MinLength is the fewest characters a password may have; forms use
	// it for their minlength hint.
	MinLength = 12
	maxBytes  = 1024
)

// Errors from Validate. Their messages are safe to show to the person who
// chose the password.
var (
	ErrTooShort    = errors.New("password must be at least 12 characters")
	ErrTooLong     = errors.New("password must be at most 1024 bytes")
	ErrBlank       = errors.New("password must not be only whitespace")
	ErrInvalidUTF8 = errors.New("password must be valid UTF-8 text")
)

// Validate checks plain against the default password rule. Length is
// counted in characters (runes), so a password in any script is judged
// alike.
func Validate(plain string) error {
	switch {
	case len(plain) > maxBytes:
		return ErrTooLong
	case !utf8.ValidString(plain):
		return ErrInvalidUTF8
	case utf8.RuneCountInString(plain) < MinLength:
		return ErrTooShort
	case strings.TrimSpace(plain) == "":
		return ErrBlank
	}
	return nil
}
