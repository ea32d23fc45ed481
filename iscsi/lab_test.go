package iscsi

import (
	"os"
	"testing"
)

// labEnv describes the tgtd lab that scripts/lab.sh brings up; tests that
// need it skip when GOMP_LAB is not set (make test sets it).
type labEnv struct {
	portal1, portal2         string
	target                   string
	chapTarget, chapUser     string
	chapSecret               Secret
	mutualTarget, mutualUser string
	mutualSecret             Secret
	mutualTargetUser         string
	mutualTargetSecret       Secret
}

func lab(t *testing.T) labEnv {
	t.Helper()
	if os.Getenv("GOMP_LAB") != "1" {
		t.Skip("needs the tgtd lab: run `make test` (as root), or `scripts/lab.sh up` and set GOMP_LAB=1 with its env file")
	}
	secret := func(env string) Secret {
		path := os.Getenv(env)
		if path == "" {
			t.Fatalf("lab env %s is not set", env)
		}
		s, _, err := LoadSecret(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return labEnv{
		portal1: os.Getenv("GOMP_LAB_PORTAL1"), portal2: os.Getenv("GOMP_LAB_PORTAL2"),
		target:     os.Getenv("GOMP_LAB_TARGET"),
		chapTarget: os.Getenv("GOMP_LAB_CHAP_TARGET"), chapUser: os.Getenv("GOMP_LAB_CHAP_USER"),
		chapSecret:   secret("GOMP_LAB_CHAP_SECRET_FILE"),
		mutualTarget: os.Getenv("GOMP_LAB_MUTUAL_TARGET"), mutualUser: os.Getenv("GOMP_LAB_MUTUAL_USER"),
		mutualSecret:       secret("GOMP_LAB_MUTUAL_SECRET_FILE"),
		mutualTargetUser:   os.Getenv("GOMP_LAB_MUTUAL_TARGET_USER"),
		mutualTargetSecret: secret("GOMP_LAB_MUTUAL_TARGET_SECRET_FILE"),
	}
}
