#!/usr/bin/env bash
# Build the stage images with buildah/podman, without a Docker engine or a registry.
#
#   scripts/build-images.sh [base|wheels|producer|notifier|ingest|alerter|all]...   (default: all)
#   scripts/build-images.sh --skaffold STAGE   build $IMAGE for skaffold's custom builder
#   eval "$(scripts/build-images.sh --print-env)"   use the same image store in podman commands
#
# The base image localhost/vitals-base:bookworm is made by debootstrap. The stage images install
# wheels that are built on the host into a wheelhouse (mounted into the build, never copied into
# an image), so image builds need no package index. Everything lives under VITALS_IMAGES_ROOT,
# outside the repository, so repeated runs on one machine reuse the base, the wheels and layers.
#
# Settings (environment variables):
#   VITALS_IMAGES_ROOT  image store, wheelhouse and base rootfs (default /var/lib/vitals-images
#                       as root, ~/.cache/vitals-images otherwise)
#   DEBIAN_MIRROR       Debian mirror for debootstrap (default: the first .../debian URI in this
#                       machine's apt sources); the images' apt uses the same mirror
#   DEBIAN_SUITE        default bookworm
#   IMAGE_TAG           tag of the stage images (default 0.1.0, the charts' appVersion)
#   PYTHON              Python that builds the wheelhouse (default python3; must be 3.11 like
#                       the base image's python3)
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
if [[ $(id -u) -eq 0 ]]; then
    DEFAULT_ROOT=/var/lib/vitals-images
else
    DEFAULT_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/vitals-images"
fi
ROOT="${VITALS_IMAGES_ROOT:-$DEFAULT_ROOT}"
SUITE="${DEBIAN_SUITE:-bookworm}"
IMAGE_TAG="${IMAGE_TAG:-0.1.0}"
PYTHON="${PYTHON:-python3}"
BASE_IMAGE="localhost/vitals-base:$SUITE"
WHEELS="$ROOT/wheels"
STAGES=(producer notifier ingest alerter)

log() { printf '%s build-images: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

debian_mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    local uri
    uri=$(grep -hoE '(^deb(-src)?[[:space:]]+(\[[^]]*\][[:space:]]+)?|^URIs:[[:space:]]+)[a-z]+://[^[:space:]]+/debian/?([[:space:]]|$)' \
        /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -oE '[a-z]+://[^[:space:]]+' | head -n 1 || true)
    if [[ -z "$uri" ]]; then
        echo "no Debian mirror found in /etc/apt/sources*; set DEBIAN_MIRROR" >&2
        exit 1
    fi
    echo "${uri%/}"
}

# Storage and runtime settings shared by buildah and podman. The overlay store lives in ROOT; runc
# and explicit ulimits are needed on hosts with hybrid cgroups and without CAP_SYS_RESOURCE,
# where crun and podman's default ulimits fail.
write_container_config() {
    mkdir -p "$ROOT/storage" "$ROOT/run"
    cat > "$ROOT/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$ROOT/storage"
runroot = "$ROOT/run"
EOF
    cat > "$ROOT/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
EOF
}

export_container_env() {
    export CONTAINERS_STORAGE_CONF="$ROOT/storage.conf"
    export CONTAINERS_CONF="$ROOT/containers.conf"
}

image_exists() {
    podman image exists "$1"
}

build_base() {
    if image_exists "$BASE_IMAGE"; then
        log "$BASE_IMAGE already built"
        return
    fi
    command -v debootstrap >/dev/null || { echo "debootstrap not found: apt-get install debootstrap" >&2; exit 1; }
    local mirror rootfs
    mirror=$(debian_mirror)
    rootfs="$ROOT/rootfs-$SUITE"
    log "debootstrap $SUITE from $mirror into $rootfs"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$SUITE" "$rootfs" "$mirror" \
        > "$ROOT/debootstrap.log" 2>&1 || { tail -n 30 "$ROOT/debootstrap.log" >&2; exit 1; }
    # Apt lists and caches are not needed in the image; the Spark images run apt-get update themselves.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | podman import \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
    log "built $BASE_IMAGE"
}

# One wheel per dependency of the images, built or downloaded by the host's pip (which has the
# host's index and CA settings). The images copy the project's own packages from the build
# context instead, so a code change needs no new wheelhouse.
build_wheels() {
    local stamp="$WHEELS/.pyproject.sha256" fingerprint
    fingerprint=$(sha256sum < "$REPO/pyproject.toml" | cut -d' ' -f1)
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$fingerprint" ]]; then
        log "wheelhouse $WHEELS is up to date"
        return
    fi
    log "building the wheelhouse in $WHEELS"
    mkdir -p "$WHEELS"
    "$PYTHON" -m pip wheel --quiet --find-links "$WHEELS" --wheel-dir "$WHEELS" "$REPO"
    echo "$fingerprint" > "$stamp"
}

build_stage() {
    local stage="$1" image="${2:-localhost/vitals-$1:$IMAGE_TAG}"
    if [[ "$stage" == ingest || "$stage" == alerter ]] && ! compgen -G "$REPO/.cache/jars/spark-kafka/*.jar" >/dev/null; then
        echo "no Kafka connector jars in .cache/jars/spark-kafka: run python -m vitals_stack fetch" >&2
        exit 1
    fi
    log "building $image"
    local started=$SECONDS
    buildah bud --isolation chroot --layers \
        --volume "$WHEELS:/wheels:ro" \
        --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        --file "$REPO/services/$stage/Dockerfile" \
        --tag "$image" \
        "$REPO" >&2
    log "built $image in $((SECONDS - started)) s"
}

main() {
    write_container_config
    export_container_env
    if [[ "${1:-}" == "--print-env" ]]; then
        echo "export CONTAINERS_STORAGE_CONF='$ROOT/storage.conf' CONTAINERS_CONF='$ROOT/containers.conf'"
        return
    fi
    if [[ "${1:-}" == "--skaffold" ]]; then
        # skaffold's custom builder passes the full image name in $IMAGE and PUSH_IMAGE=true when
        # the cluster pulls from a registry.
        local stage="${2:?--skaffold needs a stage name}"
        build_base
        build_wheels
        build_stage "$stage" "${IMAGE:?skaffold sets IMAGE}"
        if [[ "${PUSH_IMAGE:-false}" == "true" ]]; then
            podman push "$IMAGE"
        fi
        return
    fi
    local targets=("$@")
    [[ ${#targets[@]} -eq 0 ]] && targets=(all)
    for target in "${targets[@]}"; do
        case "$target" in
            base) build_base ;;
            wheels) build_wheels ;;
            all)
                build_base
                build_wheels
                for stage in "${STAGES[@]}"; do build_stage "$stage"; done
                ;;
            producer | notifier | ingest | alerter)
                build_base
                build_wheels
                build_stage "$target"
                ;;
            *)
                echo "unknown target: $target (expected base, wheels, all or a stage name)" >&2
                exit 2
                ;;
        esac
    done
}

main "$@"
