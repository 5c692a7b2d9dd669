package admin

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

var (
	errPreconditionFailed = &apiError{status: http.StatusPreconditionFailed, code: "precondition_failed", message: "the resource changed since it was read (If-Match does not match its ETag); read it again"}
	errBadIfMatch         = badRequest("invalid_if_match", "", "If-Match must be * or a list of quoted entity tags")
)

// etagOf is a strong validator of a representation: any change a client
// could see changes it.
func etagOf(v any) string {
	b, _ := json.Marshal(v) // wire types hold only marshalable fields
	return etagOfBytes(b)
}

// etagOfBytes is a strong validator of exactly these bytes.
func etagOfBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:15]) + `"`
}

// writeResource answers one resource with its ETag.
func writeResource(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("ETag", etagOf(v))
	return writeJSON(w, status, v)
}

// precondition is a request's If-Match: absent, "*", or entity tags.
type precondition struct {
	set  bool
	any  bool
	tags []string
}

func preconditionOf(r *http.Request) (precondition, error) {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return precondition{}, nil
	}
	p := precondition{set: true}
	for _, v := range values {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			switch {
			case tag == "*":
				p.any = true
			case len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' && !strings.Contains(tag[1:len(tag)-1], `"`):
				p.tags = append(p.tags, tag)
			case strings.HasPrefix(tag, `W/"`):
				// If-Match compares strongly: a weak tag never matches, but
				// it is well-formed.
			default:
				return precondition{}, errBadIfMatch
			}
		}
	}
	return p, nil
}

// check fails with 412 unless current, as the client would see it,
// matches. Called inside a store update, it sees the stored version, so
// the comparison and the write are one step.
func (p precondition) check(current any) error {
	if !p.set || p.any {
		return nil
	}
	tag := etagOf(current)
	for _, t := range p.tags {
		if t == tag {
			return nil
		}
	}
	return errPreconditionFailed
}

// checkIfMatch reads If-Match and checks it against current, for a write
// that is no store update: a delete of what the handler just read.
func checkIfMatch(r *http.Request, current any) error {
	pre, err := preconditionOf(r)
	if err != nil {
		return err
	}
	return pre.check(current)
}
