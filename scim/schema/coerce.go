package schema

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Coerce converts v, a JSON value as encoding/json decodes it, to a's type:
// an array of values if a is multi-valued, else a single value (see
// CoerceValue). JSON null stays nil: it means the attribute is unassigned.
// A value of the wrong type is an ErrInvalidValue error naming the
// attribute.
func (a *Attribute) Coerce(v any) (any, error) {
	return a.coerce(a.Name, v)
}

func (a *Attribute) coerce(name string, v any) (any, error) {
	if v == nil || !a.MultiValued {
		return a.coerceValue(name, v)
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, ErrInvalidValue.Errorf("attribute %q is multi-valued and needs an array, not %s", name, describe(v))
	}
	out := make([]any, len(arr))
	for i, e := range arr {
		if e == nil {
			return nil, ErrInvalidValue.Errorf("attribute %q: element %d is null", name, i)
		}
		c, err := a.coerceValue(name, e)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// CoerceValue converts v to a single value of a's type — one element, if a
// is multi-valued. The results are what a resource stores:
//
//   - string, reference, binary, dateTime: string; binary must be base64 and
//     dateTime an xsd:dateTime, but both keep the client's spelling
//   - boolean: bool; the strings "true" and "false" in any case are
//     accepted, since Microsoft Entra ID sends booleans as "True"/"False"
//   - integer, decimal: json.Number, so that no precision is lost
//   - complex: map[string]any keyed by the sub-attributes' canonical names,
//     each value coerced; null sub-attribute values are dropped and unknown
//     sub-attributes are an error
//
// Numbers may be json.Number or float64, as decoded with or without
// UseNumber. JSON null stays nil.
func (a *Attribute) CoerceValue(v any) (any, error) {
	return a.coerceValue(a.Name, v)
}

func (a *Attribute) coerceValue(name string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch a.Type {
	case String, Reference:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case Binary:
		if s, ok := v.(string); ok {
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				return nil, ErrInvalidValue.Errorf("attribute %q needs base64, not %q: %v", name, s, err)
			}
			return s, nil
		}
	case DateTime:
		if s, ok := v.(string); ok {
			if _, err := ParseDateTime(s); err != nil {
				return nil, ErrInvalidValue.Errorf("attribute %q: %w", name, err)
			}
			return s, nil
		}
	case Boolean:
		if b, ok := ParseBoolean(v); ok {
			return b, nil
		}
	case Integer:
		if n, ok := number(v); ok {
			if _, err := n.Int64(); err != nil {
				return nil, ErrInvalidValue.Errorf("attribute %q needs an integer, not %s", name, n)
			}
			return n, nil
		}
	case Decimal:
		if n, ok := number(v); ok {
			return n, nil
		}
	case Complex:
		if m, ok := v.(map[string]any); ok {
			return a.coerceComplex(name, m)
		}
	}
	return nil, ErrInvalidValue.Errorf("attribute %q needs a value of type %s, not %s", name, a.Type, describe(v))
}

func (a *Attribute) coerceComplex(name string, m map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, sv := range m {
		sub := a.SubAttribute(k)
		if sub == nil {
			return nil, ErrInvalidValue.Errorf("attribute %q has no sub-attribute %q", name, k)
		}
		if _, dup := out[sub.Name]; dup {
			return nil, ErrInvalidValue.Errorf("attribute %q: sub-attribute %q appears twice", name, sub.Name)
		}
		c, err := sub.coerce(name+"."+sub.Name, sv)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out[sub.Name] = c
		}
	}
	return out, nil
}

// ParseBoolean reads v as a SCIM boolean: a JSON boolean or, because
// Microsoft Entra ID sends them so, the string "true" or "false" in any case.
func ParseBoolean(v any) (b, ok bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		switch {
		case strings.EqualFold(v, "true"):
			return true, true
		case strings.EqualFold(v, "false"):
			return false, true
		}
	}
	return false, false
}

// number reads v as a JSON number, canonicalised to json.Number.
func number(v any) (json.Number, bool) {
	switch v := v.(type) {
	case json.Number:
		if _, err := v.Float64(); err != nil {
			return "", false
		}
		return v, true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "", false
		}
		return json.Number(strconv.FormatFloat(v, 'f', -1, 64)), true
	}
	return "", false
}

// ParseDateTime parses an xsd:dateTime (RFC 7643 §2.3.5), such as
// "2008-01-23T04:56:22Z". A time without a zone offset is read as UTC.
func ParseDateTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999999", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an xsd:dateTime such as 2008-01-23T04:56:22Z", s)
	}
	return t, nil
}

// describe names v's JSON type for error messages, with the value when it
// is short enough to help.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("boolean %t", v)
	case string:
		if len(v) > 40 {
			return "a string"
		}
		return fmt.Sprintf("string %q", v)
	case json.Number, float64:
		return fmt.Sprintf("number %v", v)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}
