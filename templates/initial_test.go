package templates

import "testing"

func TestInitial(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want string }{
		{"Acme Corp", "A"},
		{"acme", "A"},
		{"  globex ", "G"},
		{"3M", "3"},
		{"(parens) Inc", "P"},
		{"Øresund Logistik", "Ø"},
		{"ßeta", "ß"},
		{"東京ガス", "東"},
		{"<script>", "S"},
		{"+++", "+"},
		{"", ""},
		{"   ", ""},
	} {
		if got := initial(tc.name); got != tc.want {
			t.Errorf("initial(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
