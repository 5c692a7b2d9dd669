package password_test

import (
	"fmt"

	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/policy"
)

func Example() {
	rule := password.RuleOf(policy.Default())
	if err := rule.Check("correct horse battery staple", nil); err != nil {
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
