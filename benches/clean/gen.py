#!/usr/bin/env python3
"""Generate a large synthetic git history as a `git fast-import` stream (stdout).

COMMITS commits over FILES files (in 100-file folders); each commit edits one to three files.
Every 2000 commits a short feature branch (20 commits) is merged back with a merge commit.
Three secrets are planted in several files at several points of history (and some are removed
later, so they live only in history). `--secrets FILE` writes the secret values, one a line
(values are assembled at run time so this script itself holds none).
Deterministic: the same arguments give the same repository.
"""
import os
import random
import sys

COMMITS = int(os.environ.get("COMMITS", "30000"))
FILES = int(os.environ.get("FILES", "3000"))
SECRETS = [
    "ghp_" + "R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xx",
    "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "npm_" + "Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz24X8RHx",
]
LINES = ["config value %d = %s" % (i, "x" * (i % 40)) for i in range(200)]


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--secrets":
        with open(sys.argv[2], "w") as f:
            f.write("\n".join(SECRETS) + "\n")
        return
    rnd = random.Random(42)
    out = sys.stdout.buffer
    paths = ["src/d%03d/file%04d.txt" % (i // 100, i) for i in range(FILES)]
    contents = {p: [rnd.choice(LINES) for _ in range(20)] for p in paths}
    mark = [0]
    t0 = 1_600_000_000

    def blob(text):
        mark[0] += 1
        data = text.encode()
        out.write(b"blob\nmark :%d\ndata %d\n" % (mark[0], len(data)))
        out.write(data + b"\n")
        return mark[0]

    def commit(ref, n, changes, frm=None, merge=None):
        marks = [(p, blob("\n".join(contents[p]) + "\n")) for p in changes]
        mark[0] += 1
        who = ["Alice <alice@example.com>", "Bob <bob@example.com>", "Carol <carol@example.com>"][n % 3]
        msg = ("commit %d\n" % n).encode()
        out.write(b"commit %s\nmark :%d\n" % (ref.encode(), mark[0]))
        out.write(b"author %s %d +0000\n" % (who.encode(), t0 + n * 600))
        out.write(b"committer %s %d +0000\n" % (who.encode(), t0 + n * 600))
        out.write(b"data %d\n%s" % (len(msg), msg))
        if frm:
            out.write(b"from :%d\n" % frm)
        if merge:
            out.write(b"merge :%d\n" % merge)
        for p, m in marks:
            out.write(b"M 100644 :%d %s\n" % (m, p.encode()))
        out.write(b"\n")
        return mark[0]

    # Where secrets go in and (for some) come out again: (commit number, secret, files, remove at).
    plants = []
    for k, s in enumerate(SECRETS):
        for j, frac in enumerate((0.1, 0.45, 0.8)):
            at = int(COMMITS * (frac + 0.03 * k))
            files = [paths[rnd.randrange(FILES)] for _ in range(2)]
            remove = at + COMMITS // 10 if j < 2 else None
            plants.append((at, s, files, remove))
    events = {}
    for at, s, files, remove in plants:
        events.setdefault(at, []).append(("add", s, files))
        if remove is not None:
            events.setdefault(remove, []).append(("del", s, files))

    tip = commit("refs/heads/main", 0, paths)
    n = 1
    while n < COMMITS:
        changes = set()
        for kind, s, files in events.get(n, []):
            for p in files:
                if kind == "add":
                    contents[p].insert(rnd.randrange(len(contents[p])), "token = \"%s\"" % s)
                else:
                    contents[p] = [l for l in contents[p] if s not in l]
                changes.add(p)
        for _ in range(rnd.randint(1, 3)):
            p = paths[rnd.randrange(FILES)]
            contents[p][rnd.randrange(len(contents[p]))] = "%s (%d)" % (rnd.choice(LINES), n)
            changes.add(p)
        if n % 2000 == 0 and n + 25 < COMMITS:
            ref = "refs/heads/feature/%d" % n
            ftip = tip
            for i in range(20):
                p = paths[rnd.randrange(FILES)]
                contents[p].append("feature %d line %d" % (n, i))
                ftip = commit(ref, n, [p], frm=ftip if i == 0 else None)
                n += 1
            tip = commit("refs/heads/main", n, sorted(changes), frm=tip, merge=ftip)
        else:
            tip = commit("refs/heads/main", n, sorted(changes), frm=tip)
        n += 1
        if n % 5000 == 0:
            out.write(b"checkpoint\n\n")
    # Annotated tags at a few points.
    out.write(b"tag v1\nfrom :%d\ntagger Alice <alice@example.com> %d +0000\ndata 3\nv1\n\n" % (tip, t0))
    out.write(b"reset refs/tags/light\nfrom :%d\n\n" % tip)


if __name__ == "__main__":
    main()
