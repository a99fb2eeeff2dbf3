"""The one training loop, shared by ``LSTMModel.fit`` and anything that fits many models.

``Network`` is a recurrent stack (LSTM or GRU) with a linear head on the top layer's last hidden state,
(B, L, F) windows -> (B, k * T) predictions. ``train`` runs the loop on a network it is
handed and touches nothing else::

    per epoch: shuffle (seeded) -> per batch: forward -> loss -> backward -> clip -> optimizer step
               -> validation loss -> history row -> progress (bar or line) -> early-stopping bookkeeping
               -> learning-rate schedule
    end:       with restore_best (the default), and always after a divergence or Ctrl-C, the best weights
               (lowest validation loss, or training loss without validation) restored in the network; with
               restore_best=False the last finished epoch's weights stay

A non-finite loss or gradient norm stops the loop with a diagnosis (``TrainResult.diverged``);
Ctrl-C stops it after restoring the best weights. Either way the caller decides what to keep:
a result with ``best_epoch == 0`` holds no usable weights.
"""
import math
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..backend import resolve_device, to_numpy
from ..errors import ConfigError
from ..functional import LOSSES, pinball_loss
from ..nn import GRU, LSTM, Linear
from ..optim import Adam, AdamW, clip_grad_norm, compile_ahead, compiled_passes
from .config import n_quantiles
from .future import n_leads
from .progress import EpochProgress


class Network:
    """Recurrent layers (``LSTM`` or ``GRU``, one or two directions) + a linear head on the top layer's final
    hidden state: h_T with one direction; with two, [h->_T, h<-_1], the forward direction's state after the
    last row and the reverse direction's after the first (each has read the whole window, and nothing after it).
    The recurrent layers are ``net.rnn`` (``net.lstm`` is the same object under its old name; the saved parameter
    names start with ``lstm.`` whatever the cell, so model files stay as they were).

    forward: xb (B, L, F) on the device -> predictions (B, k * T); backward: dpred (B, k * T) ->
    gradients keyed ``lstm.*`` / ``head.*`` like ``params``.
    """

    def __init__(self, rnn, head):
        self.rnn, self.head = rnn, head
        self.xp, self.dtype = rnn.xp, rnn.dtype

    @property
    def lstm(self):
        """The recurrent layers under their old name (and the prefix of their saved parameter names)."""
        return self.rnn

    @property
    def params(self):
        """All trainable arrays: ``lstm.*`` and ``head.*`` (the layers' own arrays, not copies)."""
        p = {f"lstm.{k}": v for k, v in self.rnn.params.items()}
        p.update({f"head.{k}": v for k, v in self.head.params.items()})
        return p

    def snapshot(self):
        """A copy of every parameter, keyed ``"lstm.<name>"`` and ``"head.<name>"``."""
        return {k: v.copy() for k, v in self.params.items()}

    def set_params(self, params):
        """Copy ``params`` (keyed as ``snapshot`` keys them) into the layers' parameters."""
        for k, v in params.items():
            layer, name = k.split(".", 1)
            getattr(self, layer).params[name][...] = self.xp.asarray(v)

    def forward(self, xb, infer=False):
        """xb (B, L, F) -> predictions (B, outputs); infer: no dropout and no caches (``lstm.infer``)."""
        _, states = self.rnn.infer(xb) if infer else self.rnn.forward(xb)
        h_n = states[0] if isinstance(states, tuple) else states      # LSTM (h_n, c_n); GRU h_n
        nd = self.rnn.num_directions
        top = h_n[h_n.shape[0] - nd:]                                  # the top layer's directions, (nd, B, H)
        return self.head.forward(top[0] if nd == 1 else self.xp.concatenate(list(top), axis=1))

    def backward(self, dpred):
        """Backpropagate ``dpred``, the loss gradient of ``forward``'s predictions, through the head and the LSTM."""
        dh_last = self.head.backward(dpred)                            # (B, nd * H)
        nd, H = self.rnn.num_directions, self.rnn.hidden_size
        S = self.rnn.num_layers * nd
        dh_n = self.xp.zeros((S, dh_last.shape[0], H), dtype=dh_last.dtype)
        for d in range(nd):                                            # the top layer's final states (no dropout)
            dh_n[S - nd + d] = dh_last[:, d * H:(d + 1) * H]
        self.rnn.backward(None, dh_n=dh_n)
        g = {f"lstm.{k}": v for k, v in self.rnn.grads.items()}
        g.update({f"head.{k}": v for k, v in self.head.grads.items()})
        return g

    def predict(self, Xw, n_out, batch=4096):
        """Xw (n, L, F) host windows (normalized) -> (n, n_out) host predictions (inference: no dropout, no caches)."""
        outs = [to_numpy(self.forward(self.xp.asarray(np.ascontiguousarray(Xw[s:s + batch]), dtype=self.dtype),
                                      infer=True)) for s in range(0, len(Xw), batch)]
        return np.concatenate(outs) if outs else np.zeros((0, n_out))

    def loss(self, Xd, Yd, loss_fn, batch=4096):
        """Mean loss over windows Xd (n, L, F) (device arrays or ``BatchWindows``) and device targets Yd (n, k*T)
        (inference: no dropout, no caches)."""
        tot = 0.0
        for s in range(0, len(Xd), batch):
            loss, _ = loss_fn(self.forward(Xd[s:s + batch], infer=True), Yd[s:s + batch])
            tot += loss * len(Yd[s:s + batch])
        return tot / len(Xd)


