package explorer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/fedledger/fedledger/chain/audit"
)

// AuditJob is what /api/audits/{job} answers: an audit replay's progress
// and, once done, its report or error.
type AuditJob struct {
	ID      int           `json:"id"`
	Task    uint64        `json:"task"`
	Height  int64         `json:"height"`
	Top     int64         `json:"top"`
	Done    bool          `json:"done"`
	OK      bool          `json:"ok"`
	Error   string        `json:"error,omitempty"`
	Report  *audit.Report `json:"report,omitempty"`
	Seconds float64       `json:"seconds"`
}

type auditJob struct {
	AuditJob
	started time.Time
}

// maxJobs is how many finished audits the server remembers.
const maxJobs = 64

// startAudit starts an audit of the task, or answers the one already
// running (one replay at a time: it is the heaviest thing the page does).
func (s *Server) startAudit(w http.ResponseWriter, r *http.Request) {
	id, err := taskID(r)
	if err != nil {
		fail(w, err)
		return
	}
	if s.cfg.AuditRPC == nil {
		writeJSON(w, http.StatusNotImplemented, apiError{"this explorer has no node to replay from (fedledger explorer --node URL)"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active != nil {
		code := http.StatusConflict
		if s.active.Task == id {
			code = http.StatusOK
		}
		writeJSON(w, code, s.active.AuditJob)
		return
	}
	s.lastJob++
	j := &auditJob{AuditJob: AuditJob{ID: s.lastJob, Task: id}, started: time.Now()}
	if len(s.jobs) >= maxJobs {
		s.jobs = s.jobs[1:]
	}
	s.jobs = append(s.jobs, j)
	s.active = j
	go s.runAudit(j)
	writeJSON(w, http.StatusAccepted, j.AuditJob)
}

func (s *Server) runAudit(j *auditJob) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.AuditTimeout)
	defer cancel()
	opts := audit.Options{Genesis: s.cfg.Genesis, Progress: func(h, top int64) {
		s.mu.Lock()
		j.Height, j.Top = h, top
		s.mu.Unlock()
	}}
	rep, err := audit.RunWith(ctx, s.cfg.AuditRPC, j.Task, opts)
	s.mu.Lock()
	defer s.mu.Unlock()
	j.Done, j.Seconds, s.active = true, time.Since(j.started).Seconds(), nil
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		j.Error = fmt.Sprintf("the replay took over %s; run fedledger audit with a longer --timeout", s.cfg.AuditTimeout)
	case err != nil:
		j.Error = err.Error()
	default:
		j.Report, j.OK = rep, rep.OK()
	}
}

func (s *Server) auditStatus(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("job"))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		if err == nil && j.ID == n {
			out := j.AuditJob
			if !out.Done {
				out.Seconds = time.Since(j.started).Seconds()
			}
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no audit %q (the explorer keeps the last %d)", r.PathValue("job"), maxJobs)})
}
