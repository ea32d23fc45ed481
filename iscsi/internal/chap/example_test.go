package chap_test

import (
	"fmt"

	"github.com/gomp-dev/gomp/iscsi/internal/chap"
	"github.com/gomp-dev/gomp/pdu"
)

func ExampleResponse() {
	// The target answered our CHAP_A offer and challenged us.
	alg, err := chap.ParseAlgorithm("5")
	if err != nil {
		fmt.Println(err)
		return
	}
	id, _ := chap.ParseIdentifier("1")
	challenge, _ := pdu.ParseBinary("0x000102030405060708090a0b0c0d0e0f")
	if err := chap.ValidateChallenge(nil, challenge); err != nil {
		fmt.Println(err)
		return
	}
	secret := chap.Secret("secretsecret")
	fmt.Println("offer: CHAP_A=" + chap.FormatAlgorithms(chap.DefaultAlgorithms()))
	fmt.Println("CHAP_R=" + pdu.FormatHex(chap.Response(alg, id, secret, challenge)))
	fmt.Println("secret:", secret)
	// Output:
	// offer: CHAP_A=8,7,6,5
	// CHAP_R=0x226dc576c33f04ff9c3a200ffe35f442
	// secret: [redacted]
}
