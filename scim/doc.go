// Package scim is the SCIM 2.0 service provider (RFC 7643/7644) through
// which a partner's identity provider provisions its users and groups.
// Resources map onto the store's users and groups; attributes the
// gateway does not use are kept in the user's profile and returned as
// sent.
package scim
