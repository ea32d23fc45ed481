package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/node"
	"github.com/gomp-dev/gomp/iscsi"
)

// The host's identity: the flag, else open-iscsi's file, else a name
// generated once under the state directory and the same on every later
// run.
func TestInitiatorNameResolution(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	etc := filepath.Join(t.TempDir(), "initiatorname.iscsi")
	t.Setenv(envInitiatorNameFile, etc)
	state := t.TempDir()

	id, err := (&identityFlags{}).resolve(state, log)
	require.NoError(t, err)
	require.Regexp(t, `^iqn\.2016-04\.com\.open-iscsi:[0-9a-f]{12}$`, id.Name)
	again, err := (&identityFlags{}).resolve(state, log)
	require.NoError(t, err)
	require.Equal(t, id, again, "generated once")
	saved, err := iscsi.ReadInitiatorName(filepath.Join(state, generatedNameFile))
	require.NoError(t, err)
	require.Equal(t, id.Name, saved.Name)

	require.NoError(t, os.WriteFile(etc, []byte("InitiatorName=iqn.1993-08.org.debian:01:abc\nInitiatorAlias=db1\n"), 0o644))
	id, err = (&identityFlags{}).resolve(state, log)
	require.NoError(t, err)
	require.Equal(t, iscsi.Identity{Name: "iqn.1993-08.org.debian:01:abc", Alias: "db1"}, id, "open-iscsi's file first")

	id, err = (&identityFlags{name: "iqn.2026-11.dev.gomp:flag", alias: "a"}).resolve(state, log)
	require.NoError(t, err)
	require.Equal(t, iscsi.Identity{Name: "iqn.2026-11.dev.gomp:flag", Alias: "a"}, id, "the flag wins")

	_, err = (&identityFlags{name: "not an iqn"}).resolve(state, log)
	var ue *usageError
	require.ErrorAs(t, err, &ue)

	require.NoError(t, os.WriteFile(etc, []byte("InitiatorName=host1\n"), 0o644))
	_, err = (&identityFlags{}).resolve(state, log)
	require.ErrorContains(t, err, etc+":1:")
	require.ErrorContains(t, err, "--initiator-name")
}

// A state directory that cannot be written: the generated name is used
// for this run, nothing fails.
func TestInitiatorNameUnsavable(t *testing.T) {
	t.Setenv(envInitiatorNameFile, filepath.Join(t.TempDir(), "none"))
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	id, err := (&identityFlags{}).resolve(filepath.Join(file, "sub"), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, iscsi.CheckName(id.Name))
}

// initiator-name and initiator-alias are node record keys, replayed by
// attach --node like any attach flag.
func TestInitiatorNameInNodeRecord(t *testing.T) {
	require.NoError(t, checkSetting("initiator-name", "iqn.2026-11.dev.gomp:rec"))
	rec := &node.Record{Name: "n", Settings: []node.Setting{{Key: "initiator-name", Value: "iqn.2026-11.dev.gomp:rec"},
		{Key: "initiator-alias", Value: "rec-alias"}, {Key: "target", Value: "iqn.t"}}}
	o, err := optsFromRecord(rec, pflag.NewFlagSet("x", pflag.ContinueOnError))
	require.NoError(t, err)
	require.Equal(t, identityFlags{name: "iqn.2026-11.dev.gomp:rec", alias: "rec-alias"}, o.id)
}
