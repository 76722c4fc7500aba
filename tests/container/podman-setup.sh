#!/usr/bin/env bash
# Prepare podman on a fresh Debian machine of this project's kind, idempotently:
#  1. install podman and friends from Debian;
#  2. write a private containers.conf / storage.conf (runc, cgroupfs, file events, ulimits
#     within the hard limit, overlay set before the first podman call);
#  3. no registry is reachable, so build a stand-in for python:3.11-slim with debootstrap
#     and import it under that name, leaving the Dockerfile's FROM line unmodified.
# Prints the environment to export (eval "$(tests/container/podman-setup.sh)").
set -euo pipefail
state=${ARQ_PODMAN_DIR:-/var/tmp/arq-batch-podman}
base=docker.io/library/python:3.11-slim

if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq podman buildah runc debootstrap uidmap iptables >&2
fi

mkdir -p "$state"
cat > "$state/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat > "$state/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
CONF
export CONTAINERS_CONF="$state/containers.conf" CONTAINERS_STORAGE_CONF="$state/storage.conf"

if ! podman image exists "$base"; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  rootfs="$state/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$rootfs" "$mirror" >&2
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  tar -C "$rootfs" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' - "$base" >&2
  rm -rf "$rootfs"
fi

echo "export CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
