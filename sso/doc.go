// Package sso holds what the OIDC relying party (package sso/oidc) and the
// SAML service provider (package sso/saml) share: the verified claims a
// sign-in yields, their mapping to a user profile, and the typed failures
// a partner's IT admin reads when a connection does not work.
//
// A failure names what went wrong in the admin's words (a wrong audience,
// an expired assertion with the times on both sides, a signature that does
// not verify) and never carries a secret, a token or a full assertion, so
// it can be shown on a result page and kept for later reading.
package sso
