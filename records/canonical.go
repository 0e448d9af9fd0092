package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// ErrMalformed is the error of a record that cannot be stored: empty, too
// large, or declared JSON and not valid JSON.
var ErrMalformed = errors.New("malformed record")

// MaxRecordBytes bounds one record's canonical bytes.
const MaxRecordBytes = 16 << 20

// Canonical returns a record's canonical bytes. A JSON record (FHIR) is
// re-encoded with object keys sorted, no insignificant white space, and
// numbers exactly as written, so that two encodings of one resource give
// one leaf; anything else is taken as it is.
func Canonical(data []byte, isJSON bool) ([]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: it is empty", ErrMalformed)
	}
	if len(data) > MaxRecordBytes {
		return nil, fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrMalformed, len(data), MaxRecordBytes)
	}
	if !isJSON {
		return bytes.Clone(data), nil
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: JSON that is not UTF-8", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrMalformed)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: a FHIR resource is a JSON object", ErrMalformed)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
