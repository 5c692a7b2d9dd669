package schema

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownAttribute means an attribute path names no attribute of the
// resource type. Callers turn it into the scimType their context calls for:
// invalidFilter in a filter, invalidPath or noTarget in a PATCH.
var ErrUnknownAttribute = errors.New("unknown attribute")

// common are the attributes every resource has (RFC 7643 §3 and §3.1). They
// belong to no schema: §7 leaves them out of the schema representations.
var common = []*Attribute{
	{Name: "schemas", Type: Reference, ReferenceTypes: []string{"uri"}, MultiValued: true, Required: true, Returned: Always,
		Description: "The schema URIs the resource conforms to."},
	{Name: "id", Type: String, CaseExact: true, Mutability: ReadOnly, Returned: Always, Uniqueness: UniqueServer,
		Description: "A unique identifier for a SCIM resource as defined by the service provider."},
	{Name: "externalId", Type: String, CaseExact: true,
		Description: "A String that is an identifier for the resource as defined by the provisioning client."},
	{Name: "meta", Type: Complex, Mutability: ReadOnly,
		Description: "A complex attribute containing resource metadata.",
		SubAttributes: []*Attribute{
			{Name: "resourceType", Type: String, CaseExact: true, Mutability: ReadOnly, Description: "The name of the resource type of the resource."},
			{Name: "created", Type: DateTime, Mutability: ReadOnly, Description: "The DateTime that the resource was added to the service provider."},
			{Name: "lastModified", Type: DateTime, Mutability: ReadOnly, Description: "The most recent DateTime that the details of this resource were updated at the service provider."},
			{Name: "location", Type: Reference, ReferenceTypes: []string{"uri"}, Mutability: ReadOnly, Description: "The URI of the resource being returned."},
			{Name: "version", Type: String, CaseExact: true, Mutability: ReadOnly, Description: "The version of the resource being returned."},
		}},
}

// Common returns the definition of the common attribute called name (schemas,
// id, externalId or meta), compared case-insensitively, or nil.
func Common(name string) *Attribute { return find(common, name) }

// ResourceType is a SCIM resource type (RFC 7643 §6): its core schema and
// the extensions its resources may carry.
type ResourceType struct {
	ID          string
	Name        string
	Endpoint    string
	Description string
	Schema      *Schema
	Extensions  []SchemaExtension
}

// SchemaExtension is a schema extension of a resource type.
type SchemaExtension struct {
	Schema   *Schema
	Required bool
}

// The resource types partnergate serves.
var (
	UserResource = &ResourceType{
		ID: "User", Name: "User", Endpoint: "/Users", Description: "User Account",
		Schema:     User,
		Extensions: []SchemaExtension{{Schema: EnterpriseUser}},
	}
	GroupResource = &ResourceType{
		ID: "Group", Name: "Group", Endpoint: "/Groups", Description: "Group",
		Schema: Group,
	}
)

// Schemas returns every schema partnergate serves, for the /Schemas
// endpoint.
func Schemas() []*Schema { return []*Schema{User, EnterpriseUser, Group} }

// Extension returns the extension of rt whose URN is urn, compared
// case-insensitively, or nil.
func (rt *ResourceType) Extension(urn string) *Schema {
	for _, e := range rt.Extensions {
		if strings.EqualFold(e.Schema.ID, urn) {
			return e.Schema
		}
	}
	return nil
}

// Path is an attribute path resolved against a resource type.
type Path struct {
	// Extension is the schema extension the attribute belongs to; its
	// attributes live in the resource under a member named by its URN.
	// It is nil for core and common attributes.
	Extension *Schema
	// Attr is the top-level attribute.
	Attr *Attribute
	// Sub is the sub-attribute of Attr the path names, if any.
	Sub *Attribute
}

// Attribute returns the attribute the path names: Sub if set, else Attr.
func (p Path) Attribute() *Attribute {
	if p.Sub != nil {
		return p.Sub
	}
	return p.Attr
}

// String returns the path in canonical form: attribute names spelled as the
// schema spells them, extension attributes qualified by their URN.
func (p Path) String() string {
	s := p.Attr.Name
	if p.Extension != nil {
		s = p.Extension.ID + ":" + s
	}
	if p.Sub != nil {
		s += "." + p.Sub.Name
	}
	return s
}

// Lookup resolves an attribute path of the form
//
//	[URN ":"] attribute ["." subAttribute]
//
// (RFC 7644 §3.10 attrPath). Names compare case-insensitively (RFC 7643
// §2.1). The URN is the resource type's core schema or one of its
// extensions; attributes of an extension can only be reached through its
// URN, since nothing else tells them apart from core attributes. Errors wrap
// ErrUnknownAttribute.
func (rt *ResourceType) Lookup(path string) (Path, error) {
	var p Path
	schema, rest := rt.Schema, path
	// Match schema URNs before splitting on "." because the URNs contain
	// dots themselves ("...:enterprise:2.0:User").
	if s, r, ok := rt.splitURN(path); ok {
		schema, rest = s, r
		if s != rt.Schema {
			p.Extension = s
		}
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if name == "" || (hasSub && (sub == "" || strings.Contains(sub, "."))) || strings.Contains(rest, ":") {
		return Path{}, fmt.Errorf("%w %q", ErrUnknownAttribute, path)
	}
	p.Attr = schema.Attribute(name)
	if p.Attr == nil && p.Extension == nil {
		p.Attr = Common(name)
	}
	if p.Attr == nil {
		return Path{}, fmt.Errorf("%w %q", ErrUnknownAttribute, path)
	}
	if !hasSub {
		return p, nil
	}
	if p.Sub = p.Attr.SubAttribute(sub); p.Sub == nil {
		return Path{}, fmt.Errorf("%w %q: %s has no sub-attribute %q", ErrUnknownAttribute, path, p.Attr.Name, sub)
	}
	return p, nil
}

// splitURN splits a path that starts with one of rt's schema URNs and a
// colon into that schema and the rest.
func (rt *ResourceType) splitURN(path string) (*Schema, string, bool) {
	schemas := []*Schema{rt.Schema}
	for _, e := range rt.Extensions {
		schemas = append(schemas, e.Schema)
	}
	for _, s := range schemas {
		n := len(s.ID)
		if len(path) > n && path[n] == ':' && strings.EqualFold(path[:n], s.ID) {
			return s, path[n+1:], true
		}
	}
	return nil, "", false
}