class WeightAverage:
    """Exponential moving average of the weights (Polyak averaging), updated after every optimizer step:

        avg = d * avg + (1 - d) * w,   d = min(decay, (1 + n) / (10 + n)) at the n-th update

    (the ramp keeps the first updates from being tied to the random initial weights). The average
    moves less from batch to batch than the weights themselves, so the epoch it is validated at
    matters less. params: the network's arrays (read, never written)."""

    def __init__(self, params, decay):
        self.decay, self.n = decay, 0
        self.avg = {k: v.copy() for k, v in params.items()}

    def update(self, params):
        self.n += 1
        d = min(self.decay, (1.0 + self.n) / (10.0 + self.n))
        avgs, ws = [self.avg[k] for k in params], list(params.values())
        fused = compiled_passes(avgs, ws)
        if fused is not None:              # the lines below for every array in one compiled call, bitwise equal
            fused.average_update(avgs, ws, d)
            return
        for k, w in params.items():
            a = self.avg[k]
            a *= d
            a += (1.0 - d) * w

    def snapshot(self):
        return {k: v.copy() for k, v in self.avg.items()}


MAX_PARAMETERS = 500_000_000    # 2 GB of float32 weights (plus as much again for Adam's moments, twice)


def n_parameters(n_features, hidden_size, num_layers, n_out, cell="lstm", directions=1):
    """Trainable numbers of a recurrent stack with a linear head: per layer and direction 4H (D_k + H + 1) for
    the LSTM, 3H (D_k + H + 2) for the GRU, with D_k = n_features, then directions * H; + (directions * H + 1) n_out."""
    H, nd = hidden_size, directions
    G, nb = (4, 1) if cell == "lstm" else (3, 2)
    return sum(nd * G * H * ((n_features if k == 0 else nd * H) + H + nb) for k in range(num_layers)) + \
        (nd * H + 1) * n_out


def build_network(cfg, n_features, n_targets):
    """A new, randomly initialised (seeded) network for a validated config."""
    nd = 2 if cfg["bidirectional"] else 1
    n_out = n_targets * cfg["output_steps"] * n_quantiles(cfg)       # k * T outputs, times Q with the pinball loss
    n_features += n_leads(cfg)                                        # known-future columns' leads (forecast.future)
    count = n_parameters(n_features, cfg["hidden_size"], cfg["num_layers"], n_out, cfg["cell"], nd)
    if count > MAX_PARAMETERS:
        raise ConfigError(f"this network would have {count:,} parameters ({n_features} input columns, hidden_size="
                          f"{cfg['hidden_size']}, num_layers={cfg['num_layers']}), more than the {MAX_PARAMETERS:,} "
                          "minilstm allows; use a smaller hidden_size or num_layers, or fewer input columns.")
    device = resolve_device(cfg["device"])
    dtype = np.dtype(cfg["dtype"])
    # the request, not the resolved family: the layer falls back from the fused CUDA kernels only when they
    # were not asked for by name (kernels='cuda')
    common = dict(dropout=cfg["dropout"], dtype=dtype, seed=cfg["seed"], device=device, kernels=cfg["kernels"],
                  bidirectional=cfg["bidirectional"])
    if cfg["cell"] == "gru":
        lstm = GRU(n_features, cfg["hidden_size"], cfg["num_layers"], **common)       # no forget gate: no forget_bias
    else:
        lstm = LSTM(n_features, cfg["hidden_size"], cfg["num_layers"], forget_bias=cfg["forget_bias"], **common)
    head = Linear(nd * cfg["hidden_size"], n_out, dtype=dtype, seed=cfg["seed"] + 1, device=device)
    return Network(lstm, head)


