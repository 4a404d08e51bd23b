#!/usr/bin/env bash
# Builds the binaries of the local control plane from their published Go modules.
#
#   build-binaries.sh [kubernetes|etcd|kwok|keda|ansible-operator|mariadb-operator|seaweedfs ...]
#                        (default: all but seaweedfs, which only the tests use:
#                         hack/run-tests.sh builds it)
#
# Each component lands in its own per-version directory under the cache
# ($LOCALCLUSTER_CACHE, default ${XDG_CACHE_HOME:-~/.cache}/vyogotech-frappe/localcluster):
#   <cache>/<component>-<version>/bin/      finished binaries (reused when present)
#   <cache>/<component>-<version>/wrapper/  the wrapper Go module used to build them
# Go's module and build caches live in <cache>/go/{mod,build}; both are
# content-addressed, so sharing them across versions is safe and saves a cold
# build several minutes of recompiling the same dependencies.
#
# Binaries a user already has are used instead of building: point
# LOCALCLUSTER_BIN_DIR at a directory holding any of kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, kwokctl,
# keda-operator, ansible-operator, mariadb-operator, weed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${LOCALCLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vyogotech-frappe/localcluster}
export GOMODCACHE="$cache/go/mod"
export GOCACHE="$cache/go/build"
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
export GOTOOLCHAIN=local
mkdir -p "$GOMODCACHE" "$GOCACHE"

log() { printf '[build-binaries] %s\n' "$*" >&2; }

