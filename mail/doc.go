// Package mail sends partnergate's own mail: invitations and password
// resets. Message is what callers fill in, Sender is what they depend on,
// and SMTP delivers through a submission server over TLS, one connection
// per message. Messages are encoded here rather than by callers so that
// header injection and malformed MIME cannot reach the wire.
package mail
