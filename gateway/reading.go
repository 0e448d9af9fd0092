package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Reading is what a device publishes: a FHIR Observation (vital-signs
// profile) as JSON, LOINC-coded, with the device, the patient and the
// time. ID is the device's own identifier of the reading, unique per
// device: a reading sent twice (a QoS 1 retry) has the same ID and is
// stored once.
type Reading struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id"`
	Status       string          `json:"status,omitempty"`
	Code         CodeableConcept `json:"code"`
	Subject      Reference       `json:"subject"`
	Device       Reference       `json:"device"`
	Effective    string          `json:"effectiveDateTime"`
	Value        *Quantity       `json:"valueQuantity,omitempty"`
	Component    []Component     `json:"component,omitempty"`
}

// CodeableConcept is a FHIR code: the first coding in the LOINC system is
// the one read.
type CodeableConcept struct {
	Coding []Coding `json:"coding"`
}

// Coding is one code of a system.
type Coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// Reference names the patient or the device by an identifier.
type Reference struct {
	Identifier Identifier `json:"identifier"`
}

// Identifier is a FHIR identifier's value.
type Identifier struct {
	Value string `json:"value"`
}

// Quantity is a value in UCUM units.
type Quantity struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	System string  `json:"system,omitempty"`
	Code   string  `json:"code"`
}

// Component is one value of a panel (systolic and diastolic pressure).
type Component struct {
	Code  CodeableConcept `json:"code"`
	Value *Quantity       `json:"valueQuantity"`
}

// LOINC is the code system the gateway reads.
const LOINC = "http://loinc.org"

// Vital is one kind of vital sign the gateway takes: its LOINC code, the
// UCUM unit it must come in, and the range a monitor can physically report
// (wide on purpose: an alarming value is a value; a value no monitor can
// produce is an error).
type Vital struct {
	Code, Name, Unit string
	Min, Max         float64
	// Components of a panel (blood pressure); a panel has no value of its own.
	Components []Vital
}

// Vitals are the kinds the gateway takes, by LOINC code.
var Vitals = map[string]Vital{
	"8867-4":  {Code: "8867-4", Name: "heart rate", Unit: "/min", Min: 1, Max: 350},
	"9279-1":  {Code: "9279-1", Name: "respiratory rate", Unit: "/min", Min: 0.5, Max: 120},
	"59408-5": {Code: "59408-5", Name: "oxygen saturation by pulse oximetry", Unit: "%", Min: 1, Max: 100},
	"2708-6":  {Code: "2708-6", Name: "oxygen saturation in arterial blood", Unit: "%", Min: 1, Max: 100},
	"8310-5":  {Code: "8310-5", Name: "body temperature", Unit: "Cel", Min: 20, Max: 46},
	"85354-9": {Code: "85354-9", Name: "blood pressure panel", Components: []Vital{
		{Code: "8480-6", Name: "systolic blood pressure", Unit: "mm[Hg]", Min: 10, Max: 320},
		{Code: "8462-4", Name: "diastolic blood pressure", Unit: "mm[Hg]", Min: 5, Max: 250},
		{Code: "8478-0", Name: "mean blood pressure", Unit: "mm[Hg]", Min: 5, Max: 300},
	}},
}

// Refusal reasons: why a reading was not stored. Each is counted in the
// gateway's status.
const (
	RefusedMalformed = "malformed"    // not JSON, or not an Observation
	RefusedCode      = "unknown_code" // not a LOINC vital the gateway takes
	RefusedUnit      = "wrong_unit"   // a value not in the vital's UCUM unit
	RefusedRange     = "out_of_range" // a value no monitor can report
	RefusedDevice    = "wrong_device" // the reading names another device than the one connected
	RefusedTime      = "bad_time"     // no time, or too far from the gateway's clock
)

// RefusalError is a reading the gateway refused, and why.
type RefusalError struct {
	Reason string // one of the Refused* constants
	Detail string
}

func (e *RefusalError) Error() string { return e.Reason + ": " + e.Detail }

