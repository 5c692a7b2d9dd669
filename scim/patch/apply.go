package patch

import (
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/partnergate/partnergate/scim/schema"
)

// Changes is what Apply reports besides the patched resource.
type Changes struct {
	// Modified reports whether the resource itself changed. RFC 7644
	// §3.5.2.1 says a PATCH that changes nothing SHALL NOT change the
	// modify timestamp, so the server bumps meta only when it is set (or
	// when the store reports that Members changed something).
	Modified bool
	// Members is the change to a Group's membership, which Apply never
	// writes into the resource: see the package documentation.
	Members MemberDelta
}

// Apply applies the request's operations in order to resource, a
// resource of type rt, and returns the patched resource. resource is
// not modified: Apply works on a copy, so an error leaves nothing half
// done, as RFC 7644 §3.5.2 requires of a failed PATCH, and the caller
// stores nothing. Errors are *schema.Error values whose detail names the
// failing operation.
//
// A Group's members are the exception: operations on them are not
// applied to resource but summed up in Changes.Members, and resource
// need not (and should not) hold them.
func (r Request) Apply(resource map[string]any, rt *schema.ResourceType) (map[string]any, Changes, error) {
	if resource == nil {
		resource = map[string]any{}
	}
	res, _ := deepCopy(resource).(map[string]any)
	a := &applier{rt: rt, res: res, members: newMemberDelta()}
	before := a.extensionsPresent()
	for i, op := range r.Operations {
		if err := a.apply(op); err != nil {
			return nil, Changes{}, atOperation(i, err)
		}
	}
	a.syncSchemas(before)
	return a.res, Changes{
		Modified: !reflect.DeepEqual(resource, a.res),
		Members:  a.members.result(),
	}, nil
}

// applier holds one Apply's working copy. Everything it reaches is its
// own (a deep copy, or values it coerced), so it changes maps in place.
type applier struct {
	rt      *schema.ResourceType
	res     map[string]any
	members *memberDelta
}

// target is what a path resolves to: an attribute of the resource type
// with maybe a value filter, or a whole extension (a path that is just
// the extension's URN, which some clients use to address it).
type target struct {
	path   schema.Path
	filter *valueFilter
	ext    *schema.Schema
}

func (a *applier) apply(op Operation) error {
	if op.Path == nil {
		return a.applyObject(op.Op, nil, op.Value)
	}
	return a.applyPath(op.Op, *op.Path, op.Value)
}

func (a *applier) applyPath(op Op, p Path, v any) error {
	t, err := a.resolve(p)
	if err != nil {
		return err
	}
	switch {
	case t.ext != nil && op == Remove:
		return a.removeExtension(t.ext)
	case t.ext != nil:
		return a.applyObject(op, t.ext, v)
	case isMembers(t.path):
		return a.applyMembers(op, t, v)
	case isSchemas(t.path):
		return schema.ErrMutability.Errorf("schemas is maintained by the service provider from the attributes present")
	}
	switch op {
	case Add:
		return a.add(t, v)
	case Replace:
		return a.replace(t, v)
	default:
		return a.remove(t, v)
	}
}

// applyObject applies add or replace without a path (RFC 7644 §3.5.2.1
// and §3.5.2.3): each member of v is an attribute to add or replace. Its
// name is read as a path, because clients qualify extension attributes
// with their URN and Entra names sub-attributes ("name.givenName"). A
// member named by an extension URN holds that extension's attributes;
// ext is that extension when v is one.
func (a *applier) applyObject(op Op, ext *schema.Schema, v any) error {
	obj, ok := v.(map[string]any)
	switch {
	case ok:
	case ext == nil:
		return schema.ErrInvalidValue.Errorf("%s without a path needs an object of attributes as its value", op)
	case v == nil && op == Replace:
		return a.removeExtension(ext)
	case v == nil:
		return nil
	default:
		return schema.ErrInvalidValue.Errorf("the value of %s must be an object of its attributes", ext.ID)
	}
	// Sorted, so that "name" is applied before "name.givenName" whatever
	// the map order.
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if ext == nil {
			if e := a.rt.Extension(k); e != nil {
				if err := a.applyObject(op, e, obj[k]); err != nil {
					return err
				}
				continue
			}
			// Clients echo these server-maintained attributes when they
			// send a whole resource; RFC 7644 §3.5.1 ignores them in a
			// PUT and so does a path-less PATCH. id is not among them: a
			// different id is refused as the readOnly attribute it is.
			if strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta") {
				continue
			}
		}
		name := k
		if ext != nil {
			name = ext.ID + ":" + k
		}
		p, err := ParsePath(name)
		if err != nil {
			return err
		}
		if err := a.applyPath(op, p, obj[k]); err != nil {
			return err
		}
	}
	return nil
}

