// Package redistest runs throwaway redis-server and redis-sentinel processes
// for tests, so store/redis is tested against the real server (Lua, WATCH,
// pub/sub and expiry semantics are what matter, and fakes get them wrong).
// The binaries come from the redis-server and redis-sentinel apt packages.
package redistest
