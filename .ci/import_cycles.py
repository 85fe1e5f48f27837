"""Fails when the files of a crate import each other in a cycle (run by .ci/run). Edges: edges from `use crate::...` / `use super::...` / `use self::...`
to the file that defines the first path segment it reaches (re-exports in a module's mod.rs/lib.rs followed)."""
import os, re, sys
from collections import defaultdict

def module_files(src):
    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            if n.endswith('.rs'):
                p = os.path.join(root, n)
                rel = os.path.relpath(p, src)[:-3].split(os.sep)
                if rel[-1] in ('mod', 'lib', 'main'):
                    rel = rel[:-1]
                files[tuple(rel)] = p
    return files

USE = re.compile(r'^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);', re.M)

def expand(tree):
    # a::{b, c::{d}} -> [a::b, a::c::d]
    tree = tree.strip()
    m = re.match(r'^(.*?)::\{(.*)\}$', tree, re.S)
    if not m:
        return [tree.split(' as ')[0].strip()]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ''
    for ch in inner:
        if ch == ',' and depth == 0:
            parts.append(cur); cur = ''
            continue
        depth += ch == '{'; depth -= ch == '}'
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        p = p.strip()
        if not p: continue
        for e in expand(p):
            out.append(prefix + '::' + e if e != 'self' else prefix)
    return out

def main(crate_src):
    files = module_files(crate_src)
    text = {m: open(p).read() for m, p in files.items()}
    def resolve(mod, path):
        segs = path.split('::')
        if segs[0] == 'crate': base, segs = (), segs[1:]
        elif segs[0] == 'super':
            base = mod
            # a file's own module: super goes to parent
            while segs and segs[0] == 'super':
                base = base[:-1]; segs = segs[1:]
        elif segs[0] == 'self': base, segs = mod, segs[1:]
        else: return None
        cur = base
        for s in segs:
            if cur + (s,) in files: cur = cur + (s,)
            else:
                # a re-export in cur's file?
                t = text.get(cur, '')
                for u in USE.findall(t):
                    for e in expand(u):
                        if e.endswith('::' + s) or e.split(' as ')[-1].strip() == s:
                            r = resolve(cur, e)
                            if r is not None and r != cur: return r
                break
        return cur
    edges = defaultdict(set)
    for m, t in text.items():
        for u in USE.findall(t):
            for e in expand(u):
                r = resolve(m, e)
                if r is not None and r != m:
                    edges[m].add(r)
    # cycles via DFS
    seen, stack, cycles = {}, [], []
    def dfs(v):
        seen[v] = 1; stack.append(v)
        for w in edges[v]:
            if seen.get(w) == 1:
                cycles.append(stack[stack.index(w):] + [w])
            elif w not in seen:
                dfs(w)
        stack.pop(); seen[v] = 2
    for v in list(files):
        if v not in seen: dfs(v)
    for c in cycles:
        print(crate_src, ' -> '.join('/'.join(x) or 'lib' for x in c))
    return len(cycles)

def members():
    import tomllib
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    with open(os.path.join(root, 'Cargo.toml'), 'rb') as f:
        names = tomllib.load(f)['workspace']['members']
    return [os.path.join(root, m, 'src') for m in names]

n = sum(main(s) for s in (sys.argv[1:] or members()))
print(f'{n} import cycles between files')
sys.exit(1 if n else 0)
