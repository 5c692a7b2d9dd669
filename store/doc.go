// Package store defines partnergate's storage contract: value types, the
// interfaces each role needs, the sentinel errors callers branch on, and the
// event bus that carries revocations between nodes. It holds no backend;
// store/bolt and store/redis implement it and store/storetest judges both.
package store
