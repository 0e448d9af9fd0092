// Package history is a task's history as a reviewer reads it: the task's
// settings and outcome, every round's submissions (with the metrics each
// hospital reported for the round's input model), rule weights, outcome,
// model hashes and reputation changes with their reasons; loaded from a
// node through any Reader (an fl.Client, which checks proofs when it has a
// verifier), and written as JSON, CSV or a chart (gonum/plot).
//
// The command line's task show, rounds list and rounds plot, and the web
// explorer, all print these same views.
package history
