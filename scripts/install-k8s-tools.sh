#!/usr/bin/env bash
# Install the Kubernetes delivery tools into the project: helm (built with `go install`) into
# .cache/bin, and the Python validators into the active Python environment.
# Idempotent: a tool that is already at the pinned version is left alone.
#
#   scripts/install-k8s-tools.sh            helm and the Python validators
#   scripts/install-k8s-tools.sh --images   also the Debian packages that build and run images
#                                           (buildah, podman, runc, debootstrap; needs root)
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
GOBIN_DIR="${GOBIN_DIR:-$REPO/.cache/bin}"
HELM_MODULE="${HELM_MODULE:-helm.sh/helm/v3}"
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
PYTHON="${PYTHON:-python3}"
PY_PACKAGES=("kubernetes-validate==1.37.0" "check-jsonschema==0.39.0" "jsonschema>=4.20" "PyYAML>=6")
IMAGE_PACKAGES=(buildah podman runc debootstrap)

install_helm() {
    local helm="$GOBIN_DIR/helm"
    # A binary built by `go install` reports only major.minor in `helm version`; the module version
    # recorded in the binary is exact.
    if [[ -x "$helm" ]] && go version -m "$helm" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+$HELM_MODULE[[:space:]]+$HELM_VERSION([[:space:]]|\$)"; then
        echo "helm $HELM_VERSION already in $GOBIN_DIR"
        return
    fi
    command -v go >/dev/null || { echo "go not found: install Go 1.26 to build helm" >&2; exit 1; }
    mkdir -p "$GOBIN_DIR"
    echo "building helm $HELM_VERSION into $GOBIN_DIR (a few minutes on 2 cores)"
    GOBIN="$GOBIN_DIR" go install "$HELM_MODULE/cmd/helm@$HELM_VERSION"
    "$helm" version --short
}

install_python_tools() {
    if "$PYTHON" - "${PY_PACKAGES[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

pins = {"kubernetes-validate": "1.37.0", "check-jsonschema": "0.39.0"}
try:
    ok = all(version(name) == pinned for name, pinned in pins.items())
    version("jsonschema")
    version("PyYAML")
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PY
    then
        echo "kubernetes-validate, check-jsonschema and jsonschema already installed"
        return
    fi
    "$PYTHON" -m pip install --quiet "${PY_PACKAGES[@]}"
}

install_image_tools() {
    local missing=()
    for package in "${IMAGE_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        echo "buildah, podman, runc and debootstrap already installed"
        return
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing Debian packages: ${missing[*]}; run this script as root or install them with apt-get" >&2
        exit 1
    fi
    apt-get install -y --no-install-recommends "${missing[@]}"
}

install_helm
install_python_tools
if [[ "${1:-}" == "--images" ]]; then
    install_image_tools
fi
