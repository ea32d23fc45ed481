package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/gomp-dev/gomp/iscsi"
)

// isidStore keeps the ISID of each session (initiator name, target,
// portal) under STATE_DIR/isids, one small file each, so that a restarted
// gomp logs in with the ISID it had: the target sees the old session
// reinstated (its I_T nexus, reservations and unit attentions kept), not a
// second one beside it. A process holds a lock on the files it uses; a
// second process attaching the same target through the same portal gets a
// new ISID (with a warning) instead of taking the first one's session
// over. It is safe for concurrent use.
type isidStore struct {
	dir string // the state directory
	log *slog.Logger

	mu   sync.Mutex // guards the following
	ids  map[string][6]byte
	held []*os.File // locked for the life of the process
}

// isid returns the ISID of (initiator, target, portal), as the session
// pool's hook; it never fails: without a usable file the ISID is random.
func (st *isidStore) isid(initiator, target, portal string) [6]byte {
	key := initiator + " " + target + " " + portal
	st.mu.Lock()
	defer st.mu.Unlock()
	if id, ok := st.ids[key]; ok {
		return id
	}
	id, err := st.load(key)
	if err != nil {
		id = iscsi.RandomISID()
		st.log.Warn("session ISID not kept across restarts", "portal", portal, "target", target, "err", err)
	}
	if st.ids == nil {
		st.ids = map[string][6]byte{}
	}
	st.ids[key] = id
	return id
}

// load reads (or creates) and locks the file of key. st.mu held.
func (st *isidStore) load(key string) ([6]byte, error) {
	sum := sha256.Sum256([]byte(key))
	dir := filepath.Join(st.dir, "isids")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return [6]byte{}, err
	}
	path := filepath.Join(dir, hex.EncodeToString(sum[:12]))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return [6]byte{}, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return [6]byte{}, fmt.Errorf("%s: another gomp holds this session: %w", path, err)
	}
	id, err := readOrWriteISID(f, key)
	if err != nil {
		f.Close()
		return [6]byte{}, fmt.Errorf("%s: %w", path, err)
	}
	st.held = append(st.held, f)
	return id, nil
}

// readOrWriteISID returns the ISID f records for key ("KEY\tHEX\n"), or
// records a new random one.
func readOrWriteISID(f *os.File, key string) ([6]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return [6]byte{}, err
	}
	if k, h, ok := strings.Cut(strings.TrimSpace(string(b)), "\t"); ok && k == key {
		var id [6]byte
		if n, err := hex.Decode(id[:], []byte(h)); err == nil && n == 6 {
			return id, nil
		}
	}
	id := iscsi.RandomISID()
	if err := f.Truncate(0); err != nil {
		return [6]byte{}, err
	}
	if _, err := f.WriteAt([]byte(key+"\t"+hex.EncodeToString(id[:])+"\n"), 0); err != nil {
		return [6]byte{}, err
	}
	return id, f.Sync()
}

// close releases the locks: another gomp may take the sessions over.
func (st *isidStore) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, f := range st.held {
		f.Close()
	}
	st.held = nil
}
