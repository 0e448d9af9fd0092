// Package devices is the device side of fedledger's vital-signs gateway:
// Conn, the MQTT 5 connection of a bedside monitor (QoS 1 publishes, each
// acknowledgement's reason code), Monitor, which replays a real ICU
// numerics record (datasets.LoadVitals) as FHIR vital-signs Observations,
// and Simulate, a fleet of such monitors at a set rate that reconnects and
// resends what was not acknowledged, for tests, demos and the gateway's
// benchmark.
package devices
