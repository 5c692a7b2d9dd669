// Package schema defines the SCIM 2.0 resource schemas partnergate serves —
// the core User schema, the Enterprise User extension and the core Group
// schema, with every attribute's characteristics as RFC 7643 §8.7.1 gives
// them — and the rules that follow from them: resolving an attribute path
// (names compare case-insensitively, extension attributes are qualified by
// their schema URN), coercing a JSON value to an attribute's type, and
// rendering the schemas for the /Schemas endpoint. It also holds Error, the
// SCIM error (status, scimType, detail) that the scim packages return, so
// that a handler can render any of them without knowing which one failed.
//
// The definitions are package-level values shared by every caller; they must
// not be modified.
package schema
