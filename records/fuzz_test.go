package records

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/fedledger/fedledger/records/recordsnet"
)

// FuzzCanonical: any bytes either are refused as malformed or give
// canonical bytes that are their own canonical form.
func FuzzCanonical(f *testing.F) {
	f.Add([]byte(patientJSON), true)
	f.Add([]byte(`{"b": 1, "a": [1.50, "x\u00e9", null, {"d": true, "c": -0e3}]}`), true)
	f.Add([]byte(`{"a":1} trailing`), true)
	f.Add([]byte("\x89PNG"), false)
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		c, err := Canonical(data, isJSON)
		if err != nil {
			return
		}
		again, err := Canonical(c, isJSON)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("canonical %q is not its own canonical form: %q, %v", c, again, err)
		}
	})
}

// FuzzParseRequest: a record server's request decoder refuses or accepts
// any bytes without panicking, and accepts only requests whose signature
// verifies for this server's hospital. Seeds are validly signed, so the
// fuzzer mutates past the signature check.
func FuzzParseRequest(f *testing.F) {
	holder := recordsnet.Pub("north")
	for _, a := range []Ask{
		{Holder: holder, Record: "obs-1", Grant: 1, Purpose: "research"},
		{Holder: holder, Record: "obs-2", Review: 3},
		{Holder: recordsnet.Pub("south"), Record: "obs-1", Grant: 2, Purpose: "care"},
	} {
		req, _, err := NewRequest(recordsnet.Key("researcher"), a)
		if err != nil {
			f.Fatal(err)
		}
		bz, _ := json.Marshal(req)
		f.Add(bz)
	}
	f.Add([]byte(`{"agent": "AAAA"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, _, ref := ParseRequest(body, holder)
		if ref != nil {
			if ref.Code == "" || ref.Status < 400 {
				t.Fatalf("refusal without a code: %+v", ref)
			}
			return
		}
		if !bytes.Equal(req.Holder, holder) || len(req.Recipient) != 32 {
			t.Fatalf("accepted %+v", req)
		}
	})
}
