#!/usr/bin/env bash
# Fetch real Docker engines for the conformance specs (specs/docker/), without touching the machine's apt sources or
# packages: Debian's docker.io of newer suites (trixie: 26.1.x, sid: 28.5.x) is downloaded with `apt-get download` from
# a sources list of our own (its URI read from the machine's own apt sources; the registry's host name is never written
# here), unpacked with `dpkg-deb -x` into a cache folder, never installed, never started here (the specs run each
# dockerd inside a lab of its own).
#
#   .ci/fetch-engines.sh [SUITE…]      default: trixie sid
#
# Cache: $NETSPEC_ENGINES_DIR (default ~/.cache/netspec/engines)/<upstream version>/ holds the unpacked package
# (usr/sbin/dockerd, usr/sbin/docker-proxy, usr/bin/docker, …) and a file VERSION. An engine already unpacked is not
# fetched again. If the registry cannot be reached the script says so and exits 0: the specs that need that engine are
# then reported as skipped, with the reason (specs/docker/engines.ts).
set -euo pipefail

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(trixie sid)
cache=${NETSPEC_ENGINES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/netspec/engines}
mkdir -p "$cache"

# The Debian archive URI the machine already uses (deb822 .sources first, then one-line sources.list), and its keyring.
uri='' keyring=''
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  # the first stanza whose suites are not -security ones
  read -r uri keyring < <(awk '
    BEGIN { RS = ""; FS = "\n" }
    {
      u = ""; s = ""; k = ""
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u); sub(/[ \t].*/, "", u) }
        if ($i ~ /^Suites:/) { s = $i }
        if ($i ~ /^Signed-By:/) { k = $i; sub(/^Signed-By:[ \t]*/, "", k) }
      }
      if (u != "" && s !~ /-security/ && u ~ /debian\/?$/) { print u, k; exit }
    }' "$f") || true
  [ -n "$uri" ] && break
done
if [ -z "$uri" ] && [ -e /etc/apt/sources.list ]; then
  uri=$(awk '$1 == "deb" && $0 !~ /-security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
fi
if [ -z "$uri" ]; then
  echo "fetch-engines: no Debian archive URI in the machine's apt sources: the newer engines' specs will be skipped" >&2
  exit 0
fi
[ -n "$keyring" ] && [ -e "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg

work=$(mktemp -d /tmp/netspec-engines.XXXXXX)
trap 'rm -rf "$work"' EXIT
for suite in "${suites[@]}"; do
  # a suite fetched before is not asked again (NETSPEC_ENGINES_REFRESH=1 asks): CI's cache makes this run offline
  known=$(cat "$cache/$suite.version" 2>/dev/null || true)
  if [ -n "$known" ] && [ -x "$cache/$known/usr/sbin/dockerd" ] && [ "${NETSPEC_ENGINES_REFRESH:-0}" != 1 ]; then
    echo "fetch-engines: docker.io $known ($suite) already in $cache/$known"
    continue
  fi
  state="$work/$suite"
  mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs" "$state/parts.d"
  printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$uri" "$suite" > "$state/sources.list"
  : > "$state/status"
  # every option that would read or write the machine's apt state points into our own folder (an empty parts.d: no
  # sources.list.d or preferences.d of the machine's)
  apt_opts=(
    -o "Dir::Etc::sourcelist=$state/sources.list" -o "Dir::Etc::sourceparts=$state/parts.d" -o "Dir::Etc::preferencesparts=$state/parts.d"
    -o "Dir::Etc::preferences=$state/preferences" -o "Dir::State::Lists=$state/lists" -o "Dir::State::status=$state/status"
    -o "Dir::Cache=$state/cache" -o APT::Get::List-Cleanup=0 -o Acquire::Languages=none -o APT::Architecture="$(dpkg --print-architecture)"
  )
  if ! timeout 300 apt-get "${apt_opts[@]}" -qq update >"$state/update.log" 2>&1; then
    echo "fetch-engines: apt-get update for $suite failed (registry unreachable?): $(tail -2 "$state/update.log" | tr '\n' ' ')" >&2
    continue
  fi
  full=$(apt-cache "${apt_opts[@]}" policy docker.io | awk '/Candidate:/ { print $2 }')
  if [ -z "$full" ] || [ "$full" = "(none)" ]; then
    echo "fetch-engines: $suite has no docker.io" >&2
    continue
  fi
  # 28.5.2+dfsg3-1 → 28.5.2
  version=${full#*:}
  version=${version%%[+~-]*}
  dest="$cache/$version"
  if [ -x "$dest/usr/sbin/dockerd" ] && [ -e "$dest/VERSION" ]; then
    printf '%s\n' "$version" > "$cache/$suite.version"
    echo "fetch-engines: docker.io $version ($suite) already in $dest"
    continue
  fi
  if ! (cd "$state/debs" && timeout 600 apt-get "${apt_opts[@]}" -qq download "docker.io=$full" >"$state/download.log" 2>&1); then
    echo "fetch-engines: apt-get download docker.io=$full failed: $(tail -2 "$state/download.log" | tr '\n' ' ')" >&2
    continue
  fi
  rm -rf "$dest.partial"
  mkdir -p "$dest.partial"
  for deb in "$state"/debs/*.deb; do dpkg-deb -x "$deb" "$dest.partial"; done
  printf '%s\n' "$full" > "$dest.partial/VERSION"
  printf '%s\n' "$suite" > "$dest.partial/SUITE"
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
  printf '%s\n' "$version" > "$cache/$suite.version"
  echo "fetch-engines: docker.io $full ($suite) unpacked into $dest"
done
