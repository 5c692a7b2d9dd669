// Package apicontract judges HTTP responses against the admin API's
// OpenAPI 3.1 document, so every test that talks to the API, in-process
// or end to end, proves the document true.
package apicontract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// Contract is an OpenAPI 3.1 document ready to judge responses. Build it
// once and share it: building the model and compiling its schemas takes
// far longer than a request.
type Contract struct {
	doc   libopenapi.Document
	model *v3.Document
	// full checks status, headers and body; head checks a HEAD answer,
	// which has the GET operation's status and headers but no body.
	full, head validator.Validator
	// routes routes a request the way Handler's mux does, but over the
	// documented operations only, to tell a documented route from one
	// the handler answers with a generic 401, 404 or 405.
	routes *http.ServeMux
	// errorSchema is the envelope that every undocumented route's answer
	// must still follow.
	errorSchema *base.Schema
	schemas     schema_validation.SchemaValidator
}

// Load parses an OpenAPI 3.1 document and prepares its validators.
func Load(b []byte) (*Contract, error) {
	doc, err := libopenapi.NewDocument(b)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build v3 model: %w", err)
	}
	opts := []config.Option{
		// date-time and email are part of the contract, not decoration.
		config.WithFormatAssertions(),
		config.WithBodyDecoder("application/x-ndjson", ndjsonDecoder()),
	}
	full, errs := validator.NewValidator(doc, opts...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("build validator: %w", errors.Join(errs...))
	}
	c := &Contract{
		doc:     doc,
		model:   &m.Model,
		full:    full,
		head:    validator.NewValidatorFromV3Model(&m.Model, append(opts, config.WithoutResponseBodyValidation())...),
		routes:  http.NewServeMux(),
		schemas: schema_validation.NewSchemaValidator(config.WithFormatAssertions()),
	}
	for path, method := range c.Operations() {
		c.routes.Handle(method+" "+path, http.NotFoundHandler())
	}
	proxy := m.Model.Components.Schemas.GetOrZero("Error")
	if proxy == nil {
		return nil, errors.New("components.schemas has no Error")
	}
	c.errorSchema = proxy.Schema()
	return c, nil
}

// Operations yields every documented (path, METHOD) pair.
func (c *Contract) Operations() func(yield func(string, string) bool) {
	return func(yield func(string, string) bool) {
		for path, item := range c.model.Paths.PathItems.FromOldest() {
			for method := range item.GetOperations().FromOldest() {
				if !yield(path, strings.ToUpper(method)) {
					return
				}
			}
		}
	}
}

// ndjsonDecoder reads a JSON lines body as the array of its lines, which
// is how OpenAPI describes a sequential media type. A body whose last
// line has no newline is refused: that is how a cut-short export shows.
func ndjsonDecoder() content.Decoder {
	return content.DecoderFunc(func(in *content.DecodeInput) (any, error) {
		b, err := io.ReadAll(in.Body)
		if err != nil {
			return nil, err
		}
		lines := []any{}
		if len(b) == 0 {
			return lines, nil
		}
		if b[len(b)-1] != '\n' {
			return nil, errors.New("the stream's last line has no newline: it was cut short")
		}
		for i, line := range bytes.Split(b[:len(b)-1], []byte("\n")) {
			var v any
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("line %d is not JSON: %w", i+1, err)
			}
			if dec.More() {
				return nil, fmt.Errorf("line %d holds more than one JSON value", i+1)
			}
			lines = append(lines, v)
		}
		return lines, nil
	})
}

// Check returns what is wrong with resp as the answer to req: nothing
// when it is a documented status with its headers and body for a
// documented route, or the error envelope for any other.
func (c *Contract) Check(req *http.Request, resp *http.Response) []string {
	var problems []string
	if got := resp.Header.Get("X-Request-Id"); got == "" {
		problems = append(problems, "no X-Request-Id header")
	}
	pattern := ""
	if p := req.URL.Path; p != "" && path.Clean(p) == p {
		_, pattern = c.routes.Handler(req)
	}
	if pattern == "" {
		return append(problems, c.checkUndocumented(resp)...)
	}
	// The validator reads only the request's method, path and query; a
	// copy keeps the test's request untouched.
	vreq := req.Clone(req.Context())
	vreq.Body = http.NoBody
	v := c.full
	if req.Method == http.MethodHead {
		vreq.Method = http.MethodGet
		v = c.head
	}
	if ok, errs := v.ValidateHttpResponse(vreq, resp); !ok {
		problems = append(problems, describe(errs)...)
	}
	return problems
}

// checkUndocumented covers what no operation describes: unknown paths,
// methods a path does not have, non-canonical paths. The handler answers
// those with the error envelope only.
func (c *Contract) checkUndocumented(resp *http.Response) []string {
	var problems []string
	if resp.StatusCode < 400 {
		problems = append(problems, fmt.Sprintf("status %d on a route the document does not describe", resp.StatusCode))
	}
	if resp.StatusCode == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == "" {
		problems = append(problems, "405 without Allow")
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		problems = append(problems, fmt.Sprintf("Content-Type %q, want application/json", ct))
	}
	body, _ := io.ReadAll(resp.Body)
	if ok, errs := c.schemas.ValidateSchemaBytes(c.errorSchema, body); !ok {
		problems = append(problems, describe(errs)...)
	}
	return problems
}

// describe flattens validator errors into one line each, with every
// schema failure's location so the culprit member is named.
func describe(errs []*liberrors.ValidationError) []string {
	var out []string
	for _, e := range errs {
		line := e.Message
		if e.Reason != "" && e.Reason != e.Message {
			line += ": " + e.Reason
		}
		for _, f := range e.SchemaValidationErrors {
			where := f.FieldPath
			if where == "" {
				where = f.KeywordLocation
			}
			line += fmt.Sprintf("\n    %s (at %s)", f.Reason, where)
		}
		out = append(out, line)
	}
	return out
}

// Version is the document's openapi member, e.g. "3.1.0".
func (c *Contract) Version() string { return c.doc.GetVersion() }

// Model is the parsed document, for tests that compare it with routes.
func (c *Contract) Model() *v3.Document { return c.model }

// ValidateDocument checks the document against the OpenAPI 3.1 schema and
// returns each problem on a line.
func (c *Contract) ValidateDocument() []string {
	if ok, errs := c.full.ValidateDocument(); !ok {
		return describe(errs)
	}
	return nil
}

// Route names the documented operation a request reaches, as
// "METHOD /path/{param}", or "" when none does.
func (c *Contract) Route(req *http.Request) string {
	_, pattern := c.routes.Handler(req)
	return pattern
}
