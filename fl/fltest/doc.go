// Package fltest has helpers for testing fedledger clients against hostile
// nodes, in the manner of net/http/httptest: LyingProxy stands in front of
// a real node's RPC and alters what it answers.
package fltest
