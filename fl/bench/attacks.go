package bench

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl/sim"
)

// RobustRule is fedledger's default defence: Huber's estimate of the
// updates clipped to the round's median norm (aggregator.ClippedHuber),
// with on-chain reputation and validation feedback.
const RobustRule = "huber"

// AttackConfig configures `fedledger bench attacks`.
type AttackConfig struct {
	Source     datasets.Source
	Malicious  int
	Rounds     int
	Seeds      []uint64
	Validators int
	Attacks    []string // default: every attack
	Rules      []string // default: RobustRule (with reputation) and fedavg (without)
	// Feedback turns validation feedback on for the rules with reputation;
	// LyingScorers makes the attackers lie in their verdicts.
	// LieTarget makes the lies targeted (allies helpful, one honest
	// hospital harmful, the rest honest).
	Feedback, LyingScorers, LieTarget bool
	// ClaimSamples is the row count every attacker claims (0: the whole
	// federation's).
	ClaimSamples uint64
	Out          io.Writer
}

// DefaultAttackConfig is WDBC over 10 hospitals (Dirichlet 1.0), 3 malicious.
func DefaultAttackConfig() AttackConfig {
	return AttackConfig{
		Source:    datasets.Source{Dataset: "wdbc", Hospitals: 10, Partition: "dirichlet:1.0"},
		Malicious: 3, Rounds: 10, Seeds: []uint64{42}, Validators: 4, Feedback: true,
	}
}

// AttackRow is one run: an attack (or "none", every hospital honest)
// against a rule.
type AttackRow struct {
	Attack   string  `json:"attack"`
	Rule     string  `json:"rule"`
	Seed     uint64  `json:"seed"`
	Accuracy float64 `json:"accuracy"`
	// CleanAccuracy is the same rule's with every hospital honest;
	// FedAvgClean plain FedAvg's, the yardstick of the criteria.
	CleanAccuracy float64 `json:"clean_accuracy"`
	FedAvgClean   float64 `json:"fedavg_clean_accuracy"`
	// HonestFedAvg is plain FedAvg over the honest hospitals alone (the
	// attackers' rows never trained on), scored on every hospital's test
	// rows: what FedAvg reaches when a defence excludes the attackers from
	// the first round, and so what their absence alone costs FedAvg.
	HonestFedAvg     float64 `json:"honest_fedavg_accuracy"`
	MaliciousFlagged int     `json:"malicious_flagged"`
	FlaggedBy5       int     `json:"malicious_flagged_by_round_5"`
	MaliciousTotal   int     `json:"malicious_total"`
	HonestFlagged    int     `json:"honest_flagged"`
	HonestTotal      int     `json:"honest_total"`
	RoundsToFlag     int     `json:"rounds_to_flag"` // until every attacker was flagged; -1 if not all were
	// Flagged lists every flagged hospital as name@round(malicious|honest).
	Flagged string `json:"flagged"`
	// HonestOnce and MaliciousOnce count the hospital-rounds whose update
	// was alike to an earlier one and counted once (aggregator.AlikeReason).
	HonestOnce    int `json:"honest_counted_once"`
	MaliciousOnce int `json:"malicious_counted_once"`
}

// ruleRun is a rule with whether reputation is on.
func ruleRun(name string) (string, bool) {
	if name == "fedavg" {
		return "fedavg", false
	}
	return name, true
}

