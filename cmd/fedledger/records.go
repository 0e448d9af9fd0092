package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
	"github.com/fedledger/fedledger/records"
	"github.com/fedledger/fedledger/records/recordsbench"
)

const recordsHelp = `Tamper-evident medical records. A hospital keeps its records in an
encrypted store and anchors a keyed hash of each (never the record) in its
append-only Merkle log on chain; it grants access on chain, and its record
server serves a record only under a grant in force (or a declared
break-glass), sealed to the reader, logging every read on chain. Readers
and reviewers check what they get against the light-client-verified chain.

Examples:
  fedledger records put --home ./net/keys/north --store ./north-records --id obs-1 --file obs.json --json --patient p1 --dataset heart
  fedledger records grant --home ./net/keys/north --store ./north-records --grantee researcher --scope dataset:heart --purpose research --blocks 100000
  fedledger records serve --home ./net/keys/north --store ./north-records --listen 127.0.0.1:8480
  fedledger records get --home ./net/keys/researcher --server http://127.0.0.1:8480 --holder north --id obs-1 --grant 1 --purpose research
  fedledger records log --holder north`

func newRecordsCmd(g *globals) *cobra.Command {
	long, example, _ := strings.Cut(recordsHelp, "\nExamples:\n")
	cmd := group("records", "Anchor, grant, serve, read and verify medical records", strings.TrimSpace(long), strings.TrimRight(example, "\n"),
		"name a subcommand: fedledger records put|anchor|verify|grant|revoke|serve|get|break-glass|close-review|log|erase")
	cmd.AddCommand(newRecordsPutCmd(g), newRecordsAnchorCmd(g), newRecordsVerifyCmd(g), newRecordsGrantCmd(g), newRecordsRevokeCmd(g),
		newRecordsServeCmd(g), newRecordsGetCmd(g), newRecordsBreakGlassCmd(g), newRecordsCloseCmd(g), newRecordsLogCmd(g), newRecordsEraseCmd(g))
	return cmd
}

// recordsCtx is a command's context with a time limit.
func recordsCtx(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), 2*time.Minute)
}

// participant resolves a participant's name or hex key.
func participant(ctx context.Context, c *fl.Client, who string) ([]byte, error) {
	if pub, err := hex.DecodeString(who); err == nil && len(pub) == 32 {
		return pub, nil
	}
	parts, err := c.Participants(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		if p.Name == who {
			return p.PubKey, nil
		}
	}
	return nil, usagef("%q is neither a participant's name on this chain nor a 64-digit hex key", who)
}

// dialRecords dials as the key in --home, a key its hospital's record
// server signs with too (fl.Client.SharedKey).
func dialRecords(ctx context.Context, g *globals, stderr io.Writer) (*fl.Client, error) {
	c, _, err := dialAs(ctx, g, stderr)
	if err != nil {
		return nil, err
	}
	c.SharedKey = true
	return c, nil
}

// openStore opens --store as the hospital whose key is in --home.
func openStore(g *globals, dir string) (*records.Store, error) {
	if g.home == "" || dir == "" {
		return nil, usagef("--home (the hospital's key) and --store (its record store) are required")
	}
	_, key, err := fl.ReadKeyFile(filepath.Join(g.home, "key.json"))
	if err != nil {
		return nil, err
	}
	return records.Open(dir, key.Public().(ed25519.PublicKey))
}

