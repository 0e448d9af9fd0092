package history_test

import (
	"fmt"
	"os"

	"github.com/fedledger/fedledger/fl/history"
)

// sample is a two-round task of two hospitals; in round 2 "south" did not
// reveal and lost reputation for it.
func sample() *history.History {
	w := uint64(1)
	return &history.History{
		Task: history.Task{ID: 7, Name: "demo", Status: "done", ModelRound: 2,
			Final: &history.Final{MeanAccuracy: 0.8, Accuracy: map[string]float64{"north": 0.85, "south": 0.75}, Reported: 2, Invited: 2}},
		Rounds: []history.Round{
			{Task: 7, Round: 1, Phase: "closed", Closed: 10, Outcome: "aggregated", Aggregated: 2, InputModel: "aa", OutputModel: "bb",
				Submissions: []history.Submission{
					{Hospital: "south", Samples: 50, Accuracy: 0.5, Loss: 0.69, CommitHeight: 8, Revealed: true, RevealHeight: 9, Weight: &w},
					{Hospital: "north", Samples: 60, Accuracy: 0.5, Loss: 0.69, CommitHeight: 8, Revealed: true, RevealHeight: 9, Weight: &w},
				}},
			{Task: 7, Round: 2, Phase: "closed", Closed: 14, Outcome: "aggregated", Aggregated: 1, InputModel: "bb", OutputModel: "cc",
				Submissions: []history.Submission{
					{Hospital: "north", Samples: 60, Accuracy: 0.8, Loss: 0.5, CommitHeight: 12, Revealed: true, RevealHeight: 13, Weight: &w},
					{Hospital: "south", Samples: 50, Accuracy: 0.7, Loss: 0.6, CommitHeight: 12},
				},
				Reputation: []history.ReputationChange{{Hospital: "south", Delta: -0.4, Score: 0.6, Reasons: []string{"unrevealed"}}}},
		},
	}
}

// WriteCSV writes a row per round and hospital, in hospital-name order.
func ExampleWriteCSV() {
	if err := history.WriteCSV(os.Stdout, sample()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// task,round,phase,closed_height,outcome,aggregated,input_model_hash,output_model_hash,hospital,committed,samples,accuracy,loss,commit_height,revealed,reveal_height,rule_weight,reputation_delta,reputation_score,flagged,reasons
	// 7,1,closed,10,aggregated,2,aa,bb,north,true,60,0.500000,0.690000,8,true,9,1,,,,
	// 7,1,closed,10,aggregated,2,aa,bb,south,true,50,0.500000,0.690000,8,true,9,1,,,,
	// 7,2,closed,14,aggregated,1,bb,cc,north,true,60,0.800000,0.500000,12,true,13,1,,,,
	// 7,2,closed,14,aggregated,1,bb,cc,south,true,50,0.700000,0.600000,12,false,,,-0.400000,0.600000,false,unrevealed
}

// AccuracySeries puts a round's reports at the model they scored (the
// round before's) and the final reports at the task's last model.
func ExampleHistory_AccuracySeries() {
	for _, s := range sample().AccuracySeries() {
		fmt.Println(s.Name, s.Rounds, s.Values)
	}
	// Output:
	// north [0 1 2] [0.5 0.8 0.85]
	// south [0 1 2] [0.5 0.7 0.75]
	// mean [0 1 2] [0.5 0.75 0.8]
}
