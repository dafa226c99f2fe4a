"""What the shared trainer costs per optimizer step, beside a bare torch loop doing the same work.

Trains a small MLP (in 64 -> hidden -> 10, batch 64) for one epoch of 8,192 samples three ways: a bare loop
(DataLoader, forward, backward, AdamW step), `fit` with nothing to write, and `fit` logging every 10 steps to
TensorBoard with a checkpoint every 32 steps. Prints steps/s (wall) and CPU time per step, and the trainer's
overhead in CPU microseconds per step (CPU time, since wall time on a shared machine is noisy).
Tiny models make the overhead visible; for real models it is a fraction of a percent.

usage: python benchmarks/bench_train.py [--hidden 256] [--threads 1] [--repeat 3]
"""
from bench_common import policy_line   # first: the package's thread policy before torch / NumPy load
import argparse, tempfile, time
from pathlib import Path
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--hidden', type=int, default=256)
    p.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    p.add_argument('--repeat', type=int, default=3, help='best of this many runs')
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(policy_line())
    from thesis_recon.train import TrainOptions, fit, seed_everything
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(8192, 64, generator=g), torch.randint(0, 10, (8192,), generator=g))
    make = lambda: (seed_everything(0), nn.Sequential(nn.Linear(64, a.hidden), nn.ReLU(), nn.Linear(a.hidden, 10)))[1]
    steps = len(data) // 64
    torch.optim.AdamW(nn.Linear(1, 1).parameters())   # the first optimizer imports torch._dynamo (seconds): not a step's cost
    def loss_fn(model, batch):
        x, y = batch
        return nn.functional.cross_entropy(model(x), y)

    def bare():
        m = make(); opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
        for batch in DataLoader(data, batch_size=64, shuffle=True):
            loss = loss_fn(m, batch); loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    def trainer(**kw):
        return lambda: fit(make(), loss_fn, data, options=TrainOptions(batch_size=64, progress=False, **kw))
    with tempfile.TemporaryDirectory() as tmp:
        runs = {'bare loop': bare, 'fit': trainer(),
                'fit + TensorBoard + checkpoints': trainer(log_every=10, log_dir=Path(tmp)/'tb', checkpoint_dir=Path(tmp)/'ck',
                                                           checkpoint_every=32)}
        best = {}
        for name, f in runs.items():
            times = []
            for _ in range(a.repeat):
                t0, c0 = time.perf_counter(), time.process_time(); f()
                times.append((time.perf_counter() - t0, time.process_time() - c0))
            best[name] = (min(t for t, _ in times), min(c for _, c in times))
    print(f'MLP 64-{a.hidden}-10, batch 64, {steps} steps, {a.threads} thread(s), best of {a.repeat}:')
    for name, (t, c) in best.items():
        extra = '' if name == 'bare loop' else f'  (+{(c - best["bare loop"][1]) / steps * 1e6:.0f} us CPU/step)'
        print(f'  {name:34s} {steps / t:8.0f} steps/s  {c / steps * 1e3:6.2f} ms CPU/step{extra}')

if __name__ == '__main__':
    main()