func newRecordsPutCmd(g *globals) *cobra.Command {
	cmd := leaf("put", "Store a record (encrypted) and anchor its keyed hash", `Stores a new version of a record in the hospital's encrypted store and
anchors its leaf in the hospital's log (unless --no-anchor). With --json the
file is a FHIR resource or bundle and is canonicalised first.

Examples:
  fedledger records put --home ./net/keys/north --store ./north-records --id obs-1 --file obs.json --json --patient p1 --dataset heart`)
	fs := cmd.Flags()
	store := fs.String("store", "", "the hospital's record store (a folder)")
	id := fs.String("id", "", "the record's id at this hospital (no identifiers: it is hashed into grants and logs)")
	file := fs.String("file", "", "the record's file")
	isJSON := fs.Bool("json", false, "the file is FHIR JSON (canonicalised before hashing)")
	patient := fs.String("patient", "", "the patient's id (kept only as a keyed pseudonym)")
	dataset := fs.String("dataset", "", "the dataset the record belongs to")
	noAnchor := fs.Bool("no-anchor", false, "store only; anchor later with records anchor")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *id == "" || *file == "" {
			return usagef("--id and --file are required")
		}
		data, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		st, err := openStore(g, *store)
		if err != nil {
			return err
		}
		defer st.Close()
		e, err := st.Put(*id, data, records.PutOptions{Patient: *patient, Dataset: *dataset, JSON: *isJSON})
		if err != nil {
			return err
		}
		if !*noAnchor {
			if err := anchorStore(cmd, g, st); err != nil {
				return err
			}
			e, _ = st.Entry(*id, e.Version)
		}
		return printEntry(cmd, g, e)
	}
	return cmd
}

func anchorStore(cmd *cobra.Command, g *globals, st *records.Store) error {
	ctx, cancel := recordsCtx(cmd)
	defer cancel()
	c, err := dialRecords(ctx, g, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	n, err := records.Anchor(ctx, c, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress(cmd, g), "anchored %d leaves\n", n)
	return nil
}

// anchorCount anchors what is pending and prints how many.
func anchorCount(cmd *cobra.Command, g *globals, st *records.Store) error {
	pending, _, err := st.Pending()
	if err != nil {
		return err
	}
	if err := anchorStore(cmd, g, st); err != nil {
		return err
	}
	if g.json() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"anchored": len(pending)})
	}
	return nil
}

func printEntry(cmd *cobra.Command, g *globals, e *records.Entry) error {
	if g.json() {
		return writeJSON(cmd.OutOrStdout(), e)
	}
	state := "not anchored yet"
	if e.Anchored {
		state = fmt.Sprintf("leaf %d of the log, anchored at height %d", e.Index, e.Height)
	}
	if e.Erased {
		state += ", content erased"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s version %d: %s; leaf %x\n", e.ID, e.Version, state, e.Leaf)
	return nil
}

func newRecordsAnchorCmd(g *globals) *cobra.Command {
	cmd := leaf("anchor", "Anchor every record stored but not anchored yet", `Anchors the leaves of every record version stored with --no-anchor (or
whose anchoring was interrupted), in batches of up to 8,192 per transaction.

Examples:
  fedledger records anchor --home ./net/keys/north --store ./north-records`)
	store := cmd.Flags().String("store", "", "the hospital's record store")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		st, err := openStore(g, *store)
		if err != nil {
			return err
		}
		defer st.Close()
		return anchorCount(cmd, g, st)
	}
	return cmd
}

