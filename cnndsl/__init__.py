"""cnndsl: write a convolutional network as text, see it drawn, count what it costs, run it.

    >>> import cnndsl
    >>> net = cnndsl.load("lenet5")
    >>> net.param_count, net.macs
    (61706, 416520)
"""

from .errors import CnnError, SourcePosition
from .network import Network, load, parse

__all__ = ["CnnError", "Network", "SourcePosition", "load", "parse"]
__version__ = "0.1.0"
