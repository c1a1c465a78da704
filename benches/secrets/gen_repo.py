#!/usr/bin/env python3
"""Build the Argus secret-scanning benchmark repository with `git fast-import`.

How the repository is made (deterministic, seed 42):
  * Corpus: every text file (.rs .md .toml .txt .c .h .py .js .json .yml .sh, 64 B..256 KiB) under
    ~/.cargo/registry/src, i.e. the real source of the crates the workspace depends on, sorted by path.
  * History: one linear `main` branch plus a side branch every 5,000 commits (merged back two
    hundred commits later) and a lightweight tag every 2,500 commits. Each commit does one of:
      - edit 2-8 tracked files (insert lines taken from other corpus files, delete lines, change digits),
      - add 1-4 new corpus files (crate version by version: files enter under their crate folder),
      - rename a file (`R` in fast-import), or delete one.
    The tree is capped at about 6,000 files (oldest deleted first) so trees stay realistic.
  * Secrets: every 997th commit plants a fake credential (AWS key pair, GitHub token with a valid
    CRC32, Slack webhook, private key, database URL with password) in an edited file; a third of those
    are removed again a few commits later (so they live only in history).
  * Generation stops when both --commits and --bytes (sum of unique blob sizes) are reached.
Output: a bare repository; fast-import writes packs with deltas against the previous version of a path.
"""
import argparse, os, random, subprocess, sys, zlib

EXTS = {'.rs', '.md', '.toml', '.txt', '.c', '.h', '.py', '.js', '.json', '.yml', '.yaml', '.sh'}
B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

def b62(n, width):
    s = ''
    while n:
        n, r = divmod(n, 62)
        s = B62[r] + s
    return s.rjust(width, '0')

def gh_token(rng, prefix='ghp_'):
    body = ''.join(rng.choice(B62) for _ in range(30))
    return prefix + body + b62(zlib.crc32(body.encode()) & 0xffffffff, 6)

def secret_lines(rng, k):
    up = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
    al = B62 + '+/'
    kind = k % 5
    if kind == 0:
        return ['AWS_ACCESS_KEY_ID = "AKIA%s"' % ''.join(rng.choice(up) for _ in range(16)),
                'aws_secret_access_key = "%s"' % ''.join(rng.choice(al) for _ in range(40))]
    if kind == 1:
        return ['GITHUB_TOKEN = "%s"' % gh_token(rng)]
    if kind == 2:
        return ['SLACK = "https://hooks.slack.com/services/T%s/B%s/%s"' % (
            ''.join(rng.choice(up) for _ in range(8)), ''.join(rng.choice(up) for _ in range(10)),
            ''.join(rng.choice(B62) for _ in range(24)))]
    if kind == 3:
        body = [''.join(rng.choice(al) for _ in range(64)) for _ in range(6)]
        return ['-----BEGIN RSA PRIVATE KEY-----'] + body + ['-----END RSA PRIVATE KEY-----']
    return ['DATABASE_URL = "postgres://app:%s@db.internal:5432/app"' % ''.join(rng.choice(B62) for _ in range(18))]