func newRecordsVerifyCmd(g *globals) *cobra.Command {
	cmd := leaf("verify", "Check a stored record against its anchor on chain", `Recomputes a stored record's leaf from its content and checks that the leaf
is in the hospital's log where the store says, by an inclusion proof
against the log head, proved against a light-client-verified header. An
erased record checks its kept leaf.

Examples:
  fedledger records verify --home ./net/keys/north --store ./north-records --id obs-1`)
	fs := cmd.Flags()
	store := fs.String("store", "", "the hospital's record store")
	id := fs.String("id", "", "the record's id")
	version := fs.Uint64("version", 0, "the version (0: the latest)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		st, err := openStore(g, *store)
		if err != nil {
			return err
		}
		defer st.Close()
		ctx, cancel := recordsCtx(cmd)
		defer cancel()
		c, err := dialRecords(ctx, g, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		e, err := records.VerifyEntry(ctx, c, st, *id, *version)
		if err != nil {
			return err
		}
		fmt.Fprintf(progress(cmd, g), "verified: %s version %d is leaf %d of %x's log\n", e.ID, e.Version, e.Index, st.Holder())
		return printEntry(cmd, g, e)
	}
	return cmd
}

// parseScope reads kind:value; a record scope is the record's reference
// at the granting hospital, a patient scope its pseudonym (the store's).
func parseScope(s string, holder []byte, st func() (*records.Store, error)) (pb.ScopeKind, []byte, error) {
	kind, value, ok := strings.Cut(s, ":")
	if !ok || value == "" {
		return 0, nil, usagef("--scope is record:ID, patient:ID or dataset:NAME, not %q", s)
	}
	k, err := protocol.ParseScope(kind)
	if err != nil {
		return 0, nil, usagef("--scope: %v", err)
	}
	switch k {
	case pb.SCOPE_RECORD:
		return k, records.Ref(holder, value), nil
	case pb.SCOPE_PATIENT:
		store, err := st()
		if err != nil {
			return 0, nil, err
		}
		defer store.Close()
		return k, store.Pseudonym(value), nil
	}
	return k, []byte(value), nil
}

func newRecordsGrantCmd(g *globals) *cobra.Command {
	cmd := leaf("grant", "Grant a participant access to records (hospitals)", `Puts a consent grant on chain: the hospital in --home lets --grantee read
its records in --scope for --purpose, for --blocks blocks. A patient scope
needs --store (the pseudonym is keyed by the store's master key).

Examples:
  fedledger records grant --home ./net/keys/north --grantee researcher --scope dataset:heart --purpose research --blocks 100000
  fedledger records grant --home ./net/keys/north --store ./north-records --grantee south --scope patient:p1 --purpose care --blocks 5000`)
	fs := cmd.Flags()
	grantee := fs.String("grantee", "", "who may read: a participant's name or hex key")
	scope := fs.String("scope", "", "record:ID, patient:ID or dataset:NAME")
	purpose := fs.String("purpose", "", "care, research or audit")
	blocks := fs.Uint64("blocks", 100000, "how many blocks the grant lasts")
	store := fs.String("store", "", "the hospital's record store (patient scopes)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if g.home == "" || *grantee == "" || *scope == "" || *purpose == "" {
			return usagef("--home, --grantee, --scope and --purpose are required")
		}
		p, err := protocol.ParsePurpose(*purpose)
		if err != nil {
			return usagef("--purpose: %v", err)
		}
		ctx, cancel := recordsCtx(cmd)
		defer cancel()
		c, err := dialRecords(ctx, g, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		to, err := participant(ctx, c, *grantee)
		if err != nil {
			return err
		}
		kind, value, err := parseScope(*scope, c.PubKey(), func() (*records.Store, error) { return openStore(g, *store) })
		if err != nil {
			return err
		}
		h, err := c.LatestHeight(ctx)
		if err != nil {
			return err
		}
		inc, err := c.Submit(ctx, &pb.Msg{Sum: &pb.Msg_GrantAccess{GrantAccess: &pb.GrantAccess{Grantee: to, Kind: kind, Scope: value, Purpose: p, ExpiresHeight: uint64(h) + *blocks}}})
		if err != nil {
			return err
		}
		id, _ := inc.Attr("grant", "grant_id")
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"grant_id": id, "height": inc.Height, "expires_height": uint64(h) + *blocks})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "grant %s: %s may read %s for %s until height %d (granted at %d)\n", id, *grantee, *scope, *purpose, uint64(h)+*blocks, inc.Height)
		return nil
	}
	return cmd
}

func submitSimple(cmd *cobra.Command, g *globals, msg *pb.Msg, done string) error {
	ctx, cancel := recordsCtx(cmd)
	defer cancel()
	c, err := dialRecords(ctx, g, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	inc, err := c.Submit(ctx, msg)
	if err != nil {
		return err
	}
	if g.json() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"height": inc.Height, "tx": hex.EncodeToString(inc.Hash)})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s at height %d\n", done, inc.Height)
	return nil
}

func newRecordsRevokeCmd(g *globals) *cobra.Command {
	cmd := leaf("revoke", "Revoke a grant (its grantor or an admin)", `Ends a grant: record servers refuse it from the revoking block on.

Examples:
  fedledger records revoke --home ./net/keys/north --grant 1`)
	id := cmd.Flags().Uint64("grant", 0, "the grant's id")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if g.home == "" || *id == 0 {
			return usagef("--home and --grant are required")
		}
		return submitSimple(cmd, g, &pb.Msg{Sum: &pb.Msg_RevokeGrant{RevokeGrant: &pb.RevokeGrant{GrantId: *id}}}, fmt.Sprintf("grant %d revoked", *id))
	}
	return cmd
}

