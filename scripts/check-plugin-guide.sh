#!/usr/bin/env bash
# Follows docs/writing-a-plugin.md literally in a scratch copy of the repository: writes every
# `file=PATH` code block, runs every `sh step` block in order, and fails if any step fails.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$repo"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work"
# Share the build directory so only the workspace crates rebuild.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
cd "$work"
# A git baseline, so the guide can show which files adding a plugin touched.
git init -q && git add -A && git -c user.name=ci -c user.email=ci@localhost commit -qm baseline
python3 - "$repo/docs/writing-a-plugin.md" <<'PY'
import re, subprocess, sys, pathlib
text = pathlib.Path(sys.argv[1]).read_text()
blocks = re.findall(r"^```(\w+)([^\n]*)\n(.*?)^```$", text, flags=re.S | re.M)
steps = 0
for lang, info, body in blocks:
    info = info.strip()
    if info.startswith("file="):
        path = pathlib.Path(info[len("file="):])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        print(f"== wrote {path}", flush=True)
    elif lang == "sh" and info == "step":
        steps += 1
        print(f"== step {steps}\n{body}", flush=True)
        subprocess.run(["bash", "-euo", "pipefail", "-c", body], check=True)
if steps == 0:
    sys.exit("no steps found in the guide")
print(f"== the plugin guide's {steps} steps all passed")
PY
