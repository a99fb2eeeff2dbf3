"""Progress display: how training reports each epoch (``EpochProgress``), the tqdm bar of training and of
multi-fit runs, and what a display needs to know about the notebook it may be in (one place: the epoch
progress and the report's HTML ask here)."""
import sys
import time

from ..errors import ConfigError


def ipython_shell():
    """The running IPython shell, or None outside IPython (IPython is never imported here)."""
    ip = sys.modules.get("IPython")
    return ip.get_ipython() if ip is not None and hasattr(ip, "get_ipython") else None


def in_jupyter():
    """True inside a running Jupyter kernel (not merely when ipykernel has been imported)."""
    return type(ipython_shell()).__name__ == "ZMQInteractiveShell"


def progress_bar(**kwargs):
    """A tqdm bar: ``tqdm.auto`` (a widget in Jupyter) when ipywidgets is installed, else the text bar
    (which Jupyter also renders), so a notebook without ipywidgets gets a bar and no warning."""
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm
    return tqdm(**kwargs)


class EpochProgress:
    """How ``train`` reports each epoch, from fit's ``verbose``.

    True: a tqdm bar (epochs done, train/val loss, elapsed and time left) where a bar can be drawn (a
    terminal, Jupyter), else one line per epoch (logs, pipes); 'bar': always the bar; 'lines' (or 2):
    always one line per epoch; False (or 0, None): nothing.
    """

    def __init__(self, verbose, epochs):
        if verbose is None or verbose is False or verbose == 0:
            mode = None
        elif verbose is True or verbose == 1:
            interactive = in_jupyter() or getattr(sys.stdout, "isatty", lambda: False)()
            mode = "bar" if interactive else "lines"
        elif verbose in ("bar", "lines") or verbose == 2:
            mode = "lines" if verbose == 2 else verbose
        else:
            raise ConfigError(f"verbose must be True (a progress bar, or lines in a log), 'bar', 'lines' (or 2: one "
                              f"line per epoch) or False (nothing), got {verbose!r}.")
        self.mode, self.epochs, self.t0, self.bar = mode, epochs, time.perf_counter(), None
        if mode == "bar":
            self.bar = progress_bar(total=epochs, desc="", unit="epoch", mininterval=0, file=sys.stdout,
                                    bar_format="fit {n_fmt}/{total_fmt} epochs |{bar:20}| {desc} "
                                               "[{elapsed} elapsed, ~{remaining} left]")

    def epoch(self, row):
        """One history row done: {'epoch', 'train_loss', 'val_loss', 'grad_norm', 'lr', ...}."""
        val = f"  val {row['val_loss']:.5f}" if row["val_loss"] is not None else ""
        if self.bar is not None:
            self.bar.set_description_str(f"train {row['train_loss']:.5f}{val}", refresh=False)
            self.bar.update()
        elif self.mode == "lines":
            el, e, E = time.perf_counter() - self.t0, row["epoch"], self.epochs
            print(f"epoch {e:>3}/{E}  train {row['train_loss']:.5f}{val}  |g| {row['grad_norm']:.3f}  "
                  f"lr {row['lr']:.2e}  {el:.1f}s elapsed, ~{el / e * (E - e):.0f}s left", flush=True)

    def note(self, text):
        if self.bar is not None:
            self.bar.write(text)
        elif self.mode == "lines":
            print(text)

    def close(self):
        if self.bar is not None:
            self.bar.close()
