#!/usr/bin/env bash
# `make image-test`: builds runner_image/Dockerfile with podman from local stand-ins for its
# base images (no registry is reachable here), shows that the build stage fails without its
# C++ compiler, then runs the image as Cloud Run, Vertex AI and Dataflow do
# (tests/runner_image, FULLCYCLE_TEST_IMAGE set). Needs podman, runc and debootstrap.
#   IMAGE_TEST_CLEAN=all  afterwards empties the whole store (CI); default: keeps it (bases,
#                         layers, uv's download cache) so that the next build reuses it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
here=runner_image/local
podman_=$here/podman
root="${FULLCYCLE_PODMAN_ROOT:-/var/tmp/fullcycle-podman}"
python_base=localhost/fullcycle-base/python:$(cat .python-version)-slim-bookworm
beam_base=localhost/fullcycle-base/beam-boot:$(sed -n 's/^ARG BEAM_VERSION=//p' runner_image/Dockerfile)
image=localhost/fullcycle-runner:test
ca=/etc/ssl/certs/ca-certificates.crt

for tool in podman runc debootstrap; do
    command -v "$tool" >/dev/null || {
        echo "make image-test needs $tool: apt-get install podman runc debootstrap (.ci/run does)"
        exit 1; }
done
step() { echo "== $* ($(date -u +%T))"; }

step "local base images"
"$here/python_base.sh" "$python_base"
"$podman_" build -q -f "$here/beam_base.Containerfile" -t "$beam_base" "$here" >/dev/null

# Downloads go through this machine's network and CA bundle; uv's cache outlives each build.
mkdir -p "$root/uv-cache"
build=(build --network host -v "$ca:$ca:ro" -v "$root/uv-cache:/root/.cache/uv"
       --build-arg "PYTHON_BASE=$python_base" --build-arg "BEAM_BASE=$beam_base")

step "build $image"
start=$SECONDS
"$podman_" "${build[@]}" -f runner_image/Dockerfile -t "$image" .
echo "built in $((SECONDS - start)) s"

step "the build stage without its compiler must fail (pyfarmhash has no wheel)"
no_compiler="$(mktemp /var/tmp/fullcycle-Dockerfile.XXXXXX)"
trap 'rm -f "$no_compiler" "$no_compiler.log"' EXIT
sed '/^RUN apt-get update/,/lists\/\*$/d' runner_image/Dockerfile >"$no_compiler"
# uv's cache holds the pyfarmhash wheel built with the compiler: without it, uv must build again.
UV_CACHE_DIR="$root/uv-cache" .tools/bin/uv cache clean pyfarmhash
! grep -q 'g++' <(grep -v '^#' "$no_compiler") || { echo "could not remove the compiler"; exit 1; }
start=$SECONDS
if "$podman_" "${build[@]}" -f "$no_compiler" --target build -t localhost/fullcycle-no-compiler . \
        >"$no_compiler.log" 2>&1; then
    echo "the build stage succeeded without a compiler: is g++ still needed?"; exit 1
fi
grep -E "pyfarmhash|g\+\+" "$no_compiler.log" | tail -3
grep -q "g++" "$no_compiler.log" || { tail -30 "$no_compiler.log"; echo "failed, not for g++"; exit 1; }
rm -f "$no_compiler.log"
echo "failed as expected in $((SECONDS - start)) s"

step "run the image as Cloud Run, Vertex AI and Dataflow do"
FULLCYCLE_TEST_IMAGE="$image" .venv/bin/python -m pytest -q tests/runner_image

if [ "${IMAGE_TEST_CLEAN:-}" = all ]; then
    step "empty the store ($root)"
    "$podman_" system reset -f >/dev/null 2>&1 || true
    rm -rf "$root"
else
    "$podman_" system df
    echo "the store ($root) is kept for the next build; IMAGE_TEST_CLEAN=all empties it"
fi
