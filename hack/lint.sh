#!/usr/bin/env bash
# Static checks of the collection, run by hack/run-tests.sh (make test) before
# pytest, or alone as `bash hack/lint.sh`:
#   ansible-lint    production profile with the .ansible-lint of the repository,
#                   offline (installs nothing, fetches no schema or version)
#   galaxy-build    ansible-galaxy collection build; the tarball must not hold
#                   the test harness, CI files or caches (build_ignore)
#   ansible-test    ansible-test sanity for the local Python, on a copy of the
#                   git-tracked and untracked-but-not-ignored files laid out as
#                   ansible_collections/vyogotech/frappe
# Prints one summary line per tool and exits non-zero when any of them fails.
#
# ansible-test builds one virtual environment per sanity test (pylint,
# validate-modules, yamllint, ...) with the versions it pins, from the package
# index. They are kept in $cache/ansible-test-home (ansible-test's HOME), so
# only the first run installs them. ansible-test bootstraps pip in them with a
# get-pip.py it downloads from a host of its own; hack/get-pip-standin.py takes
# its place (see there). While iterating, LINT_SKIP (a space-separated list of
# ansible-lint, galaxy-build, ansible-test) leaves tools out; CI ignores it.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
cache=${LINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vyogotech-frappe/lint}
log() { printf '[lint] %s\n' "$*" >&2; }

# run-tests.sh has set the environment up already and says where it is.
venv=${FRAPPE_VENV:-}
if [ -z "$venv" ]; then
  venv=$(bash hack/setup-env.sh | tail -n 1) || { log "hack/setup-env.sh failed"; exit 1; }
fi
export PATH="$venv/bin:$PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/vyogotech-frappe-lint.XXXXXX")
trap 'rm -rf "$work"' EXIT

declare -a summary=()
failed=0
record() {  # record TOOL STATUS SECONDS DETAIL
  summary+=("$(printf '[lint] %-13s %-4s %4ss  %s' "$1" "$2" "$3" "$4")")
  [ "$2" = ok ] || [ "$2" = skip ] || failed=1
}
skipped() { [[ " ${LINT_SKIP:-} " == *" $1 "* ]]; }
if [ "${CI:-}" = true ] && [ -n "${LINT_SKIP:-}" ]; then
  log "CI: LINT_SKIP ($LINT_SKIP) is ignored, every tool runs"
  LINT_SKIP=""
fi

# The collection as the FQCN vyogotech.frappe, for ansible-lint's syntax check
# of roles and playbooks: offline, ansible-lint does not install it itself.
collections="$work/collections"
mkdir -p "$collections/ansible_collections/vyogotech"
ln -s "$repo" "$collections/ansible_collections/vyogotech/frappe"

# -- ansible-lint ----------------------------------------------------------------
run_ansible_lint() {
  local start rc out
  start=$(date +%s)
  out="$work/ansible-lint.log"
  log "ansible-lint --profile production"
  # No ANSIBLE_COLLECTIONS_PATH from the caller: only this checkout and the
  # collections of the ansible package (kubernetes.core) are seen.
  ANSIBLE_COLLECTIONS_PATH="$collections" ANSIBLE_LINT_SKIP_SCHEMA_UPDATE=1 \
    ansible-lint --profile production --offline --nocolor 2>&1 | tee "$out" >&2
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then
    record ansible-lint ok $(( $(date +%s) - start )) "$(grep -E '^(Passed|Failed)' "$out" | tail -n 1)"
  else
    record ansible-lint FAIL $(( $(date +%s) - start )) \
      "$(grep -E '^(Passed|Failed)' "$out" | tail -n 1 || true) (exit $rc)"
  fi
}

# -- ansible-galaxy collection build ----------------------------------------------
run_galaxy_build() {
  local start rc tarball bad
  start=$(date +%s)
  log "ansible-galaxy collection build"
  mkdir -p "$work/build"
  ANSIBLE_COLLECTIONS_PATH="$collections" \
    ansible-galaxy collection build --output-path "$work/build" "$repo" >&2
  rc=$?
  tarball=$(find "$work/build" -name 'vyogotech-frappe-*.tar.gz' | head -n 1)
  if [ "$rc" -ne 0 ] || [ -z "$tarball" ]; then
    record galaxy-build FAIL $(( $(date +%s) - start )) "ansible-galaxy collection build failed (exit $rc)"
    return
  fi
  tar -tzf "$tarball" | sed 's#^\./##' > "$work/build/contents.txt"
  bad=$(grep -E '^(hack|\.ci|\.git|tests/integration|tests/output|\.pytest_cache|\.ansible|\.cache)(/|$)|(^|/)__pycache__(/|$)|\.pyc$|\.tar\.gz$' \
    "$work/build/contents.txt" || true)
  if [ -n "$bad" ]; then
    log "the collection tarball holds files that build_ignore in galaxy.yml should leave out:"
    printf '%s\n' "$bad" | sed 's/^/[lint]   /' >&2
    record galaxy-build FAIL $(( $(date +%s) - start )) \
      "$(basename "$tarball"): $(printf '%s\n' "$bad" | wc -l) unwanted entries"
    return
  fi
  record galaxy-build ok $(( $(date +%s) - start )) \
    "$(basename "$tarball"), $(wc -l < "$work/build/contents.txt") entries"
}

