"""The job queue: the only package that imports Ray. ``Dispatcher`` starts queued searches while
fewer than ``NAS_MAX_CONCURRENT_SEARCHES`` run; each search's candidates are evaluated by Ray tasks
calling ``nas.evaluate`` unchanged."""

from workers.dispatcher import Dispatcher
from workers.ray_backend import RayEvaluator, init_ray

__all__ = ["Dispatcher", "RayEvaluator", "init_ray"]
