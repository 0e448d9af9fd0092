package training

import (
	"slices"
	"testing"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// TestSketchSeed: the sketch key is a function of the task, the round and
// every commitment, revealed or not: changing any of them changes it, and
// nothing else (the reveals, the phase) does.
func TestSketchSeed(t *testing.T) {
	base := func() (*pb.Task, *pb.Round) {
		task := &pb.Task{Id: 7, Spec: pb.TaskSpec{Hospitals: [][]byte{{1}, {2}, {3}}}}
		rd := &pb.Round{TaskId: 7, Round: 2, Submissions: []pb.Submission{
			{Hospital: []byte{1}, UpdateHash: []byte("c1"), Revealed: true},
			{Hospital: []byte{3}, UpdateHash: []byte("c3")}, // committed, never revealed
		}}
		return task, rd
	}
	task, rd := base()
	want := sketchSeed(task, rd)
	for _, tc := range []struct {
		name    string
		change  func(*pb.Task, *pb.Round)
		differs bool
	}{
		{"nothing", func(*pb.Task, *pb.Round) {}, false},
		{"a reveal and the phase", func(_ *pb.Task, rd *pb.Round) {
			rd.Submissions[1].Revealed, rd.Phase = true, pb.PHASE_CLOSED
		}, false},
		{"a commitment", func(_ *pb.Task, rd *pb.Round) { rd.Submissions[0].UpdateHash = []byte("c1'") }, true},
		{"an unrevealed commitment", func(_ *pb.Task, rd *pb.Round) { rd.Submissions[1].UpdateHash = []byte("c3'") }, true},
		{"one more commitment", func(_ *pb.Task, rd *pb.Round) {
			rd.Submissions = slices.Insert(rd.Submissions, 1, pb.Submission{Hospital: []byte{2}, UpdateHash: []byte("c2")}) // kept sorted by key
		}, true},
		{"the round", func(_ *pb.Task, rd *pb.Round) { rd.Round = 3 }, true},
		{"the task", func(task *pb.Task, _ *pb.Round) { task.Id = 8 }, true},
		{"commitments moved between hospitals", func(_ *pb.Task, rd *pb.Round) {
			rd.Submissions[0].UpdateHash, rd.Submissions[1].UpdateHash = []byte("c3"), []byte("c1")
		}, true},
	} {
		task, rd := base()
		tc.change(task, rd)
		if got := sketchSeed(task, rd); (got != want) != tc.differs {
			t.Errorf("%s: seed %x, base %x; want differs=%v", tc.name, got, want, tc.differs)
		}
	}
}
