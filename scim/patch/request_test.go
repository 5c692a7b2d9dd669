package patch

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/scim/schema"
)

func mustParse(t *testing.T, body string) Request {
	t.Helper()
	req, err := Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return req
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Operation
	}{
		{
			name: "lowercase ops",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"add","path":"nickName","value":"Babs"},
				{"op":"replace","value":{"active":false}},
				{"op":"remove","path":"members[value eq \"x\"]"}]}`,
			want: []Operation{
				{Op: Add, Path: &Path{Attr: "nickName"}, Value: "Babs"},
				{Op: Replace, Value: map[string]any{"active": false}},
				{Op: Remove, Path: &Path{Attr: "members", Filter: `value eq "x"`}},
			},
		},
		{
			// Entra emits op as "Add", "Replace" and "Remove".
			name: "Entra capitalised ops",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"Add","path":"nickName","value":"Babs"},
				{"op":"Replace","path":"active","value":"False"},
				{"op":"Remove","path":"members","value":[{"value":"u1091"}]}]}`,
			want: []Operation{
				{Op: Add, Path: &Path{Attr: "nickName"}, Value: "Babs"},
				{Op: Replace, Path: &Path{Attr: "active"}, Value: "False"},
				{Op: Remove, Path: &Path{Attr: "members"}, Value: []any{map[string]any{"value": "u1091"}}},
			},
		},
		{
			// RFC 7643 §2.1: attribute names, the message's included,
			// are case-insensitive.
			name: "member names in any case",
			body: `{"SCHEMAS":["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],"operations":[{"OP":"REPLACE","Path":"title","Value":7}]}`,
			want: []Operation{{Op: Replace, Path: &Path{Attr: "title"}, Value: json.Number("7")}},
		},
		{
			name: "null path is no path",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":null,"value":{"title":"x"}}]}`,
			want: []Operation{{Op: Add, Value: map[string]any{"title": "x"}}},
		},
		{
			name: "null value is kept as null",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":null}]}`,
			want: []Operation{{Op: Replace, Path: &Path{Attr: "title"}}},
		},
		{
			name: "repeated schema",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp","urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"title"}]}`,
			want: []Operation{{Op: Remove, Path: &Path{Attr: "title"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := mustParse(t, tt.body)
			if !reflect.DeepEqual(req.Operations, tt.want) {
				t.Fatalf("Operations = %#v\nwant %#v", req.Operations, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const schemas = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
	tests := []struct {
		name string
		body string
		want *schema.Error
	}{
		{"empty body", ``, schema.ErrInvalidSyntax},
		{"not JSON", `{"schemas":`, schema.ErrInvalidSyntax},
		{"bad JSON", `{"schemas" 1}`, schema.ErrInvalidSyntax},
		{"array body", `[]`, schema.ErrInvalidSyntax},
		{"member twice", `{` + schemas + `,"Operations":[{"op":"remove","op":"add","path":"title","value":1}]}`, schema.ErrInvalidSyntax},
		{"member twice in a value", `{` + schemas + `,"Operations":[{"op":"add","value":{"title":"a","title":"b"}}]}`, schema.ErrInvalidSyntax},
		{"nested too deep", `{` + schemas + `,"Operations":[{"op":"add","path":"title","value":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}]}`, schema.ErrInvalidSyntax},
		{"trailing data", `{` + schemas + `,"Operations":[{"op":"remove","path":"title"}]} {}`, schema.ErrInvalidSyntax},
		{"trailing garbage", `{` + schemas + `,"Operations":[{"op":"remove","path":"title"}]} x`, schema.ErrInvalidSyntax},
		{"no schemas", `{"Operations":[{"op":"remove","path":"title"}]}`, schema.ErrInvalidSyntax},
		{"schemas not array", `{"schemas":"urn:ietf:params:scim:api:messages:2.0:PatchOp","Operations":[{"op":"remove","path":"title"}]}`, schema.ErrInvalidSyntax},
		{"wrong schema", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"Operations":[{"op":"remove","path":"title"}]}`, schema.ErrInvalidSyntax},
		{"extra schema", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp","urn:x:y"],"Operations":[{"op":"remove","path":"title"}]}`, schema.ErrInvalidSyntax},
		{"no Operations", `{` + schemas + `}`, schema.ErrInvalidSyntax},
		{"empty Operations", `{` + schemas + `,"Operations":[]}`, schema.ErrInvalidSyntax},
		{"Operations not array", `{` + schemas + `,"Operations":{"op":"remove","path":"title"}}`, schema.ErrInvalidSyntax},
		{"unknown member", `{` + schemas + `,"Operations":[{"op":"remove","path":"title"}],"id":"x"}`, schema.ErrInvalidSyntax},
		{"Operations twice", `{` + schemas + `,"Operations":[{"op":"remove","path":"title"}],"operations":[{"op":"remove","path":"title"}]}`, schema.ErrInvalidSyntax},
		{"operation not object", `{` + schemas + `,"Operations":["remove"]}`, schema.ErrInvalidSyntax},
		{"no op", `{` + schemas + `,"Operations":[{"path":"title"}]}`, schema.ErrInvalidSyntax},
		{"op not string", `{` + schemas + `,"Operations":[{"op":1,"path":"title"}]}`, schema.ErrInvalidSyntax},
		{"unknown op", `{` + schemas + `,"Operations":[{"op":"move","path":"title"}]}`, schema.ErrInvalidSyntax},
		{"JSON Patch op", `{` + schemas + `,"Operations":[{"op":"test","path":"title","value":"x"}]}`, schema.ErrInvalidSyntax},
		{"unknown operation member", `{` + schemas + `,"Operations":[{"op":"remove","path":"title","from":"x"}]}`, schema.ErrInvalidSyntax},
		{"op twice", `{` + schemas + `,"Operations":[{"op":"remove","Op":"add","path":"title"}]}`, schema.ErrInvalidSyntax},
		{"path not string", `{` + schemas + `,"Operations":[{"op":"remove","path":1}]}`, schema.ErrInvalidPath},
		{"malformed path", `{` + schemas + `,"Operations":[{"op":"remove","path":"emails[type eq \"work\""}]}`, schema.ErrInvalidPath},
		{"empty path", `{` + schemas + `,"Operations":[{"op":"remove","path":""}]}`, schema.ErrInvalidPath},
		{"remove without path", `{` + schemas + `,"Operations":[{"op":"remove"}]}`, schema.ErrNoTarget},
		{"remove with null path", `{` + schemas + `,"Operations":[{"op":"Remove","path":null}]}`, schema.ErrNoTarget},
		{"add without value", `{` + schemas + `,"Operations":[{"op":"add","path":"title"}]}`, schema.ErrInvalidValue},
		{"replace without value", `{` + schemas + `,"Operations":[{"op":"replace"}]}`, schema.ErrInvalidValue},
		{"pathless add of a string", `{` + schemas + `,"Operations":[{"op":"add","value":"x"}]}`, schema.ErrInvalidValue},
		{"pathless replace of null", `{` + schemas + `,"Operations":[{"op":"replace","value":null}]}`, schema.ErrInvalidValue},
		{"pathless replace of array", `{` + schemas + `,"Operations":[{"op":"replace","value":[{"title":"x"}]}]}`, schema.ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %s", err, tt.want.ScimType)
			}
		})
	}
}

