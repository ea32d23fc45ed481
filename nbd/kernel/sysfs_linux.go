package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func blockDir(sysRoot string, index int) string {
	return filepath.Join(rootOr(sysRoot, "/sys"), "block", "nbd"+strconv.Itoa(index))
}

// ReadDeviceInfo reads /sys/block/nbd<index> under sysRoot ("" is "/sys").
// A missing device gives an error matching fs.ErrNotExist; missing optional
// files (pid, backend) leave their fields zero.
func ReadDeviceInfo(sysRoot string, index int) (DeviceInfo, error) {
	dir := blockDir(sysRoot, index)
	info := DeviceInfo{Index: index}
	sectors, err := readUint(filepath.Join(dir, "size"))
	if err != nil {
		return info, fmt.Errorf("nbd: nbd%d: %w", index, err)
	}
	info.Size = int64(sectors) * 512
	if lbs, err := readUint(filepath.Join(dir, "queue", "logical_block_size")); err == nil {
		info.LogicalBlockSize = uint32(lbs)
	}
	if ro, err := readUint(filepath.Join(dir, "ro")); err == nil {
		info.ReadOnly = ro != 0
	}
	pid, err := readUint(filepath.Join(dir, "pid"))
	switch {
	case err == nil:
		info.PID = int(pid)
	case !errors.Is(err, fs.ErrNotExist):
		return info, fmt.Errorf("nbd: nbd%d: %w", index, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "backend")); err == nil {
		info.Backend = strings.TrimSpace(string(b))
	}
	return info, nil
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, &os.PathError{Op: "parse", Path: path, Err: err}
	}
	return v, nil
}

// ListDevices returns the indexes of the nbd devices under sysRoot/block,
// sorted; none (and no error) when the module is not loaded.
func ListDevices(sysRoot string) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(rootOr(sysRoot, "/sys"), "block"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("nbd: list devices: %w", err)
	}
	var out []int
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "nbd")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && strconv.Itoa(n) == rest {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// IdleDevices returns the nbd devices under sysRoot that are not running
// (no pid file), sorted. One held open by another process can still refuse
// an attach with EBUSY.
func IdleDevices(sysRoot string) ([]int, error) {
	all, err := ListDevices(sysRoot)
	if err != nil {
		return nil, err
	}
	var idle []int
	for _, idx := range all {
		info, err := ReadDeviceInfo(sysRoot, idx)
		if err != nil {
			continue // vanished or unreadable: not a candidate
		}
		if !info.Running() {
			idle = append(idle, idx)
		}
	}
	return idle, nil
}

// setMaxSectorsKB writes kb, capped by queue/max_hw_sectors_kb when that is
// readable, to queue/max_sectors_kb of nbd<index> under sysRoot and returns
// the value written.
func setMaxSectorsKB(sysRoot string, index int, kb uint64) (uint64, error) {
	q := filepath.Join(blockDir(sysRoot, index), "queue")
	if hw, err := readUint(filepath.Join(q, "max_hw_sectors_kb")); err == nil && hw > 0 {
		kb = min(kb, hw)
	}
	name := filepath.Join(q, "max_sectors_kb")
	if err := os.WriteFile(name, []byte(strconv.FormatUint(kb, 10)), 0o644); err != nil {
		return 0, err
	}
	return kb, nil
}
