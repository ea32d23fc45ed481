package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gomp-dev/gomp/iscsi"
)

// chapFlags are the CHAP options; secrets come from files or the
// environment, never from the command line.
type chapFlags struct {
	user, secretFile             string
	mutualUser, mutualSecretFile string
}

// Environment variables that hold the CHAP secrets when no secret file is
// given.
const (
	envCHAPSecret   = "GOMP_CHAP_SECRET"
	envMutualSecret = "GOMP_MUTUAL_SECRET"
)

// register adds the --chap-user, --chap-secret-file, --mutual-user and
// --mutual-secret-file flags to cmd.
func (f *chapFlags) register(cmd *cobra.Command) { f.registerFlags(cmd.Flags()) }

// registerFlags adds the CHAP flags to fl.
func (f *chapFlags) registerFlags(fl *pflag.FlagSet) {
	fl.StringVar(&f.user, "chap-user", "", "CHAP user name (enables CHAP)")
	fl.StringVar(&f.secretFile, "chap-secret-file", "", "file holding the CHAP secret (or set $"+envCHAPSecret+")")
	fl.StringVar(&f.mutualUser, "mutual-user", "", "user name the target answers mutual CHAP with")
	fl.StringVar(&f.mutualSecretFile, "mutual-secret-file", "", "file holding the target's mutual CHAP secret (or set $"+envMutualSecret+")")
}

// credentials builds the CHAP configuration, or nil without --chap-user.
// While secrets are held the process is not dumpable (see holdSecrets);
// clearCHAP ends that.
func (f *chapFlags) credentials() (*iscsi.CHAP, error) {
	if f.user == "" {
		if f.secretFile != "" || f.mutualUser != "" || f.mutualSecretFile != "" {
			return nil, usagef("CHAP options need --chap-user")
		}
		return nil, nil
	}
	secret, err := loadSecret(f.secretFile, envCHAPSecret, "--chap-secret-file")
	if err != nil {
		return nil, err
	}
	holdSecrets()
	c := &iscsi.CHAP{User: f.user, Secret: secret}
	if f.mutualUser != "" || f.mutualSecretFile != "" || os.Getenv(envMutualSecret) != "" {
		if c.TargetSecret, err = loadSecret(f.mutualSecretFile, envMutualSecret, "--mutual-secret-file"); err != nil {
			clearCHAP(c)
			return nil, err
		}
		c.TargetUser = f.mutualUser
	}
	return c, nil
}

// clearCHAP overwrites the secrets of c (from credentials) with zeros once
// nothing will log in with them again, and lets the process be dumpable
// again when no other credentials are held. A nil c does nothing.
func clearCHAP(c *iscsi.CHAP) {
	if c == nil || c.Secret == nil {
		return
	}
	c.Secret.Clear()
	c.TargetSecret.Clear()
	c.Secret, c.TargetSecret = nil, nil
	releaseSecrets()
}

// loadSecret reads a secret from the file at path or, with no path, from
// the environment variable env; flag names the option in errors. A
// warning (a weak secret from either, a file open to others) is printed on
// stderr.
func loadSecret(path, env, flag string) (iscsi.Secret, error) {
	var s iscsi.Secret
	var warning, err error
	switch {
	case path != "":
		s, warning, err = iscsi.LoadSecret(path)
	case os.Getenv(env) != "":
		s, warning, err = iscsi.LoadSecretEnv(env)
	default:
		return nil, usagef("%s (or $%s) is required", flag, env)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if warning != nil {
		fmt.Fprintln(os.Stderr, "gomp: warning:", warning)
	}
	return s, nil
}
