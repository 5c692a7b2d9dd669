// Package oidc is the OpenID Connect relying party of the gateway: the
// authorization code flow with PKCE against each partner's identity
// provider, and the verification of back-channel logout tokens.
//
// One Client serves every partner. It discovers each issuer lazily and
// caches the result per issuer, so a partner whose IdP is down costs the
// others nothing. Every check of a sign-in fails with its own sso.Code and
// the facts an IT admin needs to fix the connection, which is why the ID
// token's claims are checked here one by one rather than by a library that
// would only say "invalid token".
package oidc
