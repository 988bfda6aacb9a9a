"""The weight average (Polyak / EMA) that the Mel2Mel and refiner trainers monitor and export: one update rule
for both (train_mel2mel.py, train_refiner.py)."""


def ema_update(ema, net, decay):
    """Every parameter of ema moves to decay * itself + (1 - decay) * net's; buffers are copied.  Raw weights
    wander with each step's noise (session 10: the refiner's monitor on clean pairs moved between 0.056 and 0.067
    within an hour at a fixed rate while nothing else changed); the average is what is monitored and exported.
    ema and net: modules of the same architecture."""
    import torch
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), net.parameters()):
            pe.mul_(decay).add_(p.detach(), alpha=1.0 - decay)
        for be, b in zip(ema.buffers(), net.buffers()):
            be.copy_(b)
