#!/usr/bin/env bash
# Generates the status clips players show when playback fails (issue 16):
# host/assets/status/<name>.mp4, H.264 (baseline, yuv420p, faststart) 1280x720 at 1 fps for
# 6 s, a silent AAC track (some TV players refuse a file without audio), a dark card with a title
# and one line of advice. Each is a few tens of KB; they are committed, and the server embeds them.
#
# Needs Debian's `ffmpeg` (with libx264 and libfreetype) and `fonts-dejavu-core`:
#   apt-get install -y ffmpeg fonts-dejavu-core && bash scripts/make-status-videos.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=host/assets/status
font=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
font_regular=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
mkdir -p "$out"

# name | title | advice
clips=(
    "downloading|Downloading|Your debrid service is fetching this torrent. Try again in a minute."
    "device_limit|Device limit reached|Your account is in use on too many devices. Stop one and try again."
    "access_denied|Access denied|Your account cannot play this. Check your subscription."
    "api_key_rejected|API key rejected|The debrid service refused your key. Open the configure page and fix it."
    "store_limit|Store limit reached|Your debrid account hit a limit. Cached streams may still play."
    "rate_limited|Too many requests|The debrid service asks us to slow down. Try again in a minute."
    "unavailable|Service unavailable|The debrid service or the server is down. Try again later."
    "not_found|Not available|This file is not available on this store. Pick another stream."
    "download_failed|Download failed|The debrid service could not download this torrent. Pick another stream."
)

for clip in "${clips[@]}"; do
    IFS='|' read -r name title advice <<<"$clip"
    echo "== $name"
    ffmpeg -hide_banner -loglevel error -y \
        -f lavfi -i "color=c=0x14161c:s=1280x720:r=1:d=6" \
        -f lavfi -i "anullsrc=channel_layout=mono:sample_rate=22050" \
        -vf "drawtext=fontfile=${font}:text='${title}':fontcolor=white:fontsize=64:x=(w-text_w)/2:y=(h/2)-90,\
drawtext=fontfile=${font_regular}:text='${advice}':fontcolor=0xc8ccd6:fontsize=30:x=(w-text_w)/2:y=(h/2)+10,\
drawtext=fontfile=${font_regular}:text='chillproxy':fontcolor=0x6b7280:fontsize=24:x=(w-text_w)/2:y=h-70" \
        -c:v libx264 -profile:v baseline -level 3.1 -pix_fmt yuv420p -preset veryslow -crf 30 -g 6 \
        -c:a aac -b:a 16k -shortest -t 6 -movflags +faststart -map_metadata -1 -fflags +bitexact \
        "$out/$name.mp4"
done
ls -l "$out"
