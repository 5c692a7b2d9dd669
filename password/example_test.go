package password_test

import (
	"fmt"

	"github.com/partnergate/partnergate/password"
)

func Example() {
	if err := password.Validate("correct horse battery staple"); err != nil {
		fmt.Println(err) // safe to show the user
		return
	}
	encoded, err := password.Hash("correct horse battery staple")
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, err := password.Verify(encoded, "correct horse battery staple")
	fmt.Println(ok, err)
	// Output: true <nil>
}
