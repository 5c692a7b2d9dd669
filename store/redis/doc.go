// Package redis implements store.Store on Redis, so several gateway nodes
// share partners, users, sessions, counters and the event bus.
//
// It runs on any go-redis UniversalClient: a single server, a Sentinel
// managed primary or a Redis Cluster (see ParseURL for the URL forms). It
// needs Redis 7.0 or later (SET PXAT, PEXPIREAT GT).
//
// # Layout
//
// Every key of a partner carries the partner id as a Cluster hash tag, so
// all of one partner's keys live in one slot and multi-key work within a
// partner can be atomic (WATCH/MULTI/EXEC, or a Lua script) even in Cluster:
//
//	pg:{<partner>}:partner               the Partner, JSON
//	pg:{<partner>}:user:<id>             a User, JSON, its Groups included
//	pg:{<partner>}:email:<lower email>   user id owning that email
//	pg:{<partner>}:username:<lower>      user id owning that user name, when not empty
//	pg:{<partner>}:externalid:<id>       user id owning that external id, when not empty
//	pg:{<partner>}:altemail:<lower>      sorted set of the ids of users with that alt email (score 0)
//	pg:{<partner>}:users                 sorted set of user ids (score 0, so lexical order)
//	pg:{<partner>}:session:<id>          a Session, JSON, expiring at ExpiresAt
//	pg:{<partner>}:usersessions:<uid>    set of the user's session ids, pruned lazily
//	pg:{<partner>}:counter:<key>         a fixed-window counter
//	pg:{<partner>}:group:<id>            a Group, JSON
//	pg:{<partner>}:groupname:<lower>     group id owning that name
//	pg:{<partner>}:groupexternalid:<id>  group id owning that external id, when not empty
//	pg:{<partner>}:groups                sorted set of group ids (score 0)
//	pg:{<partner>}:groupmembers:<gid>    sorted set of the group's user ids (score 0)
//	pg:{<partner>}:grouproles:<gid>      hash role -> id of the mapping granting it
//	pg:{<partner>}:rolemapping:<id>      a RoleMapping, JSON
//	pg:{<partner>}:rolemappings          sorted set of role mapping ids (score 0)
//	pg:{<partner>}:ssoconnection:<id>    an SSOConnection, JSON
//	pg:{<partner>}:ssoconnections        sorted set of SSO connection ids (score 0)
//	pg:{<partner>}:ssodomain:<lower>     id of the SSO connection routing that email domain
//	pg:{<partner>}:token:<id>            a Token, JSON
//	pg:{<partner>}:tokens:<kind>         sorted set of the ids of tokens of a kind (score 0)
//	pg:{<partner>}:ticket:<id>           a ticket's payload, expiring with it
//	pg:{<partner>}:audit                 sorted set of audit records, JSON, scored by seq
//	pg:{<partner>}:audithead             hash of the audit stream's head: seq, hash, ms, first
//	pg:{<partner>}:scimrequests          list of the latest SCIM requests, JSON, newest first
//
// Two keys are global: pg:partners (set of partner ids) and pg:hostnames
// (hash hostname -> partner id, the uniqueness index for custom domains).
// The platform's audit stream, which belongs to no partner, has its own
// tag: pg:audit:{platform}:records and pg:audit:{platform}:head.
// Nothing atomic ever spans two slots; the few steps that touch a global key
// and a partner key are ordered so a crash between them leaves at most a
// stale hostname claim, never a partner listing a hostname it does not hold.
//
// Partner ids must not contain '{' or '}', which would break the hash tag.
//
// # Failure
//
// Timeouts are short and retries few, so a dead Redis fails a request in
// about a second instead of stalling it. Errors caused by an unreachable or
// unready server wrap store.ErrUnavailable; the store sentinels stay
// matchable with errors.Is.
//
// Events travel over the Pub/Sub channel pg:events. Watch runs its own
// liveness check on the subscription because go-redis reconnects silently
// and events published meanwhile are lost.
package redis