// Attacks runs every attack against every rule and returns one row per run.
func Attacks(ctx context.Context, cfg AttackConfig) ([]AttackRow, error) {
	if len(cfg.Seeds) == 0 || cfg.Rounds < 1 || cfg.Malicious < 1 {
		return nil, errors.New("bench: need seeds, rounds and at least one malicious hospital")
	}
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	attacks := cfg.Attacks
	if len(attacks) == 0 {
		attacks = sim.Attacks
	}
	rules := cfg.Rules
	if len(rules) == 0 {
		rules = []string{RobustRule, "fedavg"}
	}
	perSeed := 2 // clean fedavg, fedavg over the honest alone
	for _, rule := range rules {
		if rule != "fedavg" {
			perSeed++ // the rule's own clean run
		}
		perSeed += len(attacks)
	}
	prog := newProgress(len(cfg.Seeds) * perSeed)
	var rows []AttackRow
	for _, seed := range cfg.Seeds {
		fed, _, err := cfg.Source.Open(seed)
		if err != nil {
			return nil, err
		}
		if cfg.Malicious >= len(fed.Hospitals) {
			return nil, fmt.Errorf("bench: %d malicious of %d hospitals", cfg.Malicious, len(fed.Hospitals))
		}
		// run runs rule under attack ("": none); honestOnly leaves the
		// attackers out instead, their test rows scoring the model.
		run := func(rule, attack string, honestOnly bool) (*sim.Report, error) {
			sc := sim.DefaultConfig()
			sc.Data = fed
			if honestOnly {
				// The attackers are the last hospitals (sim.Config.Attacks).
				n := len(fed.Hospitals) - cfg.Malicious
				sc.Data = &datasets.Federation{Name: fed.Name, Features: fed.Features, Hospitals: fed.Hospitals[:n]}
				sc.Observers = fed.Hospitals[n:]
			}
			sc.Seed = seed
			sc.Rounds = cfg.Rounds
			sc.Validators = cfg.Validators
			sc.Rule, sc.Reputation = ruleRun(rule)
			sc.Feedback = sc.Reputation && cfg.Feedback
			sc.LyingScorers, sc.LieTarget, sc.ClaimSamples = cfg.LyingScorers, cfg.LieTarget, cfg.ClaimSamples
			if attack != "" {
				sc.Attacks = map[string]int{attack: cfg.Malicious}
			}
			t0 := time.Now()
			rep, err := sim.Run(ctx, sc)
			if err != nil {
				return nil, fmt.Errorf("bench: %s under %q, seed %d: %w", rule, attack, seed, err)
			}
			label := attack
			switch {
			case honestOnly:
				label = "honest only"
			case label == "":
				label = "none (clean)"
			}
			fmt.Fprintf(out, "%s seed %d %-16s %-8s accuracy %.3f, flagged %v (%.1fs)\n", prog.step(), seed, label, rule, rep.Final.MeanAccuracy, flaggedList(rep), time.Since(t0).Seconds())
			return rep, nil
		}
		fedavgClean, err := run("fedavg", "", false)
		if err != nil {
			return nil, err
		}
		honest, err := run("fedavg", "", true)
		if err != nil {
			return nil, err
		}
		row := func(attack, rule string, rep, clean *sim.Report) AttackRow {
			r := attackRow(attack, rule, seed, rep, clean, fedavgClean, len(fed.Hospitals))
			r.HonestFedAvg = honest.Final.MeanAccuracy
			return r
		}
		for _, rule := range rules {
			clean := fedavgClean
			if rule != "fedavg" {
				if clean, err = run(rule, "", false); err != nil {
					return nil, err
				}
			}
			rows = append(rows, row("none", rule, clean, clean))
			for _, attack := range attacks {
				rep, err := run(rule, attack, false)
				if err != nil {
					return nil, err
				}
				rows = append(rows, row(attack, rule, rep, clean))
			}
		}
	}
	return rows, nil
}

// attackRow reads one run's report.
func attackRow(attack, rule string, seed uint64, rep, clean, fedavgClean *sim.Report, hospitals int) AttackRow {
	row := AttackRow{Attack: attack, Rule: rule, Seed: seed, Accuracy: rep.Final.MeanAccuracy,
		CleanAccuracy: clean.Final.MeanAccuracy, FedAvgClean: fedavgClean.Final.MeanAccuracy,
		MaliciousTotal: len(rep.Malicious), HonestTotal: hospitals - len(rep.Malicious), RoundsToFlag: -1,
		Flagged: flaggedList(rep)}
	last := uint32(0)
	for h, r := range rep.Flagged {
		if _, bad := rep.Malicious[h]; bad {
			row.MaliciousFlagged++
			if r <= 5 {
				row.FlaggedBy5++
			}
			last = max(last, r)
		} else {
			row.HonestFlagged++
		}
	}
	if row.MaliciousTotal > 0 && row.MaliciousFlagged == row.MaliciousTotal {
		row.RoundsToFlag = int(last)
	}
	for h, n := range rep.CountedOnce {
		if _, bad := rep.Malicious[h]; bad {
			row.MaliciousOnce += n
		} else {
			row.HonestOnce += n
		}
	}
	return row
}

