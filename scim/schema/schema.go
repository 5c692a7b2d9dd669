package schema

import "strings"

// Type is an attribute's data type (RFC 7643 §2.3).
type Type string

// The attribute data types.
const (
	String    Type = "string"
	Boolean   Type = "boolean"
	Decimal   Type = "decimal"
	Integer   Type = "integer"
	DateTime  Type = "dateTime"
	Reference Type = "reference"
	Complex   Type = "complex"
	Binary    Type = "binary"
)

// Mutability says whether and how an attribute's value may be changed
// (RFC 7643 §7).
type Mutability string

// The mutability characteristics.
const (
	ReadOnly  Mutability = "readOnly"
	ReadWrite Mutability = "readWrite"
	Immutable Mutability = "immutable"
	WriteOnly Mutability = "writeOnly"
)

// Returned says when an attribute is returned in a response (RFC 7643 §7).
type Returned string

// The returned characteristics.
const (
	Always        Returned = "always"
	Never         Returned = "never"
	ReturnDefault Returned = "default"
	ReturnRequest Returned = "request"
)

// Uniqueness says how an attribute's value must be unique (RFC 7643 §7).
type Uniqueness string

// The uniqueness characteristics.
const (
	UniqueNone   Uniqueness = "none"
	UniqueServer Uniqueness = "server"
	UniqueGlobal Uniqueness = "global"
)

// Attribute is an attribute definition with the characteristics of RFC 7643
// §2.2 and §7.
type Attribute struct {
	Name            string
	Type            Type
	MultiValued     bool
	Description     string
	Required        bool
	CaseExact       bool
	Mutability      Mutability
	Returned        Returned
	Uniqueness      Uniqueness
	CanonicalValues []string
	// ReferenceTypes is set for Type Reference: "external", "uri" or the
	// names of resource types.
	ReferenceTypes []string
	// SubAttributes is set for Type Complex.
	SubAttributes []*Attribute
}

// SubAttribute returns the sub-attribute called name, compared
// case-insensitively (RFC 7643 §2.1), or nil if there is none.
func (a *Attribute) SubAttribute(name string) *Attribute {
	return find(a.SubAttributes, name)
}

// Schema is a schema definition (RFC 7643 §7).
type Schema struct {
	ID          string
	Name        string
	Description string
	Attributes  []*Attribute
}

// Attribute returns the top-level attribute called name, compared
// case-insensitively, or nil if there is none.
func (s *Schema) Attribute(name string) *Attribute {
	return find(s.Attributes, name)
}

func find(attrs []*Attribute, name string) *Attribute {
	for _, a := range attrs {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// Member returns the member of obj called name, compared case-insensitively
// as RFC 7643 §2.1 requires of attribute names, and the key it is stored
// under. An exact match wins; among case-insensitive ones the least key does,
// so that the answer does not depend on map order.
func Member(obj map[string]any, name string) (value any, key string, ok bool) {
	if v, ok := obj[name]; ok {
		return v, name, true
	}
	for k, v := range obj {
		if strings.EqualFold(k, name) && (!ok || k < key) {
			value, key, ok = v, k, true
		}
	}
	return value, key, ok
}
