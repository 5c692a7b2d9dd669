// Package saml is the SAML 2.0 service provider of a partner connection:
// one SP per connection, built on crewjam/saml for the XML signature and
// encryption work.
//
// crewjam/saml decides whether a response is valid; this package adds the
// rules a gateway for many partners needs on top (the assertion itself must
// be signed, a single assertion per response, replay protection through the
// shared sso.ReplayCache, the sso.Skew clock tolerance) and turns every
// rejection into an *sso.Failure an IT admin can act on. Facts for a
// failure are read from the untrusted XML only once the failure is decided,
// so nothing unverified ever reaches the claims.
package saml
