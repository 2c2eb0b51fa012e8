// Package tests holds LiteBox-Go's end-to-end tests. They build the litebox
// binary and the C programs in testdata/, run each program natively and under
// `litebox run`, and compare the two. There is no non-test code here apart
// from package harness, which bench/ shares.
package tests
