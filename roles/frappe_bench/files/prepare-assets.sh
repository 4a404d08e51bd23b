# shellcheck shell=bash
# Puts the image's built assets where nginx (`root <bench>/sites`,
# `location /assets`) and Frappe (`assets/assets.json` read from sites/) look
# for them: sites/assets on the sites volume. An init container of the
# configuration Job runs it in the bench directory of the image, with the
# sites volume mounted at $SITES_VOLUME and nothing over sites/, so the
# image's own sites/ shows.
#
# frappe_docker's images come in two layouts (docs/FRAPPEBENCH.md, "Assets"):
# - since 2026-04-30 the assets are built into <bench>/assets and the image's
#   ENTRYPOINT (main-entrypoint.sh) replaces sites/assets with a link to them
#   in every container. The volume gets the same link: it resolves in each
#   container to that container's own image.
# - before, they are in sites/assets of the image (a VOLUME until
#   2026-04-20), which the sites volume hides unless the container runtime
#   copies image volumes up (containerd does, CRI-O does not). They are
#   copied onto the volume, into a directory named after their contents, and
#   sites/assets is a link to it, switched in one rename. Frappe's
#   `bench build` makes the app folders in there links to absolute paths
#   (apps/<app>/<app>/public), so the copy is small and the links resolve in
#   each container to its own image.
#
# Environment (set by the Job):
#   SITES_VOLUME    where this container mounts the sites volume
set -euo pipefail

bench=$PWD
volume=${SITES_VOLUME:?SITES_VOLUME is not set}

# link_assets TARGET: sites/assets on the volume becomes a link to TARGET,
# whatever it was (a link, a directory left by an older image, a mount point
# a container runtime made, or nothing).
link_assets() {
  local link="$volume/.assets-link.$$"
  rm -f "$link"
  ln -s "$1" "$link"
  if [ -d "$volume/assets" ] && [ ! -L "$volume/assets" ]; then
    # A directory cannot be renamed over: move it aside first.
    mv -T "$volume/assets" "$volume/.assets-old.$$"
  fi
  mv -T "$link" "$volume/assets"
}

# remove_copies [KEEP]: copies made for an earlier image, and leftovers.
remove_copies() {
  local entry
  for entry in "$volume"/.assets-*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    [ "${entry##*/}" = "${1:-}" ] && continue
    rm -rf "$entry"
  done
}

if [ -d "$bench/assets" ]; then
  echo "assets: built into the image at $bench/assets; sites/assets links to them"
  link_assets "$bench/assets"
  remove_copies
elif [ -d "$bench/sites/assets" ]; then
  if [ ! -f "$bench/sites/assets/assets.json" ]; then
    echo "assets: $bench/sites/assets of the image has no assets.json (not built)" >&2
    exit 1
  fi
  # Named after the contents (names, types, link targets, file contents):
  # other assets get a new copy, the same ones reuse it.
  id=$(cd "$bench/sites/assets" && {
    find . -printf '%p %y %l\n' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  } | sha256sum | cut -c1-16)
  copy=.assets-$id
  if [ ! -d "$volume/$copy" ]; then
    tmp="$volume/.assets-tmp.$$"
    rm -rf "$tmp"
    mkdir "$tmp"
    # -R without -L copies links as links.
    cp -R "$bench/sites/assets/." "$tmp/"
    mv -T "$tmp" "$volume/$copy"
  fi
  echo "assets: copied from the image's sites/assets to $copy on the sites volume"
  link_assets "$copy"
  remove_copies "$copy"
else
  echo "assets: the image has no built assets (neither $bench/assets nor $bench/sites/assets)" >&2
  exit 1
fi
