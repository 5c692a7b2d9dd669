package scim

import (
	"net/http"
	"strings"
	"time"

	"github.com/partnergate/partnergate/scim/schema"
)

// errVersionMismatch answers a write whose If-Match names another version
// of the resource (RFC 7644 §3.14); RFC 7644 has no scimType for it.
var errVersionMismatch = &schema.Error{Status: http.StatusPreconditionFailed, Detail: "the resource is not at the version If-Match names; read it again"}

// checkIfMatch fails with errVersionMismatch unless r has no If-Match or
// it names the version of a resource last updated at updated.
func checkIfMatch(r *http.Request, updated time.Time) error {
	if !hasIfMatch(r) || etagListMatches(r.Header.Values("If-Match"), updated) {
		return nil
	}
	return errVersionMismatch
}

func hasIfMatch(r *http.Request) bool { return len(r.Header.Values("If-Match")) > 0 }

// notModified answers 304 Not Modified, and reports so, if r's
// If-None-Match names the version of a resource last updated at updated.
func notModified(w http.ResponseWriter, r *http.Request, updated time.Time) bool {
	if !etagListMatches(r.Header.Values("If-None-Match"), updated) {
		return false
	}
	w.Header().Set("ETag", version(updated))
	w.WriteHeader(http.StatusNotModified)
	return true
}

// etagListMatches reports whether the entity-tag lists of headers hold
// "*" or the version of a resource last updated at updated. Tags compare
// weakly (RFC 9110 §8.8.3.2): the versions are weak, and clients send
// them back with or without the W/ prefix.
func etagListMatches(headers []string, updated time.Time) bool {
	want := strings.TrimPrefix(version(updated), "W/")
	for _, h := range headers {
		for tag := range strings.SplitSeq(h, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
				return true
			}
		}
	}
	return false
}
