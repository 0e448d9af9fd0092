// Package explorer is fedledger's web page for reviewers and researchers:
// the tasks on a chain; each task's rounds with every hospital's reported
// accuracy and loss as charts; rule weights, exclusions and reputation with
// their reasons over the rounds; the model hash of every round, shown
// verified (the model record's Merkle proof against a header the light
// client verified) or not, and why; a button that runs the audit replay
// (chain/audit) with its progress; and downloads of the round history (CSV,
// JSON) and of any round's model (the model file of docs/model-file.md).
//
// A Server is an http.Handler. Its page and scripts are embedded in the
// binary and fetch nothing from elsewhere; its JSON API (under /api/) is
// what the page reads:
//
//	GET  /api/status                            chain, node, height, trust
//	GET  /api/tasks                             every task
//	GET  /api/tasks/{id}                        a task and its rounds (history.History)
//	GET  /api/tasks/{id}/history.csv|json       the same, as a download
//	GET  /api/tasks/{id}/rounds/{r}/verify      the round's model hash, verified or not
//	GET  /api/tasks/{id}/rounds/{r}/model       the model after round r, as a model file
//	POST /api/tasks/{id}/audit                  start an audit replay (one at a time)
//	GET  /api/audits/{job}                      its progress and report
//
// fedledger explorer --node URL serves it; fedledger demo --explorer ADDR
// serves it beside a demo network and keeps the network up.
package explorer