func refuse(reason, format string, args ...any) error {
	return &RefusalError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Reason is the refusal reason of err, or "" if it is not a refusal.
func Reason(err error) string {
	var r *RefusalError
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// MaxReadingBytes bounds a published payload.
const MaxReadingBytes = 4096

// maxSkew is how far a reading's time may be from the gateway's clock.
const maxSkew = 24 * time.Hour

// ParseReading reads and checks a payload published by device at now.
func ParseReading(payload []byte, device string, now time.Time) (*Reading, error) {
	if len(payload) > MaxReadingBytes {
		return nil, refuse(RefusedMalformed, "%d bytes; at most %d", len(payload), MaxReadingBytes)
	}
	var r Reading
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, refuse(RefusedMalformed, "not an Observation: %v", err)
	}
	if dec.More() {
		return nil, refuse(RefusedMalformed, "data after the Observation")
	}
	if r.ResourceType != "Observation" {
		return nil, refuse(RefusedMalformed, "resourceType %q; want Observation", r.ResourceType)
	}
	if r.ID == "" || len(r.ID) > 64 {
		return nil, refuse(RefusedMalformed, "id: want the device's identifier of the reading, 1 to 64 characters")
	}
	if r.Subject.Identifier.Value == "" || len(r.Subject.Identifier.Value) > 128 {
		return nil, refuse(RefusedMalformed, "subject.identifier.value: want the patient's identifier")
	}
	if r.Device.Identifier.Value != device {
		return nil, refuse(RefusedDevice, "the reading names device %q; it came from %q", r.Device.Identifier.Value, device)
	}
	t, err := time.Parse(time.RFC3339Nano, r.Effective)
	if err != nil {
		return nil, refuse(RefusedTime, "effectiveDateTime %q: want RFC 3339", r.Effective)
	}
	if d := t.Sub(now); d > maxSkew || d < -maxSkew {
		return nil, refuse(RefusedTime, "effectiveDateTime %s is %s from the gateway's clock", r.Effective, d.Round(time.Second))
	}
	code := loincCode(r.Code)
	v, ok := Vitals[code]
	if !ok {
		return nil, refuse(RefusedCode, "code %q is not a LOINC vital sign the gateway takes", code)
	}
	if len(v.Components) == 0 {
		if len(r.Component) > 0 {
			return nil, refuse(RefusedMalformed, "%s (%s) has no components", v.Name, code)
		}
		if err := checkValue(v, r.Value); err != nil {
			return nil, err
		}
		return &r, nil
	}
	if r.Value != nil {
		return nil, refuse(RefusedMalformed, "%s (%s) is a panel: its values go in components", v.Name, code)
	}
	if len(r.Component) == 0 || len(r.Component) > len(v.Components) {
		return nil, refuse(RefusedMalformed, "%s (%s): want 1 to %d components", v.Name, code, len(v.Components))
	}
	seen := map[string]bool{}
	for _, c := range r.Component {
		cc := loincCode(c.Code)
		var cv *Vital
		for i := range v.Components {
			if v.Components[i].Code == cc {
				cv = &v.Components[i]
			}
		}
		if cv == nil || seen[cc] {
			return nil, refuse(RefusedCode, "component %q is not one of %s's, or repeated", cc, v.Name)
		}
		seen[cc] = true
		if err := checkValue(*cv, c.Value); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

func loincCode(c CodeableConcept) string {
	for _, k := range c.Coding {
		if k.System == LOINC {
			return k.Code
		}
	}
	return ""
}

func checkValue(v Vital, q *Quantity) error {
	if q == nil {
		return refuse(RefusedMalformed, "%s (%s) has no valueQuantity", v.Name, v.Code)
	}
	if q.Code != v.Unit {
		return refuse(RefusedUnit, "%s (%s) in %q; want UCUM %q", v.Name, v.Code, q.Code, v.Unit)
	}
	if math.IsNaN(q.Value) || q.Value < v.Min || q.Value > v.Max {
		return refuse(RefusedRange, "%s (%s) of %g %s is outside %g–%g", v.Name, v.Code, q.Value, v.Unit, v.Min, v.Max)
	}
	return nil
}

// Stored is a reading as the gateway keeps and shares it: pseudonymised
// (patient and device as keyed hashes, the time shifted by the patient's
// own offset), without the identifiers the device sent, and with a random
// nonce so that its leaf reveals nothing of a low-entropy value.
type Stored struct {
	Seq        uint64            `json:"seq"`
	Patient    string            `json:"patient"`
	Device     string            `json:"device"`
	Time       string            `json:"time"`
	Code       string            `json:"code"`
	Value      *float64          `json:"value,omitempty"`
	Unit       string            `json:"unit,omitempty"`
	Components []StoredComponent `json:"components,omitempty"`
	Nonce      string            `json:"nonce"`
}

// StoredComponent is one value of a stored panel.
type StoredComponent struct {
	Code  string  `json:"code"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Pseudonymizer turns identifiers into keyed hashes (HMAC-SHA256 under
// the hospital's key, as ENISA recommends for pseudonyms) and shifts each
// patient's times by an offset of its own, so that intervals within a
// patient's record stay true while dates no longer point at a day.
type Pseudonymizer struct{ key []byte }

// NewPseudonymizer uses key (at least 32 bytes, kept by the hospital).
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) < 32 {
		return nil, errors.New("gateway: the pseudonym key must have at least 32 bytes")
	}
	return &Pseudonymizer{key: append([]byte(nil), key...)}, nil
}

func (p *Pseudonymizer) mac(kind, id string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("fedledger/gateway/" + kind + "\x00" + id))
	return m.Sum(nil)
}

// Patient is the pseudonym of a patient identifier.
func (p *Pseudonymizer) Patient(id string) string {
	return "p-" + hex.EncodeToString(p.mac("patient", id)[:16])
}

// Device is the pseudonym of a device identifier (a device's serial
// number is an identifier under HIPAA Safe Harbor too).
func (p *Pseudonymizer) Device(id string) string {
	return "d-" + hex.EncodeToString(p.mac("device", id)[:16])
}

// MaxShiftDays bounds the date shift: every patient's times move by a
// whole number of days in [−MaxShiftDays, MaxShiftDays], the same for all
// of that patient's readings.
const MaxShiftDays = 182

// Shift is the patient's date offset.
func (p *Pseudonymizer) Shift(id string) time.Duration {
	v := binary.BigEndian.Uint64(p.mac("shift", id)[:8])
	days := int64(v%(2*MaxShiftDays+1)) - MaxShiftDays
	return time.Duration(days) * 24 * time.Hour
}

// Store turns a checked reading into what the gateway keeps.
func (p *Pseudonymizer) Store(r *Reading, seq uint64, nonce []byte) Stored {
	t, _ := time.Parse(time.RFC3339Nano, r.Effective)
	s := Stored{Seq: seq, Patient: p.Patient(r.Subject.Identifier.Value), Device: p.Device(r.Device.Identifier.Value),
		Time: t.Add(p.Shift(r.Subject.Identifier.Value)).UTC().Format("2006-01-02T15:04:05.000Z"),
		Code: loincCode(r.Code), Nonce: hex.EncodeToString(nonce)}
	if r.Value != nil {
		v := r.Value.Value
		s.Value, s.Unit = &v, r.Value.Code
	}
	for _, c := range r.Component {
		s.Components = append(s.Components, StoredComponent{Code: loincCode(c.Code), Value: c.Value.Value, Unit: c.Value.Code})
	}
	return s
}

// Canonical is the stored reading's bytes: JSON with the fields in their
// declared order, no spaces. Its leaf is what the chain anchors.
func (s *Stored) Canonical() []byte {
	bz, _ := json.Marshal(s) // a struct of strings and finite numbers
	return bz
}

// Leaf is the 32-byte leaf of a stored reading in the hospital's record
// log: SHA-256 of a domain tag and its canonical bytes.
func Leaf(canonical []byte) []byte {
	h := sha256.New()
	h.Write([]byte("fedledger/gateway/reading/v1\x00"))
	h.Write(canonical)
	return h.Sum(nil)
}