func flaggedList(rep *sim.Report) string {
	var s []string
	for h, r := range rep.Flagged {
		tag := "honest"
		if _, bad := rep.Malicious[h]; bad {
			tag = "malicious"
		}
		s = append(s, fmt.Sprintf("%s@%d(%s)", h, r, tag))
	}
	sort.Strings(s)
	return "[" + strings.Join(s, " ") + "]"
}

// WriteAttackCSV writes rows with the header of `bench attacks`.
func WriteAttackCSV(w io.Writer, rows []AttackRow) error {
	cw := csv.NewWriter(w)
	cw.Write(attackCSVHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	for _, r := range rows {
		cw.Write([]string{r.Attack, r.Rule, strconv.FormatUint(r.Seed, 10), f(r.Accuracy), f(r.CleanAccuracy), f(r.FedAvgClean),
			strconv.Itoa(r.MaliciousFlagged), strconv.Itoa(r.FlaggedBy5), strconv.Itoa(r.MaliciousTotal),
			strconv.Itoa(r.HonestFlagged), strconv.Itoa(r.HonestTotal), strconv.Itoa(r.RoundsToFlag), r.Flagged, f(r.HonestFedAvg), strconv.Itoa(r.HonestOnce), strconv.Itoa(r.MaliciousOnce)})
	}
	cw.Flush()
	return cw.Error()
}

// FormatAttackTable prints rows over seeds, one line per attack and rule:
// mean accuracy with its 95 % interval, the mean differences to clean
// FedAvg and to FedAvg over the honest hospitals alone on the same seeds,
// the attackers flagged (and by round 5), and the honest hospital-runs
// flagged.
func FormatAttackTable(rows []AttackRow) string {
	keys, m := groupAttackRows(rows)
	pct := func(x, n int) string {
		if n == 0 {
			return "-"
		}
		return fmt.Sprintf("%d/%d (%.0f%%)", x, n, 100*float64(x)/float64(n))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %-8s %-22s %-25s %-25s %-17s %-17s %-17s %s\n", "attack", "rule", "accuracy [95% CI]", "vs clean fedavg", "vs honest-only fedavg", "attackers flagged", "by round 5", "honest flagged", "counted once (honest/attackers, hospital-rounds)")
	for _, k := range keys {
		a := m[k]
		fmt.Fprintf(&b, "%-16s %-8s %-22s %-25s %-25s %-17s %-17s %-17s %d/%d\n", k.a, k.r, withCI(a.acc, "%.3f"), withCI(a.diff, "%+.3f"),
			withCI(a.hdiff, "%+.3f"), pct(a.malF, a.malT), pct(a.by5, a.malT), pct(a.honF, a.honT), a.honO, a.malO)
	}
	return b.String()
}

// attackKey is one line of the table: an attack against a rule.
type attackKey struct{ a, r string }

// attackAgg is an attackKey's rows over seeds: each seed's accuracy and its
// differences to clean and honest-only FedAvg, and the counts summed.
type attackAgg struct {
	acc, diff, hdiff                        []float64
	malF, by5, malT, honF, honT, honO, malO int
}

// groupAttackRows groups rows by attack and rule, keys in the order they
// first appear.
func groupAttackRows(rows []AttackRow) ([]attackKey, map[attackKey]*attackAgg) {
	m := map[attackKey]*attackAgg{}
	var keys []attackKey
	for _, r := range rows {
		k := attackKey{r.Attack, r.Rule}
		if m[k] == nil {
			m[k] = &attackAgg{}
			keys = append(keys, k)
		}
		a := m[k]
		a.acc = append(a.acc, r.Accuracy)
		a.diff = append(a.diff, r.Accuracy-r.FedAvgClean)
		a.hdiff = append(a.hdiff, r.Accuracy-r.HonestFedAvg)
		a.malF += r.MaliciousFlagged
		a.by5 += r.FlaggedBy5
		a.malT += r.MaliciousTotal
		a.honF += r.HonestFlagged
		a.honT += r.HonestTotal
		a.honO += r.HonestOnce
		a.malO += r.MaliciousOnce
	}
	return keys, m
}

// withCI formats the mean of xs and, over two or more, its 95 % interval.
func withCI(xs []float64, f string) string {
	mean, _, lo, hi := interval(xs)
	if math.IsNaN(lo) {
		return fmt.Sprintf(f, mean)
	}
	return fmt.Sprintf(f+" ["+f+", "+f+"]", mean, lo, hi)
}

// attackCSVHeader is the header WriteAttackCSV writes and ReadAttackCSV
// expects.
var attackCSVHeader = []string{"attack", "rule", "seed", "accuracy", "clean_accuracy", "fedavg_clean_accuracy", "malicious_flagged",
	"malicious_flagged_by_round_5", "malicious_total", "honest_flagged", "honest_total", "rounds_to_flag", "flagged", "honest_fedavg_accuracy",
	"honest_counted_once", "malicious_counted_once"}

// ReadAttackCSV reads rows that WriteAttackCSV wrote (the file of `bench
// attacks --out`), so that the table and the acceptance lines can be
// printed again, or over several files' rows together, without running
// anything. A file with another header, a field that does not parse or a
// count out of range is refused with its line; nothing is read past it.
func ReadAttackCSV(r io.Reader) ([]AttackRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(attackCSVHeader)
	head, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("bench: empty file: want the CSV that bench attacks --out writes")
	}
	if err != nil {
		return nil, fmt.Errorf("bench: %w: want the CSV that bench attacks --out writes", err)
	}
	if !slices.Equal(head, attackCSVHeader) {
		return nil, fmt.Errorf("bench: line 1: header %q: want the CSV that bench attacks --out writes (%s)", strings.Join(head, ","), strings.Join(attackCSVHeader, ","))
	}
	var rows []AttackRow
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		row, err := parseAttackRow(rec)
		if err != nil {
			return nil, fmt.Errorf("bench: line %d: %w", line, err)
		}
		rows = append(rows, row)
	}
}

