package datasets

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A WFDB record (PhysioNet's waveform database format): a text header
// (.hea) naming the signals, and a binary signal file (.dat) with the
// samples interleaved by frame. ReadWFDB reads the formats PhysioNet's
// bedside-monitor records use: 16 (little-endian int16) and 80 (one byte,
// offset 128). https://physionet.org/physiotools/wag/header-5.htm

// WFDBSignal is one signal line of a header.
type WFDBSignal struct {
	File        string
	Format      int
	Gain        float64 // digital units per physical unit
	Baseline    int     // the digital value of physical 0
	Units       string
	ADCRes      int
	ADCZero     int
	InitValue   int
	Checksum    int16 // sum of the signal's digital samples, mod 2^16
	Description string
}

// WFDBRecord is a record's header and, once read, its digital samples.
type WFDBRecord struct {
	Name        string
	Freq        float64 // samples per second per signal
	CounterFreq float64 // 0 when the header gives none
	Samples     int     // per signal
	// BaseTime is the time of day of sample 0; BaseDate the date as the
	// header gives it (DD/MM/YYYY), empty when it gives none. PhysioNet's
	// de-identified records carry surrogate dates (years such as 2896).
	BaseTime time.Duration
	BaseDate string
	Signals  []WFDBSignal
	Comments []string
	// Digital holds the samples, Digital[signal][i].
	Digital [][]int32
}

// ErrWFDB is the error of a header or signal file ReadWFDB cannot use.
var ErrWFDB = errors.New("datasets: WFDB")

// WFDBInvalid reports whether a digital sample is the format's "no value"
// code: −32768 in format 16, −128 in format 80.
func WFDBInvalid(format int, v int32) bool {
	switch format {
	case 16:
		return v == math.MinInt16
	case 80:
		return v == -128
	}
	return false
}

// maxWFDBSamples bounds what a header may ask ReadWFDB to allocate.
const maxWFDBSamples = 1 << 26

// ParseWFDBHeader reads a header: the record line, one line per signal,
// and # comments. Lines may end in CRLF or LF.
func ParseWFDBHeader(r io.Reader) (*WFDBRecord, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	rec := &WFDBRecord{}
	nsig := -1
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(strings.TrimSpace(text), "#") {
			rec.Comments = append(rec.Comments, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), "#")))
			continue
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if nsig < 0 {
			if err := rec.parseRecordLine(f); err != nil {
				return nil, fmt.Errorf("%w: header line %d: %v", ErrWFDB, line, err)
			}
			nsig = len(rec.Signals)
			rec.Signals = rec.Signals[:0]
			continue
		}
		s, err := parseSignalLine(f)
		if err != nil {
			return nil, fmt.Errorf("%w: header line %d: %v", ErrWFDB, line, err)
		}
		rec.Signals = append(rec.Signals, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrWFDB, err)
	}
	if nsig < 0 {
		return nil, fmt.Errorf("%w: header has no record line", ErrWFDB)
	}
	if len(rec.Signals) != nsig {
		return nil, fmt.Errorf("%w: header names %d signals and describes %d", ErrWFDB, nsig, len(rec.Signals))
	}
	return rec, nil
}

