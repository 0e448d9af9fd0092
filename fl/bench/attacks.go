package bench

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl/sim"
)

// RobustRule is fedledger's default defence: the coordinate-wise median
// with on-chain reputation.
const RobustRule = "median"

// AttackConfig configures `fedledger bench attacks`.
type AttackConfig struct {
	Source     datasets.Source
	Malicious  int
	Rounds     int
	Seeds      []uint64
	Validators int
	Attacks    []string // default: every attack
	Rules      []string // default: RobustRule (with reputation) and fedavg (without)
	Out        io.Writer
}

// DefaultAttackConfig is WDBC over 10 hospitals (Dirichlet 1.0), 3 malicious.
func DefaultAttackConfig() AttackConfig {
	return AttackConfig{
		Source:    datasets.Source{Dataset: "wdbc", Hospitals: 10, Partition: "dirichlet:1.0"},
		Malicious: 3, Rounds: 10, Seeds: []uint64{42}, Validators: 4,
	}
}

// AttackRow is one run: an attack against a rule.
type AttackRow struct {
	Attack           string
	Rule             string
	Seed             uint64
	Accuracy         float64
	CleanAccuracy    float64
	MaliciousFlagged int
	MaliciousTotal   int
	HonestFlagged    int
	RoundsToFlag     int // rounds until every attacker was flagged; -1 if not all were
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
	var rows []AttackRow
	for _, seed := range cfg.Seeds {
		fed, _, err := cfg.Source.Open(seed)
		if err != nil {
			return nil, err
		}
		if cfg.Malicious >= len(fed.Hospitals) {
			return nil, fmt.Errorf("bench: %d malicious of %d hospitals", cfg.Malicious, len(fed.Hospitals))
		}
		run := func(rule string, attack string) (*sim.Report, error) {
			sc := sim.DefaultConfig()
			sc.Data = fed
			sc.Seed = seed
			sc.Rounds = cfg.Rounds
			sc.Validators = cfg.Validators
			sc.Rule, sc.Reputation = ruleRun(rule)
			if attack != "" {
				sc.Attacks = map[string]int{attack: cfg.Malicious}
			}
			t0 := time.Now()
			rep, err := sim.Run(ctx, sc)
			if err != nil {
				return nil, fmt.Errorf("bench: %s under %q, seed %d: %w", rule, attack, seed, err)
			}
			label := attack
			if label == "" {
				label = "none (clean)"
			}
			fmt.Fprintf(out, "seed %d %-16s %-8s accuracy %.3f, flagged %v (%.1fs)\n", seed, label, rule, rep.Final.MeanAccuracy, flaggedList(rep), time.Since(t0).Seconds())
			return rep, nil
		}
		for _, rule := range rules {
			clean, err := run(rule, "")
			if err != nil {
				return nil, err
			}
			for _, attack := range attacks {
				rep, err := run(rule, attack)
				if err != nil {
					return nil, err
				}
				row := AttackRow{Attack: attack, Rule: rule, Seed: seed, Accuracy: rep.Final.MeanAccuracy,
					CleanAccuracy: clean.Final.MeanAccuracy, MaliciousTotal: len(rep.Malicious), RoundsToFlag: -1}
				last := uint32(0)
				for h, r := range rep.Flagged {
					if _, bad := rep.Malicious[h]; bad {
						row.MaliciousFlagged++
						if r > last {
							last = r
						}
					} else {
						row.HonestFlagged++
					}
				}
				if row.MaliciousFlagged == row.MaliciousTotal {
					row.RoundsToFlag = int(last)
				}
				rows = append(rows, row)
			}
		}
	}
	return rows, nil
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
	cw.Write([]string{"attack", "rule", "seed", "accuracy", "clean_accuracy", "malicious_flagged", "malicious_total", "honest_flagged", "rounds_to_flag"})
	for _, r := range rows {
		cw.Write([]string{r.Attack, r.Rule, strconv.FormatUint(r.Seed, 10), strconv.FormatFloat(r.Accuracy, 'f', 6, 64),
			strconv.FormatFloat(r.CleanAccuracy, 'f', 6, 64), strconv.Itoa(r.MaliciousFlagged), strconv.Itoa(r.MaliciousTotal),
			strconv.Itoa(r.HonestFlagged), strconv.Itoa(r.RoundsToFlag)})
	}
	cw.Flush()
	return cw.Error()
}

// FormatAttackTable prints rows averaged over seeds, one line per attack and rule.
func FormatAttackTable(rows []AttackRow) string {
	type key struct{ a, r string }
	type agg struct {
		n                       int
		acc, clean              float64
		malF, malT, honF, worst int
	}
	m := map[key]*agg{}
	var keys []key
	for _, r := range rows {
		k := key{r.Attack, r.Rule}
		if m[k] == nil {
			m[k] = &agg{}
			keys = append(keys, k)
		}
		a := m[k]
		a.n++
		a.acc += r.Accuracy
		a.clean += r.CleanAccuracy
		a.malF += r.MaliciousFlagged
		a.malT += r.MaliciousTotal
		a.honF += r.HonestFlagged
		if r.RoundsToFlag < 0 || a.worst < 0 {
			a.worst = -1
		} else if r.RoundsToFlag > a.worst {
			a.worst = r.RoundsToFlag
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-17s %-8s %9s %9s %7s %16s %14s %14s\n", "attack", "rule", "accuracy", "clean", "drop", "malicious flagged", "honest flagged", "rounds to flag")
	for _, k := range keys {
		a := m[k]
		acc, clean := a.acc/float64(a.n), a.clean/float64(a.n)
		rtf := "-"
		if a.worst >= 0 && k.r != "fedavg" {
			rtf = strconv.Itoa(a.worst)
		}
		fmt.Fprintf(&b, "%-17s %-8s %9.3f %9.3f %+7.3f %16s %14d %14s\n", k.a, k.r, acc, clean, acc-clean, fmt.Sprintf("%d/%d", a.malF, a.malT), a.honF, rtf)
	}
	return b.String()
}
