#!/bin/sh
# OCI runtime-tools validation (github.com/opencontainers/runtime-tools) run
# against an OCI runtime: `make oci-validation` (docs/oci.md, "runtime-tools
# validation"). The tools are built from the Go module proxy into a temporary
# directory outside the repository (never vendored): v0.9.0 is the only
# version the proxy serves and it predates Go modules, so its dependencies are
# pinned here to releases that still have the APIs it uses (its
# Godeps/Godeps.json). Debian's golang-github-opencontainers-runtime-tools-dev
# ships only the library packages, not cmd/runtimetest nor validation/.
#
# Each validation program is run from a directory holding runtimetest and the
# upstream busybox rootfs (rootfs-amd64.tar.gz of the module), with
# RUNTIME=<runtime>, one at a time, each under a timeout. Its TAP output goes
# to $OUT/<runtime name>/<program>.tap; the summary counts ok / not ok / skip
# per program and "error" for a program that ended without a TAP plan (the
# programs that run runtimetest inside the container print only its TAP
# lines up to the point where it stopped). The summary is a report, not a
# gate: the exit status is 0 unless the tools cannot be built or a runtime is
# missing.
#
# Usage: run.sh RUNTIME [RUNTIME...]   (env: OUT, TESTS="create state ...",
#        PER_TEST_TIMEOUT seconds, default 90; KEEP_TOOLS=DIR to reuse a build)
set -u
RT_VERSION=v0.9.0
OUT=${OUT:-bin/oci-validation}
PER_TEST_TIMEOUT=${PER_TEST_TIMEOUT:-90}
[ $# -ge 1 ] || { echo "usage: $0 RUNTIME [RUNTIME...]" >&2; exit 2; }
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)

if [ -n "${KEEP_TOOLS:-}" ]; then
	work=$KEEP_TOOLS
	mkdir -p "$work"
else
	work=$(mktemp -d /tmp/oci-validation.XXXXXX) || exit 1
	trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
fi
export GOPATH="$work/gopath" GOMODCACHE="$work/gopath/pkg/mod" GOFLAGS= GOWORK=off

build() {
	[ -x "$work/run/runtimetest" ] && return 0
	echo "oci-validation: building runtime-tools $RT_VERSION in $work" >&2
	( cd "$work" && go mod download github.com/opencontainers/runtime-tools@$RT_VERSION ) || return 1
	rm -rf "$work/src"
	cp -r "$GOMODCACHE/github.com/opencontainers/runtime-tools@$RT_VERSION" "$work/src" && chmod -R u+w "$work/src" || return 1
	cd "$work/src" || return 1
	go mod init github.com/opencontainers/runtime-tools >/dev/null 2>&1 || return 1
	go get github.com/opencontainers/runtime-spec@v1.0.2 github.com/satori/go.uuid@v1.1.0 \
		github.com/urfave/cli@v1.22.14 github.com/opencontainers/selinux@v1.3.0 \
		github.com/blang/semver@v3.5.1+incompatible github.com/hashicorp/go-multierror@v1.0.0 \
		github.com/sirupsen/logrus@v1.4.2 github.com/xeipuuv/gojsonschema@v1.2.0 >/dev/null 2>&1 || return 1
	go mod tidy >/dev/null 2>&1 || return 1
	mkdir -p "$work/run" "$work/t" || return 1
	# runtimetest runs inside the busybox rootfs: static.
	CGO_ENABLED=0 go build -o "$work/run/runtimetest" ./cmd/runtimetest || return 1
	for d in validation/*/; do
		n=$(basename "$d"); [ "$n" = util ] && continue
		go build -o "$work/t/$n.t" "./$d" || return 1
	done
	cp rootfs-amd64.tar.gz "$work/run/" || return 1
	cd - >/dev/null
}
build || { echo "oci-validation: building runtime-tools failed" >&2; exit 1; }

tests=${TESTS:-$(cd "$work/t" && ls | sed 's/\.t$//')}
status=0
for rt in "$@"; do
	rtpath=$(command -v "$rt") || { echo "oci-validation: no runtime $rt" >&2; status=1; continue; }
	case $rtpath in /*) ;; *) rtpath=$(pwd)/$rtpath ;; esac
	name=$(basename "$rtpath")
	mkdir -p "$OUT/$name"
	printf '\n== %s (%s)\n%-40s %4s %6s %4s %s\n' "$name" "$rtpath" program ok "not ok" skip note
	tok=0; tnok=0; tskip=0; terr=0
	for t in $tests; do
		tap="$OUT/$name/$t.tap"
		( cd "$work/run" && RUNTIME=$rtpath timeout -k 5 "$PER_TEST_TIMEOUT" "$work/t/$t.t" ) >"$tap" 2>"$OUT/$name/$t.stderr"
		rc=$?
		ok=$(grep -c '^ok ' "$tap"); nok=$(grep -c '^not ok ' "$tap")
		skip=$(grep -ci '^ok .*# *skip' "$tap"); ok=$((ok - skip))
		note=""
		grep -q '^1\.\.[0-9]' "$tap" || { note="error (rc=$rc, no TAP plan)"; terr=$((terr + 1)); }
		grep -q '^1\.\.0' "$tap" && grep -q '"error"' "$tap" && note='no test ran: error diagnostic'
		[ $rc -eq 124 ] && note="timeout ${PER_TEST_TIMEOUT}s"
		printf '%-40s %4d %6d %4d %s\n' "$t" "$ok" "$nok" "$skip" "$note"
		tok=$((tok + ok)); tnok=$((tnok + nok)); tskip=$((tskip + skip))
	done
	printf '%-40s %4d %6d %4d %s\n' TOTAL "$tok" "$tnok" "$tskip" "$terr programs without a TAP plan"
done
exit $status
