package devices_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/devices"
	"github.com/fedledger/fedledger/gateway"
)

// A monitor replays a real ICU numerics record (MIMIC II patient s00001,
// row 14: heart rate 55.6, SpO2 96.0, respiration 12.4, cuff pressure
// 120/72/89) as FHIR Observations, one vital sign a reading.
func ExampleMonitor() {
	recs, err := datasets.LoadVitals(datasets.FindDir(""), "s00001-2896-10-10-00-31n")
	if err != nil {
		fmt.Println(err)
		return
	}
	mon, _ := devices.NewMonitor("bed-1", "patient-1", recs[0], 14)
	for _, payload := range mon.Row(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)) {
		var r gateway.Reading
		json.Unmarshal(payload, &r)
		if r.Value != nil {
			fmt.Println(r.ID, r.Code.Coding[0].Code, r.Value.Value, r.Value.Code)
			continue
		}
		fmt.Println(r.ID, r.Code.Coding[0].Code, r.Component[0].Value.Value, r.Component[1].Value.Value, r.Component[2].Value.Value, r.Component[0].Value.Code)
	}
	// Output:
	// bed-1-1 8867-4 55.6 /min
	// bed-1-2 59408-5 96 %
	// bed-1-3 9279-1 12.4 /min
	// bed-1-4 85354-9 120 72 89 mm[Hg]
}
