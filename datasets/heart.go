package datasets

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// HeartFile is one hospital's file of the UCI heart disease data.
type HeartFile struct {
	Hospital string // short name
	Site     string // full name
	File     string
	MD5      string
	Rows     int // rows after FLamby's preprocessing
}

// HeartFiles lists the four hospitals in FLamby's order.
var HeartFiles = []HeartFile{
	{"cleveland", "Cleveland Clinic Foundation", "processed.cleveland.data", "2d91a8ff69cfd9616aa47b59d6f843db", 303},
	{"hungary", "Hungarian Institute of Cardiology, Budapest", "processed.hungarian.data", "22e96bee155b5973568101c93b3705f6", 261},
	{"switzerland", "University Hospitals Zurich and Basel", "processed.switzerland.data", "9a87f7577310b3917730d06ba9349e20", 46},
	{"va", "V.A. Medical Center, Long Beach", "processed.va.data", "4249d03ca7711e84f4444768c9426170", 130},
}

// HeartFeatures are the 13 inputs after preprocessing.
var HeartFeatures = []string{
	"age", "sex", "trestbps", "chol", "fbs", "thalach", "exang", "oldpeak",
	"cp_2", "cp_3", "cp_4", "restecg_1", "restecg_2",
}

// HeartURL is where UCI distributes the files.
const HeartURL = "https://archive.ics.uci.edu/dataset/45/heart+disease"

// heartDir accepts the datasets root (holding heart-disease/) or the
// heart-disease folder itself.
func heartDir(dir string) string {
	if st, err := os.Stat(filepath.Join(dir, "heart-disease")); err == nil && st.IsDir() {
		return filepath.Join(dir, "heart-disease")
	}
	return dir
}

// LoadHeart loads the four hospitals of the UCI heart disease data with
// FLamby's Fed-Heart-Disease preprocessing: "?" is missing; columns slope,
// ca and thal are dropped, then every row with a missing value; cp and
// restecg are one-hot encoded without their first level; the label is
// num > 0. Each hospital's rows are split 66/34 into train and test
// (stratified by label where both classes have more than 2 rows), drawn from
// seed, and z-scored with the hospital's own training mean and std.
func LoadHeart(dir string, seed uint64) (*Federation, error) {
	fed, err := loadHeartRaw(dir, seed)
	if err != nil {
		return nil, err
	}
	for _, h := range fed.Hospitals {
		Standardize(h.Train, h.Test)
	}
	return fed, nil
}

// LoadHeartPooled returns the same split as LoadHeart with the same seed,
// for pooled training as FLamby does it: the union of the hospitals'
// training rows, z-scored with the pooled training statistics, and each
// hospital's test rows z-scored with that hospital's own training
// statistics, as LoadHeart scales them for every other method.
func LoadHeartPooled(dir string, seed uint64) (train Table, tests []Hospital, err error) {
	fed, err := loadHeartRaw(dir, seed)
	if err != nil {
		return Table{}, nil, err
	}
	return pooledScaled(fed), fed.Hospitals, nil
}

// pooledScaled returns the union of fed's (unscaled) training rows,
// copied and z-scored with their pooled statistics, and then z-scores each
// hospital's rows in place with its own.
func pooledScaled(fed *Federation) Table {
	var train Table
	for _, h := range fed.Hospitals {
		for i, row := range h.Train.X {
			// A copy: the hospital's own scaling below must not reach it.
			train.X = append(train.X, append([]float64(nil), row...))
			train.Y = append(train.Y, h.Train.Y[i])
		}
	}
	Standardize(train, Table{})
	for _, h := range fed.Hospitals {
		Standardize(h.Train, h.Test)
	}
	return train
}

func loadHeartRaw(dir string, seed uint64) (*Federation, error) {
	hd := heartDir(dir)
	fed := &Federation{Name: "heart-disease", Features: HeartFeatures}
	for _, hf := range HeartFiles {
		all, err := loadHeartFile(hd, hf)
		if err != nil {
			return nil, err
		}
		train, test := trainTestSplit(all, NewRand(seed, "heart-split/"+hf.Hospital))
		fed.Hospitals = append(fed.Hospitals, Hospital{Name: hf.Hospital, Train: train, Test: test})
	}
	return fed, nil
}