// resolve settles which attribute p names. An unqualified name that the
// core schema lacks is looked up in the extensions too, because Entra
// sends "manager" for the enterprise manager.
func (a *applier) resolve(p Path) (target, error) {
	if p.URN != "" && p.Filter == "" && p.Sub == "" {
		if e := a.rt.Extension(p.URN + ":" + p.Attr); e != nil {
			return target{ext: e}, nil
		}
	}
	name := p.Attr
	if p.URN != "" {
		name = p.URN + ":" + name
	}
	if p.Sub != "" {
		name += "." + p.Sub
	}
	sp, err := a.rt.Lookup(name)
	if err != nil && p.URN == "" {
		var found []schema.Path
		for _, e := range a.rt.Extensions {
			if ep, err := a.rt.Lookup(e.Schema.ID + ":" + name); err == nil {
				found = append(found, ep)
			}
		}
		if len(found) == 1 {
			sp, err = found[0], nil
		}
	}
	if err != nil {
		return target{}, schema.ErrInvalidPath.Errorf("path %q: %w", p, err)
	}
	t := target{path: sp}
	if p.Filter != "" {
		if !sp.Attr.MultiValued {
			return target{}, schema.ErrInvalidPath.Errorf("path %q filters %s, which is single-valued", p, sp.Attr.Name)
		}
		f, err := parseValueFilter(a.rt, sp, p.Filter)
		if err != nil {
			return target{}, err
		}
		t.filter = f
	} else if sp.Attr.MultiValued && sp.Sub != nil {
		return target{}, schema.ErrInvalidPath.Errorf("path %q names a sub-attribute of every value of %s; select values with a filter such as %s[type eq \"work\"].%s", p, sp.Attr.Name, sp.Attr.Name, sp.Sub.Name)
	}
	return t, nil
}

// isSchemas reports whether p is the common schemas attribute, which
// Apply keeps in step with the extensions present instead of letting a
// client write it.
func isSchemas(p schema.Path) bool {
	return p.Extension == nil && p.Attr == schema.Common("schemas")
}

func (a *applier) add(t target, v any) error {
	switch {
	case t.filter != nil:
		return a.writeFiltered(Add, t, v)
	case t.path.Attr.MultiValued:
		return a.appendValues(t.path, v)
	default:
		return a.setSingle(t.path, v)
	}
}

func (a *applier) replace(t target, v any) error {
	switch {
	case t.filter != nil:
		return a.writeFiltered(Replace, t, v)
	case t.path.Attr.MultiValued:
		return a.replaceValues(t.path, v)
	default:
		// On a single-valued attribute add and replace agree: the value
		// is set, and a complex value's sub-attributes are merged into
		// the current ones (RFC 7644 §3.5.2.1 and §3.5.2.3).
		return a.setSingle(t.path, v)
	}
}

func (a *applier) remove(t target, v any) error {
	switch {
	case t.filter != nil:
		return a.removeFiltered(t)
	case t.path.Attr.MultiValued && v != nil:
		// Not RFC 7644, but Entra's legacy shape for removing members,
		// which some of its jobs still send: the value lists the values
		// to remove.
		return a.removeValues(t.path, v)
	case t.path.Sub != nil:
		return a.setSingle(t.path, nil)
	default:
		return a.unassign(t.path)
	}
}

