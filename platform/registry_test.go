package platform

import (
	"slices"
	"testing"
)

func TestRegistry(t *testing.T) {
	none := func() Platform { return nil }
	Register(Info{Name: "b", Preference: 5, New: none})
	Register(Info{Name: "a", Preference: 5, New: none})
	Register(Info{Name: "fast", Preference: 20, New: none, Summary: "fast"})
	Register(Info{Name: "slow", Preference: 1, New: none})
	if got, want := Names(), []string{"fast", "a", "b", "slow"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v (preference, then name)", got, want)
	}
	if i, ok := Lookup("fast"); !ok || i.Summary != "fast" {
		t.Fatalf("Lookup(fast) = %+v, %v", i, ok)
	}
	if _, ok := Lookup("kvm"); ok {
		t.Fatal("Lookup found an unregistered platform")
	}
	for name, info := range map[string]Info{
		"duplicate":      {Name: "a", New: none},
		"no name":        {New: none},
		"no constructor": {Name: "c"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Register did not panic", name)
				}
			}()
			Register(info)
		}()
	}
	// Registered returns a copy: callers cannot reorder the registry.
	r := Registered()
	r[0], r[1] = r[1], r[0]
	if Names()[0] != "fast" {
		t.Fatal("Registered exposed the registry's own slice")
	}
}
