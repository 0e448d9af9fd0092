package explorer

import (
	"bytes"
	"context"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/fedledger/fedledger/chain/audit"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/history"
)

//go:embed assets
var assets embed.FS

// Config is what a Server reads from.
type Config struct {
	// Client answers the page's queries; with a Verifier (fl.LightVerifier)
	// every answer is proof-checked and each round's model hash is shown
	// verified. Required.
	Client *fl.Client
	// Node names the node(s) on the page.
	Node string
	// AuditRPC is the node the audit button replays from; nil turns the
	// button off.
	AuditRPC audit.RPC
	// Genesis, when set, is the genesis the audit replays from (the one the
	// reviewer trusts); otherwise the node's, and the report says so.
	Genesis *types.GenesisDoc
	// QueryTimeout bounds one API call's reads from the chain.
	QueryTimeout time.Duration
	// AuditTimeout bounds one audit replay.
	AuditTimeout time.Duration
}

// DefaultConfig has a 30 s query timeout and a 10 min audit timeout.
func DefaultConfig() Config {
	return Config{QueryTimeout: 30 * time.Second, AuditTimeout: 10 * time.Minute}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Client == nil:
		return errors.New("explorer: no client: dial a node first")
	case c.QueryTimeout <= 0 || c.AuditTimeout <= 0:
		return errors.New("explorer: the query and audit timeouts must be positive")
	}
	return nil
}

// Server serves the explorer's page and API.
type Server struct {
	cfg Config
	mux *http.ServeMux

	// mu guards the audit jobs; an audit runs in a goroutine of its own
	// and writes its progress into its job under mu.
	mu      sync.Mutex
	jobs    []*auditJob
	active  *auditJob
	lastJob int
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	static, _ := fs.Sub(assets, "assets")
	s.mux.Handle("GET /", http.FileServerFS(static))
	s.mux.HandleFunc("GET /api/status", s.status)
	s.mux.HandleFunc("GET /api/tasks", s.tasks)
	s.mux.HandleFunc("GET /api/tasks/{id}", s.task)
	s.mux.HandleFunc("GET /api/tasks/{id}/history.csv", s.historyCSV)
	s.mux.HandleFunc("GET /api/tasks/{id}/history.json", s.historyJSON)
	s.mux.HandleFunc("GET /api/tasks/{id}/rounds/{round}/verify", s.verify)
	s.mux.HandleFunc("GET /api/tasks/{id}/rounds/{round}/model", s.model)
	s.mux.HandleFunc("POST /api/tasks/{id}/audit", s.startAudit)
	s.mux.HandleFunc("GET /api/audits/{job}", s.auditStatus)
	return s, nil
}

// ServeHTTP serves the page and the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'")
	s.mux.ServeHTTP(w, r)
}

// apiError is every error the API answers with.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	bz, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, bz = http.StatusInternalServerError, []byte(`{"error": "encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(bz, '\n'))
}

// fail answers err with the HTTP status its kind calls for: 404 for what
// the chain does not hold, 502 for a node that lied or is unreachable.
func fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, fl.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, fl.ErrLyingNode), errors.Is(err, fl.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		code = http.StatusBadGateway
	case errors.Is(err, errBadRequest):
		code = http.StatusBadRequest
	}
	writeJSON(w, code, apiError{err.Error()})
}

var errBadRequest = errors.New("bad request")

func (s *Server) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
}

// taskID reads the {id} of the path.
func taskID(r *http.Request) (uint64, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%w: task %q: want a task number from 1", errBadRequest, r.PathValue("id"))
	}
	return id, nil
}

// taskRound reads the {id} and {round} of the path (round 0 is the
// initial model).
func taskRound(r *http.Request) (uint64, uint32, error) {
	id, err := taskID(r)
	if err != nil {
		return 0, 0, err
	}
	n, err := strconv.ParseUint(r.PathValue("round"), 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: round %q: want a round number", errBadRequest, r.PathValue("round"))
	}
	return id, uint32(n), nil
}

