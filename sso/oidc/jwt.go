package oidc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/partnergate/partnergate/sso"
)

// allowedAlgs are the asymmetric algorithms OpenID Connect IdPs sign with.
// HMAC is left out on purpose: it would make the client secret a signing
// key, and "none" would make the signature optional.
var allowedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// claims is a verified JWT's payload, numbers kept as json.Number so that
// large integers survive to the attributes intact.
type claims map[string]any

// verifyJWT checks raw's signature against the issuer's keys, fetching
// them again when the key id is unknown (key rotation), and returns the
// payload. what names the token in messages ("ID token", "logout token").
func (c *Client) verifyJWT(ctx context.Context, p *provider, raw, what string) (claims, error) {
	if _, err := jose.ParseSigned(raw, allowedAlgs); err != nil {
		if alg := headerField(raw, "alg"); alg != "" && !slices.Contains(allowedAlgs, jose.SignatureAlgorithm(alg)) {
			return nil, sso.Wrap(sso.BadSignature, fmt.Sprintf("The %s is not signed with an accepted algorithm.", what), err,
				sso.Fact{Label: "Algorithm", Value: alg},
				sso.Fact{Label: "Accepted", Value: "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA"})
		}
		return nil, sso.Wrap(sso.Malformed, fmt.Sprintf("The %s is not a well-formed signed JWT.", what), err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	payload, err := p.keys.VerifySignature(ctx, raw)
	if err != nil {
		// go-oidc tells a key set it could not fetch from a signature no
		// key verifies only by this prefix.
		if strings.HasPrefix(err.Error(), "fetching keys") {
			return nil, sso.Wrap(sso.Unreachable, "The identity provider's signing keys could not be fetched.", err,
				sso.Fact{Label: "Issuer", Value: p.issuer}, sso.Fact{Label: "Keys URL", Value: p.jwksURL})
		}
		f := []sso.Fact{{Label: "Issuer", Value: p.issuer}, {Label: "Keys URL", Value: p.jwksURL}}
		if kid := headerField(raw, "kid"); kid != "" {
			f = append(f, sso.Fact{Label: "Key id in token", Value: kid})
		}
		return nil, sso.Wrap(sso.BadSignature, fmt.Sprintf("The %s's signature does not verify with any of the identity provider's keys.", what), err, f...)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var cl claims
	if err := dec.Decode(&cl); err != nil || cl == nil {
		return nil, sso.Wrap(sso.Malformed, fmt.Sprintf("The %s's payload is not a JSON object.", what), err)
	}
	return cl, nil
}

// headerField reads a JOSE header member without trusting the token, to
// say in a failure what the token claimed.
func headerField(raw, name string) string {
	h, _, ok := strings.Cut(raw, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// str returns a string claim, "" when absent or of another type.
func (c claims) str(name string) string {
	s, _ := c[name].(string)
	return s
}

// audience returns aud, which the spec allows as a string or an array.
func (c claims) audience() []string {
	switch v := c["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		aud := make([]string, 0, len(v))
		for _, a := range v {
			if s, ok := a.(string); ok {
				aud = append(aud, s)
			}
		}
		return aud
	}
	return nil
}

// date returns a NumericDate claim; ok is false when absent, and err set
// when present but not a number.
func (c claims) date(name string) (t time.Time, ok bool, err error) {
	v, present := c[name]
	if !present {
		return time.Time{}, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, false, fmt.Errorf("claim %s is not a number", name)
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("claim %s: %w", name, err)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, nil
}

// attributes flattens every claim to strings, the form sso.Claims holds.
func (c claims) attributes() map[string][]string {
	out := make(map[string][]string, len(c))
	for name, v := range c {
		if vals := flatten(v); len(vals) > 0 {
			out[name] = vals
		}
	}
	return out
}

func flatten(v any) []string {
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		vals := make([]string, 0, len(t))
		for _, e := range t {
			if e != nil {
				vals = append(vals, scalar(e))
			}
		}
		return vals
	default:
		return []string{scalar(t)}
	}
}

func scalar(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case json.Number:
		// An exponent form such as 1.5e9 reads as its plain decimal, so a
		// mapping compares numbers the same way whatever the IdP wrote.
		if strings.ContainsAny(string(t), "eE") {
			if f, err := t.Float64(); err == nil {
				return strconv.FormatFloat(f, 'f', -1, 64)
			}
		}
		return string(t)
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}