// Decoding errors say what went wrong without echoing the body.
func TestParseSyntaxDetail(t *testing.T) {
	for body, want := range map[string]string{
		``:                     "the request body is empty",
		`{"schemas":`:          "the request body ends before the JSON is complete",
		`{"schemas":["x"`:      "the request body ends before the JSON is complete",
		`{"schemas" "secret"}`: "the request body is not valid JSON (at byte 11)",
	} {
		_, err := Parse(strings.NewReader(body))
		var se *schema.Error
		if !errors.As(err, &se) || se.Detail != want {
			t.Errorf("Parse(%q) = %v, want detail %q", body, err, want)
		}
	}
}

// An error in one of several operations names it, and keeps its kind.
func TestParseErrorNamesOperation(t *testing.T) {
	_, err := Parse(strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"remove","path":"title"},{"op":"remove","path":"a..b"}]}`))
	var se *schema.Error
	if !errors.As(err, &se) {
		t.Fatalf("Parse = %v, want a *schema.Error", err)
	}
	if se.ScimType != "invalidPath" || !strings.HasPrefix(se.Detail, "operation 2: ") || strings.Contains(se.Detail, "scim ") {
		t.Fatalf("error = %q (%s), want an invalidPath detail starting with the operation", se.Detail, se.ScimType)
	}
}
