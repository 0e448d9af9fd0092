package records_test

import (
	"bytes"
	"fmt"

	"github.com/fedledger/fedledger/records"
)

// Two encodings of one FHIR resource have one canonical form, so one
// leaf; the leaf depends on the record's key, so it says nothing of the
// content to whoever lacks the key.
func ExampleLeaf() {
	a, _ := records.Canonical([]byte(`{"resourceType": "Observation", "valueQuantity": {"value": 72, "unit": "/min"}}`), true)
	b, _ := records.Canonical([]byte(`{"valueQuantity":{"unit":"/min","value":72},"resourceType":"Observation"}`), true)
	fmt.Println(string(a))
	key := bytes.Repeat([]byte{1}, 32)
	other := bytes.Repeat([]byte{2}, 32)
	la := records.Leaf(records.LeafKey(key), "obs-1", 1, a)
	lb := records.Leaf(records.LeafKey(key), "obs-1", 1, b)
	lc := records.Leaf(records.LeafKey(other), "obs-1", 1, a)
	fmt.Println(bytes.Equal(la, lb), bytes.Equal(la, lc))
	_, err := records.Canonical([]byte(`{"resourceType": "Observation",`), true)
	fmt.Println(err != nil)
	// Output:
	// {"resourceType":"Observation","valueQuantity":{"unit":"/min","value":72}}
	// true false
	// true
}
