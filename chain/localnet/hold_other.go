//go:build !unix

package localnet

// holdPort holds nothing where raw sockets are not at hand.
func holdPort(string) func() { return nil }
