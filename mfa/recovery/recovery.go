// Package recovery makes and redeems one-time recovery codes, the fallback
// when a user has lost their other second factors. Codes are shown to the
// user once; only their SHA-256 hashes are kept. A plain (unsalted, fast)
// hash suffices because each code carries 60 random bits — far beyond
// what an offline guesser could enumerate — unlike a human-chosen password.
// It does not rate-limit: callers count failed attempts.
package recovery

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// Count is how many codes a set holds: enough to cover lost devices for a
// long while, few enough that the user will actually store them.
const Count = 10

const (
	// alphabet is Crockford's base32 in lower case: it leaves out i, l, o
	// and u, so no two symbols are confused when read off paper (0/o,
	// 1/l/i) and no accidental words are spelled.
	alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	groups   = 3
	groupLen = 4
	// symbols × 5 bits = 60 bits of entropy per code.
	symbols = groups * groupLen
)

// State is what the caller stores (sealed) for a user's recovery codes:
// the SHA-256 hex of each unused normalized code. A used code's hash is
// removed, so the set shrinks to empty.
type State struct {
	Hashes []string `json:"hashes"`
}

// Generate makes Count codes to show the user once (format
// "xxxx-xxxx-xxxx") and the State to store. Generating replaces any
// earlier set: the caller stores the new State over the old one.
func Generate() (codes []string, st State, err error) {
	seen := make(map[string]bool, Count)
	for len(codes) < Count {
		code, err := newCode()
		if err != nil {
			return nil, State{}, fmt.Errorf("recovery: generate code %d of %d: %w", len(codes)+1, Count, err)
		}
		// A repeat is astronomically unlikely with 60 bits, but two equal
		// codes would collapse into one usable entry, so never hand out one.
		if seen[code] {
			continue
		}
		seen[code] = true
		codes = append(codes, code)
		st.Hashes = append(st.Hashes, hash(normalize(code)))
	}
	return codes, st, nil
}

func newCode() (string, error) {
	var raw [symbols]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	var b strings.Builder
	for i, r := range raw {
		if i > 0 && i%groupLen == 0 {
			b.WriteByte('-')
		}
		// 256 is a multiple of 32, so the low 5 bits are uniform: no bias.
		b.WriteByte(alphabet[r&31])
	}
	return b.String(), nil
}

// Use consumes code if it matches one unused code and returns the state
// without it. On no match it returns st unchanged. The caller must persist
// next before granting access, or the code could be used twice.
func Use(st State, code string) (next State, ok bool) {
	h := []byte(hash(normalize(code)))
	match := -1
	// Compare against every entry without stopping at a match, so the
	// time taken does not reveal how far down the list a code sits.
	for i, stored := range st.Hashes {
		eq := subtle.ConstantTimeCompare(h, []byte(stored))
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return st, false
	}
	// Build a fresh slice: the caller's st must not see the removal
	// through a shared backing array.
	hashes := make([]string, 0, len(st.Hashes)-1)
	hashes = append(hashes, st.Hashes[:match]...)
	hashes = append(hashes, st.Hashes[match+1:]...)
	return State{Hashes: hashes}, true
}

// Remaining is how many unused codes are left, so the UI can urge the
// user to generate a new set before they run out.
func Remaining(st State) int {
	return len(st.Hashes)
}

// normalize accepts what people type back from paper: any case, spaces,
// and missing or extra dashes. Only ASCII letters are folded, so Unicode
// look-alikes (e.g. the Kelvin sign lower-casing to "k") stay wrong.
func normalize(code string) string {
	var b strings.Builder
	b.Grow(len(code))
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == ' ' || c == '\t' || c == '-':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func hash(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}
