package schema

import (
	"encoding/json"
	"strings"
)

// URNs of the representations served by the /Schemas and /ResourceTypes
// endpoints (RFC 7643 §8.7).
const (
	SchemaURN       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	ResourceTypeURN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
)

// MarshalJSON renders a as in a schema representation (RFC 7643 §7).
func (a *Attribute) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name            string       `json:"name"`
		Type            Type         `json:"type"`
		SubAttributes   []*Attribute `json:"subAttributes,omitempty"`
		MultiValued     bool         `json:"multiValued"`
		Description     string       `json:"description"`
		Required        bool         `json:"required"`
		CaseExact       bool         `json:"caseExact"`
		CanonicalValues []string     `json:"canonicalValues,omitempty"`
		Mutability      Mutability   `json:"mutability"`
		Returned        Returned     `json:"returned"`
		Uniqueness      Uniqueness   `json:"uniqueness"`
		ReferenceTypes  []string     `json:"referenceTypes,omitempty"`
	}{a.Name, a.Type, a.SubAttributes, a.MultiValued, a.Description, a.Required, a.CaseExact,
		a.CanonicalValues, a.Mutability, a.Returned, a.Uniqueness, a.ReferenceTypes})
}

// Meta is the meta attribute of a /Schemas or /ResourceTypes
// representation.
type Meta struct {
	ResourceType string `json:"resourceType"`
	Location     string `json:"location,omitempty"`
}

// SchemaRepresentation is a schema as the /Schemas endpoint serves it.
type SchemaRepresentation struct {
	Schemas     []string     `json:"schemas"`
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Attributes  []*Attribute `json:"attributes"`
	Meta        Meta         `json:"meta"`
}

// Representation returns s as the /Schemas endpoint serves it (RFC 7643 §7).
// base is the SCIM service's base URL, such as
// "https://sso.example.com/scim/v2"; meta.location is base/Schemas/<id>, or
// absent if base is empty.
func (s *Schema) Representation(base string) SchemaRepresentation {
	return SchemaRepresentation{
		Schemas:     []string{SchemaURN},
		ID:          s.ID,
		Name:        s.Name,
		Description: s.Description,
		Attributes:  s.Attributes,
		Meta:        Meta{ResourceType: "Schema", Location: location(base, "/Schemas/", s.ID)},
	}
}

// ResourceTypeRepresentation is a resource type as the /ResourceTypes
// endpoint serves it.
type ResourceTypeRepresentation struct {
	Schemas          []string                   `json:"schemas"`
	ID               string                     `json:"id"`
	Name             string                     `json:"name"`
	Endpoint         string                     `json:"endpoint"`
	Description      string                     `json:"description"`
	Schema           string                     `json:"schema"`
	SchemaExtensions []SchemaExtensionReference `json:"schemaExtensions,omitempty"`
	Meta             Meta                       `json:"meta"`
}

// SchemaExtensionReference names a resource type's extension.
type SchemaExtensionReference struct {
	Schema   string `json:"schema"`
	Required bool   `json:"required"`
}

// Representation returns rt as the /ResourceTypes endpoint serves it (RFC
// 7643 §6), with meta.location base/ResourceTypes/<id> as for schemas.
func (rt *ResourceType) Representation(base string) ResourceTypeRepresentation {
	r := ResourceTypeRepresentation{
		Schemas:     []string{ResourceTypeURN},
		ID:          rt.ID,
		Name:        rt.Name,
		Endpoint:    rt.Endpoint,
		Description: rt.Description,
		Schema:      rt.Schema.ID,
		Meta:        Meta{ResourceType: "ResourceType", Location: location(base, "/ResourceTypes/", rt.ID)},
	}
	for _, e := range rt.Extensions {
		r.SchemaExtensions = append(r.SchemaExtensions, SchemaExtensionReference{Schema: e.Schema.ID, Required: e.Required})
	}
	return r
}

func location(base, collection, id string) string {
	if base == "" {
		return ""
	}
	return strings.TrimSuffix(base, "/") + collection + id
}