def loss_function(cfg):
    """config['loss'] -> loss_fn(pred (B, outputs), target (B, k * T)) -> (loss, dpred (B, outputs)).

    'mse', 'mae', 'huber': ``functional.LOSSES``, outputs = k * T. 'quantile': the pinball loss of
    ``functional.pinball_loss`` over config['quantiles'] (Q levels); outputs = k * T * Q, laid out with the
    level fastest: output j * Q + i is level i of the usual output j (step and target as for the other losses).
    """
    if cfg["loss"] != "quantile":
        return LOSSES[cfg["loss"]]
    levels = cfg["quantiles"]

    def quantile_loss(pred, target):
        B, Q = pred.shape[0], len(levels)
        loss, dpred = pinball_loss(pred.reshape(B, -1, Q), target, levels)      # (B, k*T, Q) against (B, k*T)
        return loss, dpred.reshape(pred.shape)
    return quantile_loss


@dataclass
class TrainResult:
    history: list = field(default_factory=list)   # one dict per finished epoch
    best_epoch: int = 0                           # 0: no epoch finished, the weights are not usable
    diverged: Optional[str] = None                # the diagnosis when the loss or gradient became non-finite
    interrupted: bool = False                     # Ctrl-C


def next_lr(schedule, lr0, lr, epoch, epochs, flat):
    """The learning rate after ``epoch``: constant, cosine, step (halve every epochs // 4) or plateau."""
    if schedule == "cosine":
        return lr0 * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    if schedule == "step":
        return lr0 * 0.5 ** (epoch // max(1, epochs // 4))
    if schedule == "plateau" and flat >= 3:
        return lr * 0.5
    return lr


def diagnosis(what, value, epoch, batch):
    return (f"training stopped: the {what} became {value} at epoch {epoch}, batch {batch}. Likely causes: a "
            "learning rate too high (try 10x lower), unscaled inputs or targets (set config['normalize']='zscore'), "
            "extreme values or outliers in the data, or no gradient clipping (set config['clip_norm']=1.0).")


GATHER_BYTES = 256 * 2 ** 20     # training windows above this size are gathered batch by batch, not all at once


class BatchWindows:
    """The windows Xw[idx] (n, L, F) as the loop reads them: copied to the device once when they fit in
    GATHER_BYTES (the usual case), else each batch gathered from Xw (a view of the rows, or many series'
    ``many.WindowRows``) when it is read, so memory is bounded by the batch. ``self[b]`` (b: positions in
    idx, a host or device integer array) -> (len(b), L, F) on the device; len() -> n."""

    def __init__(self, Xw, idx, xp, dtype):
        self.Xw, self.idx, self.xp, self.dtype = Xw, np.asarray(idx), xp, dtype
        per = int(np.prod(Xw.shape[1:])) * np.dtype(dtype).itemsize
        self.whole = xp.asarray(np.ascontiguousarray(Xw[self.idx]), dtype=dtype) \
            if len(self.idx) * per <= GATHER_BYTES else None

    def __len__(self):
        return len(self.idx)

    def __getitem__(self, b):
        if self.whole is not None:
            return self.whole[b]
        rows = self.idx[b if isinstance(b, slice) else to_numpy(b)]
        return self.xp.asarray(np.ascontiguousarray(self.Xw[rows]), dtype=self.dtype)


class _Stop(Exception):
    def __init__(self, message):
        self.message = message


def train(net, Xw, Y, tr, va, cfg, verbose=True):
    """Train ``net`` on windows Xw (n, L, F) and targets Y (n, k*T), both normalized host arrays.

    tr, va: indices of the training and validation windows. Returns a TrainResult; the network
    holds the best weights when it returns (its initial weights when no epoch finished). verbose:
    see ``EpochProgress`` (True: a progress bar with the losses and the time left).
    """
    progress = EpochProgress(verbose, cfg["epochs"])
    xp, dt = net.xp, net.dtype
    Xtr, Xva = BatchWindows(Xw, tr, xp, dt), BatchWindows(Xw, va, xp, dt) if len(va) else None
    Ytr = xp.asarray(Y[tr], dtype=dt)
    Yva = xp.asarray(Y[va], dtype=dt) if len(va) else None
    opt = (AdamW(net.params, lr=cfg["learning_rate"], weight_decay=cfg["weight_decay"]) if cfg["weight_decay"] > 0
           else Adam(net.params, lr=cfg["learning_rate"]))
    loss_fn = loss_function(cfg)
    rng = np.random.default_rng(cfg["seed"])
    E, B, lr0 = cfg["epochs"], cfg["batch_size"], cfg["learning_rate"]
    res = TrainResult()
    best, best_params, bad_epochs, flat = math.inf, net.snapshot(), 0, 0
    average = WeightAverage(net.params, cfg["weight_average"]) if cfg["weight_average"] else None
    compile_ahead(net.params)                             # a cold first step: its optimizer compiles meanwhile
    try:
        for epoch in range(1, E + 1):
            te = time.perf_counter()
            order = rng.permutation(len(tr)) if cfg["shuffle"] else np.arange(len(tr))
            order_dev = xp.asarray(order)                 # one transfer per epoch, not per batch
            tot, count, gsum, nb = 0.0, 0, 0.0, 0
            for b, s in enumerate(range(0, len(order), B), start=1):
                idx = order_dev[s:s + B]
                pred = net.forward(Xtr[idx])
                with np.errstate(over="ignore", invalid="ignore"):   # a non-finite loss is diagnosed below
                    loss, dpred = loss_fn(pred, Ytr[idx])
                if not math.isfinite(loss):
                    raise _Stop(diagnosis("loss", loss, epoch, b))
                grads, gnorm = clip_grad_norm(net.backward(dpred), cfg["clip_norm"])
                if not math.isfinite(gnorm):
                    raise _Stop(diagnosis("gradient norm", gnorm, epoch, b))
                opt.step(grads)
                if average is not None:
                    average.update(net.params)
                tot += loss * len(order[s:s + B])
                count += len(order[s:s + B])
                gsum += gnorm
                nb += 1
            train_loss = tot / count
            if average is not None:                       # validate (and keep) the averaged weights
                live = net.snapshot()
                net.set_params(average.avg)
            val_loss = net.loss(Xva, Yva, loss_fn) if Xva is not None else None
            if average is not None:
                net.set_params(live)                      # training goes on from the live weights
            watch = val_loss if val_loss is not None else train_loss
            if not math.isfinite(watch):
                raise _Stop(diagnosis("validation loss", watch, epoch, nb))
            if watch < best - cfg["min_delta"] or res.best_epoch == 0:
                best, res.best_epoch, bad_epochs, flat = watch, epoch, 0, 0
                best_params = average.snapshot() if average is not None else net.snapshot()
            else:
                bad_epochs += 1
                flat += 1
            res.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                                "grad_norm": gsum / max(nb, 1), "lr": opt.lr, "seconds": time.perf_counter() - te})
            progress.epoch(res.history[-1])
            if cfg["patience"] is not None and bad_epochs >= cfg["patience"]:
                progress.note(f"early stopping: no improvement for {bad_epochs} epochs; best epoch {res.best_epoch}")
                break
            opt.lr = next_lr(cfg["lr_schedule"], lr0, opt.lr, epoch, E, flat)
            if cfg["lr_schedule"] == "plateau" and flat >= 3:
                flat = 0
    except _Stop as stop:
        res.diverged = stop.message
    except KeyboardInterrupt:
        res.interrupted = True
        progress.note(f"\ninterrupted: keeping the best weights (epoch {res.best_epoch}) and the history so far")
    finally:
        progress.close()
    if cfg["restore_best"] or res.diverged or res.interrupted or not res.history:
        net.set_params(best_params)
    else:                                         # the last finished epoch's weights (its average, if any)
        if average is not None:                   # no update since that epoch's validation
            net.set_params(average.avg)
        res.best_epoch = res.history[-1]["epoch"]
    net.rnn.train()
    return res