func (rec *WFDBRecord) parseRecordLine(f []string) error {
	if len(f) < 2 {
		return errors.New("record line: want name, signal count, frequency, samples")
	}
	rec.Name = f[0]
	if strings.Contains(rec.Name, "/") {
		return fmt.Errorf("record %q: multi-segment records are read segment by segment", rec.Name)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 1 || n > 64 {
		return fmt.Errorf("signal count %q: want 1 to 64", f[1])
	}
	rec.Signals = make([]WFDBSignal, n)
	rec.Freq = 250 // WFDB's default
	if len(f) > 2 {
		fs, counter, _ := strings.Cut(f[2], "/")
		if rec.Freq, err = strconv.ParseFloat(fs, 64); err != nil || !(rec.Freq > 0) || math.IsInf(rec.Freq, 0) {
			return fmt.Errorf("frequency %q: want a positive number", f[2])
		}
		if counter != "" {
			if rec.CounterFreq, err = strconv.ParseFloat(counter, 64); err != nil || !(rec.CounterFreq > 0) {
				return fmt.Errorf("counter frequency %q: want a positive number", counter)
			}
		}
	}
	if len(f) > 3 {
		if rec.Samples, err = strconv.Atoi(f[3]); err != nil || rec.Samples < 0 || rec.Samples > maxWFDBSamples {
			return fmt.Errorf("sample count %q: want 0 to %d", f[3], maxWFDBSamples)
		}
	}
	if len(f) > 4 {
		if rec.BaseTime, err = parseWFDBTime(f[4]); err != nil {
			return err
		}
	}
	if len(f) > 5 {
		if _, err := time.Parse("02/01/2006", f[5]); err != nil {
			return fmt.Errorf("base date %q: want DD/MM/YYYY", f[5])
		}
		rec.BaseDate = f[5]
	}
	return nil
}

// parseWFDBTime reads [HH:]MM:SS[.sss] as a time of day.
func parseWFDBTime(s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("base time %q: want [HH:]MM:SS[.sss]", s)
	}
	var h, m int
	var err error
	if len(parts) == 3 {
		if h, err = strconv.Atoi(parts[0]); err != nil || h < 0 || h > 23 {
			return 0, fmt.Errorf("base time %q: hour", s)
		}
		parts = parts[1:]
	}
	if m, err = strconv.Atoi(parts[0]); err != nil || m < 0 || m > 59 {
		return 0, fmt.Errorf("base time %q: minute", s)
	}
	sec, err := strconv.ParseFloat(parts[1], 64)
	if err != nil || sec < 0 || sec >= 60 {
		return 0, fmt.Errorf("base time %q: second", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(math.Round(sec*1000))*time.Millisecond, nil
}

func parseSignalLine(f []string) (WFDBSignal, error) {
	var s WFDBSignal
	explicitBase := false // without one, the baseline is the ADC zero
	if len(f) < 2 {
		return s, errors.New("signal line: want at least file and format")
	}
	s.File = f[0]
	if s.File != filepath.Base(s.File) || s.File == "." || s.File == ".." {
		return s, fmt.Errorf("signal file %q: want a file name beside the header", s.File)
	}
	format := f[1]
	if i := strings.IndexAny(format, "x:+"); i >= 0 {
		return s, fmt.Errorf("format %q: skew, offsets and samples-per-frame are not supported", format)
	}
	var err error
	if s.Format, err = strconv.Atoi(format); err != nil || (s.Format != 16 && s.Format != 80) {
		return s, fmt.Errorf("format %q: this reader takes 16 and 80", format)
	}
	s.Gain, s.Units = 200, "mV" // WFDB's defaults
	if len(f) > 2 {
		g := f[2]
		if gv, unit, ok := strings.Cut(g, "/"); ok {
			g, s.Units = gv, unit
		}
		base := ""
		if i := strings.IndexByte(g, '('); i >= 0 {
			if !strings.HasSuffix(g, ")") {
				return s, fmt.Errorf("gain %q: unclosed baseline", f[2])
			}
			g, base = g[:i], g[i+1:len(g)-1]
		}
		if s.Gain, err = strconv.ParseFloat(g, 64); err != nil || math.IsNaN(s.Gain) || math.IsInf(s.Gain, 0) || s.Gain < 0 {
			return s, fmt.Errorf("gain %q: want a number", f[2])
		}
		if s.Gain == 0 {
			s.Gain = 200
		}
		if base != "" {
			if s.Baseline, err = strconv.Atoi(base); err != nil {
				return s, fmt.Errorf("baseline %q: want an integer", base)
			}
			explicitBase = true
		}
	}
	ints := []*int{&s.ADCRes, &s.ADCZero, &s.InitValue}
	for k, p := range ints {
		if len(f) > 3+k {
			if *p, err = strconv.Atoi(f[3+k]); err != nil {
				return s, fmt.Errorf("field %d %q: want an integer", 4+k, f[3+k])
			}
		}
	}
	if !explicitBase {
		s.Baseline = s.ADCZero
	}
	if len(f) > 6 {
		c, err := strconv.Atoi(f[6])
		if err != nil || c < math.MinInt16 || c > math.MaxInt16 {
			return s, fmt.Errorf("checksum %q: want a 16-bit integer", f[6])
		}
		s.Checksum = int16(c)
	}
	if len(f) > 8 {
		s.Description = strings.Join(f[8:], " ")
	}
	return s, nil
}

// ReadWFDB reads the record name (its header name.hea) in dir and its
// signal file, and checks what the header promises: the sample count,
// every signal's first value and checksum.
func ReadWFDB(dir, name string) (*WFDBRecord, error) {
	hea := filepath.Join(dir, name+".hea")
	hf, err := os.Open(hea)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWFDB, err)
	}
	rec, err := ParseWFDBHeader(hf)
	hf.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hea, err)
	}
	file, format := rec.Signals[0].File, rec.Signals[0].Format
	for _, s := range rec.Signals {
		if s.File != file || s.Format != format {
			return nil, fmt.Errorf("%s: %w: signals in several files or formats are not supported", hea, ErrWFDB)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWFDB, err)
	}
	if err := rec.decode(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, file), err)
	}
	return rec, nil
}

