package gateway

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzParseReading: whatever bytes a device publishes, ParseReading
// returns a reading that passed every check, or a refusal with a reason;
// never a panic, never another error. A reading it accepts stores and
// re-encodes canonically.
func FuzzParseReading(f *testing.F) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	at := now.Format(time.RFC3339Nano)
	for _, s := range []string{
		`{"resourceType":"Observation","id":"r1","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"identifier":{"value":"p"}},"device":{"identifier":{"value":"bed-1"}},"effectiveDateTime":"` + at + `","valueQuantity":{"value":72,"code":"/min"}}`,
		`{"resourceType":"Observation","id":"r2","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"identifier":{"value":"p"}},"device":{"identifier":{"value":"bed-1"}},"effectiveDateTime":"` + at + `","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"code":"mm[Hg]"}}]}`,
		`{"resourceType":"Observation","id":"r3","code":{"coding":[{"system":"http://loinc.org","code":"59408-5"}]},"subject":{"identifier":{"value":"p"}},"device":{"identifier":{"value":"bed-1"}},"effectiveDateTime":"` + at + `","valueQuantity":{"value":1e309,"code":"%"}}`,
		`{}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	p, _ := NewPseudonymizer(bytes.Repeat([]byte{1}, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReading(b, "bed-1", now)
		if err != nil {
			if Reason(err) == "" {
				t.Fatalf("an error without a reason: %v", err)
			}
			return
		}
		st := p.Store(r, 1, make([]byte, 16))
		var back Stored
		if err := json.Unmarshal(st.Canonical(), &back); err != nil || !bytes.Equal(back.Canonical(), st.Canonical()) {
			t.Fatalf("stored reading does not re-encode: %s", st.Canonical())
		}
	})
}