// setSingle sets a single-valued attribute, or a sub-attribute of a
// single-valued complex one, to v; nil unassigns it. A complex value is
// merged into the current one.
func (a *applier) setSingle(p schema.Path, v any) error {
	attr := p.Attr
	obj := a.container(p, v != nil)
	var cur any
	if obj != nil {
		cur, _ = get(obj, attr.Name)
	}
	var next any
	switch {
	case p.Sub != nil:
		sv, err := p.Sub.Coerce(v)
		if err != nil {
			return err
		}
		m := cloneMap(cur)
		if sv == nil {
			del(m, p.Sub.Name)
		} else {
			set(m, p.Sub.Name, sv)
		}
		next = emptyToNil(m)
	case attr.Type == schema.Complex:
		cv, err := coerceComplex(attr, v)
		if err != nil {
			return err
		}
		if cv != nil {
			m := cloneMap(cur)
			for k, sv := range cv {
				set(m, k, sv)
			}
			next = emptyToNil(m)
		}
	default:
		cv, err := attr.CoerceValue(v)
		if err != nil {
			return err
		}
		next = cv
	}
	if err := checkWrite(attr, attr.Name, cur, next); err != nil {
		return err
	}
	if attr.Type == schema.Complex {
		if err := checkSubs(attr, asMap(cur), asMap(next)); err != nil {
			return err
		}
	}
	a.store(p, obj, next)
	return nil
}

// appendValues adds values to a multi-valued attribute (RFC 7644
// §3.5.2.1); a value identical to one already there is not added again.
func (a *applier) appendValues(p schema.Path, v any) error {
	vals, err := coerceValues(p.Attr, v)
	if err != nil || len(vals) == 0 {
		return err
	}
	obj := a.container(p, true)
	cur, _ := get(obj, p.Attr.Name)
	list := slices.Clone(asList(cur))
	var written []int
	for _, nv := range vals {
		if slices.ContainsFunc(list, func(e any) bool { return reflect.DeepEqual(e, nv) }) {
			continue
		}
		if err := checkSubs(p.Attr, nil, asMap(nv)); err != nil {
			return err
		}
		list = append(list, nv)
		written = append(written, len(list)-1)
	}
	return a.storeList(p, obj, cur, list, written)
}

// replaceValues replaces every value of a multi-valued attribute (RFC
// 7644 §3.5.2.3).
func (a *applier) replaceValues(p schema.Path, v any) error {
	vals, err := coerceValues(p.Attr, v)
	if err != nil {
		return err
	}
	obj := a.container(p, len(vals) > 0)
	var cur any
	if obj != nil {
		cur, _ = get(obj, p.Attr.Name)
	}
	old := asList(cur)
	written := make([]int, 0, len(vals))
	for i, nv := range vals {
		if !slices.ContainsFunc(old, func(e any) bool { return reflect.DeepEqual(e, nv) }) {
			if err := checkSubs(p.Attr, nil, asMap(nv)); err != nil {
				return err
			}
		}
		written = append(written, i)
	}
	return a.storeList(p, obj, cur, vals, written)
}

