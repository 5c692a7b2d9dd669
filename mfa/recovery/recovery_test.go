package recovery

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var wellFormed = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$`)

func generate(t *testing.T) ([]string, State) {
	t.Helper()
	codes, st, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	return codes, st
}

func TestGenerateWellFormed(t *testing.T) {
	codes, st := generate(t)
	if len(codes) != Count || Remaining(st) != Count {
		t.Fatalf("got %d codes, %d remaining; want %d", len(codes), Remaining(st), Count)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !wellFormed.MatchString(c) {
			t.Errorf("code %q not well formed", c)
		}
		if strings.ContainsAny(c, "ilou") {
			t.Errorf("code %q has a confusable letter", c)
		}
		if seen[c] {
			t.Errorf("code %q repeated", c)
		}
		seen[c] = true
	}
	// Entropy: 12 symbols from a 32-symbol alphabet.
	if len(alphabet) != 32 || symbols*5 < 60 {
		t.Errorf("alphabet %d symbols × %d = under 60 bits", len(alphabet), symbols)
	}
	// Two sets share no code.
	other, _ := generate(t)
	for _, c := range other {
		if seen[c] {
			t.Errorf("code %q in two sets", c)
		}
	}
}

func TestEachCodeWorksOnce(t *testing.T) {
	codes, st := generate(t)
	for i, c := range codes {
		next, ok := Use(st, c)
		if !ok {
			t.Fatalf("code %d refused", i)
		}
		if got, want := Remaining(next), Count-i-1; got != want {
			t.Fatalf("after %d uses: %d remaining, want %d", i+1, got, want)
		}
		if _, ok := Use(next, c); ok {
			t.Fatalf("code %d accepted twice", i)
		}
		st = next
	}
	if Remaining(st) != 0 {
		t.Errorf("%d remaining after all used", Remaining(st))
	}
	for _, c := range codes {
		if _, ok := Use(st, c); ok {
			t.Errorf("code %q accepted from an empty set", c)
		}
	}
}

func TestUseDoesNotAliasInput(t *testing.T) {
	codes, st := generate(t)
	before := slices.Clone(st.Hashes)
	if _, ok := Use(st, codes[0]); !ok {
		t.Fatal("refused")
	}
	if !slices.Equal(st.Hashes, before) {
		t.Error("Use modified the caller's state")
	}
}

func TestNormalization(t *testing.T) {
	codes, st := generate(t)
	c := codes[3]
	for _, typed := range []string{
		strings.ToUpper(c),
		strings.ReplaceAll(c, "-", ""),
		strings.ReplaceAll(c, "-", " "),
		"  " + strings.ToUpper(strings.ReplaceAll(c, "-", "")) + "\t",
		c[:2] + " " + c[2:],
	} {
		if _, ok := Use(st, typed); !ok {
			t.Errorf("%q (for %q) refused", typed, c)
		}
	}
}

func TestWrongCodeRefused(t *testing.T) {
	codes, st := generate(t)
	before := slices.Clone(st.Hashes)
	// A well-formed code with one symbol changed.
	c := []byte(codes[0])
	c[0] = alphabet[(strings.IndexByte(alphabet, c[0])+1)%len(alphabet)]
	for _, wrong := range []string{"", "----", string(c), codes[0] + "0", codes[0][1:], "aaaa-aaaa-aaaa"} {
		next, ok := Use(st, wrong)
		if ok {
			t.Errorf("%q accepted", wrong)
		}
		if !slices.Equal(next.Hashes, before) || !slices.Equal(st.Hashes, before) {
			t.Errorf("%q changed the state", wrong)
		}
	}
	// Unicode look-alikes do not normalize into a valid code.
	kelvin := strings.ReplaceAll(strings.ToUpper(codes[0]), "K", "\u212a")
	if kelvin != strings.ToUpper(codes[0]) {
		if _, ok := Use(st, kelvin); ok {
			t.Errorf("Kelvin-sign spelling %q accepted", kelvin)
		}
	}
}

func TestStateHoldsHashesOnly(t *testing.T) {
	codes, st := generate(t)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	for _, c := range codes {
		if strings.Contains(js, c) || strings.Contains(js, strings.ReplaceAll(c, "-", "")) {
			t.Errorf("state JSON contains code %q", c)
		}
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	hexSHA256 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, h := range back.Hashes {
		if !hexSHA256.MatchString(h) {
			t.Errorf("hash %q is not SHA-256 hex", h)
		}
	}
	// The round-tripped state still works.
	if _, ok := Use(back, codes[0]); !ok {
		t.Error("code refused after JSON round trip")
	}
}
