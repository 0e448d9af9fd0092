package devices

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/gateway"
)

// kind is one vital sign a monitor sends, from the record's signals.
type kind struct {
	code  string
	unit  string
	sig   []int    // signal per value (one, or a panel's components)
	comps []string // component codes of a panel
}

// Monitor replays one patient's numerics record (one row a minute: heart
// rate, SpO2, respiration, blood pressure) as a bedside monitor: each
// reading is the next vital sign the record has a value for, coded as a
// FHIR vital-signs Observation. Zeros and WFDB's invalid codes are what a
// monitor shows when it has no value; the monitor sends nothing for them.
type Monitor struct {
	Device, Patient string
	rec             *datasets.WFDBRecord
	kinds           []kind
	row, k          int
	seq             uint64
}

// NewMonitor replays rec from row offset (wrapping around at its end).
func NewMonitor(device, patient string, rec *datasets.WFDBRecord, offset int) (*Monitor, error) {
	m := &Monitor{Device: device, Patient: patient, rec: rec}
	one := func(code, unit, name string) {
		if i := rec.Signal(name); i >= 0 {
			m.kinds = append(m.kinds, kind{code: code, unit: unit, sig: []int{i}})
		}
	}
	one("8867-4", "/min", "HR")
	one("59408-5", "%", "SpO2")
	one("9279-1", "/min", "RESP")
	for _, p := range []string{"NBP", "ABP"} {
		sys, dia, mean := rec.Signal(p+"Sys"), rec.Signal(p+"Dias"), rec.Signal(p+"Mean")
		if sys >= 0 && dia >= 0 && mean >= 0 {
			m.kinds = append(m.kinds, kind{code: "85354-9", unit: "mm[Hg]", sig: []int{sys, dia, mean}, comps: []string{"8480-6", "8462-4", "8478-0"}})
		}
	}
	if len(m.kinds) == 0 || rec.Samples == 0 {
		return nil, fmt.Errorf("devices: record %s has no heart rate, SpO2, respiration or blood pressure to replay", rec.Name)
	}
	m.row = offset % rec.Samples
	return m, nil
}

// value is signal s at the current row, false when the monitor had none.
func (m *Monitor) value(s int) (float64, bool) {
	v, ok := m.rec.Physical(s, m.row)
	return v, ok && v > 0
}

// Row returns every reading the record has for its current row (one
// minute of a numerics record), all measured at t, and moves to the next
// row. A row without values gives none.
func (m *Monitor) Row(t time.Time) [][]byte {
	var out [][]byte
	for _, k := range m.kinds {
		if vals, ok := m.values(k); ok {
			_, p := m.reading(k, vals, t)
			out = append(out, p)
		}
	}
	m.k, m.row = 0, (m.row+1)%m.rec.Samples
	return out
}

// values are kind k's values at the current row, false if one is missing.
func (m *Monitor) values(k kind) ([]float64, bool) {
	vals := make([]float64, len(k.sig))
	for i, s := range k.sig {
		v, ok := m.value(s)
		if !ok {
			return nil, false
		}
		vals[i] = v
	}
	return vals, true
}

// reading is the Observation of kind k with vals at t.
func (m *Monitor) reading(k kind, vals []float64, t time.Time) (id string, payload []byte) {
	m.seq++
	id = fmt.Sprintf("%s-%d", m.Device, m.seq)
	r := gateway.Reading{ResourceType: "Observation", ID: id, Status: "final",
		Code:      gateway.CodeableConcept{Coding: []gateway.Coding{{System: gateway.LOINC, Code: k.code}}},
		Subject:   gateway.Reference{Identifier: gateway.Identifier{Value: m.Patient}},
		Device:    gateway.Reference{Identifier: gateway.Identifier{Value: m.Device}},
		Effective: t.UTC().Format(time.RFC3339Nano)}
	q := func(v float64) *gateway.Quantity {
		return &gateway.Quantity{Value: v, Unit: k.unit, System: "http://unitsofmeasure.org", Code: k.unit}
	}
	if k.comps == nil {
		r.Value = q(vals[0])
	} else {
		for i, c := range k.comps {
			r.Component = append(r.Component, gateway.Component{Code: gateway.CodeableConcept{Coding: []gateway.Coding{{System: gateway.LOINC, Code: c}}}, Value: q(vals[i])})
		}
	}
	payload, _ = json.Marshal(r)
	return id, payload
}

// Next is the monitor's next reading, measured at t: its id and payload.
func (m *Monitor) Next(t time.Time) (id string, payload []byte) {
	for tries := 0; tries < len(m.kinds)*m.rec.Samples; tries++ {
		k := m.kinds[m.k]
		vals, ok := m.values(k)
		m.k++
		if m.k == len(m.kinds) {
			m.k, m.row = 0, (m.row+1)%m.rec.Samples
		}
		if ok {
			return m.reading(k, vals, t)
		}
	}
	return "", nil // the record has no value at all
}