// writeFiltered adds or replaces the values a filter selects, or their
// sub-attribute (RFC 7644 §3.5.2.3): add merges into each, replace
// replaces each. When none matches, the filter's equality tests become a
// new value, because Entra adds and replaces emails[type eq "work"].value
// alike, whether or not a work email exists yet; a filter that does not
// describe a value that way is RFC 7644's noTarget.
func (a *applier) writeFiltered(op Op, t target, v any) error {
	p := t.path
	obj := a.container(p, true)
	cur, _ := get(obj, p.Attr.Name)
	list := slices.Clone(asList(cur))
	hits := t.filter.matches(list)
	if len(hits) == 0 && v == nil {
		return nil // unassigning what is not there
	}
	if len(hits) == 0 {
		base, ok := t.filter.newValue()
		if !ok {
			return schema.ErrNoTarget.Errorf("no value of %s matches [%s]", p.Attr.Name, t.filter.text)
		}
		list = append(list, base)
		hits = []int{len(list) - 1}
		op = Add // the new value is merged into, not replaced
	}
	var sv any            // the sub-attribute's new value
	var nv map[string]any // the new value, or what to merge into the old
	if p.Sub != nil {
		c, err := p.Sub.Coerce(v)
		if err != nil {
			return err
		}
		sv = c
	} else if v != nil {
		c, err := p.Attr.CoerceValue(v)
		if err != nil {
			return err
		}
		nv = asMap(c)
	}
	for _, i := range hits {
		old := asMap(list[i])
		var next map[string]any
		switch {
		case p.Sub != nil:
			next = cloneMap(old)
			if sv == nil {
				del(next, p.Sub.Name)
			} else {
				set(next, p.Sub.Name, sv)
			}
		case op == Add:
			next = cloneMap(old)
			for k, x := range nv {
				set(next, k, x)
			}
		default:
			next = cloneMap(nv)
		}
		if err := checkSubs(p.Attr, old, next); err != nil {
			return err
		}
		list[i] = next
	}
	return a.storeList(p, obj, cur, list, hits)
}

// removeFiltered removes the values a filter selects, or their
// sub-attribute (RFC 7644 §3.5.2.2). Removing what is not there changes
// nothing and is no error, so that a retried request succeeds.
func (a *applier) removeFiltered(t target) error {
	p := t.path
	obj := a.container(p, false)
	if obj == nil {
		return nil
	}
	cur, _ := get(obj, p.Attr.Name)
	list := asList(cur)
	hits := t.filter.matches(list)
	if len(hits) == 0 {
		return nil
	}
	next := make([]any, 0, len(list))
	for i, e := range list {
		switch {
		case !slices.Contains(hits, i):
			next = append(next, e)
		case p.Sub != nil:
			old := asMap(e)
			m := cloneMap(old)
			del(m, p.Sub.Name)
			if err := checkSubs(p.Attr, old, m); err != nil {
				return err
			}
			next = append(next, m)
		}
	}
	return a.storeList(p, obj, cur, next, nil)
}

// removeValues removes the values of a multi-valued attribute that
// match one of vals: that have each of its sub-attributes, equal.
func (a *applier) removeValues(p schema.Path, v any) error {
	vals, err := coerceValues(p.Attr, v)
	if err != nil {
		return err
	}
	obj := a.container(p, false)
	if obj == nil {
		return nil
	}
	cur, _ := get(obj, p.Attr.Name)
	list := asList(cur)
	next := slices.DeleteFunc(slices.Clone(list), func(e any) bool {
		return slices.ContainsFunc(vals, func(rv any) bool { return contains(e, rv) })
	})
	if len(next) == len(list) {
		return nil
	}
	return a.storeList(p, obj, cur, next, nil)
}

// unassign removes an attribute and all its values.
func (a *applier) unassign(p schema.Path) error {
	obj := a.container(p, false)
	cur, ok := get(obj, p.Attr.Name)
	if !ok {
		return nil
	}
	if err := checkWrite(p.Attr, p.Attr.Name, cur, nil); err != nil {
		return err
	}
	a.store(p, obj, nil)
	return nil
}

// removeExtension removes every attribute of an extension.
func (a *applier) removeExtension(ext *schema.Schema) error {
	for _, attr := range ext.Attributes {
		if err := a.unassign(schema.Path{Extension: ext, Attr: attr}); err != nil {
			return err
		}
	}
	del(a.res, ext.ID)
	return nil
}

// storeList stores list as the values of a multi-valued attribute after
// checking the attribute's mutability and making the value written that
// is primary the only primary one: RFC 7644 §3.5.2 has the server set
// primary to false on the others. Values left as empty objects are
// dropped: they stand for no value.
func (a *applier) storeList(p schema.Path, obj map[string]any, cur any, list []any, written []int) error {
	if err := onePrimary(list, written); err != nil {
		return err
	}
	var next any
	if list = dropEmpty(list); len(list) > 0 {
		next = list
	}
	if err := checkWrite(p.Attr, p.Attr.Name, cur, next); err != nil {
		return err
	}
	a.store(p, obj, next)
	return nil
}

