"""Search spaces: each a registered ``SearchSpace`` that encodes, samples, mutates and builds candidates.

Importing the package registers the four shipped spaces: ``shufflenetv2``, ``mobilenetv3``,
``metaformer`` and ``nasbench201``.
"""

from searchspaces import (  # noqa: F401  (importing a space registers it)
    metaformer,
    mobilenetv3,
    nasbench201,
    shufflenetv2,
)
from searchspaces.base import Chooser, SearchSpace, block_key, parse_block_key
from searchspaces.registry import UnknownSpaceError, get, names, register

__all__ = [
    "Chooser",
    "SearchSpace",
    "UnknownSpaceError",
    "block_key",
    "get",
    "names",
    "parse_block_key",
    "register",
]
