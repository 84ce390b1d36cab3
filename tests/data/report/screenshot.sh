#!/usr/bin/env bash
# Makes the README's picture of a report: masters the bundled example with a report, then
# opens the HTML in headless Chromium (Debian's `chromium` package: apt-get install -y
# chromium) and saves a PNG. Not part of `cargo test`.
#
#   tests/data/report/screenshot.sh [OUT.png]      (default: tests/data/report-example.png)
set -euo pipefail
cd "$(dirname "$0")/../../.."
out="$(realpath -m "${1:-tests/data/report-example.png}")"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [[ -z "$browser" ]]; then
    echo "no Chromium found: apt-get install -y chromium" >&2
    exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A fixed date keeps the committed example reproducible; --preview shows the players (the
# preview WAVs themselves are not committed: the example's players point at files made here).
SOURCE_DATE_EPOCH=1764547200 cargo run --quiet -- match tests/data/example/mix.flac \
    tests/data/example/reference.flac -o "$work/master.wav" --preset spotify --preview \
    --report "$work/example-report.html" >/dev/null
for f in example-report.json example-report.html example-report.eq-ms.wav \
    example-report.eq-lr.wav example-report.eq-apo.txt; do
    cp "$work/$f" "tests/data/report/$f"
done
# A tall window holds the whole page; --hide-scrollbars keeps the picture clean.
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$work/profile" --window-size=900,6300 \
    --screenshot="$out" "file://$work/example-report.html" 2>/dev/null
echo "wrote $out"
