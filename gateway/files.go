package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/fedledger/fedledger/records"
)

// DevicesFile is the gateway's list of device credentials on disk (JSON):
// the ids and the hashes of their secrets, never the secrets.
type DevicesFile struct {
	Devices []Device `json:"devices"`
}

// ReadDevices reads a devices file; a missing file is an empty list.
func ReadDevices(path string) ([]Device, error) {
	bz, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f DevicesFile
	if err := json.Unmarshal(bz, &f); err != nil {
		return nil, fmt.Errorf("gateway: devices file %s: %v", path, err)
	}
	return f.Devices, nil
}

// WriteDevices writes a devices file through a renamed temporary file.
func WriteDevices(path string, devs []Device) error {
	bz, err := json.MarshalIndent(DevicesFile{Devices: devs}, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(bz, '\n'), 0o600)
}

// AddDevices makes a credential for each id, adds them to the devices
// file, and returns the secrets to hand to the devices. An id already in
// the file is refused, and then nothing is written.
func AddDevices(path string, ids []string) ([]Device, []string, error) {
	devs, err := ReadDevices(path)
	if err != nil {
		return nil, nil, err
	}
	have := map[string]bool{}
	for _, d := range devs {
		have[d.ID] = true
	}
	var added []Device
	var secrets []string
	for _, id := range ids {
		if have[id] {
			return nil, nil, fmt.Errorf("gateway: device %q is already in %s", id, path)
		}
		have[id] = true
		d, s, err := NewDevice(id)
		if err != nil {
			return nil, nil, err
		}
		added, secrets = append(added, d), append(secrets, s)
	}
	if err := WriteDevices(path, append(devs, added...)); err != nil {
		return nil, nil, err
	}
	return added, secrets, nil
}

// LoadKey reads the pseudonym key in dir (pseudonym.key), making it on
// first use. Losing it makes new pseudonyms unlinkable to old ones.
func LoadKey(dir string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return records.LoadOrCreateKey(filepath.Join(dir, "pseudonym.key"))
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	return writeFile(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeFile writes through a temporary file, synced, renamed into place:
// a crash leaves the old file or the new one, never half of one.
func writeFile(path string, mode os.FileMode, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// StatusHandler serves Status as JSON (GET /status), for gateway status
// and monitoring.
func (g *Gateway) StatusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(g.Status())
	})
	return mux
}
