// Package scim is the SCIM 2.0 service provider (RFC 7643/7644) through
// which a partner's identity provider provisions its users and groups.
// Resources map onto the store's users and groups; attributes the
// gateway does not use are kept in the user's profile and returned as
// sent.
//
// A group may have tens of thousands of members, so its member list is
// never handled whole: a PATCH adding or removing members writes those
// memberships alone, a PUT writes the difference with the stored list,
// read a page at a time, and a client that excludes members from a read,
// as Okta and Entra do, does not cause one. Every membership change is
// announced to the gateway, so that it takes effect on the member's next
// request.
package scim
