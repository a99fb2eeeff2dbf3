"""Progress display: the tqdm bar of training and of multi-fit runs, and what a display needs to know about
the notebook it may be in (one place: the epoch progress, the report's HTML and the plots ask here)."""
import sys


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
