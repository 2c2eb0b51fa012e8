// bench_true: does nothing and exits 0, like true(1) but built static with
// no I/O at all. Used by bench/ to measure the start-up and exit of a
// process: exec, loading and the C runtime's initialisation.
int main(void) {
	return 0;
}
