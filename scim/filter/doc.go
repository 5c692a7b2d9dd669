// Package filter parses SCIM 2.0 filters (RFC 7644 §3.4.2.2) and evaluates
// them against resources held as JSON objects. Attribute types and
// caseExact rules come from scim/schema, so `userName eq "BJensen"` matches
// bjensen while `externalId eq "ABC"` does not match abc. Parsing uses
// github.com/scim2/filter-parser/v2, behind a checker that reports errors
// by position and covers the library's gaps (see parse). Equality picks
// out the filters a store index can answer, which is nearly every filter
// Okta and Microsoft Entra ID send.
package filter
