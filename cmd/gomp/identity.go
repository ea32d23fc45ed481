package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/gomp-dev/gomp/iscsi"
)

// envInitiatorNameFile moves the initiator name file gomp reads instead
// of open-iscsi's /etc/iscsi/initiatorname.iscsi (tests, chroots).
const envInitiatorNameFile = "GOMP_INITIATORNAME_FILE"

// generatedNameFile is the file under the state directory that keeps the
// name gomp generated for a host without an initiator name file.
const generatedNameFile = "initiatorname.iscsi"

// identityFlags are --initiator-name and --initiator-alias.
type identityFlags struct {
	name, alias string
}

// registerFlags adds the identity flags to fs.
func (f *identityFlags) registerFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.name, "initiator-name", "", "this host's iSCSI initiator name (default: InitiatorName= in "+
		iscsi.InitiatorNameFile+" or $"+envInitiatorNameFile+", else a name generated once and kept in STATE_DIR/"+generatedNameFile+")")
	fs.StringVar(&f.alias, "initiator-alias", "", "InitiatorAlias declared at login (default: the name file's InitiatorAlias=)")
}

// identityFile returns the initiator name file to read: $GOMP_INITIATORNAME_FILE,
// else open-iscsi's.
func identityFile() string {
	if f := os.Getenv(envInitiatorNameFile); f != "" {
		return f
	}
	return iscsi.InitiatorNameFile
}

// resolve returns the host's iSCSI identity: --initiator-name (a node
// record's initiator-name), else the initiator name file open-iscsi
// keeps, else the name gomp generated once under stateDir, else a new
// name generated and saved there, so that the host keeps one identity. A
// malformed name anywhere is an error: logging in under a wrong name
// would show the host another host's LUNs, or none. An empty stateDir is
// the default one.
func (f *identityFlags) resolve(stateDir string, log *slog.Logger) (iscsi.Identity, error) {
	if stateDir == "" {
		stateDir = defaultStateDir()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if f.name != "" {
		if err := iscsi.CheckName(f.name); err != nil {
			return iscsi.Identity{}, usagef("--initiator-name: %v", err)
		}
		id := iscsi.Identity{Name: f.name, Alias: f.alias}
		if id.Alias == "" {
			if file, err := iscsi.ReadInitiatorName(identityFile()); err == nil {
				id.Alias = file.Alias
			}
		}
		return id, nil
	}
	id, err := readIdentity(identityFile())
	if err == nil && id.Name == "" {
		id, err = generatedIdentity(filepath.Join(stateDir, generatedNameFile), log)
	}
	if err != nil {
		return iscsi.Identity{}, fmt.Errorf("initiator name: %w; or give --initiator-name", err)
	}
	if f.alias != "" {
		id.Alias = f.alias
	}
	return id, nil
}

// readIdentity reads an initiator name file; a missing one (or one whose
// directory is not a directory) is no error and a zero Identity.
func readIdentity(path string) (iscsi.Identity, error) {
	id, err := iscsi.ReadInitiatorName(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return iscsi.Identity{}, nil
	}
	return id, err
}

// generatedIdentity returns the name kept in path, generating and saving
// one first when there is none. Two processes racing to generate one end
// with the same name: the file is linked into place only when absent.
// When it cannot be saved (a read-only state directory, no privileges) the
// new name is used for this run only, with a warning.
func generatedIdentity(path string, log *slog.Logger) (iscsi.Identity, error) {
	if id, err := readIdentity(path); err != nil || id.Name != "" {
		return id, err
	}
	id := iscsi.Identity{Name: iscsi.GenerateInitiatorName()}
	if err := saveNew(path, iscsi.FormatInitiatorName(id)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return iscsi.ReadInitiatorName(path)
		}
		log.Warn("initiator name not saved: this run's name will not be the next one's; write "+
			iscsi.InitiatorNameFile+" or give --initiator-name", "name", id.Name, "file", path, "err", err)
		return id, nil
	}
	log.Info("generated this host's iSCSI initiator name", "name", id.Name, "file", path)
	return id, nil
}

// saveNew writes data to path (mode 0644) unless path exists
// (fs.ErrExist): a temporary file, synced, then hard-linked into place.
func saveNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Link(f.Name(), path)
}
