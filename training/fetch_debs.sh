#!/usr/bin/env bash
# Downloads the Debian packages listed in /work/shared/DATA-SOURCES.md (and only those) into
# $LATHE_DATA/debs. Idempotent: packages already downloaded are skipped.
set -euo pipefail
DATA="${LATHE_DATA:-$(cd "$(dirname "$0")" && pwd)/data}"
mkdir -p "$DATA/debs"
PACKAGES=(
  tecnoballz-data fretsonfire-songs-muldjord fretsonfire-songs-sectoid singularity-music
  marsshooter-data blobwars-data nexuiz-music warzone2100-music wesnoth-1.16-music
  ufoai-music unknown-horizons naev-data widelands-data 0ad-data
  # added for the genre work (DATA-SOURCES.md, "More packages")
  planetblupi-music-ogg supertux-data hedgewars-data berusky2-data colobot-common-sounds
  freedroidrpg-data drascula-music flare-game trackballs-data pushover-data warmux-data
  wizznic-data fillets-ng-data davegnukem-data enigma-data zaz-data asc-music freecol
  ardentryst freedink-data wordwarvi-sound
  # tracker modules (rendered once with ffmpeg's libopenmpt)
  pekka-kana-2-data heroes-sound-tracks pingus-data freedroid-data biniax2-data rafkill-data
  pachi-data
)
if [ "${SKIP_APT_UPDATE:-0}" != 1 ]; then apt-get update -qq || echo "apt-get update failed; trying with the current lists" >&2; fi
cd "$DATA/debs"
for p in "${PACKAGES[@]}"; do
  if ls "${p}"_*.deb >/dev/null 2>&1; then echo "have $p"; continue; fi
  echo "downloading $p"
  apt-get download "$p"
done
