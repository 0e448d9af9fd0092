package history

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Metrics that Chart draws.
const (
	MetricAccuracy   = "accuracy"
	MetricLoss       = "loss"
	MetricReputation = "reputation"
)

// ErrNothingToPlot means the history has no value of the metric yet (no
// round has closed with a submission, or the task has no reputation).
var ErrNothingToPlot = errors.New("history: nothing to plot yet")

// ChartFormat is the image format for a file name's extension: png, svg
// or pdf; an error names the ones there are.
func ChartFormat(path string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	switch ext {
	case "png", "svg", "pdf":
		return ext, nil
	}
	return "", fmt.Errorf("%s: unknown image type %q; name the file .png, .svg or .pdf", path, ext)
}

// Chart draws one metric (MetricAccuracy, MetricLoss, MetricReputation)
// over the task's rounds, a line per hospital and, for accuracy and loss,
// their mean drawn thick, and writes it to w in format (png, svg, pdf).
func Chart(w io.Writer, h *History, metric, format string) error {
	var series []Series
	var ylabel, xlabel string
	switch metric {
	case MetricAccuracy:
		series, ylabel, xlabel = h.AccuracySeries(), "test accuracy (each hospital's own rows)", "model of round (0: initial)"
	case MetricLoss:
		series, ylabel, xlabel = h.LossSeries(), "test loss (each hospital's own rows)", "model of round (0: initial)"
	case MetricReputation:
		series, ylabel, xlabel = h.ReputationSeries(), "reputation score (flagged below 0.5)", "after round"
	default:
		return fmt.Errorf("history: unknown metric %q; want accuracy, loss or reputation", metric)
	}
	if len(series) == 0 {
		return ErrNothingToPlot
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("task %d %q: %s", h.Task.ID, h.Task.Name, metric)
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	p.Legend.Top, p.Legend.Left = false, false
	if metric == MetricLoss {
		p.Legend.Top = true
	}
	p.Add(plotter.NewGrid())
	for k, s := range series {
		pts := make(plotter.XYs, len(s.Rounds))
		for j := range s.Rounds {
			pts[j].X, pts[j].Y = float64(s.Rounds[j]), s.Values[j]
		}
		line, dots, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("history: series %s: %w", s.Name, err)
		}
		line.Color = plotutil.Color(k)
		dots.Color, dots.Shape = line.Color, plotutil.Shape(k)
		if s.Name == "mean" {
			line.Width = vg.Points(3)
			line.Color = blackish
			dots.Color = blackish
		}
		p.Add(line, dots)
		p.Legend.Add(s.Name, line, dots)
	}
	wt, err := p.WriterTo(8*vg.Inch, 4.5*vg.Inch, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

var blackish = color.Gray{Y: 30}
