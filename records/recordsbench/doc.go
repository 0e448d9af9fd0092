// Package recordsbench is `fedledger bench records`: anchors per second
// through an in-process network, grant-checked reads per second at a
// record server, and inclusion-proof verification time.
package recordsbench
