"""punchcard.plugins: the hooks, and the markers plugins use.

Third-party plugins write ``from punchcard.plugins import hookimpl``.
"""

from .hookspecs import hookimpl, hookspec
from .protocols import Delivery, Messenger, Scorer

__all__ = ["hookimpl", "hookspec", "Scorer", "Messenger", "Delivery"]
