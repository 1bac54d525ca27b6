#!/usr/bin/env bash
# Upload the Space: this folder plus the gpen_hf package (with its assets, and the default model once it
# ships in gpen_hf/assets/gpen-default), as one Space repository. Nothing needs editing.
#   space/deploy.sh <user>/<space-name>        (needs `hf auth login` first)
set -euo pipefail
repo="${1:?usage: space/deploy.sh <user>/<space-name>}"
cd "$(dirname "$0")/.."
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp -r space/. "$stage"/
cp -r gpen_hf "$stage"/gpen_hf
rm -f "$stage"/deploy.sh
find "$stage" \( -name __pycache__ -o -name '*.pyc' -o -name '*.pyi' \) -prune -exec rm -rf {} +
hf upload "$repo" "$stage" . --repo-type space --commit-message "Deploy gpen-hf Space"
