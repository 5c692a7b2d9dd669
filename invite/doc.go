// Package invite issues and redeems the single-use, expiring links that
// let a user set their password: invitations and password resets. A link
// works once, only for the user it names, and only while it is that
// user's newest link.
package invite
