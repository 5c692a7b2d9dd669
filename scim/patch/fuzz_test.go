package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/partnergate/partnergate/scim/schema"
)

// FuzzApply applies arbitrary requests to arbitrary resources: Apply
// must not panic, must leave its input alone, must fail only with a SCIM
// error and without a resource, and must return a resource that is
// still JSON.
func FuzzApply(f *testing.F) {
	for _, ops := range []string{
		`{"op":"add","value":{"emails":[{"value":"babs@jensen.org","type":"home"}],"nickname":"Babs"}}`,
		`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"x@example.com"},{"op":"Replace","path":"name.familyName","value":"y"}`,
		`{"op":"replace","value":{"active":"False","name.givenName":"K","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"1"}}`,
		`{"op":"remove","path":"emails[type eq \"work\" and value ew \"example.com\"]"}`,
		`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m1"}`,
		`{"op":"Add","path":"manager","value":[{"$ref":null,"value":"m1"}]}`,
		`{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"}`,
		`{"op":"add","path":"emails","value":[{"value":"a@example.org","primary":"True"}]}`,
		`{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}`,
		`{"op":"replace","value":{"id":"e9e30dba-f08f-4109-8486-d5c6a331660a","displayName":"Test"}}`,
		`{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"},{"op":"add","path":"members","value":[{"value":"c"}]}`,
		`{"op":"Remove","path":"members","value":[{"value":"u1091"}]}`,
		`{"op":"replace","path":"members","value":[]}`,
	} {
		for _, resource := range []string{baseUser, baseGroup, `{"emails":"x","name":[1],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":7}`} {
			f.Add(body(ops), resource)
		}
	}
	f.Fuzz(func(t *testing.T, reqBody, resourceJSON string) {
		req, err := Parse(bytes.NewReader([]byte(reqBody)))
		if err != nil {
			var se *schema.Error
			if !errors.As(err, &se) {
				t.Fatalf("Parse error %v is not a *schema.Error", err)
			}
			return
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(resourceJSON)))
		dec.UseNumber()
		var resource map[string]any
		if dec.Decode(&resource) != nil {
			return
		}
		for _, rt := range []*schema.ResourceType{schema.UserResource, schema.GroupResource} {
			pristine := deepCopy(resource)
			got, _, err := req.Apply(resource, rt)
			if !reflect.DeepEqual(resource, pristine) {
				t.Fatalf("Apply changed its input")
			}
			if err != nil {
				var se *schema.Error
				if !errors.As(err, &se) {
					t.Fatalf("Apply error %v is not a *schema.Error", err)
				}
				if got != nil {
					t.Fatalf("Apply returned a resource with error %v", err)
				}
				continue
			}
			if _, err := json.Marshal(got); err != nil {
				t.Fatalf("patched resource does not marshal: %v", err)
			}
		}
	})
}
