// Package idptest starts real identity providers for tests, so the SSO code
// is proven against software that other people wrote and deploy, not only
// against a second copy of the library it uses itself:
//
//   - StartSimpleSAMLphp runs SimpleSAMLphp 1.19 (the Debian package) with
//     PHP's built-in web server as a SAML 2.0 IdP;
//   - StartOIDCProvider runs the zitadel/oidc example OpenID Provider (an
//     OpenID-certified library) in-process.
//
// Both listen on 127.0.0.1 on a free port and stop when the test ends.
// scripts/test.sh installs the Debian packages; without them the SAML tests
// skip, or fail when CI=true, so CI cannot pass by testing nothing.
package idptest