// loadHeartFile reads, checks and preprocesses one hospital's file.
func loadHeartFile(hd string, hf HeartFile) (Table, error) {
	path := filepath.Join(hd, hf.File)
	raw, err := os.ReadFile(path)
	if err != nil {
		return Table{}, fmt.Errorf("%w: %s: %v (download the heart disease files from %s, or run with the synthetic cohort)", ErrNoData, path, err, HeartURL)
	}
	if sum := md5.Sum(raw); hex.EncodeToString(sum[:]) != hf.MD5 {
		return Table{}, fmt.Errorf("datasets: %s has MD5 %x, want %s: the file is not the one UCI distributes; download it again from %s", path, sum, hf.MD5, HeartURL)
	}
	all, err := parseHeart(raw, path)
	if err != nil {
		return Table{}, err
	}
	if all.Len() != hf.Rows {
		return Table{}, fmt.Errorf("datasets: %s gave %d rows after preprocessing, want %d", path, all.Len(), hf.Rows)
	}
	return all, nil
}

// parseHeart applies the preprocessing to one file's bytes.
func parseHeart(raw []byte, path string) (Table, error) {
	var t Table
	sc := bufio.NewScanner(bytes.NewReader(raw))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		cols := strings.Split(text, ",")
		if len(cols) != 14 {
			return Table{}, fmt.Errorf("datasets: %s line %d: %d columns, want 14", path, line, len(cols))
		}
		// Keep columns 0-9 and 13 (drop slope, ca, thal).
		keep := append(append([]string(nil), cols[:10]...), cols[13])
		vals := make([]float64, len(keep))
		missing := false
		for i, c := range keep {
			c = strings.TrimSpace(c)
			if c == "?" {
				missing = true
				break
			}
			v, err := strconv.ParseFloat(c, 64)
			if err != nil {
				return Table{}, fmt.Errorf("datasets: %s line %d column %d: %q is not a number", path, line, i+1, c)
			}
			vals[i] = v
		}
		if missing {
			continue
		}
		age, sex, cp, trestbps, chol, fbs, restecg, thalach, exang, oldpeak, num :=
			vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7], vals[8], vals[9], vals[10]
		row := []float64{age, sex, trestbps, chol, fbs, thalach, exang, oldpeak,
			b2f(cp == 2), b2f(cp == 3), b2f(cp == 4), b2f(restecg == 1), b2f(restecg == 2)}
		t.X = append(t.X, row)
		t.Y = append(t.Y, b2f(num > 0))
	}
	return t, sc.Err()
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// LoadHeartRows reads one hospital's whole file of the heart disease data
// (checked against UCI's MD5) after FLamby's preprocessing, unscaled and
// unsplit: the rows as the hospital holds them, columns HeartFeatures.
func LoadHeartRows(dir, hospital string) (Table, error) {
	for _, hf := range HeartFiles {
		if hf.Hospital == hospital {
			return loadHeartFile(heartDir(dir), hf)
		}
	}
	return Table{}, fmt.Errorf("datasets: no heart disease hospital %q (known: cleveland, hungary, switzerland, va)", hospital)
}

// LoadHeartHospital loads one hospital of the heart disease data as
// LoadHeart does (same split for the same seed, scaled with its own
// training statistics), reading only that hospital's file: what a
// hospital's trainer needs, on a machine that holds only its own data.
func LoadHeartHospital(dir, hospital string, seed uint64) (*Hospital, error) {
	all, err := LoadHeartRows(dir, hospital)
	if err != nil {
		return nil, err
	}
	train, test := trainTestSplit(all, NewRand(seed, "heart-split/"+hospital))
	Standardize(train, test)
	return &Hospital{Name: hospital, Train: train, Test: test}, nil
}