def load_corpus(root):
    files = []
    for dp, dn, fn in os.walk(root):
        dn.sort()
        for f in sorted(fn):
            if os.path.splitext(f)[1] in EXTS:
                p = os.path.join(dp, f)
                try:
                    sz = os.path.getsize(p)
                    if 64 <= sz <= 256 * 1024:
                        files.append(p)
                except OSError:
                    pass
    return files

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--commits', type=int, default=50000)
    ap.add_argument('--bytes', type=int, default=3 * 1024**3)
    ap.add_argument('--corpus', default=os.path.expanduser('~/.cargo/registry/src'))
    a = ap.parse_args()
    rng = random.Random(42)
    corpus = load_corpus(a.corpus)
    if not corpus:
        sys.exit('empty corpus')
    root = os.path.commonpath(corpus)
    subprocess.run(['git', 'init', '-q', '--bare', '-b', 'main', a.out], check=True)
    fi = subprocess.Popen(['git', '-C', a.out, 'fast-import', '--quiet', '--depth=50',
                           '--active-branches=4'], stdin=subprocess.PIPE, bufsize=1 << 20)
    w = fi.stdin.write
    tree = {}       # path -> bytes
    order = []      # insertion order of paths (for capping)
    next_file = 0
    blob_bytes = 0
    planted = []    # (commit_no, path, line) to remove later
    t0 = 1_600_000_000
    n = 0
    branch = 'main'
    side_open = None
    stats = {'secrets': 0}
    lines_pool = []

    def add_corpus_file():
        nonlocal next_file
        p = corpus[next_file % len(corpus)]
        next_file += 1
        rel = os.path.relpath(p, root)
        if next_file > len(corpus):
            rel = 'v%d/%s' % (next_file // len(corpus), rel)
        with open(p, 'rb') as f:
            data = f.read()
        return rel, data

    def edit(data):
        ls = data.split(b'\n')
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            i = rng.randrange(len(ls) + 1)
            if op < 0.5:
                if not lines_pool:
                    _, d = add_corpus_file()
                    lines_pool.extend(d.split(b'\n')[:200])
                ins = [lines_pool.pop(rng.randrange(len(lines_pool))) for _ in range(min(len(lines_pool), rng.randint(1, 6)))]
                ls[i:i] = ins
            elif op < 0.8 and len(ls) > 3:
                del ls[min(i, len(ls) - 1)]
            else:
                j = min(i, len(ls) - 1)
                ls[j] = ls[j] + b' // rev %d' % n
        return b'\n'.join(ls)

    while n < a.commits or blob_bytes < a.bytes:
        n += 1
        changes = []  # fast-import file commands
        r = rng.random()
        if not tree or r < 0.15:
            for _ in range(rng.randint(1, 4)):
                rel, data = add_corpus_file()
                tree[rel] = data; order.append(rel)
                changes.append((b'M', rel, data))
        elif r < 0.20 and len(tree) > 10:
            old = rng.choice(order)
            base, ext = os.path.splitext(old)
            new = base + '_r%d' % n + ext
            if new not in tree:
                tree[new] = tree.pop(old); order.remove(old); order.append(new)
                changes.append((b'R', old, new))
        elif r < 0.25 and len(tree) > 10:
            old = rng.choice(order)
            del tree[old]; order.remove(old)
            changes.append((b'D', old, None))
        else:
            for p in set(rng.choice(order) for _ in range(rng.randint(2, 8))):
                tree[p] = edit(tree[p])
                changes.append((b'M', p, tree[p]))
        while len(order) > 6000:
            old = order.pop(0); del tree[old]
            changes.append((b'D', old, None))
        if n % 997 == 0:
            p = rng.choice(order)
            sl = secret_lines(rng, n // 997)
            tree[p] = tree[p] + b'\n' + '\n'.join(sl).encode() + b'\n'
            changes.append((b'M', p, tree[p]))
            stats['secrets'] += 1
            if (n // 997) % 3 == 0:
                planted.append((n + 5, p, sl))
        for (due, p, sl) in list(planted):
            if due == n and p in tree:
                tree[p] = tree[p].replace(('\n' + '\n'.join(sl) + '\n').encode(), b'\n')
                changes.append((b'M', p, tree[p]))
                planted.remove((due, p, sl))
        # branch topology: side branch every 5000 commits, merged 200 commits later
        if n % 5000 == 2500 and side_open is None:
            w(b'reset refs/heads/side%d\nfrom refs/heads/main\n\n' % n)
            side_open = (n, 'side%d' % n, n - 1)
            branch = side_open[1]
        merge = None
        if side_open is not None and n == side_open[0] + 200:
            merge = (side_open[1], side_open[2]); branch = 'main'; side_open = None
        t = t0 + n * 600
        msg = b'commit %d' % n
        w(b'commit refs/heads/%s\nmark :%d\nauthor Bench Dev <dev%d@example.com> %d +0000\ncommitter Bench Dev <dev@example.com> %d +0000\ndata %d\n%s\n' % (
            branch.encode(), n, n % 17, t, t, len(msg), msg))
        if merge:
            # The side branch carries the current tree (main was idle meanwhile), so it is the
            # first parent and the base tree; main's old tip becomes the second parent.
            w(b'from refs/heads/%s\nmerge :%d\n' % (merge[0].encode(), merge[1]))
        for kind, p, d in changes:
            if kind == b'M':
                blob_bytes += len(d)
                w(b'M 100644 inline %s\ndata %d\n' % (p.encode(), len(d)) + d + b'\n')
            elif kind == b'R':
                w(b'R %s %s\n' % (p.encode(), d.encode()))
            else:
                w(b'D %s\n' % p.encode())
        w(b'\n')
        if n % 2500 == 0:
            w(b'reset refs/tags/t%d\nfrom :%d\n\n' % (n, n))
        if n % 5000 == 0:
            print('commits %d, blob bytes %.2f GiB' % (n, blob_bytes / 1024**3), file=sys.stderr, flush=True)
    fi.stdin.close()
    rc = fi.wait()
    print('done: commits=%d blob_bytes(written, incl. duplicates)=%d secrets_planted=%d rc=%d' % (n, blob_bytes, stats['secrets'], rc), file=sys.stderr)
    sys.exit(rc)

if __name__ == '__main__':
    main()
