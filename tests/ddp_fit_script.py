"""Train a tiny model with `thesis_recon.train.fit`; tests/test_train.py calls `main` in-process and runs this file
under torchrun.

usage: python ddp_fit_script.py OUT BATCH_SIZE [--max_steps 6] [--epochs 3] [--resume] [--dropout] [--slow]
(BATCH_SIZE per process; the test halves it under 2 processes)
Each process writes OUT/result_rank<RANK>.json (rank, world size, the checkpoints it saved, its history): a file per
rank, since two ranks printing to one pipe can interleave their lines."""
import argparse, json, os, time
from pathlib import Path
import torch
from torch import nn
from torch.utils.data import TensorDataset
import thesis_recon.train as train
from thesis_recon.core import atomic_write_text

def mse(model, batch):
    x, t = batch
    return nn.functional.mse_loss(model(x), t)

def main(out, batch_size: int, max_steps: int = 6, resume: bool = False, dropout: bool = False, slow: bool = False,
         epochs: int = 3) -> dict:
    out, saved, save = Path(out), [], train.save_checkpoint
    def counting_save(path, *args, **kw):
        saved.append(Path(path).name)
        return save(path, *args, **kw)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(96, 4, generator=g)
    y = X @ torch.tensor([1.5, -2.0, 0.5, 1.0]) + 0.1 * torch.randn(96, generator=g)
    train_set, val_set = TensorDataset(X[:64], y[:64, None]), TensorDataset(X[64:], y[64:, None])
    train.seed_everything(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), *([nn.Dropout(0.2)] if dropout else []), nn.Linear(8, 1))
    train.save_checkpoint = counting_save
    try:
        loss_fn = (lambda m, b: (time.sleep(0.05), mse(m, b))[1]) if slow else mse
        res = train.fit(model, loss_fn, train_set, val_set=val_set,
                        optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9),
                        options=train.TrainOptions(epochs=epochs, max_steps=max_steps, resume=resume, batch_size=batch_size, log_every=1, val_every=2,
                                                   checkpoint_dir=out/'checkpoints', log_dir=out/'runs', progress=True, seed=3))
    finally: train.save_checkpoint = save
    return {'rank': int(os.environ.get('RANK', 0)), 'world_size': int(os.environ.get('WORLD_SIZE', 1)),
            'saved': saved, 'history': res.history, 'val_history': res.val_history}

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('out'); p.add_argument('batch_size', type=int); p.add_argument('--max_steps', type=int, default=6)
    p.add_argument('--resume', action='store_true'); p.add_argument('--dropout', action='store_true')
    p.add_argument('--slow', action='store_true', help='sleep 50 ms per batch'); p.add_argument('--epochs', type=int, default=3)
    a = p.parse_args()
    res = main(a.out, a.batch_size, a.max_steps, a.resume, a.dropout, a.slow, a.epochs)
    atomic_write_text(Path(a.out)/f"result_rank{res['rank']}.json", json.dumps(res))