// Status is what /api/status answers.
type Status struct {
	ChainID  string `json:"chain_id"`
	Node     string `json:"node"`
	Height   int64  `json:"height"`
	Verified bool   `json:"verified"`
	Trust    string `json:"trust"`
	Audit    bool   `json:"audit"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	h, err := s.cfg.Client.LatestHeight(ctx)
	if err != nil {
		fail(w, err)
		return
	}
	st := Status{ChainID: s.cfg.Client.ChainID(), Node: s.cfg.Node, Height: h, Verified: s.cfg.Client.Verifier != nil,
		Audit: s.cfg.AuditRPC != nil, Trust: "none: answers are shown as the node gave them (start the explorer with --genesis FILE to verify them)"}
	if st.Verified {
		st.Trust = "every answer is checked against its Merkle proof and a header the light client verified"
		if s.cfg.Genesis != nil {
			if gh, err := audit.GenesisHash(s.cfg.Genesis); err == nil {
				st.Trust += ", from the genesis " + gh
			}
		}
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) tasks(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	names, err := history.LoadNames(ctx, s.cfg.Client)
	if err != nil {
		fail(w, err)
		return
	}
	ts, err := s.cfg.Client.Tasks(ctx)
	if err != nil {
		fail(w, err)
		return
	}
	out := make([]history.Task, len(ts))
	for i := range ts {
		out[i] = history.ViewTask(&ts[i], names)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) load(r *http.Request) (*history.History, error) {
	id, err := taskID(r)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	names, err := history.LoadNames(ctx, s.cfg.Client)
	if err != nil {
		return nil, err
	}
	return history.Load(ctx, s.cfg.Client, names, id)
}

func (s *Server) task(w http.ResponseWriter, r *http.Request) { s.history(w, r, false) }

func (s *Server) historyJSON(w http.ResponseWriter, r *http.Request) { s.history(w, r, true) }

// history answers a task's history as JSON, as a download when asked.
func (s *Server) history(w http.ResponseWriter, r *http.Request, download bool) {
	h, err := s.load(r)
	if err != nil {
		fail(w, err)
		return
	}
	if download {
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="task-%d-history.json"`, h.Task.ID))
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) historyCSV(w http.ResponseWriter, r *http.Request) {
	h, err := s.load(r)
	if err != nil {
		fail(w, err)
		return
	}
	var buf bytes.Buffer
	if err := history.WriteCSV(&buf, h); err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="task-%d-history.csv"`, h.Task.ID))
	w.Write(buf.Bytes())
}

// Verification is what /api/tasks/{id}/rounds/{r}/verify answers: the
// model after round r, read with its proof.
type Verification struct {
	Task      uint64 `json:"task"`
	Round     uint32 `json:"round"`
	ModelHash string `json:"model_hash,omitempty"`
	// Verified: the model record's Merkle proof checks against the app
	// hash of a header the light client verified, and its weights hash to
	// ModelHash.
	Verified bool   `json:"verified"`
	Height   int64  `json:"height,omitempty"`
	AppHash  string `json:"app_hash,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	id, round, err := taskRound(r)
	if err != nil {
		fail(w, err)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	v := Verification{Task: id, Round: round}
	f, err := fl.ExportModel(ctx, s.cfg.Client, id, round)
	switch {
	case errors.Is(err, fl.ErrNotFound):
		fail(w, err)
		return
	case err != nil:
		v.Problem = err.Error()
	case !f.Verified:
		v.ModelHash, v.Height = f.ModelHash, f.Height
		v.Problem = "not verified: the explorer has no trust root (start it with --genesis FILE)"
	default:
		v.ModelHash, v.Height, v.AppHash, v.Verified = f.ModelHash, f.Height, f.AppHash, true
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) model(w http.ResponseWriter, r *http.Request) {
	id, round, err := taskRound(r)
	if err != nil {
		fail(w, err)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	t, err := s.cfg.Client.Task(ctx, id)
	if err != nil {
		fail(w, err)
		return
	}
	if round > t.ModelRound {
		fail(w, fmt.Errorf("%w: task %d has no model of round %d yet (its latest is round %d)", fl.ErrNotFound, id, round, t.ModelRound))
		return
	}
	f, err := fl.ExportModel(ctx, s.cfg.Client, id, round)
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="task-%d-round-%d-model-%s.json"`, id, round, shortHash(f.ModelHash)))
	writeJSON(w, http.StatusOK, f)
}

func shortHash(h string) string {
	if _, err := hex.DecodeString(h); err != nil || len(h) < 12 {
		return "unknown"
	}
	return h[:12]
}
