// Package smtptest runs an in-process SMTP server for tests, built on
// go-smtp's server, so mail is tested over real TCP, STARTTLS and AUTH
// rather than against a fake that agrees with whatever the client sends.
// It records what it accepts and parses it strictly, so tests can assert
// on what a recipient would see.
package smtptest
