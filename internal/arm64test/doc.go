// Package arm64test runs a package's golden-vector tests as arm64 code
// under qemu-user, the check DESIGN.md asks of consensus code: the same
// inputs must give the same bits on another CPU architecture. A test
// helper, like net/http/httptest, for the packages whose results are
// consensus state.
package arm64test