func newRecordsBreakGlassCmd(g *globals) *cobra.Command {
	cmd := leaf("break-glass", "Declare an emergency read of a record (care roles)", `Declares on chain an emergency read of one record held by another
hospital, with the reason. It is always allowed for care roles; it opens a
review item an admin or reviewer must close. Then read the record with
records get --review N.

Examples:
  fedledger records break-glass --home ./net/keys/south --holder north --id obs-2 --reason "unconscious in ED, no consent on file"`)
	fs := cmd.Flags()
	holder := fs.String("holder", "", "the hospital holding the record")
	id := fs.String("id", "", "the record's id")
	reason := fs.String("reason", "", "why (kept on chain, reviewed)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if g.home == "" || *holder == "" || *id == "" || *reason == "" {
			return usagef("--home, --holder, --id and --reason are required")
		}
		ctx, cancel := recordsCtx(cmd)
		defer cancel()
		c, err := dialRecords(ctx, g, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		h, err := participant(ctx, c, *holder)
		if err != nil {
			return err
		}
		inc, err := c.Submit(ctx, &pb.Msg{Sum: &pb.Msg_BreakGlass{BreakGlass: &pb.BreakGlass{Holder: h, Record: records.Ref(h, *id), Reason: *reason}}})
		if err != nil {
			return err
		}
		review, _ := inc.Attr("break_glass", "review_id")
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"review_id": review, "height": inc.Height})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "break-glass review %s opened at height %d; read with: fedledger records get --review %s --holder %s --id %s\n", review, inc.Height, review, *holder, *id)
		return nil
	}
	return cmd
}

func newRecordsCloseCmd(g *globals) *cobra.Command {
	cmd := leaf("close-review", "Close a break-glass review item (admins, reviewers)", `Closes a break-glass review with a note, kept on chain.

Examples:
  fedledger records close-review --home ./net/keys/reviewer --review 1 --note "justified: patient arrived unconscious"`)
	fs := cmd.Flags()
	id := fs.Uint64("review", 0, "the review's id")
	note := fs.String("note", "", "the reviewer's finding")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if g.home == "" || *id == 0 || *note == "" {
			return usagef("--home, --review and --note are required")
		}
		return submitSimple(cmd, g, &pb.Msg{Sum: &pb.Msg_CloseReview{CloseReview: &pb.CloseReview{ReviewId: *id, Note: *note}}}, fmt.Sprintf("review %d closed", *id))
	}
	return cmd
}

func newRecordsServeCmd(g *globals) *cobra.Command {
	cmd := leaf("serve", "Serve the hospital's records to grantees", `Runs the hospital's record server: POST /v1/read serves a record to a
grantee whose signed request names a grant in force on chain (or a
break-glass review), sealed to the grantee's key; GET /v1/stats counts
reads served and refused by reason. Every read served is logged on chain
(log_access) every --flush.

Examples:
  fedledger records serve --home ./net/keys/north --store ./north-records --listen 127.0.0.1:8480`)
	fs := cmd.Flags()
	store := fs.String("store", "", "the hospital's record store")
	listen := fs.String("listen", "127.0.0.1:8480", "address to listen on")
	flush := fs.Duration("flush", time.Second, "how often served reads are logged on chain")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		st, err := openStore(g, *store)
		if err != nil {
			return err
		}
		defer st.Close()
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		c, err := dialRecords(ctx, g, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		srv, err := records.NewServer(st, c)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln)
		fmt.Fprintf(progress(cmd, g), "serving %x's records on http://%s (Ctrl-C stops)\n", st.Holder(), ln.Addr())
		srv.Run(ctx, *flush, func(err error) { fmt.Fprintf(cmd.ErrOrStderr(), "access log: %v (will retry)\n", err) })
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	}
	return cmd
}

