package history_test

import (
	"bytes"
	"errors"
	"image/png"
	"strings"
	"testing"

	"github.com/fedledger/fedledger/fl/history"
)

func TestChart(t *testing.T) {
	h := sample()
	for _, c := range []struct {
		metric, format string
		check          func([]byte) error
	}{
		{history.MetricAccuracy, "png", func(b []byte) error {
			cfg, err := png.DecodeConfig(bytes.NewReader(b))
			if err == nil && (cfg.Width < 400 || cfg.Height < 200) {
				err = errors.New("too small")
			}
			return err
		}},
		{history.MetricLoss, "svg", func(b []byte) error {
			if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("north")) {
				return errors.New("not an SVG naming the hospitals")
			}
			return nil
		}},
		{history.MetricReputation, "pdf", func(b []byte) error {
			if !bytes.HasPrefix(b, []byte("%PDF")) {
				return errors.New("not a PDF")
			}
			return nil
		}},
	} {
		var buf bytes.Buffer
		if err := history.Chart(&buf, h, c.metric, c.format); err != nil {
			t.Errorf("%s as %s: %v", c.metric, c.format, err)
			continue
		}
		if err := c.check(buf.Bytes()); err != nil {
			t.Errorf("%s as %s: %v", c.metric, c.format, err)
		}
	}
	empty := &history.History{Task: h.Task}
	empty.Task.Final = nil
	if err := history.Chart(&bytes.Buffer{}, empty, history.MetricAccuracy, "png"); !errors.Is(err, history.ErrNothingToPlot) {
		t.Errorf("a task with no round: %v", err)
	}
	if err := history.Chart(&bytes.Buffer{}, h, "auc", "png"); err == nil || !strings.Contains(err.Error(), "want accuracy, loss or reputation") {
		t.Errorf("an unknown metric: %v", err)
	}
	for path, want := range map[string]string{"a.png": "png", "b.SVG": "svg", "c.pdf": "pdf", "d.gif": "", "e": ""} {
		got, err := history.ChartFormat(path)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("ChartFormat(%q) = %q, %v", path, got, err)
		}
	}
}