# -- ansible-test sanity -----------------------------------------------------------
run_ansible_test() {
  local start rc py tree home pip_version out failed_tests skips
  start=$(date +%s)
  py=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  tree="$work/sanity/ansible_collections/vyogotech/frappe"
  mkdir -p "$tree"
  # Tracked files (as they are in the work tree) plus untracked ones that are
  # not ignored; a tracked file deleted in the work tree is left out. Real
  # copies: ansible-test refuses a collection reached through a symlink.
  if ! git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do
        # playbooks/collections links back to the collection root: a cycle.
        case $f in playbooks/collections/*) continue ;; esac
        if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
      done | sort -zu | tar --null --files-from=- -cf - | tar -xf - -C "$tree"; then
    record ansible-test FAIL $(( $(date +%s) - start )) "could not copy the collection to $tree"
    return
  fi
  # The modules build on kubernetes.core's module_utils and doc fragment: the
  # import and documentation tests need it beside the collection, as a real
  # copy from the pinned ansible package (it is not itself under test).
  if ! core=$(python -c 'import ansible_collections.kubernetes.core as c; print(next(iter(c.__path__)))') ||
      ! mkdir -p "$work/sanity/ansible_collections/kubernetes" ||
      ! cp -r "$core" "$work/sanity/ansible_collections/kubernetes/core"; then
    record ansible-test FAIL $(( $(date +%s) - start )) "could not copy kubernetes.core next to the collection"
    return
  fi

  home="$cache/ansible-test-home"
  pip_version=$(python - <<'EOF_PY'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version='%d.%d' % sys.version_info[:2]))['pip'])
EOF_PY
  ) || { record ansible-test FAIL $(( $(date +%s) - start )) "cannot read the pip version ansible-test wants"; return; }
  mkdir -p "$home/.ansible/test/cache"
  cp "$repo/hack/get-pip-standin.py" "$home/.ansible/test/cache/get_pip_${pip_version//./_}.py"

  out="$work/ansible-test.log"
  log "ansible-test sanity --python $py (virtual environments in $home/.ansible/test/venv)"
  # Every sanity test runs; none is skipped here. pslint (PowerShell) finds no
  # .ps1 file and so has nothing to check.
  # One run at a time builds or uses the cached environments (make test in
  # several checkouts shares them).
  (
    flock 9 &&
    cd "$tree" &&
    HOME="$home" ANSIBLE_COLLECTIONS_PATH="" \
      ansible-test sanity --python "$py" --color no --truncate 0
  ) 9>"$home.lock" 2>&1 | tee "$out" >&2
  rc=${PIPESTATUS[0]}
  # A test whose tool is missing is skipped with a warning and does not fail
  # ansible-test; here it does.
  skips=$(grep -E "^WARNING: (Unable to find|Skipping sanity test)" "$out" || true)
  if [ "$rc" -eq 0 ] && [ -z "$skips" ]; then
    record ansible-test ok $(( $(date +%s) - start )) \
      "sanity on Python $py: $(grep -c '^Running sanity test' "$out") tests, none failed"
  elif [ "$rc" -eq 0 ]; then
    record ansible-test FAIL $(( $(date +%s) - start )) \
      "sanity on Python $py: skipped tests: $(printf '%s\n' "$skips" | sed 's/^WARNING: //' | paste -sd ';')"
  else
    failed_tests=$(sed -n '/^FATAL: The [0-9]* sanity test(s) listed below/,$p' "$out" | sed 1d | paste -sd ' ')
    record ansible-test FAIL $(( $(date +%s) - start )) \
      "sanity on Python $py: failed: ${failed_tests:-exit $rc} (out of $(grep -c '^Running sanity test' "$out"))"
  fi
}

total_start=$(date +%s)
for tool in ansible-lint galaxy-build ansible-test; do
  if skipped "$tool"; then
    record "$tool" skip 0 "left out by LINT_SKIP"
    continue
  fi
  case $tool in
    ansible-lint) run_ansible_lint ;;
    galaxy-build) run_galaxy_build ;;
    ansible-test) run_ansible_test ;;
  esac
done

printf '%s\n' "${summary[@]}" >&2
log "wall time: $(( $(date +%s) - total_start ))s"
exit "$failed"
