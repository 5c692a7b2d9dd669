package password

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, plain := range []string{"correct horse battery", "пароль-довольно-длинный", "", strings.Repeat("x", 1024)} {
		enc, err := Hash(plain)
		if err != nil {
			t.Fatalf("Hash: %v", err)
		}
		want := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", defaults.memory, defaults.time, defaults.threads)
		if !strings.HasPrefix(enc, want) {
			t.Errorf("Hash(%q) = %q, want prefix %q", plain, enc, want)
		}
		if strings.Contains(enc, plain) && plain != "" {
			t.Errorf("encoding contains the plaintext")
		}
		ok, err := Verify(enc, plain)
		if err != nil || !ok {
			t.Errorf("Verify(Hash(%q)) = %v, %v; want true, nil", plain, ok, err)
		}
		ok, err = Verify(enc, plain+"x")
		if err != nil || ok {
			t.Errorf("Verify with wrong password = %v, %v; want false, nil", ok, err)
		}
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	t.Parallel()
	a, _ := Hash("same password here")
	b, _ := Hash("same password here")
	if a == b {
		t.Errorf("two hashes of one password are equal: salt not random")
	}
}

// TestVerifyHonoursEncodedParams builds hashes under other parameters, as
// a later change of defaults would leave in the store.
func TestVerifyHonoursEncodedParams(t *testing.T) {
	t.Parallel()
	tests := []params{
		{memory: 8192, time: 1, threads: 1, saltLen: 16, keyLen: 32},
		{memory: 12288, time: 3, threads: 2, saltLen: 8, keyLen: 16},
		{memory: 4096, time: 1, threads: 4, saltLen: 64, keyLen: 64},
	}
	for _, p := range tests {
		t.Run(fmt.Sprintf("m=%d,t=%d,p=%d", p.memory, p.time, p.threads), func(t *testing.T) {
			t.Parallel()
			salt := []byte(strings.Repeat("s", p.saltLen))
			key := argon2.IDKey([]byte("old password"), salt, p.time, p.memory, p.threads, uint32(p.keyLen))
			enc := encode(p, salt, key)
			if ok, err := Verify(enc, "old password"); err != nil || !ok {
				t.Errorf("Verify = %v, %v; want true, nil", ok, err)
			}
			// The same key read under default parameters must not match:
			// proves the parameters in the string are the ones used.
			asDefault := encode(params{memory: defaults.memory, time: defaults.time, threads: defaults.threads}, salt, key)
			if ok, err := Verify(asDefault, "old password"); err != nil || ok {
				t.Errorf("Verify under default params = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	good, err := Hash("a good password")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	tests := map[string]string{
		"empty":              "",
		"not phc":            "plaintext",
		"bcrypt":             "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":            "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"old version":        "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"no version":         "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key,
		"missing key":        "$argon2id$v=19$m=19456,t=2,p=1$" + salt,
		"extra field":        good + "$x",
		"leading junk":       "x" + good,
		"params order":       "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key,
		"params missing":     "$argon2id$v=19$m=19456,t=2$" + salt + "$" + key,
		"params extra":       "$argon2id$v=19$m=19456,t=2,p=1,k=1$" + salt + "$" + key,
		"memory zero":        "$argon2id$v=19$m=0,t=2,p=1$" + salt + "$" + key,
		"memory huge":        "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key,
		"memory overflow":    "$argon2id$v=19$m=99999999999,t=2,p=1$" + salt + "$" + key,
		"memory negative":    "$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key,
		"memory plus":        "$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key,
		"time zero":          "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"time huge":          "$argon2id$v=19$m=19456,t=1000,p=1$" + salt + "$" + key,
		"threads zero":       "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key,
		"threads 256":        "$argon2id$v=19$m=19456,t=2,p=256$" + salt + "$" + key,
		"salt bad base64":    "$argon2id$v=19$m=19456,t=2,p=1$!!!!$" + key,
		"salt padded":        "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key,
		"salt short":         "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key,
		"salt long":          "$argon2id$v=19$m=19456,t=2,p=1$" + strings.Repeat("A", 200) + "$" + key,
		"key empty":          "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$",
		"key short":          "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$a2V5",
		"key long":           "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.Repeat("A", 200),
		"key url alphabet":   "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.Repeat("_", 43),
		"whitespace in salt": "$argon2id$v=19$m=19456,t=2,p=1$ " + salt + "$" + key,
	}
	for name, enc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ok, err := Verify(enc, "a good password")
			if ok || !errors.Is(err, ErrMalformed) {
				t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformed", enc, ok, err)
			}
			if err != nil && strings.Contains(err.Error(), "a good password") {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestDummyUsesDefaults(t *testing.T) {
	t.Parallel()
	p, _, _, err := decode(dummy)
	if err != nil {
		t.Fatalf("dummy does not decode: %v", err)
	}
	if p != defaults {
		t.Errorf("dummy params = %+v, want %+v", p, defaults)
	}
	if ok, _ := Verify(dummy, ""); ok {
		t.Errorf("dummy matched the empty password")
	}
}

// TestVerifyDummyTiming compares the fastest of several runs of each, which
// filters scheduler noise; the bound is loose because only a gross
// difference (a skipped hash) would tell an attacker anything.
func TestVerifyDummyTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test, not run with -short")
	}
	enc, err := Hash("a real user's password")
	if err != nil {
		t.Fatal(err)
	}
	// The two are timed in turns and the fastest of each kept, so load
	// from other tests running alongside weighs on both alike.
	timed := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	genuine, fake := time.Duration(1<<63-1), time.Duration(1<<63-1)
	for range 9 {
		genuine = min(genuine, timed(func() { _, _ = Verify(enc, "a wrong guess!!") }))
		fake = min(fake, timed(func() { VerifyDummy("a wrong guess!!") }))
	}
	if ratio := float64(fake) / float64(genuine); ratio < 0.5 || ratio > 2 {
		t.Errorf("VerifyDummy took %v, Verify %v: ratio %.2f outside [0.5, 2]", fake, genuine, ratio)
	}
}

func FuzzVerify(f *testing.F) {
	good, err := Hash("seed password")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "seed password")
	f.Add(dummy, "")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", "x")
	f.Add("$argon2id$v=19$m=,t=,p=$$", "")
	f.Add("$$$$$", "")
	f.Add("$argon2id$v=19$m=1,t=1,p=16$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "")
	f.Fuzz(func(t *testing.T, encoded, plain string) {
		ok, err := Verify(encoded, plain)
		if err != nil && ok {
			t.Errorf("Verify returned true with error %v", err)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify error %v does not wrap ErrMalformed", err)
		}
	})
}
