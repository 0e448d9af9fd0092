package gateway_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/fedledger/fedledger/gateway"
)

// A reading is checked before anything is stored: a refusal names its
// reason, which the gateway counts and sends back to the device.
func ExampleParseReading() {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, value := range []float64{72, 999} {
		payload := fmt.Sprintf(`{"resourceType": "Observation", "id": "bed-1-%g",
			"code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
			"subject": {"identifier": {"value": "MRN-000417"}}, "device": {"identifier": {"value": "bed-1"}},
			"effectiveDateTime": "2026-11-24T09:59:00Z", "valueQuantity": {"value": %g, "code": "/min"}}`, value, value)
		_, err := gateway.ParseReading([]byte(payload), "bed-1", now)
		fmt.Printf("%g/min: %q %v\n", value, gateway.Reason(err), err)
	}
	// Output:
	// 72/min: "" <nil>
	// 999/min: "out_of_range" out_of_range: heart rate (8867-4) of 999 /min is outside 1–350
}

// Pseudonyms are keyed hashes: the same patient gets the same pseudonym
// and date shift under one hospital's key, another under another key.
func ExamplePseudonymizer() {
	north, _ := gateway.NewPseudonymizer(bytes.Repeat([]byte{1}, 32))
	south, _ := gateway.NewPseudonymizer(bytes.Repeat([]byte{2}, 32))
	fmt.Println(north.Patient("MRN-000417") == north.Patient("MRN-000417"))
	fmt.Println(north.Patient("MRN-000417") == south.Patient("MRN-000417"))
	shift := north.Shift("MRN-000417")
	fmt.Println(shift%(24*time.Hour) == 0, shift <= gateway.MaxShiftDays*24*time.Hour, shift >= -gateway.MaxShiftDays*24*time.Hour)
	// Output:
	// true
	// false
	// true true true
}
