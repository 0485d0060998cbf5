# shellcheck shell=bash
# Shared helpers for Refute's scripts. Source it after `set -euo pipefail`:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# It sets REFUTE_ROOT (the repository root, whatever the caller's cwd) and
# REFUTE_MODELS (where scripts/setup installs the pretrained models).

REFUTE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# REFUTE_HOME moves all of Refute's local state (models included) elsewhere,
# e.g. onto a bigger disk or a cache shared between clones.
REFUTE_MODELS="${REFUTE_HOME:-$REFUTE_ROOT/.refute}/models"
export REFUTE_ROOT REFUTE_MODELS

# Set to 1 by a script's --quiet flag: `say` stays silent and `run_logged`
# keeps a command's output unless it fails.
REFUTE_QUIET="${REFUTE_QUIET:-0}"

say() {
  [[ "$REFUTE_QUIET" == 1 ]] || printf '%s\n' "$*"
}

warn() {
  printf 'warning: %s\n' "$*" >&2
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Runs a command; in quiet mode its output goes to a temporary log that is
# printed only when the command fails, so errors are never swallowed.
run_logged() {
  if [[ "$REFUTE_QUIET" != 1 ]]; then
    "$@"
    return
  fi
  local log status=0
  log="$(mktemp)"
  "$@" >"$log" 2>&1 || status=$?
  if [[ "$status" != 0 ]]; then
    cat "$log" >&2
  fi
  rm -f "$log"
  return "$status"
}

# Prefixes a command with sudo when not root (apt needs it).
as_root() {
  if [[ "$(id -u)" == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "'$*' needs root and sudo is not installed; run it as root"
  fi
}
