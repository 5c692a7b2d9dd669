// Package notify carries second-factor prompts to people: one-time codes by
// SMS and sign-in approvals by push. SMS and Push are what callers depend
// on; Twilio sends SMS through Twilio's REST API (or anything that speaks
// it), and Webhook hands either kind to a partner- or operator-run HTTPS
// endpoint, signed so the receiver can tell our requests from forgeries and
// replays.
//
// Nothing here logs, and no error repeats a secret, an auth token, or the
// text of a message: SMS text carries a one-time code, and errors end up in
// logs that far more people can read than the phone it was meant for.
package notify