// parseAttackRow reads one record in attackCSVHeader's order.
func parseAttackRow(rec []string) (AttackRow, error) {
	var bad error
	acc := func(i int) float64 {
		v, err := strconv.ParseFloat(rec[i], 64)
		if bad == nil && (err != nil || !(v >= 0 && v <= 1)) {
			bad = fmt.Errorf("%s %q: want an accuracy from 0 to 1", attackCSVHeader[i], rec[i])
		}
		return v
	}
	count := func(i int, min int) int {
		v, err := strconv.Atoi(rec[i])
		if bad == nil && (err != nil || v < min || v > 1<<20) {
			bad = fmt.Errorf("%s %q: want a count from %d to %d", attackCSVHeader[i], rec[i], min, 1<<20)
		}
		return v
	}
	seed, err := strconv.ParseUint(rec[2], 10, 64)
	if err != nil {
		return AttackRow{}, fmt.Errorf("seed %q: want an unsigned integer", rec[2])
	}
	r := AttackRow{Attack: rec[0], Rule: rec[1], Seed: seed, Accuracy: acc(3), CleanAccuracy: acc(4), FedAvgClean: acc(5),
		MaliciousFlagged: count(6, 0), FlaggedBy5: count(7, 0), MaliciousTotal: count(8, 0),
		HonestFlagged: count(9, 0), HonestTotal: count(10, 0), RoundsToFlag: count(11, -1), Flagged: rec[12],
		HonestFedAvg: acc(13), HonestOnce: count(14, 0), MaliciousOnce: count(15, 0)}
	switch {
	case bad != nil:
		return AttackRow{}, bad
	case r.Attack == "" || r.Rule == "":
		return AttackRow{}, errors.New("attack and rule must not be empty")
	case r.FlaggedBy5 > r.MaliciousFlagged || r.MaliciousFlagged > r.MaliciousTotal || r.HonestFlagged > r.HonestTotal:
		return AttackRow{}, fmt.Errorf("flag counts %d by round 5, %d of %d attackers, %d of %d honest: a count exceeds its total",
			r.FlaggedBy5, r.MaliciousFlagged, r.MaliciousTotal, r.HonestFlagged, r.HonestTotal)
	}
	return r, nil
}
