// Package gateway is a hospital's vital-signs gateway: an embedded MQTT
// broker (mochi-mqtt) where each bedside device connects with its own
// credential and may publish to its own topic only (vitals/<device>).
// Each reading, a FHIR vital-signs Observation coded in LOINC with UCUM
// units, is checked (code, unit, physical range, time, the device it names),
// pseudonymised (patient and device as HMAC-SHA256 keyed hashes, times
// shifted by a per-patient offset, identifiers dropped) and written to an
// embedded Pebble store with a synced commit before the broker
// acknowledges it (QoS 1), so no acknowledged reading is lost, even to a
// kill -9. A resent reading (same device and id) is stored once.
//
// Every AnchorInterval the gateway appends the leaves of the readings that
// arrived (SHA-256 of each stored reading, which carries a random nonce)
// to the hospital's record log on chain (chain/records), and keeps where
// each batch went, so any stored reading can later be proved unaltered
// (Prove). Refusals are counted by reason in Status.
package gateway
