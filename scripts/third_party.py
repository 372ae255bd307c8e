#!/usr/bin/env python3
"""Writes the third-party notices of a wangge release to stdout: every Rust crate compiled into
the binary for one target (normal dependencies reachable from wangge; build scripts and proc
macros run only at build time and are left out), with its version, licence and repository, then
the text of each crate's licence files (identical texts once, with the crates that share them),
then the licences of what the binary embeds besides: MapLibre GL JS (web/vendor) and the DejaVu
glyphs (tiles/fonts).

Usage: scripts/third_party.py [--target x86_64-unknown-linux-gnu] > THIRD-PARTY.txt
Needs the crates fetched (any cargo build has done it); runs offline against Cargo.lock.
"""
import argparse, json, os, subprocess, sys

LICENCE_FILES = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "UNLICENSE", "COPYRIGHT")

def crates(target):
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--locked", "--offline", "--format-version", "1", "--filter-platform", target],
        check=True, capture_output=True, text=True).stdout)
    pkgs = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]
    seen, todo = set(), [root]
    while todo:
        node = nodes[todo.pop()]
        for d in node["deps"]:
            normal = any(k["kind"] is None for k in d["dep_kinds"])
            macro = any("proc-macro" in t["kind"] for t in pkgs[d["pkg"]]["targets"])
            if normal and not macro and d["pkg"] not in seen:
                seen.add(d["pkg"])
                todo.append(d["pkg"])
    return sorted((pkgs[i] for i in seen), key=lambda p: (p["name"], p["version"]))

def licence_texts(pkg):
    d = os.path.dirname(pkg["manifest_path"])
    out = []
    for f in sorted(os.listdir(d)):
        if f.upper().startswith(LICENCE_FILES) and os.path.isfile(os.path.join(d, f)):
            with open(os.path.join(d, f), encoding="utf-8", errors="replace") as fh:
                out.append((f, fh.read().strip()))
    if not out and pkg.get("license_file"):
        with open(os.path.join(d, pkg["license_file"]), encoding="utf-8", errors="replace") as fh:
            out.append((pkg["license_file"], fh.read().strip()))
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="x86_64-unknown-linux-gnu")
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ps = crates(a.target)
    w = sys.stdout.write
    w(f"Third-party software in the wangge binary for {a.target}\n\n")
    w(f"== Rust crates ({len(ps)})\n\n")
    for p in ps:
        w(f"{p['name']} {p['version']}\t{p.get('license') or 'see its licence file'}\t{p.get('repository') or ''}\n")
    texts = {}
    for p in ps:
        for name, text in licence_texts(p):
            texts.setdefault(text, []).append(f"{p['name']} {p['version']} ({name})")
    missing = [f"{p['name']} {p['version']}" for p in ps if not licence_texts(p)]
    w("\n== Licence texts of the crates\n")
    if missing:
        w(f"\n(no licence file in the published crate; licence as stated above: {', '.join(missing)})\n")
    for text, who in texts.items():
        w(f"\n-- {'; '.join(who)}\n\n{text}\n")
    for title, path in (("MapLibre GL JS (web/vendor/maplibre-gl.js, .css)", "web/vendor/LICENSE.txt"),
                        ("DejaVu Sans glyphs (tiles/fonts/dejavu-sans)", "tiles/fonts/LICENSE-DejaVu.txt")):
        with open(os.path.join(repo, path), encoding="utf-8") as fh:
            w(f"\n== {title}\n\n{fh.read().strip()}\n")

if __name__ == "__main__":
    main()
