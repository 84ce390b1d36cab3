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
cargo run --quiet -- match tests/data/example/mix.flac tests/data/example/reference.flac \
    -o "$work/master.wav" --preset spotify --report "$work/report.html" >/dev/null
cp "$work/report.json" tests/data/report/example-report.json
cp "$work/report.html" tests/data/report/example-report.html
# A tall window holds the whole page; --hide-scrollbars keeps the picture clean.
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$work/profile" --window-size=900,3700 \
    --screenshot="$out" "file://$work/report.html" 2>/dev/null
echo "wrote $out"