func newRecordsGetCmd(g *globals) *cobra.Command {
	cmd := leaf("get", "Read a record from a hospital's record server, and verify it", `Asks a hospital's record server for a record under a grant (or a
break-glass review), opens the sealed answer with a fresh key, and checks
the record against the holder's log on chain before writing it.

Examples:
  fedledger records get --home ./net/keys/researcher --server http://127.0.0.1:8480 --holder north --id obs-1 --grant 1 --purpose research --out obs-1.json`)
	fs := cmd.Flags()
	server := fs.String("server", "", "the record server's URL")
	holder := fs.String("holder", "", "the hospital holding the record")
	id := fs.String("id", "", "the record's id")
	version := fs.Uint64("version", 0, "the version (0: the latest)")
	grant := fs.Uint64("grant", 0, "the grant to read under")
	review := fs.Uint64("review", 0, "or the break-glass review")
	purpose := fs.String("purpose", "", "the grant's purpose: care, research or audit")
	out := fs.String("out", "", "write the record here (default: stdout)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if g.home == "" || *server == "" || *holder == "" || *id == "" || (*grant == 0) == (*review == 0) {
			return usagef("--home, --server, --holder, --id and one of --grant and --review are required")
		}
		ctx, cancel := recordsCtx(cmd)
		defer cancel()
		_, key, err := fl.ReadKeyFile(filepath.Join(g.home, "key.json"))
		if err != nil {
			return err
		}
		c, err := g.dial(ctx, key, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		h, err := participant(ctx, c, *holder)
		if err != nil {
			return err
		}
		d, err := records.Read(ctx, http.DefaultClient, *server, key, records.Ask{Holder: h, Record: *id, Version: *version, Grant: *grant, Review: *review, Purpose: *purpose}, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s version %d verified: leaf %d of %s's log\n", d.ID, d.Version, d.Index, *holder)
		if *out != "" {
			if err := os.WriteFile(*out, d.Content, 0o600); err != nil {
				return err
			}
		}
		if g.json() {
			v := map[string]any{"id": d.ID, "version": d.Version, "index": d.Index, "height": d.Height, "verified": true, "bytes": len(d.Content)}
			if *out == "" {
				v["content"] = d.Content // base64
				if d.JSON {
					v["content"] = json.RawMessage(d.Content)
				}
			}
			return writeJSON(cmd.OutOrStdout(), v)
		}
		if *out == "" {
			_, err = cmd.OutOrStdout().Write(d.Content)
			return err
		}
		return nil
	}
	return cmd
}

func newRecordsLogCmd(g *globals) *cobra.Command {
	cmd := leaf("log", "List a hospital's access log, each event verified", `Lists the reads a hospital's record server logged on chain (who, which
record, when, why, under which grant or review), each checked by an
inclusion proof against the access log's proved head.

Examples:
  fedledger records log --holder north
  fedledger records log --holder north --from 100 --count 50 --output json`)
	fs := cmd.Flags()
	holder := fs.String("holder", "", "the hospital")
	from := fs.Uint64("from", 0, "first event")
	count := fs.Uint64("count", 100, "how many events (at most 4096)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *holder == "" {
			return usagef("--holder is required")
		}
		ctx, cancel := recordsCtx(cmd)
		defer cancel()
		c, names, err := dialReader(ctx, g, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		h, err := participant(ctx, c, *holder)
		if err != nil {
			return err
		}
		events, head, err := records.VerifyAccessLog(ctx, c, h, *from, *count)
		if err != nil {
			return err
		}
		type row struct {
			Index   uint64 `json:"index"`
			Agent   string `json:"agent"`
			Record  string `json:"record"`
			Height  uint64 `json:"height"`
			Purpose string `json:"purpose"`
			Outcome string `json:"outcome"`
			Grant   uint64 `json:"grant,omitempty"`
			Review  uint64 `json:"review,omitempty"`
		}
		var rows []row
		for i, e := range events {
			who := names[string(e.Agent)]
			if who == "" {
				who = hex.EncodeToString(e.Agent)
			}
			rows = append(rows, row{*from + uint64(i), who, hex.EncodeToString(e.Record), e.Height, protocol.PurposeName(e.Purpose),
				strings.ToLower(strings.TrimPrefix(e.Outcome.String(), "OUTCOME_")), e.GrantId, e.ReviewId})
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"log_size": head.TreeSize, "root": hex.EncodeToString(head.Root), "events": rows})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s's access log: %d events, root %x; every event below verified\n", *holder, head.TreeSize, head.Root)
		for _, r := range rows {
			under := fmt.Sprintf("grant %d", r.Grant)
			if r.Review != 0 {
				under = fmt.Sprintf("break-glass review %d", r.Review)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%5d  height %-6d %-11s %-12s record %s…  %s, %s\n", r.Index, r.Height, r.Agent, r.Purpose, r.Record[:12], under, r.Outcome)
		}
		return nil
	}
	return cmd
}

func newRecordsEraseCmd(g *globals) *cobra.Command {
	cmd := leaf("erase", "Erase a record: destroy its key and content", `Erases every version of a record: its key is overwritten and removed and its
content deleted, so nothing can open it again; its leaves stay in the log,
so the log's proofs (and records verify) still hold.

Examples:
  fedledger records erase --home ./net/keys/north --store ./north-records --id obs-1`)
	fs := cmd.Flags()
	store := fs.String("store", "", "the hospital's record store")
	id := fs.String("id", "", "the record's id")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		st, err := openStore(g, *store)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.Erase(*id); err != nil {
			if errors.Is(err, records.ErrUnknownRecord) {
				return usagef("%v", err)
			}
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"erased": *id})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s erased: key and content destroyed, leaves kept\n", *id)
		return nil
	}
	return cmd
}

