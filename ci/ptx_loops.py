"""Reads PTX: the entries of a module, their loops, and the instructions on the paths through a loop body.

Only what the performance model needs (ci/perf-model.py): a loop is a backward branch to a label of the same
entry; a "vector loop" is one whose body loads float4s from global memory (the steady state of a row pass:
make_split's float4 body). A loop body may branch (NaN/inf guards, a rescale when the maximum grows); the paths
through it are counted as a DAG (the back edge removed) and both the shortest and the longest are reported.
"""
import re

MUFU = ("ex2.", "lg2.", "rcp.approx", "rsqrt.", "sqrt.approx", "sin.", "cos.", "tanh.")
_ENTRY = re.compile(r"^\.visible \.entry (\w+)\(")
_LABEL = re.compile(r"^(\$\w+):$")
_BRA = re.compile(r"^(@!?%\w+\s+)?bra(\.uni)?\s+(\$\w+);")


def entries(text):
    """{name: [lines of the body, stripped]} in file order."""
    out, name = {}, None
    for raw in text.splitlines():
        line = raw.strip()
        m = _ENTRY.match(line)
        if m:
            name = m.group(1)
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def is_instruction(line):
    return bool(line) and line.endswith(";") and not line.startswith((".", "//", "{", "}", ")"))


class Loop:
    def __init__(self, body, start, end):
        self.start, self.end = start, end
        lines = body[start:end + 1]
        self.v4_loads = [l for l in lines if l.startswith("ld.global") and ".v4.f32" in l]
        self.v4_stores = [l for l in lines if l.startswith("st.global") and ".v4.f32" in l]
        bases = set()
        for l in self.v4_loads:
            m = re.search(r"\[(%\w+)", l)
            bases.add(m.group(1) if m else l)
        self.streams = max(1, len(bases))
        self.elements = 4 * len(self.v4_loads) // self.streams if self.v4_loads else 0
        self.shortest, self.longest = _paths(lines)
        self.is_vector = bool(self.v4_loads)


def _paths(lines):
    """((instructions, mufu) on the shortest path, same on the longest) from the loop head to its back edge."""
    # basic blocks: split at labels and after branches
    blocks, labels, cur = [], {}, []
    def close():
        nonlocal cur
        if cur:
            blocks.append(cur)
            cur = []
    for l in lines:
        m = _LABEL.match(l)
        if m:
            close()
            labels[m.group(1)] = len(blocks)
            cur.append(l)
            continue
        cur.append(l)
        if _BRA.match(l) or l.startswith("ret;") or l.startswith("exit;"):
            close()
    close()
    n = len(blocks)
    best = [None] * (n + 1)  # (min_i, min_m, max_i, max_m) to reach the end of block b's path
    head_label = _LABEL.match(lines[0]).group(1) if _LABEL.match(lines[0]) else None
    # walk blocks backwards: successors have larger indices (forward edges) or are the head (the back edge: path end)
    for b in range(n - 1, -1, -1):
        ins = [l for l in blocks[b] if is_instruction(l)]
        cost_i = len(ins)
        cost_m = sum(1 for l in ins if l.startswith(MUFU))
        last = blocks[b][-1]
        m = _BRA.match(last)
        succ = []
        ends = False
        if m:
            target = m.group(3)
            if target == head_label:
                ends = True
            elif target in labels and labels[target] > b:
                succ.append(labels[target])
            # a target outside the loop leaves it: not a steady-state path
            if m.group(1):  # conditional: may fall through
                if b + 1 < n:
                    succ.append(b + 1)
        elif b + 1 < n:
            succ.append(b + 1)
        options = []
        if ends:
            options.append((0, 0, 0, 0))
        for s in succ:
            if best[s] is not None:
                options.append(best[s])
        if not options:
            best[b] = None
            continue
        lo = min(options, key=lambda o: o[0])
        hi = max(options, key=lambda o: o[2])
        best[b] = (lo[0] + cost_i, lo[1] + cost_m, hi[2] + cost_i, hi[3] + cost_m)
    r = best[0] or (0, 0, 0, 0)
    return (r[0], r[1]), (r[2], r[3])


def loops(body):
    """The innermost loops of an entry, in PTX order."""
    where = {}
    for i, l in enumerate(body):
        m = _LABEL.match(l)
        if m:
            where[m.group(1)] = i
    found = []
    for i, l in enumerate(body):
        m = _BRA.match(l)
        if m and m.group(3) in where and where[m.group(3)] < i:
            found.append((where[m.group(3)], i))
    inner = [(s, e) for (s, e) in found
             if not any((s2, e2) != (s, e) and s <= s2 and e2 <= e for (s2, e2) in found)]
    return [Loop(body, s, e) for (s, e) in sorted(inner)]


def outside_loops(body):
    """Instructions (and MUFU among them) outside every loop on the entry's costliest path to its end: the
    per-thread fixed cost (reductions, setup). Loop bodies count 0 here (the model charges them per element);
    a kernel's mode branches (template variants, flags) count only their costliest side."""
    spans = [(s, e) for (s, e) in _all_loops(body)]
    inside = [any(s <= i <= e for s, e in spans) for i in range(len(body))]
    # one pass from the end: cost[i] = costliest path from line i to the entry's end, back edges not taken
    where = {}
    for i, l in enumerate(body):
        m = _LABEL.match(l)
        if m:
            where[m.group(1)] = i
    n = len(body)
    cost = [(0, 0)] * (n + 1)
    for i in range(n - 1, -1, -1):
        l = body[i]
        here = (0, 0) if inside[i] or not is_instruction(l) else (1, 1 if l.startswith(MUFU) else 0)
        nxt = [cost[i + 1]]
        m = _BRA.match(l)
        if m:
            t = where.get(m.group(3))
            forward = [cost[t]] if t is not None and t > i else []
            nxt = forward + ([cost[i + 1]] if m.group(1) or t is None or t <= i else [])
        elif l.startswith("ret;") or l.startswith("exit;"):
            nxt = [(0, 0)]
        best = max(nxt)
        cost[i] = (best[0] + here[0], best[1] + here[1])
    return cost[0]


def _all_loops(body):
    where = {}
    for i, l in enumerate(body):
        m = _LABEL.match(l)
        if m:
            where[m.group(1)] = i
    return [(where[m.group(3)], i) for i, l in enumerate(body)
            for m in [_BRA.match(l)] if m and m.group(3) in where and where[m.group(3)] < i]
