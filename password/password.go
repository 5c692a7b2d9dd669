package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformed reports an encoded hash that cannot be parsed or whose
// parameters are out of the accepted range.
var ErrMalformed = errors.New("malformed password hash")

// params are argon2id cost settings plus the salt and key sizes.
type params struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	saltLen int
	keyLen  int
}

// defaults meet OWASP's argon2id minimum (m=19 MiB, t=2, p=1).
var defaults = params{memory: 19456, time: 2, threads: 1, saltLen: 16, keyLen: 32}

// Bounds for parameters read back from an encoding. The upper limits keep
// a corrupted or planted hash from allocating gigabytes or spinning for
// minutes; the lower ones keep argon2 itself from panicking.
const (
	maxMemory  = 256 * 1024 // KiB
	maxTime    = 16
	maxThreads = 16
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

var b64 = base64.RawStdEncoding.Strict()

// Hash returns plain hashed with a fresh random salt, in the PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func Hash(plain string) (string, error) {
	salt := make([]byte, defaults.saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: read salt: %w", err)
	}
	return encode(defaults, salt, derive(defaults, plain, salt)), nil
}

// Verify reports whether plain matches encoded, comparing in constant time.
// The cost parameters come from encoded, so hashes made under older
// settings keep working. A malformed encoding returns an error wrapping
// ErrMalformed and false.
func Verify(encoded, plain string) (bool, error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(derive(p, plain, salt), key) == 1, nil
}

// dummy has the default parameters, so verifying against it costs what a
// real user's freshly made hash costs. Its salt and key are zero: nothing
// can match it, and it needs no hashing at start-up.
var dummy = encode(defaults, make([]byte, defaults.saltLen), make([]byte, defaults.keyLen))

// VerifyDummy spends the time a Verify would, for a sign-in naming an
// unknown user, so response timing does not tell which accounts exist.
func VerifyDummy(plain string) {
	// dummy is built from defaults, so decoding cannot fail.
	_, _ = Verify(dummy, plain)
}

func derive(p params, plain string, salt []byte) []byte {
	return argon2.IDKey([]byte(plain), salt, p.time, p.memory, p.threads, uint32(p.keyLen))
}

func encode(p params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decode(encoded string) (params, []byte, []byte, error) {
	var p params
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, fmt.Errorf("%w: want 5 '$'-separated fields", ErrMalformed)
	}
	if parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: algorithm is not argon2id", ErrMalformed)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported version, want v=%d", ErrMalformed, argon2.Version)
	}
	p, err := parseParams(parts[3])
	if err != nil {
		return p, nil, nil, err
	}
	salt, err := decodeField(parts[4], "salt", minSaltLen, maxSaltLen)
	if err != nil {
		return p, nil, nil, err
	}
	key, err := decodeField(parts[5], "key", minKeyLen, maxKeyLen)
	if err != nil {
		return p, nil, nil, err
	}
	p.saltLen, p.keyLen = len(salt), len(key)
	return p, salt, key, nil
}

// parseParams reads "m=…,t=…,p=…" in exactly that order, as Hash writes
// it; accepting other orders or extra keys would only widen what a
// planted hash can smuggle in.
func parseParams(s string) (params, error) {
	var p params
	kv := strings.Split(s, ",")
	if len(kv) != 3 {
		return p, fmt.Errorf("%w: want parameters m,t,p", ErrMalformed)
	}
	m, err := parseParam(kv[0], "m", 1, maxMemory)
	if err != nil {
		return p, err
	}
	t, err := parseParam(kv[1], "t", 1, maxTime)
	if err != nil {
		return p, err
	}
	threads, err := parseParam(kv[2], "p", 1, maxThreads)
	if err != nil {
		return p, err
	}
	p.memory, p.time, p.threads = uint32(m), uint32(t), uint8(threads)
	return p, nil
}

func parseParam(s, name string, lo, hi uint64) (uint64, error) {
	v, ok := strings.CutPrefix(s, name+"=")
	if !ok {
		return 0, fmt.Errorf("%w: want parameter %s", ErrMalformed, name)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: parameter %s must be an integer in [%d, %d]", ErrMalformed, name, lo, hi)
	}
	return n, nil
}

func decodeField(s, name string, minLen, maxLen int) ([]byte, error) {
	// Checking the encoded length first keeps a huge field from being decoded.
	if len(s) > b64.EncodedLen(maxLen) {
		return nil, fmt.Errorf("%w: %s longer than %d bytes", ErrMalformed, name, maxLen)
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not unpadded base64: %w", ErrMalformed, name, err)
	}
	if len(b) < minLen {
		return nil, fmt.Errorf("%w: %s shorter than %d bytes", ErrMalformed, name, minLen)
	}
	return b, nil
}
