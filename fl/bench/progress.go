package bench

import (
	"fmt"
	"time"
)

// progress counts a bench's runs and says how far it has come, as a
// prefix of each run's line: "[12/85 14%, about 5m20s left]". The time
// left assumes the runs still to come take as long as those done.
type progress struct {
	total, done int
	start       time.Time
}

func newProgress(total int) *progress { return &progress{total: total, start: time.Now()} }

// step counts one more run done and returns the prefix for its line.
func (p *progress) step() string {
	p.done++
	pct := 100 * p.done / max(p.total, 1)
	if p.done >= p.total {
		return fmt.Sprintf("[%d/%d 100%%, %s]", p.done, p.total, time.Since(p.start).Round(time.Second))
	}
	left := time.Duration(float64(time.Since(p.start)) / float64(p.done) * float64(p.total-p.done))
	return fmt.Sprintf("[%d/%d %d%%, about %s left]", p.done, p.total, pct, left.Round(time.Second))
}
