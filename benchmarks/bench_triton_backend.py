"""Benchmark of retrograd's triton backend on a GPU: fused forward + backward kernels generated from NumPy-style
layers, against eager PyTorch and torch.compile of the same math.

    python -m pip install -q -e ".[triton]" && python benchmarks/bench_triton_backend.py

Layers: tanh-GELU, softmax, layer norm (weight and bias), RMSNorm (weight), cross-entropy with integer
targets; shapes 4096x4096 and 8192x1024; float32 and bfloat16.  For each, the forward and the backward are
timed separately (`triton.testing.do_bench`, median) and reported as milliseconds and achieved bandwidth:
the bytes a fused kernel must move at least (forward: read x, write y; backward: read x and dy, write dx;
cross-entropy: per-row losses and upstream gradients), divided by the time, against the H100 SXM peak of
3.35 TB/s.  Every layer's output and gradients are checked against eager PyTorch first.

Fused linear + cross-entropy (`linear_ce`: loss = logsumexp(h @ W) - (h @ W)[t] per row, a matmul layer
of backends/triton_matmul.py that never holds the (rows, V) logits) is compute-bound: it is reported as
the time of forward + backward of the mean loss (gradients of h and W), TFLOP/s (6 rows K V flops: the
product, dh and dW; the recomputed logits not counted) and peak memory above the inputs
(torch.cuda.max_memory_allocated), against eager `F.cross_entropy(h @ W, t)` and its torch.compile.
Shapes --linear-ce ROWSxKxV (default 4096x4096x32768,4096x4096x131072).

Without a CUDA GPU the script prints why and exits with status 0 (nothing is measured; the CPU interpreter
says nothing about GPU speed).  Options: --only NAME (a layer or linear_ce), --shapes 4096x4096,8192x1024,
--dtypes float32,bfloat16, --linear-ce SHAPES, --no-compile (skip torch.compile), --json FILE.
"""
import argparse
import json
import sys

import numpy as np

PEAK_TBS = 3.35     # H100 SXM HBM3 peak bandwidth


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


def softmax(x):
    m = np.max(x)
    e = np.exp(x - m)
    return e / np.sum(e)


def layernorm(x, w, b):
    mu = np.mean(x)
    xc = x - mu
    rstd = 1.0 / np.sqrt(np.mean(xc * xc) + 1e-5)
    return xc * rstd * w + b


def rmsnorm(x, w):
    return x / np.sqrt(np.mean(x * x) + 1e-6) * w


def cross_entropy(x, t):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m))) - x[t]


def linear_ce(h, W, t):
    z = h @ W
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m))) - z[t]


def torch_versions(torch):
    F = torch.nn.functional
    return {
        "gelu": lambda x: F.gelu(x, approximate="tanh"),
        "softmax": lambda x: torch.softmax(x, -1),
        "layernorm": lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b, 1e-5),
        "rmsnorm": lambda x, w: x * torch.rsqrt((x.float() * x.float()).mean(-1, keepdim=True) + 1e-6).to(x.dtype) * w,
        "cross_entropy": lambda x, t: F.cross_entropy(x.float(), t, reduction="none").to(x.dtype),
    }


LAYERS = {"gelu": gelu, "softmax": softmax, "layernorm": layernorm, "rmsnorm": rmsnorm,
          "cross_entropy": cross_entropy}


def make_args(torch, name, rows, cols, dtype):
    x = torch.randn(rows, cols, device="cuda", dtype=dtype, requires_grad=True)
    if name == "layernorm":
        return [x, torch.randn(cols, device="cuda", dtype=dtype, requires_grad=True),
                torch.randn(cols, device="cuda", dtype=dtype, requires_grad=True)]
    if name == "rmsnorm":
        return [x, torch.randn(cols, device="cuda", dtype=dtype, requires_grad=True)]
    if name == "cross_entropy":
        return [x, torch.randint(0, cols, (rows,), device="cuda")]
    return [x]


def min_bytes(name, rows, cols, itemsize):
    n = rows * cols * itemsize
    if name == "cross_entropy":
        return n + rows * (itemsize + 8), n * 2 + rows * itemsize     # fwd: x, t, loss; bwd: x, dy, dx
    return 2 * n, 3 * n


def bench(torch, triton, fn, args, ct):
    inputs = [a for a in args if torch.is_tensor(a) and a.requires_grad]
    fwd = triton.testing.do_bench(lambda: fn(*args))
    out = fn(*args)
    bwd = triton.testing.do_bench(lambda: torch.autograd.grad(out, inputs, ct, retain_graph=True))
    return fwd, bwd


