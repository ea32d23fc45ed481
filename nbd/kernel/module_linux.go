package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/u-root/u-root/pkg/kmodule"
)

// LoadModule loads the kernel's nbd module, with its dependencies from
// /lib/modules/$(uname -r)/modules.dep, unless sysRoot/module/nbd shows it
// loaded or built in (sysRoot "" is "/sys"). It needs CAP_SYS_MODULE. Module
// parameters keep their defaults (nbds_max=16, max_part=16); NBD_CMD_CONNECT
// creates further devices on demand.
func LoadModule(sysRoot string) error {
	return loadModule(rootOr(sysRoot, "/sys"), func(name string) error {
		return kmodule.Probe(name, "")
	})
}

// loadModule is LoadModule with the prober injected (for tests).
func loadModule(sysRoot string, probe func(name string) error) error {
	dir := filepath.Join(sysRoot, "module", "nbd")
	_, err := os.Stat(dir)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("nbd: load module: %w", err)
	}
	if err := probe("nbd"); err != nil {
		return fmt.Errorf("nbd: load module nbd: %w", err)
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("nbd: load module nbd: loaded, but %w", err)
	}
	return nil
}
