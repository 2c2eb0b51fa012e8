// Package attest is the root of verified execution (issue 17): what an
// operator signs to say which files may run in a sandbox, and what
// litebox signs to say what ran. It holds no code; its children each do
// one job:
//
//   - attest/keys: ed25519 keys as PEM (PKCS#8 private, PKIX public, as
//     openssl writes them) and their key ids;
//   - attest/dsse: DSSE envelopes (Dead Simple Signing Envelope v1),
//     signed and verified with those keys;
//   - attest/manifest: the manifest of approved files (guest path to
//     SHA-256, size and kind), its canonical bytes, strict parsing and
//     Create, which walks a file tree;
//   - attest/internal/hostfile: the bounded read of those host files.
//
// Nothing here leaves the host: keys are read from host files by the
// litebox command, never by the guest.
package attest
