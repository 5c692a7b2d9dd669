package password

import (
	_ "embed"
	"strings"
	"sync"
)

// common.txt holds the 47,023 passwords of zxcvbn's password frequency
// list (data/passwords.txt, ranked by how often each occurs in leaked
// password sets, most common first; lower-case), one a line, as shipped
// in the Go module github.com/trustelem/zxcvbn v1.0.1, a port of
// Dropbox's zxcvbn. Both are under the MIT license, which permits
// redistribution with this notice:
//
//	Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc.
//	Copyright (c) 2018 Vincent Vanackere and Trustelem
//
//	Permission is hereby granted, free of charge, to any person obtaining
//	a copy of this software and associated documentation files (the
//	"Software"), to deal in the Software without restriction, including
//	without limitation the rights to use, copy, modify, merge, publish,
//	distribute, sublicense, and/or sell copies of the Software, and to
//	permit persons to whom the Software is furnished to do so, subject to
//	the following conditions:
//
//	The above copyright notice and this permission notice shall be
//	included in all copies or substantial portions of the Software.
//
//	THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
//	EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
//	MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
//	NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE
//	LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION
//	OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
//	WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
//
//go:embed common.txt
var commonText string

var common = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(strings.TrimSpace(commonText), "\n")
	m := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			m[strings.ToLower(l)] = struct{}{}
		}
	}
	return m
})

// IsCommon reports whether plain is on the common-password list,
// ignoring case.
func IsCommon(plain string) bool {
	_, ok := common()[strings.ToLower(plain)]
	return ok
}
