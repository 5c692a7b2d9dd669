package admin

import (
	"bytes"
	_ "embed"
	"net/http"
	"strconv"
	"strings"
)

// openAPIPath serves the API's own description, the public contract. It is
// the one path answered without authentication.
const openAPIPath = "/api/v1/openapi.json"

// openAPIDocument is the OpenAPI 3.1 description of every route in
// Handler.routes. The tests hold the two together: every route must be
// documented, and every response the tests see must match it.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIETag is a strong validator of the embedded bytes, the same shape
// as the ETags of resources.
var openAPIETag = etagOfBytes(openAPIDocument)

// OpenAPIDocument returns the OpenAPI 3.1 document of the admin API, e.g.
// for end-to-end tests to build their own validator. It is a copy: the
// embedded bytes are what every server answers, so no caller may change
// them.
func OpenAPIDocument() []byte { return bytes.Clone(openAPIDocument) }

// serveOpenAPI answers the document. It is served as application/json
// rather than application/vnd.oai.openapi+json because every browser, tool
// and client library reads that; the document's "openapi" member names the
// version. The bytes change only with the binary, so caches may keep them
// but revalidate each use (no-cache): after an upgrade a client sees the
// new contract at once, and until then pays only a 304.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("ETag", openAPIETag)
	// Overrides the no-store every API answer gets: this one is public.
	h.Set("Cache-Control", "no-cache")
	if etagListMatches(r.Header.Values("If-None-Match"), openAPIETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	// A failed write means the client went away; nothing is left to tell it.
	_, _ = w.Write(openAPIDocument)
}

// etagListMatches applies If-None-Match's weak comparison (RFC 9110
// 13.1.2): "*" or any listed tag equal to etag once a W/ prefix is
// dropped. Caches commonly send several tags, or a weakened one after
// compressing the body, and both must still earn the 304.
func etagListMatches(values []string, etag string) bool {
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || tag == etag {
				return true
			}
		}
	}
	return false
}
