#!/usr/bin/env bash
# Re-vendor the jsPsych files from the npm registry at the versions pinned in VENDOR.json.
# Needs npm and python3. Checks each tarball against the pinned integrity before copying.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python3 - "$here" "$tmp" <<'PY'
import base64, hashlib, json, subprocess, sys, tarfile
from pathlib import Path
here, tmp = Path(sys.argv[1]), Path(sys.argv[2])
meta = json.loads((here / "VENDOR.json").read_text())
for p in meta["packages"]:
    spec = f"{p['name']}@{p['version']}"
    name = subprocess.run(["npm", "pack", spec, "--silent"], cwd=tmp, check=True, capture_output=True, text=True).stdout.split()[-1]
    data = (tmp / name).read_bytes()
    got = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if got != p["integrity"]:
        sys.exit(f"{spec}: integrity {got} != pinned {p['integrity']}")
    with tarfile.open(tmp / name) as tar:
        for dst, info in p["files"].items():
            blob = tar.extractfile("package/" + info["from"]).read()
            (here / dst).write_bytes(blob)
            info["sha256"] = hashlib.sha256(blob).hexdigest()
    print(f"{spec}: ok")
(here / "VENDOR.json").write_text(json.dumps(meta, indent=2) + "\n")
PY