const benchRecordsHelp = `Measures the records module and the record server on an in-process
network: anchors per second through --validators validators (leaves batched
--batch to a transaction, every transaction broadcast at once), grant-checked
reads per second at a record server (each read checks its grant on chain
with a proof, seals the record to the reader and queues its access event;
--readers at once), and the time to verify an inclusion proof in the log
just built (and to fetch one from a node). Consentio reports about 6,000
access requests per second; that is the goal for anchors.

Examples:
  fedledger bench records
  fedledger bench records --anchors 500000 --batch 8192 --output json`

func newBenchRecordsCmd(g *globals) *cobra.Command {
	cmd := leaf("records", "Anchors/s through a 4-validator network, grant-checked reads/s, proof verification", benchRecordsHelp)
	fs := cmd.Flags()
	def := recordsbench.DefaultBenchConfig()
	fs.IntVar(&def.Validators, "validators", def.Validators, "CometBFT validators")
	fs.IntVar(&def.Anchors, "anchors", def.Anchors, "leaves to anchor")
	fs.IntVar(&def.Batch, "batch", def.Batch, "leaves per transaction (at most 8192)")
	fs.IntVar(&def.Reads, "reads", def.Reads, "reads at the record server")
	fs.IntVar(&def.Readers, "readers", def.Readers, "concurrent readers")
	fs.IntVar(&def.Proofs, "proofs", def.Proofs, "inclusion proofs to fetch and verify")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg := def
		dir, err := os.MkdirTemp("", "fedledger-bench-records-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.Dir, cfg.Progress = dir, progress(cmd, g)
		if err := cfg.Validate(); err != nil {
			return usagef("%v", err)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		res, err := recordsbench.Bench(ctx, cfg)
		if err != nil {
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "anchors: %.0f/s (%d leaves, %d per tx, %d validators, %d blocks, %.2f s)\n", res.AnchorsPerSec, res.Anchors, res.Batch, res.Validators, res.Blocks, res.AnchorSeconds)
		fmt.Fprintf(cmd.OutOrStdout(), "grant-checked reads: %.0f/s (p50 %.2f ms, p99 %.2f ms, %d readers)\n", res.ReadsPerSec, res.ReadP50Millis, res.ReadP99Millis, cfg.Readers)
		fmt.Fprintf(cmd.OutOrStdout(), "inclusion proof: %.1f µs to verify (%.1f hashes), %.2f ms to fetch\n", res.ProofVerifyMics, res.ProofHashes, res.ProofFetchMs)
		return nil
	}
	return cmd
}
