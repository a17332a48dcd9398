#!/usr/bin/env python3
"""Optional speed comparison for `renal-triage bench encoder`: the same SimCLR training step in
PyTorch (ResNet-18 with C input channels, projection head 512-512-128, NT-Xent with temperature
0.5, Adam lr 3e-4 with L2 weight decay 1e-6; two views of a batch of random images per step).

Usage: bench_pytorch_encoder.py --sizes 128,256 --batch 32 --channels 4 --steps 5 --device cpu
       [--threads 2] [--amp]
Prints JSON: images per second (two views per case count as two images) per size.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.down = None
        if stride != 1 or c_in != c_out:
            self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class Encoder(nn.Module):
    def __init__(self, channels, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        blocks, c_in = [], width
        for layer, mult in [(1, 1), (2, 2), (3, 4), (4, 8)]:
            c_out = width * mult
            blocks += [Block(c_in, c_out, 1 if layer == 1 else 2), Block(c_out, c_out, 1)]
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Linear(8 * width, 512), nn.ReLU(), nn.Linear(512, 128))

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        h = F.adaptive_avg_pool2d(self.blocks(h), 1).flatten(1)
        return self.head(h)


def nt_xent(z, n, t=0.5):
    z = F.normalize(z, dim=1)
    sim = z @ z.t() / t - torch.eye(2 * n, device=z.device) * 1e9
    # Built on the device, as renal-encoder does: a host-to-device copy here would stall the
    # GPU's queue once per step.
    target = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    return F.cross_entropy(sim, target)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="128,256")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--amp", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    results = []
    for size in [int(s) for s in a.sizes.split(",")]:
        torch.manual_seed(0)
        model = Encoder(a.channels).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=3e-4, weight_decay=1e-6)
        x1 = torch.rand(a.batch, a.channels, size, size, device=dev)
        x2 = torch.rand(a.batch, a.channels, size, size, device=dev)
        scaler = torch.amp.GradScaler(enabled=a.amp and dev.type == "cuda")

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16 if dev.type == "cpu" else torch.float16, enabled=a.amp):
                loss = nt_xent(model(torch.cat([x1, x2])).float(), a.batch)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            return loss.item()

        step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        results.append({"image_size": size, "batch": a.batch, "channels": a.channels,
                        "steps": a.steps, "images_per_s": 2 * a.batch * a.steps / dt})
    print(json.dumps({"framework": "pytorch " + torch.__version__, "device": a.device,
                      "threads": a.threads, "amp": a.amp, "results": results}))


if __name__ == "__main__":
    main()