go_version() { go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/'; }

# have_all DIR BIN... : true when every binary exists in DIR
have_all() {
  local dir=$1; shift
  local b
  for b in "$@"; do [ -x "$dir/$b" ] || return 1; done
}

# user_provided BIN... : true when LOCALCLUSTER_BIN_DIR holds them all
user_provided() {
  [ -n "${LOCALCLUSTER_BIN_DIR:-}" ] && have_all "$LOCALCLUSTER_BIN_DIR" "$@"
}

# mod_file MODULE@VERSION : path of the module's go.mod in the module cache
mod_file() {
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'
}

# mod_dir MODULE@VERSION : the module's extracted source in the module cache
mod_dir() {
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# copy_replaces GO_MOD WRAPPER_GO_MOD : append the replace directives of GO_MOD
copy_replaces() {
  awk '/^replace \($/{inblock=1; print; next} inblock{print; if ($0 ~ /^\)/) inblock=0; next} /^replace /{print}' \
    "$1" >>"$2"
}

# new_wrapper DIR MODULE VERSION : a fresh wrapper module requiring MODULE@VERSION
new_wrapper() {
  local dir=$1 module=$2 version=$3
  rm -rf "$dir"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<EOF
module localcluster.invalid/wrapper

go $(go_version)

require $module $version
EOF
}

# build_in DIR OUTDIR LDFLAGS PKG... : go build each package into OUTDIR
build_in() {
  local dir=$1 out=$2 ldflags=$3; shift 3
  mkdir -p "$out.partial"
  local pkg
  for pkg in "$@"; do
    log "go build $pkg"
    (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out.partial/" "$pkg")
  done
  # Publish the directory only once every binary is there, so a killed build
  # never leaves a half-filled bin/ that later runs would trust.
  rm -rf "$out"
  mv "$out.partial" "$out"
}

build_kubernetes() {
  local bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  user_provided "${bins[@]}" && { log "kubernetes: using $LOCALCLUSTER_BIN_DIR"; return; }
  local root="$cache/kubernetes-$KUBERNETES_VERSION"
  have_all "$root/bin" "${bins[@]}" && { log "kubernetes $KUBERNETES_VERSION: cached"; return; }
  local staging="v0.${KUBERNETES_VERSION#v1.}"
  new_wrapper "$root/wrapper" k8s.io/kubernetes "$KUBERNETES_VERSION"
  # k8s.io/kubernetes replaces its staging modules with local paths, which a
  # dependent module cannot use: point each at its published v0.x release.
  {
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\t\1 => \1 '"$staging"'#p' \
      "$(mod_file "k8s.io/kubernetes@$KUBERNETES_VERSION")"
    echo ")"
  } >>"$root/wrapper/go.mod"
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local ldflags="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION"
  build_in "$root/wrapper" "$root/bin" "$ldflags" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  user_provided etcd && { log "etcd: using $LOCALCLUSTER_BIN_DIR"; return; }
  local root="$cache/etcd-$ETCD_VERSION"
  have_all "$root/bin" etcd && { log "etcd $ETCD_VERSION: cached"; return; }
  # etcd's own replace directives point at sibling directories of its repo and
  # do not apply here; the wrapper resolves the published v3 modules instead.
  new_wrapper "$root/wrapper" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
  build_in "$root/wrapper" "$root/bin.server" "" go.etcd.io/etcd/server/v3
  mkdir -p "$root/bin"
  mv "$root/bin.server/v3" "$root/bin/etcd" 2>/dev/null || mv "$root/bin.server/server" "$root/bin/etcd"
  rm -rf "$root/bin.server"
}

build_kwok() {
  user_provided kwok kwokctl && { log "kwok: using $LOCALCLUSTER_BIN_DIR"; return; }
  local root="$cache/kwok-$KWOK_VERSION"
  have_all "$root/bin" kwok kwokctl && { log "kwok $KWOK_VERSION: cached"; return; }
  new_wrapper "$root/wrapper" sigs.k8s.io/kwok "$KWOK_VERSION"
  build_in "$root/wrapper" "$root/bin" "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
    sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
}

build_keda() {
  local root="$cache/keda-$KEDA_VERSION"
  if user_provided keda-operator; then
    log "keda: using $LOCALCLUSTER_BIN_DIR"
  elif have_all "$root/bin" keda-operator; then
    log "keda $KEDA_VERSION: cached"
  else
    new_wrapper "$root/wrapper" github.com/kedacore/keda/v2 "$KEDA_VERSION"
    # KEDA pins some dependencies with replace directives; a wrapper module
    # must repeat them or the build resolves incompatible versions.
    copy_replaces "$(mod_file "github.com/kedacore/keda/v2@$KEDA_VERSION")" "$root/wrapper/go.mod"
    build_in "$root/wrapper" "$root/bin.tmp" "-X github.com/kedacore/keda/v2/version.Version=${KEDA_VERSION#v}" \
      github.com/kedacore/keda/v2/cmd/operator
    mkdir -p "$root/bin"
    mv "$root/bin.tmp/operator" "$root/bin/keda-operator"
    rm -rf "$root/bin.tmp"
  fi
  # The CRDs ship inside the module; keep a copy beside the binary.
  if [ ! -d "$root/crd" ]; then
    local src
    src=$(mod_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")
    mkdir -p "$root/crd.tmp"
    cp -r "$src/config/crd/." "$root/crd.tmp/"
    chmod -R u+w "$root/crd.tmp"
    mv "$root/crd.tmp" "$root/crd"
  fi
}

build_ansible_operator() {
  local root="$cache/ansible-operator-$ANSIBLE_OPERATOR_VERSION"
  if user_provided ansible-operator; then
    log "ansible-operator: using $LOCALCLUSTER_BIN_DIR"
  elif have_all "$root/bin" ansible-operator; then
    log "ansible-operator $ANSIBLE_OPERATOR_VERSION: cached"
  else
    new_wrapper "$root/wrapper" github.com/operator-framework/ansible-operator-plugins "$ANSIBLE_OPERATOR_VERSION"
    copy_replaces "$(mod_file "github.com/operator-framework/ansible-operator-plugins@$ANSIBLE_OPERATOR_VERSION")" \
      "$root/wrapper/go.mod"
    build_in "$root/wrapper" "$root/bin" "" \
      github.com/operator-framework/ansible-operator-plugins/cmd/ansible-operator
  fi
  # ansible-runner's HTTP event plugin that matches this operator ships in the
  # same module; the Python environment installs it from this directory.
  if [ ! -d "$root/ansible_runner_http" ]; then
    local src
    src=$(mod_dir "github.com/operator-framework/ansible-operator-plugins@$ANSIBLE_OPERATOR_VERSION")
    cp -r "$src/images/ansible-operator/ansible_runner_http" "$root/ansible_runner_http.tmp"
    chmod -R u+w "$root/ansible_runner_http.tmp"
    mv "$root/ansible_runner_http.tmp" "$root/ansible_runner_http"
  fi
}

build_mariadb_operator() {
  local module=github.com/mariadb-operator/mariadb-operator/v25
  local root="$cache/mariadb-operator-$MARIADB_OPERATOR_VERSION"
  # The proxy serves this module, but the checksum database has no entry for
  # it (and its version list is refused, so `go install pkg@version` fails
  # too): skip the checksum database for this module only. The go.sum copied
  # below still pins every dependency, and the module itself is fetched
  # through the proxy like any other.
  local -x GONOSUMDB=github.com/mariadb-operator/mariadb-operator
  if user_provided mariadb-operator; then
    log "mariadb-operator: using $LOCALCLUSTER_BIN_DIR"
  elif have_all "$root/bin" mariadb-operator; then
    log "mariadb-operator $MARIADB_OPERATOR_VERSION: cached"
  else
    new_wrapper "$root/wrapper" "$module" "$MARIADB_OPERATOR_VERSION"
    local src
    src=$(mod_dir "$module@$MARIADB_OPERATOR_VERSION")
    # Its go.sum holds the checksums of the exact dependency versions it was
    # released with; replace directives (if any) must be repeated here.
    cp "$src/go.sum" "$root/wrapper/go.sum"
    chmod u+w "$root/wrapper/go.sum"
    copy_replaces "$src/go.mod" "$root/wrapper/go.mod"
    build_in "$root/wrapper" "$root/bin.tmp" "" "$module/cmd/controller"
    mkdir -p "$root/bin"
    mv "$root/bin.tmp/controller" "$root/bin/mariadb-operator"
    rm -rf "$root/bin.tmp"
  fi
  # The CRDs ship inside the module; keep a copy beside the binary.
  if [ ! -d "$root/crd" ]; then
    local crd_src
    crd_src=$(mod_dir "$module@$MARIADB_OPERATOR_VERSION")
    mkdir -p "$root/crd.tmp"
    cp -r "$crd_src/config/crd/bases/." "$root/crd.tmp/"
    chmod -R u+w "$root/crd.tmp"
    mv "$root/crd.tmp" "$root/crd"
  fi
}

# SeaweedFS's `weed`: a real S3 server for the backup tests (weed server -s3).
build_seaweedfs() {
  local module=github.com/seaweedfs/seaweedfs
  local root="$cache/seaweedfs-$SEAWEEDFS_VERSION"
  if user_provided weed; then
    log "seaweedfs: using $LOCALCLUSTER_BIN_DIR"
    return
  fi
  have_all "$root/bin" weed && { log "seaweedfs $SEAWEEDFS_VERSION: cached"; return; }
  # Its go.mod has a replace directive, so `go install pkg@version` is refused:
  # a wrapper module with its go.sum and the same replace builds it.
  new_wrapper "$root/wrapper" "$module" "$SEAWEEDFS_VERSION"
  local src
  src=$(mod_dir "$module@$SEAWEEDFS_VERSION")
  cp "$src/go.sum" "$root/wrapper/go.sum"
  chmod u+w "$root/wrapper/go.sum"
  copy_replaces "$src/go.mod" "$root/wrapper/go.mod"
  # `go mod tidy` resolves what the package needs; the usual tools.go (never
  # built: its tag) names the package for it.
  (cd "$root/wrapper" && printf '//go:build tools\n\npackage wrapper\n\nimport _ "%s/weed"\n' "$module" >tools.go \
    && go mod tidy)
  build_in "$root/wrapper" "$root/bin" "" "$module/weed"
}

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(etcd kwok kubernetes keda ansible-operator mariadb-operator)
for c in "${components[@]}"; do
  start=$(date +%s)
  case "$c" in
    kubernetes) build_kubernetes ;;
    etcd) build_etcd ;;
    kwok) build_kwok ;;
    keda) build_keda ;;
    ansible-operator) build_ansible_operator ;;
    mariadb-operator) build_mariadb_operator ;;
    seaweedfs) build_seaweedfs ;;
    *) log "unknown component '$c' (expected kubernetes, etcd, kwok, keda, ansible-operator, mariadb-operator or seaweedfs)"
       exit 2 ;;
  esac
  log "$c: done in $(( $(date +%s) - start ))s"
done
