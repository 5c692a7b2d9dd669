package scim

import (
	"strings"

	"github.com/partnergate/partnergate/scim/schema"
)

// projection is what the attributes and excludedAttributes parameters
// (RFC 7644 §3.9) leave of a resource: only the attributes named by the
// first, if given, less those named by the second, but always those
// returned always (schemas, id). Names are attribute paths, a
// sub-attribute selecting that part of a complex attribute. A name the
// resource type does not know selects nothing rather than failing the
// request: the parameters only shape a response, and a write must not be
// refused after it was done.
type projection struct {
	rt *schema.ResourceType
	// only holds the canonical paths of attributes, nil when it was not
	// given; exclude those of excludedAttributes.
	only, exclude map[string]bool
}

func newProjection(rt *schema.ResourceType, attributes, excluded string) projection {
	return projection{rt: rt, only: pathSet(rt, attributes), exclude: pathSet(rt, excluded)}
}

func pathSet(rt *schema.ResourceType, list string) map[string]bool {
	if strings.TrimSpace(list) == "" {
		return nil
	}
	set := map[string]bool{}
	for name := range strings.SplitSeq(list, ",") {
		if p, err := rt.Lookup(strings.TrimSpace(name)); err == nil {
			set[p.String()] = true
		}
	}
	return set
}

// returns reports whether the projection keeps any of the attribute
// called name, so that a caller can skip loading one it drops.
func (p projection) returns(name string) bool {
	path, err := p.rt.Lookup(name)
	return err == nil && p.keeps(path)
}

// keeps reports whether the projection keeps any of a top-level
// attribute.
func (p projection) keeps(path schema.Path) bool {
	name := path.String()
	switch {
	case path.Attr.Returned == schema.Always:
		return true
	case p.exclude[name]:
		return false
	case p.only == nil || p.only[name]:
		return true
	}
	for n := range p.only {
		if strings.HasPrefix(n, name+".") {
			return true
		}
	}
	return false
}

// keepsSub reports whether the projection keeps the sub-attribute sub of
// a kept attribute.
func (p projection) keepsSub(name, sub string) bool {
	full := name + "." + sub
	return !p.exclude[full] && (p.only == nil || p.only[name] || p.only[full])
}

// apply returns what the projection leaves of res, a resource of its
// type; res itself is not changed.
func (p projection) apply(res Resource) Resource {
	if p.only == nil && p.exclude == nil {
		return res
	}
	return p.object("", res)
}

// object projects obj, whose attributes are looked up with prefix: "" at
// the top of a resource, an extension's URN and a colon inside it.
func (p projection) object(prefix string, obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if ext := p.rt.Extension(k); prefix == "" && ext != nil {
			if m, ok := v.(map[string]any); ok {
				if kept := p.object(ext.ID+":", m); len(kept) > 0 {
					out[k] = kept
				}
			}
			continue
		}
		path, err := p.rt.Lookup(prefix + k)
		switch {
		case err != nil:
			// Kept from the client's resource though the schema lacks
			// it: only a list of what to return leaves it out.
			if p.only == nil {
				out[k] = v
			}
		case !p.keeps(path):
		case path.Attr.Type == schema.Complex:
			out[k] = p.complex(path, v)
		default:
			out[k] = v
		}
	}
	return out
}

// complex projects the value, or values, of a complex attribute onto the
// sub-attributes kept.
func (p projection) complex(path schema.Path, v any) any {
	name := path.String()
	sub := func(m map[string]any) map[string]any {
		out := make(map[string]any, len(m))
		for k, x := range m {
			s := k
			if a := path.Attr.SubAttribute(k); a != nil {
				s = a.Name
			}
			if p.keepsSub(name, s) {
				out[k] = x
			}
		}
		return out
	}
	switch v := v.(type) {
	case map[string]any:
		return sub(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			if m, ok := e.(map[string]any); ok {
				out[i] = sub(m)
			} else {
				out[i] = e
			}
		}
		return out
	}
	return v
}