def bench_linear_ce(torch, triton, rg, opts, rows_out):
    """Fused linear + cross-entropy: time of forward + backward, TFLOP/s and peak extra memory."""
    F = torch.nn.functional
    layer = rg.torch.Function(rg.differentiate(linear_ce, backend="triton"))
    impls = {"retrograd": lambda h, W, t: layer(h, W, t).mean(),
             "eager": lambda h, W, t: F.cross_entropy((h @ W).float(), t)}
    if not opts.no_compile:
        impls["torch.compile"] = torch.compile(impls["eager"])
    print("\n| fused linear + CE | rows x K x V | dtype | impl | fwd+bwd ms | TFLOP/s | peak extra GB |")
    print("|---|---|---|---|---:|---:|---:|")
    for shape in opts.linear_ce.split(","):
        rows, k, v = map(int, shape.split("x"))
        for dname in opts.dtypes.split(","):
            dtype = getattr(torch, dname)
            h = (torch.randn(rows, k, device="cuda", dtype=dtype) / k ** 0.5).requires_grad_()
            W = torch.randn(k, v, device="cuda", dtype=dtype).requires_grad_()
            t = torch.randint(0, v, (rows,), device="cuda")
            want = impls["eager"](h, W, t)
            gw = torch.autograd.grad(want, [h, W])
            got = impls["retrograd"](h, W, t)
            gg = torch.autograd.grad(got, [h, W])
            tol = 1e-4 if dtype == torch.float32 else 3e-2
            torch.testing.assert_close(got.float(), want.float(), rtol=tol, atol=tol)
            for a, b in zip(gg, gw):
                scale = b.float().abs().max().item() or 1.0
                assert (a.float() - b.float()).abs().max().item() <= 10 * tol * scale, "linear_ce gradients"
            del want, gw, got, gg
            for impl, fn in impls.items():
                def step():
                    torch.autograd.grad(fn(h, W, t), [h, W])
                try:
                    step()
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                    base = torch.cuda.memory_allocated()
                    step()
                    torch.cuda.synchronize()
                    peak = (torch.cuda.max_memory_allocated() - base) / 1e9
                    ms = triton.testing.do_bench(step)
                except Exception as exc:   # record, don't abort the table
                    print(f"| linear_ce | {shape} | {dname} | {impl} | failed: {type(exc).__name__}: {exc} |")
                    continue
                tflops = 6 * rows * k * v / ms / 1e9
                rows_out.append(dict(layer="linear_ce", shape=shape, dtype=dname, impl=impl, ms=ms, tflops=tflops,
                                     peak_gb=peak))
                print(f"| linear_ce | {shape} | {dname} | {impl} | {ms:.2f} | {tflops:.1f} | {peak:.2f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=None)
    ap.add_argument("--shapes", default="4096x4096,8192x1024")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--linear-ce", default="4096x4096x32768,4096x4096x131072")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--json", default=None)
    opts = ap.parse_args(argv)
    try:
        import torch
        import triton
    except ImportError as exc:
        print(f"bench_triton_backend: needs torch and triton ({exc}); pip install -e '.[triton]'")
        return 0
    if not torch.cuda.is_available():
        print("bench_triton_backend: no CUDA GPU here, nothing measured. The triton backend's kernels run on CPU "
              "only in Triton's interpreter, whose speed says nothing about a GPU; run this script on a machine "
              "with an NVIDIA GPU (figures in docs/benchmarks.md are pending such a run).")
        return 0
    import retrograd as rg
    refs = torch_versions(torch)
    names = [opts.only] if opts.only else list(LAYERS)
    if opts.only == "linear_ce":
        names = []
    rows_out = []
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, triton {triton.__version__}")
    print("| layer | shape | dtype | impl | fwd ms | fwd TB/s | fwd % peak | bwd ms | bwd TB/s | bwd % peak |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        layer = rg.torch.Function(rg.differentiate(LAYERS[name], backend="triton"))
        impls = {"retrograd": layer, "eager": refs[name]}
        if not opts.no_compile:
            impls["torch.compile"] = torch.compile(refs[name])
        for shape in opts.shapes.split(","):
            rows, cols = map(int, shape.split("x"))
            for dname in opts.dtypes.split(","):
                dtype = getattr(torch, dname)
                args = make_args(torch, name, rows, cols, dtype)
                ours, theirs = layer(*args), refs[name](*args)
                tol = 1e-5 if dtype == torch.float32 else 2e-2
                torch.testing.assert_close(ours.float(), theirs.float(), rtol=tol, atol=tol)
                ct = torch.randn_like(theirs)
                inputs = [a for a in args if torch.is_tensor(a) and a.requires_grad]
                for g1, g2 in zip(torch.autograd.grad(ours, inputs, ct), torch.autograd.grad(theirs, inputs, ct)):
                    scale = g2.float().abs().max().item() or 1.0
                    assert (g1.float() - g2.float()).abs().max().item() <= 10 * tol * scale, name
                fbytes, bbytes = min_bytes(name, rows, cols, args[0].element_size())
                for impl, fn in impls.items():
                    try:
                        f_ms, b_ms = bench(torch, triton, fn, args, ct)
                    except Exception as exc:   # record, don't abort the table
                        print(f"| {name} | {shape} | {dname} | {impl} | failed: {type(exc).__name__} |")
                        continue
                    ftbs, btbs = fbytes / f_ms / 1e9, bbytes / b_ms / 1e9
                    row = dict(layer=name, shape=shape, dtype=dname, impl=impl, fwd_ms=f_ms, bwd_ms=b_ms,
                               fwd_tbs=ftbs, bwd_tbs=btbs)
                    rows_out.append(row)
                    print(f"| {name} | {shape} | {dname} | {impl} | {f_ms:.3f} | {ftbs:.2f} | "
                          f"{100 * ftbs / PEAK_TBS:.0f}% | {b_ms:.3f} | {btbs:.2f} | {100 * btbs / PEAK_TBS:.0f}% |")
    if opts.only in (None, "linear_ce"):
        bench_linear_ce(torch, triton, rg, opts, rows_out)
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump(rows_out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
