#!/usr/bin/python3
"""HeadSweep's job (DESIGN.md section 1) done the way a PyTorch user would, for bench/compare.sh.

Reads the same safetensors checkpoint as HeadSweep (the format is parsed here: an 8-byte
little-endian header length, a JSON header, raw data; F32, F16 and BF16; optional
"transformer." prefix; single file or index + shards) and the task as token ids exported by
bench/tools/ExportTask.java (no tokenizer needed), and scores every head's copy/next hits.

Methods (--method):
  batched   block 0 once for all prompts, then per head: LN(x; ln_1) -> v -> o = v W_O (d wide)
            -> LN(o; ln_f) -> logits = . wte^T (n x V, materialized in row chunks) -> torch.topk
            (ties ranked by lower id, as HeadSweep does: see topk_ids).
  factored  the rank-64 factorization of DESIGN.md section 2 in PyTorch: per head
            A_h = W~_O diag(ln_f.w) wte^T, logits = (1/sigma) v A_h + beta, materialized, topk.
  notebook  the published notebook's shape: for each head AND each relation, the whole model runs
            again (all layers, ln_f and the LM head, as model(tokens) would), the residual after
            block 0 is taken from that run, then the head's OV circuit is unembedded d-wide and
            topk'd. Timed on --sample heads and scaled to all heads x relations (estimated).

Writes JSON: hits per head and relation, load and compute seconds. fp32 throughout. The logits
are materialized in row chunks of at most 768 MB, into reused buffers.

  /usr/bin/python3 bench/peers/torch_peer.py --model DIR --ids ids.json --method batched --out r.json
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------
# safetensors, parsed by hand (the safetensors package is not assumed)

def _read_safetensors(path, want):
    """Returns {name: float32 tensor} for the names in `want` (a predicate on the stripped name)."""
    out = {}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        base = 8 + n
        mm = np.memmap(path, dtype=np.uint8, mode="r")
    for name, info in header.items():
        if name == "__metadata__":
            continue
        short = name[len("transformer."):] if name.startswith("transformer.") else name
        if not want(short):
            continue
        start, end = info["data_offsets"]
        raw = mm[base + start: base + end]
        shape = info["shape"]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"torch_peer: {path}: tensor {name} has dtype {dt}, not F32/F16/BF16")
        out[short] = torch.from_numpy(a.reshape(shape).copy())
    return out


def load_checkpoint(model_dir, want):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        tensors = _read_safetensors(single, want)
    else:
        with open(os.path.join(model_dir, "model.safetensors.index.json")) as f:
            index = json.load(f)
        tensors = {}
        for shard in sorted(set(index["weight_map"].values())):
            tensors.update(_read_safetensors(os.path.join(model_dir, shard), want))
    return cfg, tensors


# ---------------------------------------------------------------------------------------------
# the model pieces

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def block(h, w, l, n_head, eps):
    """One GPT-2 block on h (B, T, d), causal attention."""
    p = f"h.{l}."
    B, T, d = h.shape
    hs = d // n_head
    a = F.layer_norm(h, (d,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
    qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
    q, k, v = qkv.split(d, dim=2)
    q = q.view(B, T, n_head, hs).transpose(1, 2)
    k = k.view(B, T, n_head, hs).transpose(1, 2)
    v = v.view(B, T, n_head, hs).transpose(1, 2)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    y = (att @ v).transpose(1, 2).reshape(B, T, d)
    h = h + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
    m = F.layer_norm(h, (d,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
    m = gelu_new(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
    return h + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]


def padded(prompts):
    T = max(len(p) for p in prompts)
    toks = torch.zeros(len(prompts), T, dtype=torch.long)  # right-padded; causal masking ignores it
    for i, p in enumerate(prompts):
        toks[i, : len(p)] = torch.tensor(p, dtype=torch.long)
    return toks


def embed(w, toks):
    T = toks.shape[1]
    return w["wte.weight"][toks] + w["wpe.weight"][:T][None, :, :]


def residual_after_block0(w, cfg, prompts, kw, batch=4096):
    """x (n, d): the residual after block 0 at each keyword, prompts in batches of similar length."""
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    d = cfg["n_embd"]
    x = torch.empty(len(kw), d)
    by_prompt = {}
    for i, (p, pos, _) in enumerate(kw):
        by_prompt.setdefault(p, []).append((i, pos))
    order = sorted(range(len(prompts)), key=lambda p: len(prompts[p]))
    for s in range(0, len(order), batch):
        ps = order[s: s + batch]
        h = block(embed(w, padded([prompts[p] for p in ps])), w, 0, cfg["n_head"], eps)
        rows, src_b, src_t = [], [], []
        for b, p in enumerate(ps):
            for i, pos in by_prompt.get(p, []):
                rows.append(i)
                src_b.append(b)
                src_t.append(pos)
        x[torch.tensor(rows, dtype=torch.long)] = h[torch.tensor(src_b), torch.tensor(src_t)]
    return x


def target_tensor(targets):
    """Per keyword the target ids, padded with -1 to one (n, m) tensor."""
    m = max(1, max(len(t) for t in targets))
    out = torch.full((len(targets), m), -1, dtype=torch.long)
    for i, t in enumerate(targets):
        if t:
            out[i, : len(t)] = torch.tensor(t, dtype=torch.long)
    return out


def hits_of(top_ids, tgt):
    """Number of keywords whose target is among their top-k ids."""
    return int((top_ids[:, :, None] == tgt[:, None, :]).any(-1).any(-1).sum())


def topk_ids(logits, k, margin=16):
    """torch.topk, with equal values ranked by lower token id first (HeadSweep's tie rule):
    torch.topk orders ties arbitrarily, and the planted checkpoint has many tokens with exactly
    equal embeddings (so exactly equal logits in any arithmetic), where arbitrary order would make
    the scores differ for no numerical reason."""
    V = logits.shape[1]
    m = min(V, k + margin)
    v, i = torch.topk(logits, m, dim=1)
    si, o = torch.sort(i, dim=1)                       # by id ...
    sv = torch.gather(v, 1, o)
    sv, o2 = torch.sort(sv, dim=1, descending=True, stable=True)  # ... then by value, stable
    ids = torch.gather(si, 1, o2)[:, :k].clone()
    if m < V:
        for r in (sv[:, k - 1] == sv[:, m - 1]).nonzero().flatten().tolist():
            # the tie at the k-th place may go on past the candidates: rank the whole row
            order = torch.sort(logits[r], descending=True, stable=True).indices  # stable: lower id first
            ids[r] = order[:k]
    return ids


def row_chunk(n, V, budget_bytes=768 << 20):
    return max(1, min(n, budget_bytes // (4 * V)))


# ---------------------------------------------------------------------------------------------
# the methods

class Buffers:
    """Reused output buffers: a fresh 78 MB logits tensor per head costs page faults that can take
    longer than the product itself on a small VM, and a user who times this would reuse them."""

    def __init__(self):
        self.bufs = {}

    def get(self, name, rows, cols):
        b = self.bufs.get(name)
        if b is None or b.shape[0] < rows or b.shape[1] != cols:
            b = torch.empty(rows, cols)
            self.bufs[name] = b
        return b[:rows]


BUF = Buffers()


def head_topk_batched(w, cfg, z, l, h, k):
    d = cfg["n_embd"]
    hs = d // cfg["n_head"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    p = f"h.{l}."
    wv = w[p + "attn.c_attn.weight"][:, 2 * d + h * hs: 2 * d + (h + 1) * hs]
    bv = w[p + "attn.c_attn.bias"][2 * d + h * hs: 2 * d + (h + 1) * hs]
    wo = w[p + "attn.c_proj.weight"][h * hs: (h + 1) * hs, :]
    o = (z @ wv + bv) @ wo
    wte_t = w["wte.weight"].t()
    n = z.shape[0]
    ids = torch.empty(n, k, dtype=torch.long)
    c = row_chunk(n, wte_t.shape[1])
    for s in range(0, n, c):
        y = F.layer_norm(o[s: s + c], (d,), w["ln_f.weight"], w["ln_f.bias"], eps)
        logits = torch.matmul(y, wte_t, out=BUF.get("logits", y.shape[0], wte_t.shape[1]))
        ids[s: s + c] = topk_ids(logits, k)
    return ids


class Factored:
    def __init__(self, w, cfg):
        self.w, self.cfg = w, cfg
        self.wte_t = w["wte.weight"].t().contiguous()
        self.beta = w["ln_f.bias"] @ self.wte_t

    def head_topk(self, z, l, h, k):
        w, cfg = self.w, self.cfg
        d = cfg["n_embd"]
        hs = d // cfg["n_head"]
        eps = cfg.get("layer_norm_epsilon", 1e-5)
        p = f"h.{l}."
        wv = w[p + "attn.c_attn.weight"][:, 2 * d + h * hs: 2 * d + (h + 1) * hs]
        bv = w[p + "attn.c_attn.bias"][2 * d + h * hs: 2 * d + (h + 1) * hs]
        wo = w[p + "attn.c_proj.weight"][h * hs: (h + 1) * hs, :]
        wt = wo - wo.mean(dim=1, keepdim=True)
        V = self.wte_t.shape[1]
        a = torch.matmul(wt * w["ln_f.weight"], self.wte_t, out=BUF.get("A", hs, V))  # A_h, (hs, V)
        g = wt @ wt.t()
        v = z @ wv + bv
        sigma = torch.sqrt(((v @ g) * v).sum(dim=1) / d + eps)
        u = v / sigma[:, None]
        n = z.shape[0]
        ids = torch.empty(n, k, dtype=torch.long)
        c = row_chunk(n, V)
        for s in range(0, n, c):
            us = u[s: s + c]
            logits = torch.addmm(self.beta, us, a, out=BUF.get("logits", us.shape[0], V))
            ids[s: s + c] = topk_ids(logits, k)
        return ids


def full_forward_resid0(w, cfg, toks):
    """model(tokens) in full (all blocks, ln_f, LM head), keeping the residual after block 0."""
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    d = cfg["n_embd"]
    h = embed(w, toks)
    resid0 = None
    for l in range(cfg["n_layer"]):
        h = block(h, w, l, cfg["n_head"], eps)
        if l == 0:
            resid0 = h
    logits = F.layer_norm(h, (d,), w["ln_f.weight"], w["ln_f.bias"], eps) @ w["wte.weight"].t()
    return resid0, logits


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True, help="task as token ids (bench/tools/ExportTask.java)")
    ap.add_argument("--method", choices=["batched", "factored", "notebook"], default="batched")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sample", type=int, default=3, help="notebook: heads timed (then scaled)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)

    with open(args.ids) as f:
        task = json.load(f)
    prompts, kw = task["prompts"], task["keywords"]
    rels = task["relations"]
    tgts = {r: target_tensor(task["targets"][r]) for r in rels}

    t0 = time.perf_counter()
    if args.method == "notebook":
        want = lambda name: True
    else:
        want = lambda name: (not name.startswith("h.") or name.startswith("h.0.")
                             or ".ln_1." in name or ".attn.c_attn." in name or ".attn.c_proj.weight" in name)
    cfg, w = load_checkpoint(args.model, want)
    load_s = time.perf_counter() - t0
    L, H = cfg["n_layer"], cfg["n_head"]
    d = cfg["n_embd"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    heads = [(l, h) for l in range(L) for h in range(H)]
    hits = {r: [None] * len(heads) for r in rels}
    estimated = False
    sampled = None

    t1 = time.perf_counter()
    if args.method in ("batched", "factored"):
        x = residual_after_block0(w, cfg, prompts, kw)
        fac = Factored(w, cfg) if args.method == "factored" else None
        for l in range(L):
            z = F.layer_norm(x, (d,), w[f"h.{l}.ln_1.weight"], w[f"h.{l}.ln_1.bias"], eps)
            for h in range(H):
                ids = fac.head_topk(z, l, h, args.k) if fac else head_topk_batched(w, cfg, z, l, h, args.k)
                for r in rels:  # all relations from the same top-k
                    hits[r][l * H + h] = hits_of(ids, tgts[r])
        compute_s = time.perf_counter() - t1
        measured_s = compute_s
    else:
        # One full model run per head and per relation, as the notebook does; timed on a sample.
        toks = padded(prompts)
        rows_b = torch.tensor([p for p, _, _ in kw])
        rows_t = torch.tensor([pos for _, pos, _ in kw])
        step = max(1, len(heads) // max(1, args.sample))
        sampled = heads[::step][: args.sample]
        for (l, h) in sampled:
            for r in rels:
                resid0, _ = full_forward_resid0(w, cfg, toks)
                x = resid0[rows_b, rows_t]
                z = F.layer_norm(x, (d,), w[f"h.{l}.ln_1.weight"], w[f"h.{l}.ln_1.bias"], eps)
                ids = head_topk_batched(w, cfg, z, l, h, args.k)
                hits[r][l * H + h] = hits_of(ids, tgts[r])
        measured_s = time.perf_counter() - t1
        compute_s = measured_s * len(heads) / len(sampled)
        estimated = True

    out = {
        "system": "torch-" + args.method,
        "method": args.method,
        "task": task["task"],
        "keywords": len(kw),
        "k": args.k,
        "threads": args.threads,
        "torch": torch.__version__,
        "heads": heads,
        "hits": hits,
        "load_s": load_s,
        "compute_s": compute_s,
        "measured_s": measured_s,
        "estimated": estimated,
        "sampled_heads": sampled,
    }
    with open(args.out, "w") as f:
        json.dump(out, f)
    print(f"torch-{args.method}: {len(kw)} keywords, load {load_s:.2f} s, compute {compute_s:.2f} s"
          + (f" (estimated from {len(sampled)} heads x {len(rels)} relations, measured {measured_s:.2f} s)"
             if estimated else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
