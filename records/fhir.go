package records

import (
	"encoding/json"
	"fmt"
)

// HeartBundle is a synthetic FHIR R4 collection Bundle (a Patient and
// LOINC-coded Observations) made from one row of the UCI heart disease
// data (columns datasets.HeartFeatures, label num > 0), for tests and
// demonstrations. The rows carry no identifiers; the patient id is made
// up from the hospital and the row number.
func HeartBundle(hospital string, row int, x []float64, label float64) ([]byte, string, error) {
	if len(x) != 13 {
		return nil, "", fmt.Errorf("records: a heart disease row has 13 values, not %d", len(x))
	}
	patient := fmt.Sprintf("%s-%04d", hospital, row)
	gender := "female"
	if x[1] == 1 {
		gender = "male"
	}
	ref := map[string]string{"reference": "Patient/" + patient}
	obs := func(id, code, display string, value any) map[string]any {
		o := map[string]any{
			"resourceType": "Observation", "id": patient + "-" + id, "status": "final", "subject": ref,
			"code": map[string]any{"coding": []map[string]string{{"system": "http://loinc.org", "code": code, "display": display}}},
		}
		switch v := value.(type) {
		case bool:
			o["valueBoolean"] = v
		case [2]any:
			o["valueQuantity"] = map[string]any{"value": v[0], "unit": v[1], "system": "http://unitsofmeasure.org", "code": v[1]}
		default:
			o["valueString"] = fmt.Sprint(v)
		}
		return map[string]any{"resource": o}
	}
	chestPain := "typical angina"
	switch {
	case x[8] == 1:
		chestPain = "atypical angina"
	case x[9] == 1:
		chestPain = "non-anginal pain"
	case x[10] == 1:
		chestPain = "asymptomatic"
	}
	b := map[string]any{
		"resourceType": "Bundle", "type": "collection",
		"meta": map[string]any{"tag": []map[string]string{{"system": "https://fedledger.org/tags", "code": "synthetic-from-uci-heart-disease"}}},
		"entry": []any{
			map[string]any{"resource": map[string]any{"resourceType": "Patient", "id": patient, "gender": gender}},
			obs("age", "30525-0", "Age", [2]any{x[0], "a"}),
			obs("bp", "8480-6", "Systolic blood pressure (resting)", [2]any{x[2], "mm[Hg]"}),
			obs("chol", "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", [2]any{x[3], "mg/dL"}),
			obs("fbs", "1558-6", "Fasting glucose > 120 mg/dL", x[4] == 1),
			obs("hrmax", "8867-4", "Heart rate (maximum, exercise test)", [2]any{x[5], "/min"}),
			obs("exang", "exang", "Exercise-induced angina", x[6] == 1),
			obs("oldpeak", "oldpeak", "ST depression induced by exercise", [2]any{x[7], "mm"}),
			obs("cp", "cp", "Chest pain type", chestPain),
			obs("dx", "dx", "Angiographic heart disease (narrowing > 50%)", label > 0),
		},
	}
	bz, err := json.Marshal(b)
	return bz, patient, err
}
