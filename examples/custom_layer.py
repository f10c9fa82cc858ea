"""A custom PyTorch layer written in NumPy style, running as fused retrograd Triton kernels.

    python -m pip install -q -e ".[triton]" && python examples/custom_layer.py

`rmsnorm_gelu` below is an RMSNorm with a learnable weight followed by a tanh-GELU, written for one row
with NumPy calls.  `@rg.differentiate(backend="triton")` turns it into one fused forward kernel (which
saves the per-row mean square) and one fused backward kernel (which recomputes the row from the input and
that statistic, and writes per-program partial sums of the weight's gradient, finished by a second
pass).  `rg.torch.Module` wraps the kernels as an `nn.Module` with `w` as an `nn.Parameter`, and a small
regression model with it in the middle trains with an ordinary PyTorch optimizer.

Without a GPU the kernels run in Triton's CPU interpreter (each program costs milliseconds, so the model
is small); with one, they are compiled for it.  The script checks the layer's gradients against PyTorch's
autograd of the same math and exits with status 1 if they differ or the loss does not go down.
"""
import sys

import numpy as np
import torch

import retrograd as rg

EPS = 1e-6


@rg.differentiate(backend="triton")
def rmsnorm_gelu(x, w):
    ms = np.mean(x * x)
    h = x / np.sqrt(ms + EPS) * w
    return 0.5 * h * (1.0 + np.tanh(0.7978845608028654 * (h + 0.044715 * h ** 3)))


def reference(x, w):
    h = x / torch.sqrt((x * x).mean(-1, keepdim=True) + EPS) * w
    return torch.nn.functional.gelu(h, approximate="tanh")


def main():
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    width = 48
    layer = rg.torch.Module(rmsnorm_gelu, w=torch.ones(width)).to(device)
    model = torch.nn.Sequential(torch.nn.Linear(16, width), layer, torch.nn.Linear(width, 1)).to(device)

    # 1. the layer's gradients agree with PyTorch's autograd of the same math (float32, relative 1e-5)
    x = torch.randn(12, width, device=device, requires_grad=True)
    w = (torch.rand(width, device=device) + 0.5).requires_grad_()
    y = rg.torch.Function(rmsnorm_gelu)(x, w)
    ct = torch.randn_like(y)
    gx, gw = torch.autograd.grad(y, (x, w), ct)
    rx, rw = torch.autograd.grad(reference(x, w), (x, w), ct)
    err = max(((gx - rx).abs().max() / rx.abs().max()).item(), ((gw - rw).abs().max() / rw.abs().max()).item())
    print(f"max relative gradient error vs torch autograd: {err:.2e}")

    # 2. train a small regression model with the custom layer inside
    xs = torch.randn(16, 16, device=device)
    ys = torch.sin(xs[:, :1]) + 0.1 * xs[:, 1:2]
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    losses = []
    for step in range(12):
        opt.zero_grad()
        loss = torch.mean((model(xs) - ys) ** 2)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % 4 == 0 or step == 11:
            print(f"step {step:2d}  loss {loss.item():.4f}")
    print(f"the layer's learnt weight: mean {layer.w.mean().item():.3f}, std {layer.w.std().item():.3f}")
    print("\nThe generated Triton kernels (rmsnorm_gelu.source):\n")
    print(rmsnorm_gelu.source)
    ok = err < 1e-5 and losses[-1] < 0.5 * losses[0]
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
