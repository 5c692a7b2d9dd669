// Package patch parses SCIM PATCH requests (RFC 7644 §3.5.2) and applies
// them to a resource held as a JSON object, as encoding/json decodes it
// with UseNumber, following the resource type's schemas from scim/schema;
// scim/filter evaluates the value filters in paths. It takes what Okta
// and Microsoft Entra ID send — Entra's capitalised ops and string
// booleans, path-less values keyed by sub-attribute paths and extension
// URNs, the enterprise manager as a bare id or a one-element array, its
// legacy removal of members by value — and is strict otherwise. It knows
// nothing of storage or HTTP.
//
// A Group's members are the exception to patching the resource. Apply
// folds every operation on members into Changes.Members, a MemberDelta
// of ids to add and remove, or a new list, which the server applies to
// its store as a delta: adding or removing one member of a group of
// 10,000 reads and writes that one membership, not the list. So the
// server hands Apply a Group without its members, and Apply neither
// reads nor writes them. The price is that a member can be selected for
// removal only by id, members[value eq "id"] (or several ids joined by
// or), which is the only selection Okta and Entra make; any other filter
// on members would need the list, and is refused with invalidFilter.
package patch
