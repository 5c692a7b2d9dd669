package password

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		plain string
		want  error
	}{
		{"twelve ascii", "abcdefghijkl", nil},
		{"eleven ascii", "abcdefghijk", ErrTooShort},
		{"empty", "", ErrTooShort},
		{"twelve runes, more bytes", "密码密码密码密码密码密码", nil},
		{"eleven runes, 33 bytes", "密码密码密码密码密码密", ErrTooShort},
		{"max bytes", strings.Repeat("a", 1024), nil},
		{"over max bytes", strings.Repeat("a", 1025), ErrTooLong},
		{"all spaces", strings.Repeat(" ", 12), ErrBlank},
		{"all mixed whitespace", strings.Repeat(" \t\n\u00a0", 4), ErrBlank},
		{"spaces inside", "correct horse battery staple", nil},
		{"invalid utf-8", strings.Repeat("\xff", 12), ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Validate(tt.plain); !errors.Is(got, tt.want) {
				t.Errorf("Validate(%q) = %v, want %v", tt.plain, got, tt.want)
			}
		})
	}
}

func TestValidateMessagesDoNotEcho(t *testing.T) {
	t.Parallel()
	for _, plain := range []string{"short-secret", "tiny", strings.Repeat("z", 2000)} {
		if err := Validate(plain); err != nil && strings.Contains(err.Error(), plain) {
			t.Errorf("message %q repeats the password", err)
		}
	}
}