// container returns the object holding p's attribute: the resource, or
// its extension's member, created when create is set and it is missing.
// It is nil when the extension is absent and create is not set.
func (a *applier) container(p schema.Path, create bool) map[string]any {
	if p.Extension == nil {
		return a.res
	}
	v, ok := get(a.res, p.Extension.ID)
	if m, isMap := v.(map[string]any); ok && isMap {
		return m
	}
	if !create {
		return nil
	}
	m := map[string]any{}
	set(a.res, p.Extension.ID, m)
	return m
}

// store sets p's attribute in obj to v, or removes it if v is nil, and
// removes an extension left with no attributes.
func (a *applier) store(p schema.Path, obj map[string]any, v any) {
	if obj == nil {
		return
	}
	if v == nil {
		del(obj, p.Attr.Name)
	} else {
		set(obj, p.Attr.Name, v)
	}
	if p.Extension != nil && len(obj) == 0 {
		del(a.res, p.Extension.ID)
	}
}

// extensionsPresent returns the URNs of the extensions the resource has
// attributes of.
func (a *applier) extensionsPresent() map[string]bool {
	present := map[string]bool{}
	for _, e := range a.rt.Extensions {
		if v, ok := get(a.res, e.Schema.ID); ok {
			if m, isMap := v.(map[string]any); isMap && len(m) > 0 {
				present[e.Schema.ID] = true
			}
		}
	}
	return present
}

// syncSchemas adds to schemas the URN of each extension the request gave
// the resource and removes that of each it took away (RFC 7643 §3: the
// schemas attribute lists the schemas the resource's attributes belong
// to). Extensions the request did not touch are left as they were.
func (a *applier) syncSchemas(before map[string]bool) {
	after := a.extensionsPresent()
	var list []any
	if v, ok := get(a.res, "schemas"); ok {
		list = asList(v)
	} else {
		list = []any{a.rt.Schema.ID}
	}
	changed := false
	for _, e := range a.rt.Extensions {
		id := e.Schema.ID
		if before[id] == after[id] {
			continue
		}
		changed = true
		list = slices.DeleteFunc(slices.Clone(list), func(s any) bool {
			str, ok := s.(string)
			return ok && strings.EqualFold(str, id)
		})
		if after[id] {
			list = append(list, id)
		}
	}
	if changed {
		set(a.res, "schemas", list)
	}
}

// checkWrite refuses to change attr (called name in errors) from cur to
// next, where nil is unassigned, if its mutability or requiredness
// forbids it (RFC 7644 §3.5.2: readOnly never, immutable only when it
// had no value; removing a required attribute is a mutability error
// too). Writing the value an attribute already has is always allowed:
// it changes nothing, and it lets Okta echo the id.
func checkWrite(attr *schema.Attribute, name string, cur, next any) error {
	if reflect.DeepEqual(cur, next) {
		return nil
	}
	switch {
	case attr.Mutability == schema.ReadOnly:
		return schema.ErrMutability.Errorf("attribute %q is read-only", name)
	case attr.Mutability == schema.Immutable && cur != nil:
		return schema.ErrMutability.Errorf("attribute %q is immutable and already has a value", name)
	case attr.Required && next == nil:
		return schema.ErrMutability.Errorf("attribute %q is required and cannot be removed", name)
	}
	return nil
}

// checkSubs applies checkWrite to each sub-attribute of a complex value
// that differs between cur and next.
func checkSubs(attr *schema.Attribute, cur, next map[string]any) error {
	for _, sub := range attr.SubAttributes {
		c, _ := get(cur, sub.Name)
		n, _ := get(next, sub.Name)
		if err := checkWrite(sub, attr.Name+"."+sub.Name, c, n); err != nil {
			return err
		}
	}
	return nil
}