// decode reads the interleaved frames of raw into Digital and checks them.
func (rec *WFDBRecord) decode(raw []byte) error {
	n := len(rec.Signals)
	width := 2
	if rec.Signals[0].Format == 80 {
		width = 1
	}
	frames := len(raw) / (width * n)
	if len(raw)%(width*n) != 0 {
		return fmt.Errorf("%w: %d bytes is not a whole number of %d-byte frames", ErrWFDB, len(raw), width*n)
	}
	if rec.Samples == 0 {
		rec.Samples = frames
	}
	if frames != rec.Samples {
		return fmt.Errorf("%w: %d frames, the header says %d samples", ErrWFDB, frames, rec.Samples)
	}
	rec.Digital = make([][]int32, n)
	for s := range rec.Digital {
		rec.Digital[s] = make([]int32, frames)
	}
	for i := 0; i < frames; i++ {
		for s := 0; s < n; s++ {
			off := (i*n + s) * width
			if width == 2 {
				rec.Digital[s][i] = int32(int16(uint16(raw[off]) | uint16(raw[off+1])<<8))
			} else {
				rec.Digital[s][i] = int32(raw[off]) - 128
			}
		}
	}
	for s, sig := range rec.Signals {
		var sum int64
		for _, v := range rec.Digital[s] {
			sum += int64(v)
		}
		if int16(sum) != sig.Checksum {
			return fmt.Errorf("%w: signal %d (%s) sums to %d, the header says %d: the file is damaged", ErrWFDB, s, sig.Description, int16(sum), sig.Checksum)
		}
		if frames > 0 && int(rec.Digital[s][0]) != sig.InitValue {
			return fmt.Errorf("%w: signal %d (%s) starts at %d, the header says %d", ErrWFDB, s, sig.Description, rec.Digital[s][0], sig.InitValue)
		}
	}
	return nil
}

// Physical is signal s's sample i in its units, and false for the
// format's "no value" code.
func (rec *WFDBRecord) Physical(s, i int) (float64, bool) {
	sig := rec.Signals[s]
	v := rec.Digital[s][i]
	if WFDBInvalid(sig.Format, v) {
		return 0, false
	}
	return float64(int(v)-sig.Baseline) / sig.Gain, true
}

// Signal is the index of the signal described as name, or −1.
func (rec *WFDBRecord) Signal(name string) int {
	for i, s := range rec.Signals {
		if s.Description == name {
			return i
		}
	}
	return -1
}

// Offset is the time of sample i from the record's start, to the
// millisecond (headers give frequencies such as 0.0166666666667 Hz).
func (rec *WFDBRecord) Offset(i int) time.Duration {
	return time.Duration(math.Round(float64(i)/rec.Freq*1000)) * time.Millisecond
}

// String names the record and its signals.
func (rec *WFDBRecord) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s: %d signals at %g Hz, %d samples", rec.Name, len(rec.Signals), rec.Freq, rec.Samples)
	for _, s := range rec.Signals {
		fmt.Fprintf(&b, "; %s (%s)", s.Description, s.Units)
	}
	return b.String()
}
