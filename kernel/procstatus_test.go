package kernel

import "testing"

func TestCPUList(t *testing.T) {
	n := NumCPU()
	if n < 2 {
		t.Skip("needs 2 CPUs")
	}
	tests := []struct {
		mask     []uint64
		wantList string
	}{
		{[]uint64{1}, "0"},
		{[]uint64{2}, "1"},
		{[]uint64{3}, "0-1"},
	}
	for _, tc := range tests {
		if _, got := cpuList(tc.mask); got != tc.wantList {
			t.Errorf("cpuList(%x) = %q, want %q", tc.mask, got, tc.wantList)
		}
	}
	if mask, list := cpuList(nil); mask == "" || list == "" {
		t.Errorf("cpuList(nil) = %q, %q", mask, list)
	}
}

func TestEscapeComm(t *testing.T) {
	for in, want := range map[string]string{"cat": "cat", "a\nb": `a\nb`, `x\y`: `x\\y`} {
		if got := escapeComm(in); got != want {
			t.Errorf("escapeComm(%q) = %q, want %q", in, got, want)
		}
	}
}