// onePrimary makes the value at the index in written whose primary is
// true the only primary value of list. Two primary values written at
// once contradict each other (RFC 7643 §2.4: primary true appears no
// more than once) and are refused.
func onePrimary(list []any, written []int) error {
	keep := -1
	for _, i := range written {
		if isPrimary(list[i]) {
			if keep >= 0 {
				return schema.ErrInvalidValue.Errorf("more than one value is primary")
			}
			keep = i
		}
	}
	if keep < 0 {
		return nil
	}
	for i, e := range list {
		if i != keep && isPrimary(e) {
			m := cloneMap(asMap(e))
			set(m, "primary", false)
			list[i] = m
		}
	}
	return nil
}

func isPrimary(v any) bool {
	p, _ := get(asMap(v), "primary")
	b, _ := p.(bool)
	return b
}

// coerceValues coerces v to a multi-valued attribute's values. A single
// value stands for a one-element array: RFC 7644 §3.5.2.1 speaks of
// adding "a new value", and clients send one unwrapped.
func coerceValues(attr *schema.Attribute, v any) ([]any, error) {
	if v == nil {
		return nil, nil
	}
	if _, ok := v.([]any); !ok {
		v = []any{v}
	}
	c, err := attr.Coerce(v)
	if err != nil {
		return nil, err
	}
	return asList(c), nil
}

// coerceComplex coerces v to a single-valued complex attribute's value.
// Entra sends the enterprise manager as a one-element array of
// {"value", "$ref"} and other clients as the bare id; both are read as
// the object RFC 7643 §4.3 defines, for any complex attribute with a
// value sub-attribute.
func coerceComplex(attr *schema.Attribute, v any) (map[string]any, error) {
	if arr, ok := v.([]any); ok && len(arr) <= 1 {
		if len(arr) == 0 {
			return nil, nil
		}
		v = arr[0]
	}
	switch v.(type) {
	case map[string]any, []any, nil:
	default:
		if attr.SubAttribute("value") != nil {
			v = map[string]any{"value": v}
		}
	}
	c, err := attr.CoerceValue(v)
	if err != nil {
		return nil, err
	}
	return asMap(c), nil
}

// contains reports whether value e has every sub-attribute of want, or
// equals it if either is not complex.
func contains(e, want any) bool {
	em, ok1 := e.(map[string]any)
	wm, ok2 := want.(map[string]any)
	if !ok1 || !ok2 {
		return reflect.DeepEqual(e, want)
	}
	for k, wv := range wm {
		if ev, ok := get(em, k); !ok || !reflect.DeepEqual(ev, wv) {
			return false
		}
	}
	return true
}

// get returns obj's member called name, compared case-insensitively.
func get(obj map[string]any, name string) (any, bool) {
	v, _, ok := schema.Member(obj, name)
	return v, ok
}

// set stores v as obj's member called name, replacing it under any other
// spelling, so that a resource never holds one attribute twice.
func set(obj map[string]any, name string, v any) {
	del(obj, name)
	obj[name] = v
}

// del removes obj's member called name under every spelling.
func del(obj map[string]any, name string) {
	for k := range obj {
		if strings.EqualFold(k, name) {
			delete(obj, k)
		}
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// asList returns a multi-valued attribute's values; a stored value that
// is not an array counts as the only one.
func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}

// cloneMap returns a shallow copy of m, never nil, so that a value
// shared with the current state is not changed before the checks pass.
func cloneMap(v any) map[string]any {
	m := asMap(v)
	out := make(map[string]any, len(m)+1)
	for k, x := range m {
		out[k] = x
	}
	return out
}

// emptyToNil returns nil for a complex value with no sub-attributes: RFC
// 7643 §2.5 treats it as unassigned.
func emptyToNil(m map[string]any) any {
	if len(m) == 0 {
		return nil
	}
	return m
}

// dropEmpty removes values that are empty objects, which stand for no
// value at all.
func dropEmpty(list []any) []any {
	return slices.DeleteFunc(list, func(e any) bool {
		m, ok := e.(map[string]any)
		return ok && len(m) == 0
	})
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	default:
		return v
	}
}
