package compat

import (
	"slices"
	"testing"
)

// TestModuleSets: the default set is issue 11's list (make compat's table
// must not change), and every set is a non-empty list of distinct modules
// that belong to no other set (a module is one table's row).
func TestModuleSets(t *testing.T) {
	if !slices.Equal(ModuleSets[DefaultSet], Modules) {
		t.Fatalf("ModuleSets[%q] = %v, want Modules", DefaultSet, ModuleSets[DefaultSet])
	}
	owner := map[string]string{}
	for name, mods := range ModuleSets {
		if len(mods) == 0 {
			t.Errorf("set %q is empty", name)
		}
		for _, m := range mods {
			if other, ok := owner[m]; ok {
				t.Errorf("%s is in set %q and set %q", m, other, name)
			}
			owner[m] = name
		}
	}
	// The issue-11 table runs with no regrtest resources.
	for m := range ModuleResources {
		if slices.Contains(Modules, m) {
			t.Errorf("%s of the %s set has a regrtest resource (ModuleResources)", m, DefaultSet)
		}
	}
}
